"""The weighted kNN classifier (lgp.evaluation.knn): the scores of a brute-force computation, in any chunking; k and
ties; bad inputs refused with a message saying what is wrong."""

import math

import pytest
import torch

from lgp.evaluation import knn_predict, knn_top1


def brute_force_scores(
    train: torch.Tensor, labels: torch.Tensor, test: torch.Tensor, num_classes: int, k: int, temperature: float
) -> torch.Tensor:
    """Per test point: cosine similarity to every train point, all sorted, the first k vote exp(s / T) in float64."""
    scores = torch.zeros(len(test), num_classes, dtype=torch.float64)
    for i, x in enumerate(test.double()):
        similarities = [
            (float(x @ t) / (x.norm().item() * t.norm().item()), int(c))
            for t, c in zip(train.double(), labels, strict=True)
        ]
        for s, c in sorted(similarities, key=lambda pair: -pair[0])[:k]:
            scores[i, c] += math.exp(s / temperature)
    return scores


def random_set(n: int = 40, m: int = 13, dims: int = 5, num_classes: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    train, test = torch.randn(n, dims, generator=g), torch.randn(m, dims, generator=g)
    return train, torch.randint(num_classes, (n,), generator=g), test, torch.randint(num_classes, (m,), generator=g)


@pytest.mark.parametrize('k, temperature, chunk_size', [(20, 0.07, 1024), (7, 0.5, 3), (1, 0.07, 1), (40, 0.1, 5)])
def test_scores_and_top1_equal_a_brute_force_computation(k, temperature, chunk_size):
    train, train_labels, test, test_labels = random_set()
    scores = knn_predict(train, train_labels, test, 4, k=k, temperature=temperature, chunk_size=chunk_size)
    expected = brute_force_scores(train, train_labels, test, 4, k, temperature)
    assert scores.shape == (13, 4) and scores.dtype == torch.float32
    torch.testing.assert_close(scores.double(), expected, rtol=1e-5, atol=0)
    top1 = knn_top1(train, train_labels, test, test_labels, 4, k=k, temperature=temperature, chunk_size=chunk_size)
    assert top1 == pytest.approx((expected.argmax(dim=1) == test_labels).double().mean().item() * 100)


def test_features_are_compared_by_direction_only():
    train, train_labels, test, _ = random_set()
    scale = torch.rand(len(train), 1) * 10 + 0.1
    torch.testing.assert_close(
        knn_predict(train * scale, train_labels, 3 * test, 4),
        knn_predict(train, train_labels, test, 4),
        rtol=1e-5,
        atol=0,
    )


def test_k_one_is_the_nearest_neighbour_and_k_n_votes_with_every_point():
    train, train_labels, test, _ = random_set()
    nearest = (torch.nn.functional.normalize(test) @ torch.nn.functional.normalize(train).T).argmax(dim=1)
    assert torch.equal(knn_predict(train, train_labels, test, 4, k=1).argmax(dim=1), train_labels[nearest])
    everything = knn_predict(train, train_labels, test, 4, k=len(train), temperature=1.0)
    similarity = torch.nn.functional.normalize(test) @ torch.nn.functional.normalize(train).T
    expected = torch.zeros(len(test), 4).index_add_(1, train_labels, similarity.exp())
    torch.testing.assert_close(everything, expected)


def test_duplicates_vote_each_and_ties_at_the_kth_neighbour_keep_any_of_them():
    # for the test point (1, 0): a duplicated point of class 0 (similarity 1 twice), two of class 1 tied at similarity
    # 0 and one of class 2 at -1; k = 3 keeps either of the tied ones, both of class 1
    train = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, -1.0], [-1.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1, 2])
    test = torch.tensor([[1.0, 0.0]])
    for k, expected in ((2, [2 * math.e, 0.0, 0.0]), (3, [2 * math.e, 1.0, 0.0]), (4, [2 * math.e, 2.0, 0.0])):
        torch.testing.assert_close(knn_predict(train, labels, test, 3, k=k, temperature=1.0), torch.tensor([expected]))


def test_equal_scores_predict_the_lowest_class():
    train, labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([2, 1])
    assert knn_top1(train, labels, torch.tensor([[1.0, 1.0]]), torch.tensor([1]), k=2) == 100.0


def test_num_classes_defaults_to_the_largest_label_plus_one():
    train, train_labels, test, test_labels = random_set()
    assert knn_top1(train, train_labels, test, test_labels) == knn_top1(train, train_labels, test, test_labels, 4)


@pytest.mark.parametrize(
    'change, message',
    [
        (dict(train_features=torch.randn(40, 5, 1)), r'shape \(N, D\) and \(M, D\), got \(40, 5, 1\)'),
        (dict(test_features=torch.randn(13, 6)), 'Train features have 5 dims, test features 6'),
        (dict(train_labels=torch.zeros(39, dtype=torch.long)), r'one train label per train feature, shape \(40,\)'),
        (dict(train_labels=torch.zeros(40)), 'class indices'),
        (dict(train_labels=torch.full((40,), 4)), r'Train labels must lie in \[0, num_classes = 4\), got \[4, 4\]'),
        (dict(k=41), r'k must be in \[1, N = 40\] .*got 41: lower k'),
        (dict(k=0), r'k must be in \[1, N = 40\]'),
        (dict(temperature=0.0), 'temperature must be > 0'),
        (dict(chunk_size=0), 'chunk_size must be >= 1'),
        (dict(num_classes=0), 'num_classes must be >= 1'),
    ],
)
def test_bad_inputs_are_refused(change, message):
    train, train_labels, test, _ = random_set()
    args = dict(train_features=train, train_labels=train_labels, test_features=test, num_classes=4, chunk_size=8)
    with pytest.raises(ValueError, match=message):
        knn_predict(**{**args, **change})


def test_top1_needs_one_label_per_test_feature():
    train, train_labels, test, test_labels = random_set()
    with pytest.raises(ValueError, match=r'one test label per test feature \(at least one\), shape \(13,\)'):
        knn_top1(train, train_labels, test, test_labels[:-1])
    with pytest.raises(ValueError, match='at least one'):
        knn_top1(train, train_labels, test[:0], test_labels[:0])
