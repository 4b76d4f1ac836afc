"""The 10 % few-shot head (lgp.models.heads.ProjectorClsHead): the pre-training projector's first layer loaded strictly
from lgp's and the official MoCo v3 layout, with or without its BN, and errors that name what is missing."""

from pathlib import Path

import pytest
import torch
from mocov3_checkpoint import save_mocov3_nano

from lgp.models.checkpoint import CheckpointMismatchError
from lgp.models.heads import ProjectorClsHead


@pytest.fixture(scope='module')
def nano_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_mocov3_nano(tmp_path_factory.mktemp('nano') / 'mocov3_nano.pth')


def test_projector_cls_head_loads_the_projector_strictly(nano_checkpoint: Path) -> None:
    state_dict = torch.load(nano_checkpoint, weights_only=True)['state_dict']
    head = ProjectorClsHead(10, 48, hid_channels=128, init_cfg=dict(type='Pretrained', checkpoint=str(nano_checkpoint)))
    head.init_weights()
    for name, value in head.state_dict().items():
        if name.startswith(('fc0.', 'bn0.')):
            assert torch.equal(value, state_dict[f'neck.{name}']), name
    assert head.fc.weight.abs().max() < 1e-4 and not head.fc.bias.any()  # the new layer: trunc-normal, std 2e-5
    # the same weights in the official MoCo v3 / original release layout
    mocov3 = {
        f'module.base_encoder.head.{"0" if k.startswith("neck.fc0") else "1"}.{k.split(".", 2)[2]}': v
        for k, v in state_dict.items()
        if k.startswith(('neck.fc0.', 'neck.bn0.'))
    }
    other = ProjectorClsHead(10, 48, hid_channels=128)
    other.load_projector({'state_dict': mocov3})
    assert torch.equal(other.bn0.running_var, head.bn0.running_var) and torch.equal(other.fc0.weight, head.fc0.weight)
    plain = ProjectorClsHead(10, 48, hid_channels=128, with_norm_act=False)  # the original release's head
    plain.load_projector(str(nano_checkpoint))
    assert torch.equal(plain.fc0.weight, head.fc0.weight) and not hasattr(plain, 'bn0')
    x = torch.randn(4, 48)
    torch.testing.assert_close(plain((x,)), x @ state_dict['neck.fc0.weight'].T @ plain.fc.weight.T + plain.fc.bias)


def test_projector_cls_head_errors_name_what_is_missing(nano_checkpoint: Path) -> None:
    state_dict = torch.load(nano_checkpoint, weights_only=True)['state_dict']
    backbone_only = {k: v for k, v in state_dict.items() if k.startswith('backbone.')}
    with pytest.raises(CheckpointMismatchError, match='no projector found') as err:
        ProjectorClsHead(10, 48, hid_channels=128).load_projector({'state_dict': backbone_only})
    assert 'fc0.weight' in str(err.value) and 'bn0.running_var' in str(err.value)
    partial = {k: v for k, v in state_dict.items() if k != 'neck.bn0.running_var'}
    head = ProjectorClsHead(10, 48, hid_channels=128)
    before = head.fc0.weight.detach().clone()
    with pytest.raises(CheckpointMismatchError, match=r'missing in the checkpoint \(1\): bn0.running_var'):
        head.load_projector({'state_dict': partial})
    assert torch.equal(head.fc0.weight, before)  # nothing loaded
    with pytest.raises(
        CheckpointMismatchError, match=r'shape of fc0.weight: checkpoint \(128, 48\) vs model \(64, 48\)'
    ):
        ProjectorClsHead(10, 48, hid_channels=64).load_projector(str(nano_checkpoint))
