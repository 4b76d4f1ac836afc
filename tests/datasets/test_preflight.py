"""A missing data set or checkpoint stops tools/train.py and tools/test.py before anything is built, with one short
message naming every missing path, the layout expected there and how to fix it (lgp.datasets.preflight)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.model.weight_init import PretrainedInit
from mmpretrain.datasets import CustomDataset, ImageNet

from lgp.datasets import MissingInputError, check_input_paths

REPO = Path(__file__).resolve().parents[2]


def run_in(work_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """A tool of this repository run from ``work_dir`` (absolute paths of the tool and the config)."""
    command = [sys.executable, str(REPO / args[0]), *args[1:]]
    return subprocess.run(command, cwd=work_dir, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    'tool, config, expected',
    [
        (
            'tools/train.py',
            'configs/grafted_vit-b.py',
            [
                '- data/imagenet: no such folder (set by train_dataloader.dataset.data_root)',
                'data/imagenet/{train,val}/<wnid>/*.JPEG',
                'an annotation file (ann_file) of `<path> <label>` lines',
                '--cfg-options train_dataloader.dataset.data_root=PATH',
                '- checkpoints/mae_pretrain_vit_base.pth: no such file (set by model.step1.checkpoint)',
                '--cfg-options model.step1.checkpoint=PATH',
            ],
        ),
        (
            'tools/train.py',
            'configs/segmentation/upernet_lgp-vit-b_8xb2-160k_ade20k-512x512.py',
            [
                '- data/ade/ADEChallengeData2016: no such folder',
                'ADEChallengeData2016/{images,annotations}/{training,validation}/*.{jpg,png}',
                '--cfg-options train_dataloader.dataset.data_root=PATH val_dataloader.dataset.data_root=PATH',
                '- checkpoints/lgp_vit-b.pth: no such file',
            ],
        ),
        (
            'tools/test.py',
            'configs/segmentation/upernet_lgp-vit-nano_digits-seg.py',
            [
                '- data/digits_ade/ADEChallengeData2016: no such folder (set by test_dataloader.dataset.data_root)',
                'write it: python tools/dataset_converters/digits_to_ade20k.py data/digits_ade',
                'or use another path: --cfg-options test_dataloader.dataset.data_root=PATH',
                '- missing.pth: no such file (set by CHECKPOINT, the argument of tools/test.py)',
            ],
        ),
    ],
    ids=['grafted-imagenet', 'ade20k', 'test-tool'],
)
def test_tools_name_every_missing_input_without_a_traceback(tool, config, expected, tmp_path) -> None:
    extra = ['missing.pth'] if tool == 'tools/test.py' else []
    result = run_in(tmp_path, tool, str(REPO / config), *extra)
    assert result.returncode == 1, result.stderr[-3000:]
    assert 'Traceback' not in result.stderr
    assert f'relative to {tmp_path}' in result.stderr
    for line in expected:
        assert line in result.stderr
    if tool == 'tools/test.py':  # neither the training data nor the init_cfg checkpoint: test.py does not read them
        assert 'train_dataloader' not in result.stderr and 'init_cfg' not in result.stderr
    assert not (tmp_path / 'work_dirs').exists()  # stopped before the runner made its work dir


def loader(dataset: dict) -> dict:
    return dict(batch_size=2, sampler=dict(type='DefaultSampler'), dataset=dataset)


def message(cfg: dict, **kwargs) -> str:
    with pytest.raises(MissingInputError) as error:
        check_input_paths(Config(cfg), **kwargs)
    return str(error.value)


def test_custom_dataset_with_a_missing_annotation_file(digits_root) -> None:
    dataset = dict(type=CustomDataset, data_root=str(digits_root), ann_file='meta/no_such.txt', data_prefix='')
    text = message(dict(train_dataloader=loader(dataset)))
    assert f'- {digits_root}/meta/no_such.txt: no such file (set by train_dataloader.dataset.ann_file)' in text
    assert f'annotation file {digits_root}/meta/no_such.txt of `<path> <label>` lines' in text
    assert '--cfg-options train_dataloader.dataset.ann_file=PATH' in text
    assert 'data_root' not in text  # it exists


def test_paths_resolve_as_mmengine_joins_them(tmp_path) -> None:
    """ann_file and data_prefix relative to data_root, absolute ones kept; under a missing data_root, data_root only."""
    (tmp_path / 'ADEChallengeData2016/images/training').mkdir(parents=True)
    prefix = dict(img_path='images/training', seg_map_path=str(tmp_path / 'elsewhere'))
    dataset = dict(type='mmseg.ADE20KDataset', data_root=str(tmp_path / 'ADEChallengeData2016'), data_prefix=prefix)
    lost = dict(type=ImageNet, data_root='no/such/imagenet', split='val', ann_file='meta/val.txt')
    text = message(dict(val_dataloader=loader(dataset), test_dataloader=loader(lost)))
    assert f'- {tmp_path}/elsewhere: no such folder (set by val_dataloader.dataset.data_prefix.seg_map_path)' in text
    assert 'images/training' not in text.split('\n- ')[1]  # found under data_root
    assert '- no/such/imagenet: no such folder (set by test_dataloader.dataset.data_root)' in text
    assert 'no/such/imagenet/meta' not in text and 'no/such/imagenet/val' not in text


def test_wrapped_datasets_are_followed(digits_root, tmp_path) -> None:
    present = dict(type=CustomDataset, data_root=str(digits_root), ann_file='meta/train.txt', data_prefix='')
    absent = dict(type='ImageNet', data_root=str(tmp_path / 'imagenet'), split='train')
    repeat = dict(type='RepeatDataset', times=2, dataset=absent)
    text = message(dict(train_dataloader=loader(dict(type='ConcatDataset', datasets=[present, repeat]))))
    assert (
        f'- {tmp_path}/imagenet: no such folder (set by train_dataloader.dataset.datasets.1.dataset.data_root)' in text
    )
    assert f'{tmp_path}/imagenet/{{train,val}}/<wnid>/*.JPEG' in text
    assert str(digits_root) not in text


def test_digits_set_names_its_converter(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # data/digits relative to an empty folder
    dataset = dict(type=CustomDataset, data_root='data/digits', ann_file='meta/train.txt', data_prefix='')
    text = message(dict(train_dataloader=loader(dataset)))
    assert 'write it: python tools/dataset_converters/digits_to_imagenet.py data/digits' in text


def test_unknown_dataset_type_gets_the_generic_layout(tmp_path) -> None:
    dataset = dict(type='MyDataset', data_root=str(tmp_path), ann_file='labels.json')
    text = message(dict(train_dataloader=loader(dataset)))
    assert f'- {tmp_path}/labels.json: no such file (set by train_dataloader.dataset.ann_file)' in text
    assert 'what MyDataset reads from data_root, ann_file and data_prefix' in text


def test_missing_checkpoints_name_the_option_that_sets_them(tmp_path) -> None:
    head_init = [dict(type='Normal', std=0.01), dict(type=PretrainedInit, checkpoint=str(tmp_path / 'head.pth'))]
    model = dict(
        backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='no/such/mae.pth')),
        neck=dict(init_cfg=dict(type='Pretrained', checkpoint='https://example.org/remote.pth')),  # not checked
        head=dict(init_cfg=head_init),
        step1=[dict(checkpoint='no/such/mim.pth', blocks=(0, 8)), dict(checkpoint=str(tmp_path / 'head.pth'))],
    )
    cfg = dict(model=model, load_from=str(tmp_path / 'run/epoch_3.pth'))
    text = message(cfg)
    assert '- no/such/mae.pth: no such file (set by model.backbone.init_cfg.checkpoint)' in text
    assert f'- {tmp_path}/run/epoch_3.pth: no such file (set by load_from)' in text
    assert '- no/such/mim.pth: no such file (set by model.step1.0.checkpoint)' in text
    assert (
        f'- {tmp_path}/head.pth: no such file (set by model.head.init_cfg.1.checkpoint, model.step1.1.checkpoint)'
        in text
    )
    assert 'remote.pth' not in text
    options = re.findall(r'--cfg-options (.+)', text)
    assert options == [
        'model.backbone.init_cfg.checkpoint=PATH',
        'model.head.init_cfg.1.checkpoint=PATH model.step1.1.checkpoint=PATH',
        'model.step1.0.checkpoint=PATH',
        'load_from=PATH',
    ]
    fixed = Config(cfg)  # the options the message gives set those paths
    fixed.merge_from_dict({key.removesuffix('=PATH'): 'set' for option in options for key in option.split()})
    assert fixed.model.head.init_cfg[1].checkpoint == fixed.model.backbone.init_cfg.checkpoint == 'set'
    assert fixed.model.step1[0].checkpoint == fixed.model.step1[1].checkpoint == 'set'
    check_input_paths(Config(cfg), checkpoints=False)  # not asked for


def test_a_config_whose_inputs_exist_passes(digits_root, tmp_path) -> None:
    checkpoint = tmp_path / 'mae.pth'
    checkpoint.write_bytes(b'')
    cfg = Config.fromfile(REPO / 'configs/benchmarks/linear_lgp-vit-nano_digits.py')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = str(digits_root)
    cfg.model.backbone.init_cfg.checkpoint = str(checkpoint)
    cfg.load_from = str(checkpoint)
    assert check_input_paths(cfg, files={'CHECKPOINT': str(checkpoint)}) is None
    assert issubclass(MissingInputError, FileNotFoundError)
