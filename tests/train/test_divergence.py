"""`all_finite` and `state_is_finite`, the state check of fit's divergence detection, on
mixed-dtype trees, and fit's epoch with the check inside its program or after it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdl import losses, nn, optim
from jaxdl.train import TrainState, make_train_step
from jaxdl.train._divergence import all_finite, jit_all_finite, state_is_finite
from jaxdl.train._loops import make_fit_epoch


def _tree(**overrides):
    tree = {
        "w": jnp.ones((3, 4), jnp.float32),
        "h": jnp.ones((5,), jnp.bfloat16),
        "z": jnp.ones((2,), jnp.complex64),
        "count": jnp.array(7, jnp.int32),
        "scalar": jnp.array(2.0, jnp.float32),
    }
    tree.update(overrides)
    return tree


def test_finite_mixed_dtype_tree_is_finite():
    assert bool(all_finite(_tree())) is True


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("w", jnp.ones((3, 4), jnp.float32).at[2, 3].set(jnp.nan)),
        ("h", jnp.ones((5,), jnp.bfloat16).at[0].set(jnp.inf)),
        ("z", jnp.array([1.0, complex(0.0, np.inf)], jnp.complex64)),
        ("scalar", jnp.array(-jnp.inf, jnp.float32)),
    ],
)
def test_one_non_finite_value_in_any_floating_leaf_is_found(name, bad):
    assert bool(all_finite(_tree(**{name: bad}))) is False
    assert bool(jit_all_finite(_tree(**{name: bad}))) is False
    assert state_is_finite(_tree(**{name: bad})) is False


def test_integer_leaves_and_empty_trees_count_as_finite():
    assert bool(all_finite({"count": jnp.array(3), "steps": np.arange(4)})) is True
    assert bool(all_finite({})) is True


def test_largest_finite_float32_is_finite():
    big = jnp.full((4,), jnp.finfo(jnp.float32).max)
    assert bool(all_finite({"a": big, "b": big})) is True


def test_state_in_host_memory_is_checked_in_numpy_as_a_python_bool():
    assert state_is_finite(_tree()) is True
    assert state_is_finite({"w": np.array([1.0, np.nan]), "n": 3}) is False
    assert state_is_finite({}) is True


def _diverging_epoch(flag_in_program, streaming):
    """One epoch of SGD with a learning rate so large that the last update overflows."""
    model, opt = nn.Dense(2), optim.sgd(1e38)
    x = jnp.full((8, 3), 1e3, jnp.float32)
    y = jnp.array([0, 1] * 4)
    params, state = model.init(jax.random.key(0), x)
    ts = TrainState.create(params=params, state=state, optimizer=opt)
    step = make_train_step(model, losses.softmax_cross_entropy, opt)
    epoch = make_fit_epoch(step, 8, streaming=streaming, flag_in_program=flag_in_program)
    return epoch(ts, x, y, jax.random.key(1), 0)


@pytest.mark.parametrize("streaming", [False, True])
def test_state_check_in_the_program_and_after_it_agree(streaming):
    in_program = _diverging_epoch(True, streaming)
    after = _diverging_epoch(False, streaming)
    assert np.isfinite(float(in_program[1]["loss"]))
    assert bool(in_program[2].state_finite) is False
    assert bool(after[2].state_finite) is False
    assert isinstance(after[2].state_finite, bool)
