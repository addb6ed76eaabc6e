"""Regression test for a jaxlib miscompilation that jaxdl must never run on.

jaxlib 0.10.2 on x86 CPUs miscompiles a jitted matmul against a broadcast constant: the
product with a constant zero matrix is NaN, and a product with a constant matrix of 0.5s
is off by orders of magnitude (-2e33 was seen). ``pyproject.toml`` excludes that version;
these tests fail on any installed jaxlib that has the bug.
"""

import jax
import jax.numpy as jnp
import numpy as np


def test_jitted_matmul_against_constant_zeros_is_zero():
    x = jax.random.normal(jax.random.key(0), (32, 784))
    result = jax.jit(lambda v: jnp.sum(v @ jnp.zeros((784, 256))))(x)
    assert float(result) == 0.0


def test_jitted_matmul_against_constant_halves_is_correct():
    x = jax.random.normal(jax.random.key(1), (32, 128))
    result = jax.jit(lambda v: v @ jnp.full((128, 128), 0.5))(x)
    expected = np.repeat(0.5 * np.asarray(x, np.float64).sum(axis=1, keepdims=True), 128, axis=1)
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-4)


def test_jitted_matmul_against_weights_as_arguments_is_correct():
    x = jax.random.normal(jax.random.key(2), (32, 128))
    w = jax.random.normal(jax.random.key(3), (128, 64))
    result = jax.jit(lambda v, m: v @ m)(x, w)
    np.testing.assert_allclose(result, np.asarray(x) @ np.asarray(w), rtol=1e-4, atol=1e-4)
