"""tools/test.py, run as a real process: a nano classifier evaluated on the 360 validation digits, and the checkpoints
and configs it must refuse with a message."""

from pathlib import Path

import mmengine
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

import lgp  # noqa: F401  (registrations; safe-load allow-list for mmengine checkpoints)

REPO_ROOT = Path(__file__).resolve().parents[2]
MAE_CONFIG = 'configs/mae_vit-nano_digits.py'

TEST_CONFIG = """
from mmcv.transforms import LoadImageFromFile
from mmengine.dataset import DefaultSampler, default_collate
from mmpretrain.datasets import CustomDataset, PackInputs
from mmpretrain.evaluation import Accuracy
from mmpretrain.models import ClsDataPreprocessor, CrossEntropyLoss, ImageClassifier, LinearClsHead

from lgp.models import LGPViT

default_scope = 'mmpretrain'
model = dict(
    type=ImageClassifier,
    backbone=dict(type=LGPViT, arch='nano', img_size=32),
    head=dict(type=LinearClsHead, num_classes=10, in_channels=48, loss=dict(type=CrossEntropyLoss)),
)
data_preprocessor = dict(type=ClsDataPreprocessor, num_classes=10, mean=[123.675, 116.28, 103.53],
                         std=[58.395, 57.12, 57.375], to_rgb=True)
test_dataloader = dict(
    batch_size=120, num_workers=0, sampler=dict(type=DefaultSampler, shuffle=False),
    collate_fn=dict(type=default_collate),
    dataset=dict(type=CustomDataset, data_root='{root}', ann_file='meta/val.txt', data_prefix='',
                 pipeline=[dict(type=LoadImageFromFile), dict(type=PackInputs)]),
)
test_evaluator = dict(type=Accuracy, topk=(1,))
test_cfg = dict()
"""


@pytest.fixture
def classifier_config(digits_root: Path, tmp_path: Path) -> Path:
    config = tmp_path / 'vit-nano_digits_test.py'
    config.write_text(TEST_CONFIG.format(root=digits_root))
    return config


@pytest.fixture(scope='module')
def mae_checkpoint_with_decoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of the quick-start MAE model (backbone and decoder, no classifier head), as training saves it."""
    init_default_scope('mmpretrain')  # earlier tests may leave mmseg's scope current
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(REPO_ROOT / MAE_CONFIG).model)
    model.init_weights()
    path = tmp_path_factory.mktemp('mae_model') / 'epoch_1.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'epoch': 1, 'iter': 2}}, path)
    return path


def test_test_tool_evaluates_a_classifier_and_dumps(classifier_config: Path, tmp_path: Path, run_tool) -> None:
    """A classifier checkpoint evaluated on the 360 val digits; predictions and metrics dumped."""
    init_default_scope('mmpretrain')
    model = MODELS.build(Config.fromfile(classifier_config).model)
    model.init_weights()
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'classifier.pth')
    command = ['tools/test.py', str(classifier_config), str(tmp_path / 'classifier.pth'), '--work-dir', str(tmp_path)]
    preds, metrics = tmp_path / 'preds.pkl', tmp_path / 'metrics.json'
    run_tool([*command, '--out', str(preds)])
    run_tool([*command, '--out', str(metrics), '--out-item', 'metrics'])
    predictions = mmengine.load(preds)
    assert len(predictions) == 360 and all(p['pred_score'].shape == (10,) for p in predictions)
    assert 0.0 <= mmengine.load(metrics)['accuracy/top1'] <= 100.0


def test_test_tool_refuses_a_checkpoint_that_does_not_fit(
    classifier_config: Path, mae_checkpoint_with_decoder: Path, run_tool
) -> None:
    """The MAE checkpoint has no classifier head and holds a decoder: named, not silently half-loaded."""
    result = run_tool(['tools/test.py', str(classifier_config), str(mae_checkpoint_with_decoder)], check=False)
    assert result.returncode != 0
    assert 'missing in the checkpoint (2): head.fc.bias, head.fc.weight' in result.stderr
    assert 'unexpected in the checkpoint' in result.stderr and 'neck.decoder_embed.weight' in result.stderr


def test_test_tool_refuses_pretraining_config(mae_checkpoint_with_decoder: Path, run_tool) -> None:
    result = run_tool(['tools/test.py', MAE_CONFIG, str(mae_checkpoint_with_decoder)], check=False)
    assert result.returncode != 0 and 'defines no test set' in result.stderr
