"""LinearProbeInitHook (lgp.engine.hooks.linear_probe_init_hook): LP-FT's head is the logistic regression on the
frozen features, moved exactly onto the raw features; the run's random streams are left as they were; a resumed run
keeps its head."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from sklearn.linear_model import LogisticRegression

from lgp.engine import LinearProbeInitHook, load_config
from lgp.engine.hooks.linear_probe_init_hook import classifier_layer

CONFIG = 'configs/benchmarks/finetune_lgp-vit-nano_digits.py'


@pytest.fixture(scope='module')
def runner_like(digits_root, mae_checkpoint):
    """What the hook reads of a runner: the model (its backbone loaded), the config, iter and logger."""
    cfg = load_config(CONFIG)  # sets the default scope: an earlier test may have left mmseg's
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.dataset.data_root = str(digits_root)
    cfg.model.backbone.init_cfg.checkpoint = str(mae_checkpoint)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return SimpleNamespace(model=model, cfg=cfg, iter=0, logger=MMLogger.get_instance('lp_ft_test'))


def classifier_inputs(runner):
    """The CLS features of every training image through the val transform, computed here without the hook."""
    cfg = runner.cfg
    loader = Runner.build_dataloader(
        dict(
            batch_size=500,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            dataset=dict(cfg.train_dataloader.dataset, pipeline=cfg.val_dataloader.dataset.pipeline),
        ),
        seed=0,
    )
    model, feats, labels = runner.model.eval(), [], []
    with torch.no_grad():
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            feats.append(model.head.pre_logits(model.extract_feat(data['inputs'])).double())
            labels += [int(s.gt_label) for s in data['data_samples']]
    return torch.cat(feats), torch.tensor(labels)


def test_the_head_is_the_logistic_regression_on_the_standardised_features(runner_like):
    hook = LinearProbeInitHook(l2=1e-3)
    torch.manual_seed(7)
    state = torch.get_rng_state()
    hook.before_train(runner_like)
    assert torch.equal(torch.get_rng_state(), state), 'the hook must leave the training run its random stream'

    features, labels = classifier_inputs(runner_like)
    layer = classifier_layer(runner_like.model)
    logits = (features @ layer.weight.double().T + layer.bias.double()).detach()
    # the same problem solved by scikit-learn on the standardised features; its intercept is not penalised, so
    # the two optima differ slightly: their predictions agree on nearly every image
    mean, std = features.mean(0), features.std(0)
    n = len(labels)
    reference = LogisticRegression(C=1 / (n * 1e-3), max_iter=5000, tol=1e-8)
    reference.fit(((features - mean) / std).numpy(), labels.numpy())
    expected = reference.predict(((features - mean) / std).numpy())
    agreement = (logits.argmax(1).numpy() == expected).mean()
    assert agreement > 0.97
    train_top1 = (logits.argmax(1) == labels).double().mean().item()
    assert train_top1 == pytest.approx(reference.score(((features - mean) / std).numpy(), labels.numpy()), abs=0.02)


def test_the_fit_is_moved_exactly_onto_the_raw_features(runner_like, monkeypatch):
    """W = V / sigma, b = c - W mu gives on z the logits V (z - mu) / sigma + c."""
    from lgp.engine.hooks import linear_probe_init_hook as module

    fits = []
    real_fit = module.fit_logistic_regression

    def recording_fit(features, labels, l2, num_classes):
        fits.append((features, real_fit(features, labels, l2, num_classes=num_classes)))
        return fits[-1][1]

    monkeypatch.setattr(module, 'fit_logistic_regression', recording_fit)
    LinearProbeInitHook(l2=1e-2).before_train(runner_like)
    ((standardised, fit),) = fits
    features, _ = classifier_inputs(runner_like)
    layer = classifier_layer(runner_like.model)
    raw_logits = (features @ layer.weight.double().T + layer.bias.double()).detach()
    np.testing.assert_allclose(raw_logits.numpy(), fit.logits(standardised).numpy(), rtol=1e-4, atol=1e-4)


def test_a_resumed_run_keeps_its_head(runner_like):
    layer = classifier_layer(runner_like.model)
    with torch.no_grad():
        layer.weight.fill_(0.5)
    LinearProbeInitHook().before_train(SimpleNamespace(**{**vars(runner_like), 'iter': 10}))
    assert torch.all(layer.weight == 0.5)


def test_the_penalty_must_be_positive():
    with pytest.raises(ValueError, match='l2 must be positive'):
        LinearProbeInitHook(l2=0.0)
