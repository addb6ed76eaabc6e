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
    with pytest.raises(ValueError, match="k must be"):
        top_k_accuracy(LOGITS, LABELS, k=0)
    with pytest.raises(ValueError, match=r"\(4,\)"):
        accuracy(LOGITS, LABELS[:, None])
