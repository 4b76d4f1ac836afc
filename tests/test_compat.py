"""lgp.compat: the mmcv.ops stand-in and the safe-loading allow-list for mmengine checkpoints."""

import importlib.util
import os
import pickle
import subprocess
import sys

import mmcv
import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub

import lgp.compat as compat
from lgp.models.checkpoint import safe_load


def test_lgp_mmseg_and_mmpretrain_import_together():
    code = 'import lgp, mmseg.models, mmpretrain.models; from mmseg.models import UPerHead, FocalLoss'
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


needs_standin = pytest.mark.skipif(
    importlib.util.find_spec('mmcv._ext') is not None, reason='a compiled mmcv is installed: the stand-in is not used'
)


@needs_standin
def test_point_sample_matches_bilinear_reference():
    import mmcv.ops

    image = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(1, 2, 4, 4)
    # pixel centres of (row 1, col 2) and (row 3, col 0), and the midpoint between cols 1 and 2 of row 0
    points = torch.tensor([[[2.5 / 4, 1.5 / 4], [0.5 / 4, 3.5 / 4], [2.0 / 4, 0.5 / 4]]])
    out = mmcv.ops.point_sample(image, points, align_corners=False)
    expected = torch.stack([image[0, :, 1, 2], image[0, :, 3, 0], (image[0, :, 0, 1] + image[0, :, 0, 2]) / 2], 1)
    torch.testing.assert_close(out, expected[None])
    grid_out = mmcv.ops.point_sample(image, points[:, None], align_corners=False)
    assert grid_out.shape == (1, 2, 1, 3)


@needs_standin
def test_other_ops_name_themselves_when_used():
    import mmcv.ops

    with pytest.raises(ModuleNotFoundError, match=r'mmcv\.ops\.roi_align needs the compiled ops of full mmcv'):
        mmcv.ops.roi_align(torch.zeros(1), torch.zeros(1))
    assert not hasattr(mmcv.ops, '__file__')


def test_compiled_mmcv_is_left_untouched(monkeypatch):
    monkeypatch.delitem(sys.modules, 'mmcv.ops', raising=False)
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name: object() if name == 'mmcv._ext' else None)
    assert compat.install_mmcv_ops_standin() is False
    assert 'mmcv.ops' not in sys.modules
    assert mmcv is sys.modules['mmcv']


def test_mmengine_message_hub_loads_with_weights_only(tmp_path):
    hub = MessageHub.get_instance('compat-test')
    for loss in (3.0, 2.0, 1.0):
        hub.update_scalar('train/loss', loss)
    hub.update_info('iter', 3)
    path = tmp_path / 'ckpt.pth'
    torch.save({'message_hub': hub.state_dict(), 'meta': {'seed': 0}}, path)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []  # all admitted by lgp
    loaded = torch.load(path, weights_only=True)
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer) and buffer.mean() == 2.0 and buffer.current() == 1.0


class RunsCode:
    """A pickle that would call os.system on load."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


class SneakyGetattr:
    """A pickle that abuses the allow-listed getattr to reach a method outside HistoryBuffer's statistics."""

    def __reduce__(self):
        return getattr, (np.ndarray, 'tofile')


def test_code_running_pickle_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.ones(1)}, 'payload': RunsCode(str(marker))}, path)
    with pytest.raises(pickle.UnpicklingError, match=r'Refusing to load .*evil\.pth.*could run code.*posix\.system'):
        safe_load(path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)  # torch's default, as mmengine calls it, refuses too
    assert not marker.exists()


def test_getattr_is_admitted_only_on_history_buffer(tmp_path):
    path = tmp_path / 'sneaky.pth'
    torch.save({'payload': SneakyGetattr()}, path)
    with pytest.raises(pickle.UnpicklingError, match=r"Refusing getattr\(<class 'numpy.ndarray'>, 'tofile'\)"):
        torch.load(path, weights_only=True)


@pytest.mark.parametrize('hue_factor', [-0.5, -0.1, -0.02, 0.0, 0.07, 0.5])
def test_adjust_hue_matches_torchvision_for_negative_factors(hue_factor):
    """mmcv's adjust_hue overflows on numpy >= 2 for a negative factor; lgp's equals torchvision's (fixed) one."""
    import torchvision.transforms.functional as TF
    from PIL import Image

    image = np.random.default_rng(0).integers(0, 256, (17, 19, 3), dtype=np.uint8)  # BGR, as mmcv reads
    expected = np.asarray(TF.adjust_hue(Image.fromarray(image[..., ::-1]), hue_factor))[..., ::-1]
    np.testing.assert_array_equal(mmcv.adjust_hue(image, hue_factor, backend='pillow'), expected)
    assert mmcv.adjust_hue(image, hue_factor, backend='cv2').shape == image.shape


def test_import_is_quiet_about_the_unused_deformable_attention_op():
    """``import lgp`` (and mmseg after it) shows no warning about mmcv's ``MultiScaleDeformableAttention``, which lgp
    never uses, and leaves no filter behind: other warnings, mmcv's included, are still shown."""
    code = (
        'import warnings\n'
        'import lgp, mmseg.models\n'
        'warnings.warn("a warning that matters")\n'
        'warnings.warn("Fail to import ``MultiScaleDeformableAttention`` again", UserWarning)\n'
    )
    result = subprocess.run([sys.executable, '-W', 'always', '-c', code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if 'Warning' in line]
    assert any('a warning that matters' in line for line in lines)
    assert sum('MultiScaleDeformableAttention' in line for line in lines) == 1  # the one raised after the import
