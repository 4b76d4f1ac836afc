"""Feature preparation for the few-shot logistic regression (lgp.evaluation.feature_preprocessing): each centring
against its hand computation, the original's per-sample centring by default."""

import pytest
import torch
import torch.nn.functional as F

from lgp.evaluation import prepare_features


def test_default_centres_each_sample_over_its_own_dims_as_the_original() -> None:
    """The original's ``cyanure.preprocess(X, centering=True, normalize=True, columns=False)``: rows are samples."""
    train, val = torch.randn(30, 6) + 5, torch.randn(10, 6) - 3
    p_train, p_val = prepare_features(train, val)
    torch.testing.assert_close(p_train, F.normalize(train - train.mean(1, keepdim=True), dim=1))
    torch.testing.assert_close(p_val, F.normalize(val - val.mean(1, keepdim=True), dim=1))
    torch.testing.assert_close(p_train.sum(dim=1), torch.zeros(30), atol=1e-5, rtol=0)  # each row centred
    torch.testing.assert_close(p_val.norm(dim=1), torch.ones(10))
    explicit = prepare_features(train, val, centering='sample')
    assert torch.equal(explicit[0], p_train) and torch.equal(explicit[1], p_val)


def test_train_mean_centring_subtracts_the_train_mean_from_both_sets() -> None:
    train, val = torch.randn(30, 6) + 5, torch.randn(10, 6) + 5
    p_train, p_val = prepare_features(train, val, centering='train_mean')
    mu = train.mean(0)
    torch.testing.assert_close(p_train, F.normalize(train - mu, dim=1))
    torch.testing.assert_close(p_val, F.normalize(val - mu, dim=1))  # the val set's own mean is not used
    torch.testing.assert_close(p_train.norm(dim=1), torch.ones(30))


def test_no_centring_only_normalises_and_bad_arguments_raise() -> None:
    train, val = torch.randn(8, 4).double(), torch.randn(3, 4).double()
    p_train, p_val = prepare_features(train, val, centering='none')
    assert p_train.dtype == torch.float64
    torch.testing.assert_close(p_train, train / train.norm(dim=1, keepdim=True))
    torch.testing.assert_close(p_val, val / val.norm(dim=1, keepdim=True))
    with pytest.raises(ValueError, match='centering must be one of'):
        prepare_features(train, val, centering='columns')
    with pytest.raises(ValueError, match='equal D'):
        prepare_features(train, val[:, :3])
