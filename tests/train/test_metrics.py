import jax.numpy as jnp
import pytest

from jaxdl.train import accuracy, top_k_accuracy

LOGITS = jnp.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])
LABELS = jnp.array([1, 1, 2, 2])


def test_accuracy_counts_argmax_hits():
    assert float(accuracy(LOGITS, LABELS)) == 0.5


def test_accuracy_accepts_one_hot_targets():
    assert float(accuracy(LOGITS, jnp.eye(3)[LABELS])) == 0.5


@pytest.mark.parametrize("k, expected", [(1, 0.5), (2, 1.0), (3, 1.0)])
def test_top_k_accuracy(k, expected):
    # ranks of the labels: 0, 1, 0, 1
    assert float(top_k_accuracy(LOGITS, LABELS, k=k)) == expected


def test_top_k_rejects_bad_k_and_label_shape():
    with pytest.raises(ValueError, match="k must be an int ≥ 1"):
        top_k_accuracy(LOGITS, LABELS, k=0)
    with pytest.raises(ValueError, match=r"\(4,\)"):
        accuracy(LOGITS, LABELS[:, None])


@pytest.mark.parametrize(
    "metric", [accuracy, lambda z, y: top_k_accuracy(z, y, k=2)], ids=["accuracy", "top_2"]
)
def test_rows_with_nan_scores_count_as_misses(metric):
    # A NaN compares false with everything, so its label would rank first: a diverged
    # network (all NaN) would score 100 %. Row 0 is a hit, row 1 has a NaN elsewhere than
    # at its label, row 2 is all NaN.
    logits = jnp.array([[0.1, 0.7, 0.2], [0.5, jnp.nan, 0.2], [jnp.nan, jnp.nan, jnp.nan]])
    labels = jnp.array([1, 0, 2])
    assert float(metric(logits, labels)) == pytest.approx(1 / 3)
    assert float(metric(jnp.full((4, 3), jnp.nan), LABELS)) == 0.0


def test_infinite_scores_still_rank():
    logits = jnp.array([[jnp.inf, 0.0, 0.0], [0.0, -jnp.inf, 1.0]])
    assert float(accuracy(logits, jnp.array([0, 2]))) == 1.0
