"""``split_init_cfg``: the pretrained load of an init_cfg in every form mmengine accepts, and the forms it refuses;
``ProjectorClsHead`` and ``load_backbone_checkpoint`` with the list form and mmengine's ``prefix``."""

from pathlib import Path

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.model.weight_init import PretrainedInit

from lgp.models import LGPViT
from lgp.models.checkpoint import load_backbone_checkpoint, split_init_cfg
from lgp.models.heads import ProjectorClsHead

CKPT = 'work_dirs/mae/epoch_1600.pth'
SPEC = {'checkpoint': CKPT, 'prefix': None, 'source': 'auto', 'encoder': 'online'}
NORMAL = dict(type='TruncNormal', layer='Linear', std=0.02)
CONSTANT = dict(type='Constant', layer='LayerNorm', val=1.0)


@pytest.mark.parametrize('init_cfg', [None, [], {}])
def test_no_init_cfg(init_cfg):
    assert split_init_cfg(init_cfg) == (None, [])


@pytest.mark.parametrize(
    'init_cfg',
    [
        dict(type='Pretrained', checkpoint=CKPT),
        ConfigDict(type='Pretrained', checkpoint=CKPT),
        dict(type=PretrainedInit, checkpoint=CKPT),
        dict(type='mmengine.Pretrained', checkpoint=CKPT),
        [dict(type='Pretrained', checkpoint=CKPT)],
        (ConfigDict(type=PretrainedInit, checkpoint=CKPT),),
        dict(type='Pretrained', checkpoint=CKPT, map_location='cuda:0'),  # accepted, not used: lgp reads on the CPU
    ],
    ids=['dict', 'ConfigDict', 'class', 'scoped', 'list', 'tuple-ConfigDict-class', 'map_location'],
)
def test_pretrained_alone(init_cfg):
    pretrained, others = split_init_cfg(init_cfg)
    assert pretrained == SPEC and type(pretrained) is dict and others == []


def test_pretrained_with_lgp_and_mmengine_keys():
    init_cfg = ConfigDict(type='Pretrained', checkpoint=CKPT, prefix='backbone.', source='mocov3', encoder='momentum')
    pretrained, _ = split_init_cfg(init_cfg)
    assert pretrained == dict(checkpoint=CKPT, prefix='backbone.', source='mocov3', encoder='momentum')


def test_pretrained_among_other_initialisers_keeps_their_order():
    normal, constant = ConfigDict(NORMAL), dict(CONSTANT)
    pretrained, others = split_init_cfg([normal, dict(type=PretrainedInit, checkpoint=CKPT), constant])
    assert pretrained == SPEC
    assert others == [normal, constant] and others[0] is normal and others[1] is constant


@pytest.mark.parametrize('init_cfg', [dict(NORMAL), [dict(NORMAL), dict(CONSTANT)], ConfigDict(NORMAL)])
def test_only_other_initialisers(init_cfg):
    pretrained, others = split_init_cfg(init_cfg)
    assert pretrained is None and others == (init_cfg if isinstance(init_cfg, list) else [init_cfg])


@pytest.mark.parametrize(
    'init_cfg, message',
    [
        (
            [dict(type='Pretrained', checkpoint='a.pth'), dict(type=PretrainedInit, checkpoint='b.pth')],
            r"2 Pretrained entries \(checkpoints \['a.pth', 'b.pth'\]\).*Keep one: dict\(type='Pretrained', "
            r'checkpoint=PATH',
        ),
        (dict(type='Pretrained'), r"names no checkpoint. Write dict\(type='Pretrained', checkpoint=PATH"),
        ([dict(type='Pretrained', checkpoint=None)], 'names no checkpoint.*model.backbone.init_cfg.checkpoint=PATH'),
        (
            dict(type='Pretrained', checkpoint=CKPT, strict=False),
            r"Unknown key\(s\) \['strict'\].*Write dict\(type='Pretrained'.*strict: lgp always loads strictly",
        ),
        (
            dict(type='Pretrained', checkpoint=CKPT, revise_keys=[('^module.', '')]),
            r"\['revise_keys'\].*prefix='backbone.'",
        ),
        (
            ConfigDict(type='Pretrained', checkpoint=CKPT, encoder='teacher'),
            "encoder must be 'online' or 'momentum'",
        ),
        ([dict(checkpoint=CKPT)], r"has no type. Write dict\(type='Pretrained', checkpoint=PATH"),
    ],
    ids=['two-pretrained', 'no-checkpoint', 'checkpoint-None', 'strict', 'revise_keys', 'bad-encoder', 'no-type'],
)
def test_refused_forms_say_what_to_write(init_cfg, message):
    with pytest.raises(ValueError, match=message):
        split_init_cfg(init_cfg)


@pytest.mark.parametrize('init_cfg', ['Pretrained', ['Pretrained'], 3])
def test_refused_types(init_cfg):
    with pytest.raises(TypeError, match='must be'):
        split_init_cfg(init_cfg)


# ------------------------------------------------------------------------------------- the modules that use it
@pytest.fixture
def mocov3_checkpoint(tmp_path) -> tuple[Path, dict[str, torch.Tensor]]:
    """An lgp MoCo v3 style checkpoint: the projector's first layer (random, BN statistics too) and a backbone."""
    generator = torch.Generator().manual_seed(0)
    state_dict = {
        'neck.fc0.weight': torch.randn(128, 48, generator=generator),
        'neck.bn0.weight': torch.rand(128, generator=generator) + 0.5,
        'neck.bn0.bias': torch.randn(128, generator=generator),
        'neck.bn0.running_mean': torch.randn(128, generator=generator),
        'neck.bn0.running_var': torch.rand(128, generator=generator) + 0.5,
        'neck.bn0.num_batches_tracked': torch.tensor(17),
    }
    path = tmp_path / 'mocov3_nano.pth'
    torch.save({'state_dict': state_dict}, path)
    return path, state_dict


def assert_projector_loaded(head: ProjectorClsHead, state_dict: dict[str, torch.Tensor]) -> None:
    for name, value in head.state_dict().items():
        if name.startswith(('fc0.', 'bn0.')):
            assert torch.equal(value, state_dict[f'neck.{name}']), name


def test_projector_head_with_the_list_form(mocov3_checkpoint):
    path, state_dict = mocov3_checkpoint
    init_cfg = [dict(type='Constant', layer='Linear', val=0.5, bias=0.0), dict(type='Pretrained', checkpoint=path)]
    head = ProjectorClsHead(10, 48, hid_channels=128, init_cfg=init_cfg)
    head.init_weights()
    assert_projector_loaded(head, state_dict)  # the checkpoint, not the Constant init, is in fc0 / bn0
    assert bool((head.fc.weight == 0.5).all()) and not head.fc.bias.any()  # the other initialiser reached fc


def test_projector_head_dict_form_unchanged(mocov3_checkpoint):
    path, state_dict = mocov3_checkpoint
    head = ProjectorClsHead(10, 48, hid_channels=128, init_cfg=ConfigDict(type=PretrainedInit, checkpoint=str(path)))
    head.init_weights()
    assert_projector_loaded(head, state_dict)
    assert head.fc.weight.abs().max() < 1e-4 and not head.fc.bias.any()  # the new layer: trunc-normal, std 2e-5


def test_projector_head_with_prefix(tmp_path, mocov3_checkpoint):
    _, state_dict = mocov3_checkpoint
    path = tmp_path / 'wrapped.pth'
    torch.save({'state_dict': {f'teacher.{k}': v for k, v in state_dict.items()}}, path)
    init_cfg = [dict(type='Pretrained', checkpoint=path, prefix='teacher')]
    head = ProjectorClsHead(10, 48, hid_channels=128, init_cfg=init_cfg)
    head.init_weights()
    assert_projector_loaded(head, state_dict)


def test_projector_head_refuses_two_pretrained_entries(mocov3_checkpoint):
    path, _ = mocov3_checkpoint
    init_cfg = [dict(type='Pretrained', checkpoint=path), dict(type='Pretrained', checkpoint=path)]
    with pytest.raises(ValueError, match='2 Pretrained entries'):
        ProjectorClsHead(10, 48, hid_channels=128, init_cfg=init_cfg).init_weights()


def test_backbone_checkpoint_with_prefix():
    torch.manual_seed(0)
    source = LGPViT('nano', img_size=32)
    checkpoint = {'state_dict': {f'backbone.{k}': v for k, v in source.state_dict().items()}}
    checkpoint['state_dict']['neck.fc0.weight'] = torch.zeros(4, 4)
    model = LGPViT('nano', img_size=32)
    dropped = load_backbone_checkpoint(model, checkpoint, prefix='backbone')
    assert dropped == {"outside prefix 'backbone.'": ['neck.fc0.weight']}
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match=r"No key of the checkpoint starts with prefix='student.'"):
        load_backbone_checkpoint(model, checkpoint, prefix='student.')
