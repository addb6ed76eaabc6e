"""The classic 2-D optimizer pictures: each optimizer's path down a narrow curved valley
(Rosenbrock's function) and away from a saddle point, from one shared starting point.

Every path is one ``lax.scan`` over ``optimizer.update`` with the jaxdl optimizers, the
parameters being the point :math:`(x, y)` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdl import optim

__all__ = ["LANDSCAPES", "PATH_OPTIMIZERS", "Landscape", "optimizer_path", "plot_landscapes"]

# The optimizers drawn (all nine do not stay readable on one picture): plain SGD, the two
# momentum methods, and the adaptive family.
PATH_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam")


def rosenbrock(point: jax.Array) -> jax.Array:
    r""":math:`f(x, y) = (1 - x)^2 + 100 (y - x^2)^2`: a narrow parabolic valley whose
    floor falls gently to the minimum at :math:`(1, 1)`; across the valley the curvature is
    ~1000× the curvature along it, which makes plain gradient descent crawl."""
    x, y = point[0], point[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def saddle(point: jax.Array) -> jax.Array:
    r""":math:`f(x, y) = x^2 - y^2 + y^4 / 2`: a saddle point at the origin (a minimum
    along :math:`x`, a maximum along :math:`y`) between two minima at :math:`(0, \pm 1)`.
    Started almost on the ridge :math:`y = 0`, the gradient along :math:`y` is tiny, so
    escaping takes plain gradient descent many steps."""
    x, y = point[0], point[1]
    return x**2 - y**2 + y**4 / 2


class Landscape(NamedTuple):
    """A 2-D test function, where to start, how far to go, and what to draw."""

    title: str
    function: Callable[[jax.Array], jax.Array]
    start: tuple[float, float]
    steps: int
    bounds: tuple[float, float, float, float]  # x_min, x_max, y_min, y_max
    minima: tuple[tuple[float, float], ...]
    saddles: tuple[tuple[float, float], ...]
    # Hand-picked per optimizer: the largest round value that stays stable here, with the
    # momentum methods at plain SGD's rate so that the effect of momentum alone shows.
    learning_rates: dict[str, float]
    log_levels: bool  # contour levels log-spaced (a valley) or linear (a saddle)


LANDSCAPES = (
    Landscape(
        title="Rosenbrock valley  $(1-x)^2 + 100(y-x^2)^2$",
        function=rosenbrock,
        start=(-1.2, 1.0),
        steps=300,
        bounds=(-1.6, 1.6, -0.6, 1.6),
        minima=((1.0, 1.0),),
        saddles=(),
        learning_rates={
            "sgd": 1e-3,
            "momentum": 1e-3,
            "nesterov": 1e-3,
            "adagrad": 0.3,
            "adadelta": 3.0,
            "rmsprop": 1e-2,
            "adam": 0.1,
        },
        log_levels=True,
    ),
    Landscape(
        title="Saddle  $x^2 - y^2 + y^4/2$",
        function=saddle,
        start=(-1.5, 1e-3),
        steps=150,
        bounds=(-1.7, 1.7, -1.5, 1.5),
        minima=((0.0, 1.0), (0.0, -1.0)),
        saddles=((0.0, 0.0),),
        learning_rates={
            "sgd": 1e-2,
            "momentum": 1e-2,
            "nesterov": 1e-2,
            "adagrad": 0.3,
            "adadelta": 10.0,
            "rmsprop": 1e-2,
            "adam": 3e-2,
        },
        log_levels=False,
    ),
)


def optimizer_path(
    optimizer: optim.GradientTransformation,
    function: Callable[[jax.Array], jax.Array],
    start: tuple[float, float],
    steps: int,
) -> np.ndarray:
    """The points visited by ``steps`` updates of ``optimizer`` on ``function`` from
    ``start``: an array ``(steps + 1, 2)`` whose first row is ``start``.

    One ``lax.scan``: :math:`p_{t+1} = p_t + u_t` with ``u_t, s_{t+1} = update(∇f(p_t),
    s_t, p_t)``.
    """

    def step(carry, _):
        point, state = carry
        updates, state = optimizer.update(jax.grad(function)(point), state, point)
        point = optim.apply_updates(point, updates)
        return (point, state), point

    start_point = jnp.asarray(start, jnp.float32)
    _, points = jax.lax.scan(step, (start_point, optimizer.init(start_point)), length=steps)
    return np.concatenate([np.asarray(start_point)[None], np.asarray(points)])


def plot_landscapes(path: str, colors: dict[str, str]) -> dict[str, dict[str, float]]:
    """Draw every landscape with each optimizer's path on its contour plot into ``path``
    (PNG); returns ``{landscape: {optimizer: final f}}``."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(LANDSCAPES), figsize=(13, 7))
    finals: dict[str, dict[str, float]] = {}
    for axis, landscape in zip(axes, LANDSCAPES):
        _draw_contours(axis, landscape)
        finals[landscape.title] = {}
        for rank, name in enumerate(PATH_OPTIMIZERS):
            rate = landscape.learning_rates[name]
            optimizer = getattr(optim, name)(rate)
            points = optimizer_path(optimizer, landscape.function, landscape.start, landscape.steps)
            finals[landscape.title][name] = float(landscape.function(points[-1]))
            # Earlier paths on top: plain SGD's short path stays visible.
            on_top = len(PATH_OPTIMIZERS) - rank
            axis.plot(
                points[:, 0],
                points[:, 1],
                "-",
                color=colors[name],
                lw=1.4,
                alpha=0.9,
                zorder=2 + on_top,
                label=f"{name} (η={rate:g}): f={finals[landscape.title][name]:.2g}",
            )
            axis.plot(
                *points[-1], "o", color=colors[name], ms=5, mec="black", mew=0.6, zorder=20 + on_top
            )
        axis.plot(*landscape.start, "s", color="black", ms=7, zorder=40)
        for minimum in landscape.minima:
            axis.plot(*minimum, "*", color="gold", ms=15, mec="black", mew=0.8, zorder=30)
        for saddle_point in landscape.saddles:
            axis.plot(*saddle_point, "X", color="white", ms=10, mec="black", mew=0.8, zorder=30)
        x_min, x_max, y_min, y_max = landscape.bounds
        axis.set(
            xlim=(x_min, x_max),
            ylim=(y_min, y_max),
            xlabel="x",
            ylabel="y",
            title=f"{landscape.title}: {landscape.steps} steps",
        )
        axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize=9)
    figure.suptitle(
        "Optimizer paths from one start (■ start, ● end, ★ minimum, ✖ saddle "
        "point; f: the value reached)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=85)
    plt.close(figure)
    return finals


def _draw_contours(axis, landscape: Landscape) -> None:
    x_min, x_max, y_min, y_max = landscape.bounds
    grid_x, grid_y = np.meshgrid(np.linspace(x_min, x_max, 200), np.linspace(y_min, y_max, 200))
    values = np.asarray(
        jax.vmap(landscape.function)(jnp.stack([grid_x.ravel(), grid_y.ravel()], axis=1))
    ).reshape(grid_x.shape)
    if landscape.log_levels:
        levels = np.logspace(-1, np.log10(values.max()), 16)
        axis.contour(
            grid_x, grid_y, values, levels=levels, cmap="Greys", linewidths=0.7, norm="log"
        )
    else:
        axis.contour(grid_x, grid_y, values, levels=16, cmap="Greys", linewidths=0.7)
