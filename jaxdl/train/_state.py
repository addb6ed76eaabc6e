"""``TrainState``: everything a training step reads and writes, as one pytree."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxdl import optim

__all__ = ["TrainState"]


class TrainState(NamedTuple):
    """``(step, params, state, opt_state)``: a pytree whose four fields are all children.

    Because ``step`` is an int32 array rather than a static Python int, a jitted training
    step that takes and returns a ``TrainState`` compiles once and is reused every step.

    Fields:
        step: int32 scalar array, the number of updates applied.
        params: the model's trained parameters (a pytree).
        state: the model's non-trained state, e.g. batch-norm running statistics (``{}``
            when it has none).
        opt_state: the optimizer's state for ``params``.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jaxdl import optim
        >>> from jaxdl.train import TrainState
        >>> opt = optim.sgd(0.1)
        >>> ts = TrainState.create(params={"w": jnp.ones(2)}, optimizer=opt)
        >>> ts = ts.apply_gradients({"w": jnp.array([1.0, -1.0])}, opt)
        >>> ts.step, ts.params["w"]
        (Array(1, dtype=int32), Array([0.9, 1.1], dtype=float32))
    """

    step: jax.Array
    params: Any
    state: Any
    opt_state: Any

    @classmethod
    def create(
        cls, *, params: Any, optimizer: optim.GradientTransformation, state: Any = None
    ) -> TrainState:
        """A state at step 0 with ``optimizer.init(params)`` (``state`` defaults to ``{}``)."""
        return cls(
            step=jnp.zeros((), jnp.int32),
            params=params,
            state={} if state is None else state,
            opt_state=optimizer.init(params),
        )

    def apply_gradients(
        self, grads: Any, optimizer: optim.GradientTransformation, *, state: Any = None
    ) -> TrainState:
        """One optimizer update: ``params ← apply_updates(params, updates)``, ``step + 1``.

        ``state`` replaces the model state when given (the one returned by the forward pass).
        """
        updates, opt_state = optimizer.update(grads, self.opt_state, self.params)
        return TrainState(
            step=self.step + 1,
            params=optim.apply_updates(self.params, updates),
            state=self.state if state is None else state,
            opt_state=opt_state,
        )
