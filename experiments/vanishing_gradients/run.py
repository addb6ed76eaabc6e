"""Vanishing gradients and dead ReLUs: in a deep sigmoid network the gradient shrinks
layer by layer on its way back to the input, in tanh and ReLU networks it does not; and a
ReLU unit can *die* — output 0 for every input, so it gets no gradient again — more often
the larger the learning rate and the worse the initial weight scale.

Two experiments on a fixed subset of MNIST (scikit-learn's 8×8 digits in ``--quick``):

1. **Gradient norms per layer.** Deep MLPs (15 Dense layers of width 128 by default) with
   sigmoid, tanh and ReLU units, initialised by ``nn.Dense``'s default (Glorot uniform),
   and a ReLU network with He-normal weights, trained with plain SGD. At initialisation and
   after every epoch, the Frobenius norm ``‖∂L/∂W_l‖`` of each Dense kernel's gradient
   (``jax.grad`` of the mean cross-entropy on a fixed evaluation batch; layer 1 is the one
   nearest the input), for several seeds. The table gives the ratio ``‖∂L/∂W_1‖ /
   ‖∂L/∂W_L‖`` of the first to the last layer.
2. **Dead ReLUs.** A ReLU MLP whose kernels are drawn from He-normal with its standard
   deviation multiplied by a factor (``initializers.variance_scaling(2·m², "fan_in",
   "truncated_normal")``, ``m = 1`` is ``he_normal``), trained by SGD at several learning
   rates for a fixed budget: every (learning rate, seed) of one factor in one
   ``train.fit_sweep``. A hidden unit is dead when its output is 0 for every image of the
   fixed evaluation batch; its outputs come from running the bound model layer by layer
   (``model.bind(params, state)[i]``).

Usage::

    python experiments/vanishing_gradients/run.py              # MNIST, 3 seeds, a few minutes
    python experiments/vanishing_gradients/run.py --data-dir DIR --seeds 5
    python experiments/vanishing_gradients/run.py --quick --out DIR   # digits, offline, seconds

Writes ``table.md``, ``table.csv`` (gradient ratios per network), ``dead_relus.csv`` (dead
units per scale and learning rate), ``grad_norms.csv`` (every network, seed, epoch and
layer), ``dead_runs.csv`` (every dead-ReLU run), ``grad_norms.png``, ``grad_ratio.png``
and ``dead_relus.png`` to ``--out`` (default ``results/`` beside this file) and prints the
table.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from jaxdl import activations, data, initializers, losses, nn, optim, train

HERE = Path(__file__).resolve().parent
SUBSET_SEED = 1991  # which training images form the subset (Hochreiter's thesis year)


@dataclasses.dataclass(frozen=True)
class Network:
    """One network of the gradient experiment: its hidden activation and kernel init."""

    name: str
    activation: Callable[[jax.Array], jax.Array]
    init_name: str
    kernel_init: Callable
    color: str


NETWORKS = {
    network.name: network
    for network in (
        Network(
            "sigmoid",
            activations.sigmoid,
            "glorot_uniform",
            initializers.glorot_uniform(),
            "#c44e52",
        ),
        Network(
            "tanh", activations.tanh, "glorot_uniform", initializers.glorot_uniform(), "#dd8452"
        ),
        Network(
            "relu", activations.relu, "glorot_uniform", initializers.glorot_uniform(), "#4c72b0"
        ),
        Network("relu_he", activations.relu, "he_normal", initializers.he_normal(), "#55a868"),
    )
}


@dataclasses.dataclass(frozen=True)
class Config:
    """What both experiments are built and trained with."""

    networks: tuple[str, ...]  # keys of NETWORKS
    depth: int  # Dense layers of the gradient experiment's networks (depth − 1 hidden)
    width: int  # hidden units per layer (both experiments)
    epochs: int  # epochs of the gradient experiment
    learning_rate: float  # its SGD learning rate
    scales: tuple[float, ...]  # multipliers on He-normal's standard deviation
    learning_rates: tuple[float, ...]  # SGD learning rates of the dead-ReLU experiment
    dead_depth: int  # Dense layers of the dead-ReLU network
    dead_epochs: int  # its fixed budget
    batch_size: int
    train_size: int | None  # None: the whole training set
    eval_size: int  # the fixed evaluation batch: the first images of the subset
    seeds: int


DEFAULT = Config(
    networks=tuple(NETWORKS),
    depth=15,
    width=128,
    epochs=10,
    learning_rate=0.05,
    scales=(0.25, 0.5, 1.0, 1.5, 2.0),
    learning_rates=(0.01, 0.03, 0.1, 0.3, 1.0),
    dead_depth=6,
    dead_epochs=3,
    batch_size=128,
    train_size=10_000,
    eval_size=1000,
    seeds=3,
)
QUICK = Config(
    networks=("sigmoid", "relu_he"),
    depth=6,
    width=32,
    epochs=2,
    learning_rate=0.1,
    scales=(1.0,),
    learning_rates=(0.01, 1.0),
    dead_depth=4,
    dead_epochs=2,
    batch_size=64,
    train_size=None,
    eval_size=256,
    seeds=2,
)


@dataclasses.dataclass
class GradientResult:
    """One network of the gradient experiment over all seeds."""

    network: Network
    norms: np.ndarray  # (seeds, epochs + 1, depth): ‖∂L/∂W_l‖, epoch 0 = initialisation
    loss: np.ndarray  # (seeds, epochs): training loss, mean over each epoch's batches
    accuracy: np.ndarray  # (seeds, epochs): training accuracy, the same way

    @property
    def diverged(self) -> np.ndarray:
        """(seeds,): runs whose training loss turned non-finite before the last epoch."""
        return ~np.isfinite(self.loss[:, -1])

    @property
    def ratio(self) -> np.ndarray:
        """(seeds, epochs + 1): ‖∂L/∂W_1‖ / ‖∂L/∂W_L‖."""
        return first_to_last(self.norms)


@dataclasses.dataclass
class DeadResult:
    """One He-normal multiplier of the dead-ReLU experiment."""

    scale: float
    learning_rates: tuple[float, ...]
    dead: np.ndarray  # (rates, seeds, hidden layers): fraction of dead units after training
    dead_init: np.ndarray  # (seeds, hidden layers): fraction of dead units at initialisation
    loss: np.ndarray  # (rates, seeds): last epoch's training loss
    accuracy: np.ndarray  # (rates, seeds): last epoch's training accuracy

    @property
    def diverged(self) -> np.ndarray:
        """(rates, seeds): runs whose training loss is not finite."""
        return ~np.isfinite(self.loss)

    def dead_percent(self) -> np.ndarray:
        """(rates, seeds): dead units over all hidden layers, %; NaN for diverged runs."""
        return np.where(self.diverged, np.nan, 100 * self.dead.mean(axis=-1))

    def dead_init_percent(self) -> np.ndarray:
        """(seeds,): dead units at initialisation over all hidden layers, %."""
        return 100 * self.dead_init.mean(axis=-1)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study with command-line arguments ``argv`` (default ``sys.argv[1:]``)."""
    args = _parse(argv)
    config = _config(args)
    out = Path(args.out) if args.out else HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    train_data, name = _load(args.quick, args.data_dir, config)
    x_eval, y_eval = train_data[0][: config.eval_size], train_data[1][: config.eval_size]
    description = (
        f"{name}: {len(train_data[0]):,} training images, evaluation batch of the first "
        f"{len(x_eval):,}; width {config.width}, plain SGD, batch {config.batch_size}; "
        f"{_seeds(config.seeds)}"
    )
    print(description, flush=True)

    start = time.perf_counter()
    gradients = []
    for name in config.networks:
        result = _gradients(NETWORKS[name], config, train_data, (x_eval, y_eval))
        gradients.append(result)
        print(
            f"{name:8s}: ‖∇W_1‖/‖∇W_L‖ at init {_sci(result.ratio[:, 0])}, after "
            f"{config.epochs} epochs {_sci(result.ratio[:, -1])}; final training loss "
            f"{np.mean(result.loss[:, -1]):.3f}",
            flush=True,
        )
    dead = []
    for scale in config.scales:
        result = _dead_relus(scale, config, train_data, x_eval)
        dead.append(result)
        cells = ", ".join(
            f"lr {rate:g}: {_cell(result, i)}" for i, rate in enumerate(config.learning_rates)
        )
        print(
            f"He std × {scale:g}: dead ReLUs (%) at init "
            f"{np.mean(result.dead_init_percent()):.1f}; {cells}",
            flush=True,
        )
    seconds = time.perf_counter() - start

    table = _markdown(gradients, dead, config, description)
    (out / "table.md").write_text(table)
    _write_table_csv(out / "table.csv", gradients, config)
    _write_dead_csv(out / "dead_relus.csv", dead, config)
    _write_grad_norms_csv(out / "grad_norms.csv", gradients)
    _write_dead_runs_csv(out / "dead_runs.csv", dead)
    _plot_grad_norms(out / "grad_norms.png", gradients, config, description)
    _plot_grad_ratio(out / "grad_ratio.png", gradients, config)
    _plot_dead(out / "dead_relus.png", dead, config)
    print(table)
    print(f"trained in {seconds:.0f} s; results in {out}")
    return 0


def _config(args: argparse.Namespace) -> Config:
    config = QUICK if args.quick else DEFAULT
    overrides = {
        "networks": tuple(args.networks) if args.networks else None,
        "depth": args.depth,
        "width": args.width,
        "epochs": args.epochs,
        "seeds": args.seeds,
        "scales": tuple(args.scales) if args.scales else None,
        "learning_rates": tuple(args.learning_rates) if args.learning_rates else None,
        "dead_depth": args.dead_depth,
        "dead_epochs": args.dead_epochs,
        "train_size": args.train_size,
    }
    return dataclasses.replace(
        config, **{name: value for name, value in overrides.items() if value is not None}
    )


def _load(
    quick: bool, data_dir: str | None, config: Config
) -> tuple[tuple[np.ndarray, np.ndarray], str]:
    """Flattened training images in [0, 1]: a fixed random subset, the same for every
    network and seed."""
    if quick:
        ds, name = data.load("digits", flatten=True), "digits (quick)"
    else:
        ds, name = data.load("mnist", data_dir=data_dir, flatten=True), "MNIST"
    order = np.random.default_rng(SUBSET_SEED).permutation(len(ds.x_train))
    if config.train_size is not None:
        order = order[: config.train_size]
    return (ds.x_train[order], ds.y_train[order]), name


def mlp(
    depth: int,
    width: int,
    activation: Callable,
    kernel_init: Callable | None = None,
    num_classes: int = 10,
) -> nn.Sequential:
    """``depth`` Dense layers: ``depth − 1`` hidden ones of ``width`` units, each followed by
    ``activation``, then the output layer, all with ``kernel_init`` (default: ``nn.Dense``'s,
    Glorot uniform) and zero biases."""
    options = {} if kernel_init is None else {"kernel_init": kernel_init}
    dense = functools.partial(nn.Dense, **options)
    layers: list = []
    for _ in range(depth - 1):
        layers += [dense(width), activation]
    layers.append(dense(num_classes))
    return nn.Sequential(layers)


def initial_states(
    model: nn.Sequential, optimizer: optim.GradientTransformation, x: Any, seeds: int
) -> list[train.TrainState]:
    """One fresh training state per seed: ``model.init(jax.random.key(seed), x)`` with the
    optimizer's state."""
    states = []
    for seed in range(seeds):
        params, state = model.init(jax.random.key(seed), x[:1])
        states.append(train.TrainState.create(params=params, state=state, optimizer=optimizer))
    return states


def he_scaled(scale: float) -> initializers.VarianceScaling:
    """He normal with its standard deviation multiplied by ``scale``: variance
    ``2·scale² / fan_in`` (``he_scaled(1.0)`` is ``initializers.he_normal()``)."""
    return initializers.variance_scaling(2.0 * scale**2, "fan_in", "truncated_normal")


def first_to_last(norms: np.ndarray) -> np.ndarray:
    """The first layer's gradient norm over the last layer's, along the last axis.

    >>> first_to_last(np.array([[1e-6, 1e-3, 0.5]]))
    array([2.e-06])
    """
    norms = np.asarray(norms, dtype=np.float64)
    return norms[..., 0] / norms[..., -1]


def dead_units(outputs: jax.Array) -> jax.Array:
    """Which units of a layer's outputs ``(batch, units)`` are 0 for every input.

    >>> dead_units(jnp.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])).tolist()
    [True, False, False]
    """
    return jnp.all(outputs == 0, axis=0)


def hidden_outputs(
    model: nn.Sequential, params: dict, state: dict, x: jax.Array
) -> list[jax.Array]:
    """The outputs of every hidden activation, in inference mode: the bound model run one
    layer (``model.bind(params, state)[i]``) at a time."""
    bound = model.bind(params, state)
    outputs = []
    for i, layer in enumerate(model.layers):
        part = bound[i]
        x, _ = part.model.apply(part.params, part.state, x)
        if not isinstance(layer, nn.Dense):
            outputs.append(x)
    return outputs


def dead_fractions(model: nn.Sequential, params: dict, state: dict, x: jax.Array) -> jax.Array:
    """(hidden layers,): the fraction of each hidden layer's units that are dead on ``x``."""
    return jnp.stack([dead_units(h).mean() for h in hidden_outputs(model, params, state, x)])


@functools.cache
def gradient_norms_fn(model: nn.Sequential) -> Callable:
    """Jitted ``(params, state, x, y) -> (Dense layers,)``: the Frobenius norm of the
    gradient of the mean cross-entropy on ``(x, y)`` with respect to each Dense kernel,
    first layer first (one compiled function per model)."""
    dense = [name for name, layer in zip(model.names, model.layers) if isinstance(layer, nn.Dense)]

    def norms(params, state, x, y):
        def loss(p):
            logits, _ = model.apply(p, state, x)
            return losses.softmax_cross_entropy(logits, y)

        grads = jax.grad(loss)(params)
        return jnp.stack([jnp.linalg.norm(grads[name]["w"]) for name in dense])

    return jax.jit(norms)


# Compiled programs (fit's epoch, the gradient norms, the dead-unit count) are cached per
# model, and a Dense layer's kernel_init is part of the model although only its init reads
# it. So each network is initialised by a model with its own kernel_init but trained and
# measured through one architecture per activation, mlp(depth, width, activation), which
# computes the same function of the params: the ReLU networks share their programs.


def _gradients(network: Network, config: Config, train_data, eval_data) -> GradientResult:
    """Train ``network`` once per seed with ``fit``, one epoch per call (the compiled epoch
    is reused), measuring the gradient norms before the first epoch and after each. A seed
    whose training loss turns non-finite stops there; its later epochs are NaN."""
    model = mlp(config.depth, config.width, network.activation)
    initial = mlp(config.depth, config.width, network.activation, network.kernel_init)
    optimizer = optim.sgd(config.learning_rate)
    gradient_norms = gradient_norms_fn(model)
    depth, epochs = config.depth, config.epochs
    norms = np.full((config.seeds, epochs + 1, depth), np.nan)
    loss = np.full((config.seeds, epochs), np.nan)
    accuracy = np.full((config.seeds, epochs), np.nan)
    starts = initial_states(initial, optimizer, train_data[0], config.seeds)
    for seed, train_state in enumerate(starts):
        norms[seed, 0] = gradient_norms(train_state.params, train_state.state, *eval_data)
        for epoch in range(epochs):
            # Epoch by epoch from the previous state: the same run as one fit call.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "fit: training diverged")  # counted below
                train_state, history = train.fit(
                    model, optimizer, train_data, loss=losses.softmax_cross_entropy,
                    epochs=epoch + 1, initial_epoch=epoch, batch_size=config.batch_size,
                    key=jax.random.key(seed), train_state=train_state, progress=False,
                )  # fmt: skip
            if len(history) == 0 or not np.isfinite(history["loss"][-1]):
                break  # fit stopped: the epoch's loss (or the state) was not finite
            norms[seed, epoch + 1] = gradient_norms(train_state.params, train_state.state,
                                                    *eval_data)  # fmt: skip
            loss[seed, epoch] = history["loss"][-1]
            accuracy[seed, epoch] = history["accuracy"][-1]
    return GradientResult(network, norms, loss, accuracy)


@functools.cache
def _dead_fractions_fn(model: nn.Sequential) -> Callable:
    """Jitted ``dead_fractions`` of ``model`` mapped over a leading axis of runs."""
    return jax.jit(jax.vmap(functools.partial(dead_fractions, model), in_axes=(0, 0, None)))


def _dead_relus(scale: float, config: Config, train_data, x_eval) -> DeadResult:
    """Train the ReLU network of one He multiplier at every learning rate × seed in one
    ``fit_sweep``; count its dead units on the evaluation batch before and after."""
    model = mlp(config.dead_depth, config.width, activations.relu, he_scaled(scale))
    rates, seeds = len(config.learning_rates), config.seeds
    keys = jnp.stack([jax.random.key(seed) for seed in range(seeds)] * rates)
    final_state, history = train.fit_sweep(
        model,
        optim.sgd,
        train_data,
        loss=losses.softmax_cross_entropy,
        epochs=config.dead_epochs,
        batch_size=config.batch_size,
        keys=keys,
        hyperparameters={"learning_rate": np.repeat(config.learning_rates, seeds)},
        progress=False,
    )
    fractions = _dead_fractions_fn(mlp(config.dead_depth, config.width, activations.relu))
    dead = fractions(final_state.params, final_state.state, x_eval)
    # At initialisation: a fresh network per seed (key = seed). With zero biases the ReLU
    # network is positively homogeneous, so which units are dead does not depend on scale.
    inits = [model.init(jax.random.key(seed), x_eval[:1]) for seed in range(seeds)]
    params, state = jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *inits)
    dead_init = fractions(params, state, x_eval)

    def grid(values) -> np.ndarray:
        values = np.asarray(jax.device_get(values), dtype=np.float64)
        return values.reshape(rates, seeds, *values.shape[1:])

    loss = grid(history["loss"][:, -1])
    # jaxdl's accuracy counts a row of NaN logits as correct: NaN for diverged runs.
    accuracy = np.where(np.isfinite(loss), grid(history["accuracy"][:, -1]), np.nan)
    return DeadResult(
        scale,
        config.learning_rates,
        grid(dead),
        np.asarray(dead_init, dtype=np.float64),
        loss,
        accuracy,
    )


def _finite_mean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(np.mean(values)) if len(values) else float("nan")


def _finite_std(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(np.std(values)) if len(values) else float("nan")


def _sci(values: np.ndarray) -> str:
    """Mean ± std of the finite values in scientific notation; — if there are none."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return f"{np.mean(values):.2e} ± {np.std(values):.1e}" if len(values) else "—"


def _spread(values: np.ndarray, digits: int = 1) -> str:
    """Mean ± std of the finite values; — if there are none."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}" if len(values) else "—"


def _seeds(seeds: int) -> str:
    return "1 seed (0)" if seeds == 1 else f"{seeds} seeds (0 … {seeds - 1})"


def _cell(result: DeadResult, i: int) -> str:
    """Dead % at learning rate ``i``: mean ± std over seeds, or how many diverged."""
    diverged = int(result.diverged[i].sum())
    if diverged:
        return f"diverged ({diverged}/{result.diverged.shape[1]})"
    return _spread(result.dead_percent()[i])


def _markdown(
    gradients: Sequence[GradientResult],
    dead: Sequence[DeadResult],
    config: Config,
    description: str,
) -> str:
    epochs = config.epochs
    lines = [
        f"# Vanishing gradients and dead ReLUs — {description}",
        "",
        f"## Gradient norm per layer: {config.depth} Dense layers, SGD lr "
        f"{config.learning_rate:g}, {epochs} epochs",
        "",
        "‖∇W_l‖: the Frobenius norm of the gradient of the mean cross-entropy on the "
        "evaluation batch with respect to the kernel of Dense layer l (1: nearest the "
        f"input, {config.depth}: the output layer); mean ± std over seeds. Training loss "
        "and accuracy: the means over the last epoch's batches. Diverged: seeds whose "
        "training loss turned NaN/inf (fit stops there), left out of the columns after "
        "training.",
        "",
        "| network | activation | init | ‖∇W_1‖ at init | ‖∇W_L‖ at init "
        f"| ‖∇W_1‖/‖∇W_L‖ at init | ‖∇W_1‖/‖∇W_L‖ after {epochs} epochs "
        "| training loss | training accuracy (%) | diverged |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in gradients:
        n = r.network
        lines.append(
            f"| {n.name} | {n.activation.__name__} | {n.init_name} "
            f"| {_sci(r.norms[:, 0, 0])} | {_sci(r.norms[:, 0, -1])} | {_sci(r.ratio[:, 0])} "
            f"| {_sci(r.ratio[:, -1])} | {_spread(r.loss[:, -1], 3)} "
            f"| {_spread(100 * r.accuracy[:, -1])} | {int(r.diverged.sum())}/{len(r.diverged)} |"
        )
    lines += [
        "",
        f"## Dead ReLUs: {config.dead_depth} Dense layers "
        f"({config.dead_depth - 1} hidden × {config.width}), He-normal std × m, SGD, "
        f"{config.dead_epochs} epochs",
        "",
        "Dead: a hidden unit whose output is 0 for every image of the evaluation batch; % "
        "of all hidden units, mean ± std over seeds (diverged: the training loss became "
        "NaN/inf). At init: a fresh network per seed.",
        "",
        "| m | dead at init (%) | "
        + " | ".join(f"lr {rate:g}" for rate in config.learning_rates)
        + " |",
        "|---:|---:|" + "---:|" * len(config.learning_rates),
    ]
    for r in dead:
        cells = [_cell(r, i) for i in range(len(r.learning_rates))]
        lines.append(
            f"| {r.scale:g} | {_spread(r.dead_init_percent())} | " + " | ".join(cells) + " |"
        )
    lines += [
        "",
        "Training accuracy (%) of the same runs over the last epoch, mean over seeds "
        "(— : a seed diverged):",
        "",
        "| m | " + " | ".join(f"lr {rate:g}" for rate in config.learning_rates) + " |",
        "|---:|" + "---:|" * len(config.learning_rates),
    ]
    for r in dead:
        cells = [
            "—" if r.diverged[i].any() else f"{100 * np.mean(r.accuracy[i]):.1f}"
            for i in range(len(r.learning_rates))
        ]
        lines.append(f"| {r.scale:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _write_table_csv(path: Path, gradients: Sequence[GradientResult], config: Config) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "network",
                "activation",
                "init",
                "layers",
                "grad_first_init",
                "grad_last_init",
                "ratio_init_mean",
                "ratio_init_std",
                "ratio_final_mean",
                "ratio_final_std",
                "train_loss",
                "train_accuracy_percent",
                "diverged",
                "seeds",
            ]
        )
        for r in gradients:
            writer.writerow(
                [
                    r.network.name,
                    r.network.activation.__name__,
                    r.network.init_name,
                    config.depth,
                    f"{np.mean(r.norms[:, 0, 0]):.4e}",
                    f"{np.mean(r.norms[:, 0, -1]):.4e}",
                    f"{np.mean(r.ratio[:, 0]):.4e}",
                    f"{np.std(r.ratio[:, 0]):.4e}",
                    f"{_finite_mean(r.ratio[:, -1]):.4e}",
                    f"{_finite_std(r.ratio[:, -1]):.4e}",
                    f"{_finite_mean(r.loss[:, -1]):.5f}",
                    f"{100 * _finite_mean(r.accuracy[:, -1]):.3f}",
                    int(r.diverged.sum()),
                    config.seeds,
                ]
            )


def _write_dead_csv(path: Path, dead: Sequence[DeadResult], config: Config) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "scale",
                "learning_rate",
                "dead_init_percent",
                "dead_init_std",
                "dead_percent",
                "dead_std",
                "train_loss",
                "train_accuracy_percent",
                "diverged",
                "seeds",
            ]
        )
        for r in dead:
            percent = r.dead_percent()
            for i, rate in enumerate(r.learning_rates):
                writer.writerow(
                    [
                        f"{r.scale:g}",
                        f"{rate:g}",
                        f"{np.mean(r.dead_init_percent()):.3f}",
                        f"{np.std(r.dead_init_percent()):.3f}",
                        f"{np.mean(percent[i]):.3f}",
                        f"{np.std(percent[i]):.3f}",
                        f"{np.mean(r.loss[i]):.5f}",
                        f"{100 * np.mean(r.accuracy[i]):.3f}",
                        int(r.diverged[i].sum()),
                        config.seeds,
                    ]
                )


def _write_grad_norms_csv(path: Path, gradients: Sequence[GradientResult]) -> None:
    """Every gradient norm: one row per network × seed × epoch × layer."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["network", "seed", "epoch", "layer", "grad_norm"])
        for r in gradients:
            seeds, epochs, layers = r.norms.shape
            for seed in range(seeds):
                for epoch in range(epochs):
                    for layer in range(layers):
                        writer.writerow(
                            [
                                r.network.name,
                                seed,
                                epoch,
                                layer + 1,
                                f"{r.norms[seed, epoch, layer]:.6e}",
                            ]
                        )


def _write_dead_runs_csv(path: Path, dead: Sequence[DeadResult]) -> None:
    """Every dead-ReLU run: one row per scale × learning rate × seed."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "scale",
                "learning_rate",
                "seed",
                "dead_percent",
                "dead_init_percent",
                "train_loss",
                "diverged",
            ]
        )
        for r in dead:
            percent, init = r.dead_percent(), r.dead_init_percent()
            for i, rate in enumerate(r.learning_rates):
                for seed in range(len(init)):
                    writer.writerow(
                        [
                            f"{r.scale:g}",
                            f"{rate:g}",
                            seed,
                            f"{percent[i, seed]:.3f}",
                            f"{init[seed]:.3f}",
                            f"{r.loss[i, seed]:.5f}",
                            int(r.diverged[i, seed]),
                        ]
                    )


def _geometric_mean(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """The geometric mean of the finite values along ``axis`` (NaN where there are none)."""
    logs = np.log(np.where(np.isfinite(values) & (values > 0), values, np.nan))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: NaN
        return np.exp(np.nanmean(logs, axis=axis))


def _plot_grad_norms(
    path: Path, gradients: Sequence[GradientResult], config: Config, description: str
) -> None:
    """‖∇W_l‖ against l (log scale) at initialisation, after one epoch and at the end."""
    checkpoints = sorted({0, 1, config.epochs})
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.85, len(checkpoints)))
    fig, axes = plt.subplots(1, len(gradients), figsize=(3.3 * len(gradients), 3.6), sharey=True)
    layers = np.arange(1, config.depth + 1)
    for ax, r in zip(np.atleast_1d(axes), gradients):
        for epoch, color in zip(checkpoints, colors):
            label = "at init" if epoch == 0 else f"after {epoch} epoch{'s' * (epoch > 1)}"
            for seed_norms in r.norms[:, epoch]:
                ax.plot(layers, seed_norms, color=color, lw=0.6, alpha=0.35)
            ax.plot(
                layers,
                _geometric_mean(r.norms[:, epoch]),
                color=color,
                lw=2,
                marker="o",
                ms=3,
                label=label,
            )
        ax.set_yscale("log")
        ax.set_xlabel("Dense layer (1 = input side)")
        ax.set_xticks(layers[:: max(1, len(layers) // 8)])
        ax.set_title(f"{r.network.name} ({r.network.init_name})", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    np.atleast_1d(axes)[0].set_ylabel("‖∂L/∂W_l‖ (Frobenius)")
    fig.suptitle(
        f"Gradient norm per layer, {config.depth} Dense layers, SGD lr "
        f"{config.learning_rate:g}: geometric mean over {config.seeds} seeds (thin: "
        f"seeds)\n{description}",
        fontsize=8,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_grad_ratio(path: Path, gradients: Sequence[GradientResult], config: Config) -> None:
    """The first-to-last gradient ratio and the training loss against the epoch."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    for r in gradients:
        color, label = r.network.color, f"{r.network.name} ({r.network.init_name})"
        epochs = np.arange(config.epochs + 1)
        left.plot(epochs, _geometric_mean(r.ratio), color=color, marker="o", ms=3, label=label)
        left.fill_between(epochs, r.ratio.min(axis=0), r.ratio.max(axis=0), color=color, alpha=0.2)
        right.plot(epochs[1:], r.loss.mean(axis=0), color=color, marker="o", ms=3, label=label)
    left.set_yscale("log")
    left.set_xlabel("epoch (0 = initialisation)")
    left.set_ylabel("‖∂L/∂W_1‖ / ‖∂L/∂W_L‖")
    left.set_title("first-layer over last-layer gradient norm", fontsize=10)
    right.set_xlabel("epoch")
    right.set_ylabel("training loss (mean over the epoch)")
    right.set_title("training loss", fontsize=10)
    for ax in (left, right):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle(
        f"{config.depth} Dense layers, width {config.width}, SGD lr "
        f"{config.learning_rate:g}; geometric mean (left, band: min–max) and mean "
        f"(right) over {config.seeds} seeds",
        fontsize=8,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_dead(path: Path, dead: Sequence[DeadResult], config: Config) -> None:
    """Heatmap of dead % per (scale, learning rate); dead % per layer at He (m = 1)."""
    rates = config.learning_rates
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(10, 3.9), gridspec_kw={"width_ratios": [1.2, 1]}
    )
    # Per cell: the mean over the seeds that did not diverge (NaN if none).
    grid = np.array([[_finite_mean(row) for row in r.dead_percent()] for r in dead])
    image = left.imshow(np.ma.masked_invalid(grid), cmap="magma_r", vmin=0, vmax=100, aspect="auto")
    for row, r in enumerate(dead):
        for col in range(len(rates)):
            diverged = int(r.diverged[col].sum())
            text = "div." if diverged == r.diverged.shape[1] else f"{grid[row, col]:.0f}"
            if 0 < diverged < r.diverged.shape[1]:
                text += f"\n({diverged} div.)"
            left.text(
                col,
                row,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if np.nan_to_num(grid[row, col]) > 50 else "black",
            )
    left.set_xticks(range(len(rates)), [f"{rate:g}" for rate in rates])
    left.set_yticks(range(len(dead)), [f"{r.scale:g}" for r in dead])
    left.set_xlabel("SGD learning rate")
    left.set_ylabel("He-normal std × m")
    left.set_title(f"dead hidden units (%) after {config.dead_epochs} epochs", fontsize=10)
    fig.colorbar(image, ax=left, fraction=0.05)

    reference = min(dead, key=lambda r: abs(np.log(r.scale)))  # the one nearest He
    hidden = np.arange(1, config.dead_depth)
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.85, len(rates)))
    right.plot(
        hidden,
        100 * reference.dead_init.mean(axis=0),
        color="black",
        ls="--",
        marker="o",
        ms=3,
        label="at init",
    )
    for i, (rate, color) in enumerate(zip(rates, colors)):
        if reference.diverged[i].all():
            continue
        kept = ~reference.diverged[i]
        right.plot(
            hidden,
            100 * reference.dead[i][kept].mean(axis=0),
            color=color,
            marker="o",
            ms=3,
            label=f"lr {rate:g}",
        )
    right.set_xticks(hidden)
    right.set_xlabel("hidden layer (1 = input side)")
    right.set_ylabel("dead units (%)")
    right.set_title(f"per layer, m = {reference.scale:g} (diverged runs left out)", fontsize=10)
    right.grid(alpha=0.3)
    right.legend(fontsize=7)
    fig.suptitle(
        f"Dead ReLUs: {config.dead_depth} Dense layers of width {config.width}, "
        f"mean over {config.seeds} seeds",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with the MNIST IDX files (default: $JAXDL_DATA_DIR, "
        "then the cache, downloading if needed)",
    )
    parser.add_argument(
        "--seeds",
        type=_positive,
        default=None,
        help=f"seeds per network and setting (default {DEFAULT.seeds})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test on scikit-learn's digits (offline): "
        f"{QUICK.depth} layers of width {QUICK.width}, {QUICK.epochs} "
        f"epochs, {QUICK.seeds} seeds, scales {QUICK.scales}, rates "
        f"{QUICK.learning_rates}",
    )
    parser.add_argument(
        "--out", default=None, help="output folder (default: results/ beside this file)"
    )
    parser.add_argument(
        "--networks",
        nargs="+",
        choices=list(NETWORKS),
        default=None,
        help=f"networks of the gradient experiment (default: all, {list(NETWORKS)})",
    )
    parser.add_argument(
        "--depth",
        type=_at_least_two,
        default=None,
        help=f"Dense layers of the gradient networks (default {DEFAULT.depth})",
    )
    parser.add_argument(
        "--width",
        type=_positive,
        default=None,
        help=f"hidden units per layer (default {DEFAULT.width})",
    )
    parser.add_argument(
        "--epochs",
        type=_positive,
        default=None,
        help=f"epochs of the gradient experiment (default {DEFAULT.epochs})",
    )
    parser.add_argument(
        "--scales",
        type=_positive_float,
        nargs="+",
        default=None,
        help=f"He-normal std multipliers (default {DEFAULT.scales})",
    )
    parser.add_argument(
        "--learning-rates",
        type=_positive_float,
        nargs="+",
        default=None,
        help=f"SGD rates of the dead-ReLU grid (default {DEFAULT.learning_rates})",
    )
    parser.add_argument(
        "--dead-depth",
        type=_at_least_two,
        default=None,
        help=f"Dense layers of the dead-ReLU network (default {DEFAULT.dead_depth})",
    )
    parser.add_argument(
        "--dead-epochs",
        type=_positive,
        default=None,
        help=f"epochs of the dead-ReLU runs (default {DEFAULT.dead_epochs})",
    )
    parser.add_argument(
        "--train-size",
        type=_positive,
        default=None,
        help=f"training images (default {DEFAULT.train_size:,})",
    )
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def _at_least_two(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be ≥ 2, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())
