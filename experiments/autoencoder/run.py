"""Autoencoders on MNIST: dense and convolutional, plain and denoising.

- **Code size.** A dense autoencoder ``784-256-k-256-784`` (ReLU hidden layers, a linear
  code of ``k`` units, a sigmoid output) for ``k`` in 2, 4, 8, 16, 32, 64: test
  reconstruction error (MSE per pixel) against ``k``, beside two references that need no
  training — the mean training image, and PCA with ``k`` components (the best *linear*
  code of that size, computed with NumPy).
- **The 2-D code space.** The test images' codes under the ``k = 2`` autoencoder,
  coloured by digit.
- **Denoising.** ``nn.MaskingNoise(rate)`` in front of the encoder zeroes each pixel with
  probability ``rate`` while training (and does nothing at inference): the autoencoder
  learns to reconstruct clean images from corrupted ones. Trained at two corruption
  levels, compared with the plain autoencoder on clean and on masked test images.
- **Convolutional.** Two stride-2 ``nn.Conv2D`` layers and a dense code; the decoder
  doubles the resolution twice, once with ``nn.UpSampling2D`` followed by a ``nn.Conv2D``
  and once with a stride-2 ``nn.ConvTranspose2D``. Same code size as the dense model,
  about a quarter of its parameters.

Every model trains with ``jaxdl.train.fit`` on ``losses.mse`` against its clean input,
Adam, on the same fixed subset of the training set; test errors are
``jaxdl.train.evaluate`` on the whole test set.

Usage::

    python experiments/autoencoder/run.py                  # MNIST, 2 seeds, 1.5–5 min
    python experiments/autoencoder/run.py --quick --out "$(mktemp -d)"  # digits, < 1 min

Writes ``table.md``, ``table.csv``, ``reconstructions.png``, ``code_space.png``,
``error_vs_code_size.png`` and ``denoising.png`` to ``--out`` (default ``results/``
beside this file), and prints the tables and the wall time.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from jaxdl import activations, data, initializers, losses, nn, optim, train

HERE = Path(__file__).resolve().parent
SUBSET_SEED = 2008  # the fixed training subset (Vincent et al., 2008: denoising autoencoders)
TEST_NOISE_SEED = 10_000  # the masks of the corrupted test sets, one per level


@dataclasses.dataclass(frozen=True)
class Config:
    dataset: str
    train_size: int | None  # a fixed random subset of the training set; None: all of it
    hidden: int  # the dense autoencoder's hidden layer, on both sides of the code
    code_sizes: tuple[int, ...]
    shown_codes: tuple[int, ...]  # dense models shown in reconstructions.png
    code: int  # the code size of the denoising and convolutional comparisons
    noise_levels: tuple[float, ...]
    channels: tuple[int, int]  # the convolutional encoder's two layers
    epochs: int
    batch_size: int
    learning_rate: float
    seeds: int


DEFAULT = Config(
    dataset="mnist",
    train_size=12_000,
    hidden=256,
    code_sizes=(2, 4, 8, 16, 32, 64),
    shown_codes=(2, 8, 32),
    code=32,
    noise_levels=(0.25, 0.5),
    channels=(16, 32),
    epochs=5,
    batch_size=64,
    learning_rate=2e-3,
    seeds=2,
)
# Small models on 8×8 images: nearly all the time is XLA compilation (a few seconds of CPU
# per dense model, about 15 s for the convolutional one), so --quick trains only four.
QUICK = Config(
    dataset="digits",
    train_size=None,
    hidden=32,
    code_sizes=(2, 16),
    shown_codes=(2, 16),
    code=16,
    noise_levels=(0.5,),
    channels=(8, 16),
    epochs=6,
    batch_size=32,
    learning_rate=3e-3,
    seeds=1,
)


@dataclasses.dataclass
class Row:
    """One line of table.csv: a model's test MSE per seed on one kind of test input."""

    model: str
    code_size: int
    train_noise: float
    test_noise: float
    params: int
    values: list[float]
    deterministic: bool = False  # a reference computed without training (no seeds)


def dense_autoencoder(input_dim: int, code: int, hidden: int) -> nn.Sequential:
    """``Flatten → Dense(hidden) → ReLU → Dense(code)`` (linear code), mirrored back to
    ``input_dim`` sigmoid outputs. ``models.autoencoder`` puts its activation on the code
    too; a ReLU there can switch a 2-unit code off, a sigmoid squashes it."""
    he = initializers.he_uniform()
    relu = activations.relu
    return nn.Sequential(
        {
            "encoder": nn.Sequential(
                [nn.Flatten(), nn.Dense(hidden, activation=relu, kernel_init=he), nn.Dense(code)]
            ),
            "decoder": nn.Sequential(
                [
                    nn.Dense(hidden, activation=relu, kernel_init=he),
                    nn.Dense(input_dim),
                    activations.sigmoid,
                ]
            ),
        }
    )


def conv_autoencoder(
    image_shape: Sequence[int], code: int, channels: tuple[int, int]
) -> nn.Sequential:
    """Two 3×3 stride-2 ``SAME`` convolutions (``H → H/2 → H/4``), a dense linear code;
    a dense layer back to the ``H/4`` feature map, nearest-neighbour upsampling
    (``H/4 → H/2``) and a 3×3 convolution, then a 3×3 stride-2 transposed convolution to
    the output channels (``SAME``: ``H/2 → H``), sigmoid output. ``H`` and ``W`` must be
    multiples of 4.

    (The upsampling comes first because XLA:CPU takes seconds to compile a transposed
    convolution of a 2×2 input — the ``H/4`` map of ``--quick``'s 8×8 digits — against a
    tenth of a second at 4×4 and above.)"""
    height, width, depth = image_shape
    if height % 4 or width % 4:
        raise ValueError(f"conv_autoencoder: needs H and W multiples of 4, got {image_shape}.")
    he = initializers.he_uniform()
    relu = activations.relu
    first, second = channels
    small = (height // 4, width // 4, second)
    return nn.Sequential(
        {
            "encoder": nn.Sequential(
                [
                    nn.Conv2D(first, 3, strides=2, activation=relu, kernel_init=he),
                    nn.Conv2D(second, 3, strides=2, activation=relu, kernel_init=he),
                    nn.Flatten(),
                    nn.Dense(code),
                ]
            ),
            "decoder": nn.Sequential(
                [
                    nn.Dense(math.prod(small), activation=relu, kernel_init=he),
                    nn.Reshape(small),
                    nn.UpSampling2D(2),
                    nn.Conv2D(first, 3, activation=relu, kernel_init=he),
                    nn.ConvTranspose2D(depth, 3, strides=2),
                    activations.sigmoid,
                ]
            ),
        }
    )


def denoising(autoencoder: nn.Sequential, rate: float) -> nn.Sequential:
    """The same encoder and decoder behind ``MaskingNoise(rate)`` (active only in training)."""
    return nn.Sequential(
        {
            "noise": nn.MaskingNoise(rate),
            "encoder": autoencoder["encoder"],
            "decoder": autoencoder["decoder"],
        }
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study with command-line arguments ``argv`` (default ``sys.argv[1:]``)."""
    args = _parse(argv)
    config = QUICK if args.quick else DEFAULT
    if args.seeds:
        config = dataclasses.replace(config, seeds=args.seeds)
    out = Path(args.out) if args.out else HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    x_train, (x_test, y_test) = _load(args, config)
    image_shape, pixels = x_train.shape[1:], math.prod(x_train.shape[1:])
    flat_train, flat_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    print(
        f"{config.dataset}: {len(x_train)} training and {len(x_test)} test images "
        f"{'×'.join(map(str, image_shape))}; seeds 0…{config.seeds - 1}; {config.epochs} "
        f"epochs, batch {config.batch_size}, Adam {config.learning_rate:g}",
        flush=True,
    )
    test_levels = (0.0, *config.noise_levels)
    noisy_test = {level: _mask(x_test, level, index) for index, level in enumerate(test_levels)}
    # The figures' images: the first test image of each digit, clean and at each masking
    # level; seed 0's models reconstruct them all in one batch.
    examples = _one_per_class(y_test)
    gallery = np.concatenate([noisy_test[level][examples] for level in test_levels])
    shown: dict[tuple[str, int], np.ndarray] = {}  # (levels, 10, H, W) per model
    codes_2d: np.ndarray | None = None
    rows: list[Row] = []

    def run(
        name: str,
        model: nn.Sequential,
        code: int,
        train_noise: float,
        targets: tuple,
        levels: Sequence[float],
    ) -> None:
        """Train ``model`` once per seed; one row per test level."""
        nonlocal codes_2d
        errors: dict[float, list[float]] = {level: [] for level in levels}
        for seed in range(config.seeds):
            tick = time.perf_counter()
            state = _fit(model, x_train, targets[0], config, seed)
            for level in levels:
                errors[level].append(_test_mse(model, state, noisy_test[level], targets[1]))
            if seed == 0:
                bound = model.bind(state.params, state.state)
                params = sum(nn.count_params(bound.params))
                shown[name, code] = _infer(bound, gallery).reshape(
                    len(test_levels), len(examples), *image_shape[:2]
                )
                if name == "dense" and code == 2:
                    codes_2d = _infer(bound["encoder"], x_test)
            print(
                f"  {name:22s} code {code:3d} seed {seed}: test MSE "
                f"{errors[levels[0]][-1]:.5f} ({time.perf_counter() - tick:.1f} s)",
                flush=True,
            )
        rows.extend(Row(name, code, train_noise, level, params, errors[level]) for level in levels)

    flat = (flat_train, flat_test)
    rows.append(
        Row(
            "mean_image",
            0,
            0.0,
            0.0,
            pixels,
            [float(np.mean((flat_test - flat_train.mean(axis=0)) ** 2))],
            True,
        )
    )
    rows.extend(
        Row("pca", code, 0.0, 0.0, code * pixels + pixels, [error], True)
        for code, error in zip(
            config.code_sizes, _pca_mse(flat_train, flat_test, config.code_sizes)
        )
    )
    for code in config.code_sizes:
        levels = test_levels if code == config.code else (0.0,)
        run("dense", dense_autoencoder(pixels, code, config.hidden), code, 0.0, flat, levels)
    for rate in config.noise_levels:
        model = denoising(dense_autoencoder(pixels, config.code, config.hidden), rate)
        run(f"dense_denoising_{rate:g}", model, config.code, rate, flat, test_levels)
    run(
        "conv",
        conv_autoencoder(image_shape, config.code, config.channels),
        config.code,
        0.0,
        (x_train, x_test),
        test_levels,
    )
    seconds = time.perf_counter() - start

    _write_csv(out / "table.csv", rows, config)
    table = _markdown(rows, config, quick=args.quick)
    (out / "table.md").write_text(table)
    inputs = gallery.reshape(len(test_levels), len(examples), *image_shape[:2])
    _plot_reconstructions(out / "reconstructions.png", inputs[0], shown, config)
    if codes_2d is not None:
        _plot_code_space(out / "code_space.png", codes_2d, y_test)
    _plot_error_vs_code(out / "error_vs_code_size.png", rows, config)
    _plot_denoising(out / "denoising.png", inputs, shown, config)
    print(table)
    total = time.perf_counter() - start
    print(
        f"wall time {seconds:.0f} s (data, training, evaluation; {total:.0f} s with the "
        f"figures); results in {out}"
    )
    return 0


def _fit(
    model: nn.Layer, x: np.ndarray, target: np.ndarray, config: Config, seed: int
) -> train.TrainState:
    state, _ = train.fit(
        model,
        optim.adam(config.learning_rate),
        (x, target),
        loss=losses.mse,
        epochs=config.epochs,
        batch_size=config.batch_size,
        key=jax.random.key(seed),
        metrics=(),
        progress=False,
    )
    return state


def _test_mse(model: nn.Layer, state: train.TrainState, x: np.ndarray, target: np.ndarray) -> float:
    """Mean squared error per pixel over the whole test set (inference mode: no masking),
    in equal batches of at most 1,000 (no remainder batch: one program to compile)."""
    batch = next(size for size in range(min(len(x), 1000), 0, -1) if len(x) % size == 0)
    return train.evaluate(model, state, (x, target), loss=losses.mse, batch_size=batch, metrics=())[
        "loss"
    ]


def _infer(bound: nn.Bound, x: np.ndarray) -> np.ndarray:
    """``bound(x)``, the inference output, as one compiled program (``bound(x)`` itself
    runs op by op, compiling each operation for its shapes)."""
    output, _ = jax.jit(bound.model.apply)(bound.params, bound.state, x)
    return np.asarray(output)


def _mask(x: np.ndarray, rate: float, index: int) -> np.ndarray:
    """``x`` corrupted by the layer the denoising models train with, with a fixed key."""
    if rate == 0:
        return x
    key = jax.random.fold_in(jax.random.key(TEST_NOISE_SEED), index)
    corrupt = jax.jit(lambda x, key: nn.MaskingNoise(rate).apply({}, {}, x, key=key, train=True)[0])
    return np.asarray(corrupt(x, key))


def _pca_mse(flat_train: np.ndarray, flat_test: np.ndarray, sizes: Sequence[int]) -> list[float]:
    """Test MSE of the best linear code of each size ``k`` (the top ``k`` principal
    components of the training images): the reference an autoencoder, with its nonlinear
    encoder and decoder, should beat."""
    train64 = flat_train.astype(np.float64)
    mean = train64.mean(axis=0)
    centred_train = train64 - mean
    # The principal axes: eigenvectors of the scatter matrix, largest eigenvalues first.
    _, vectors = np.linalg.eigh(centred_train.T @ centred_train)
    axes = vectors[:, ::-1].T
    centred = flat_test.astype(np.float64) - mean
    return [float(np.mean((centred - centred @ axes[:k].T @ axes[:k]) ** 2)) for k in sizes]


def _load(args: argparse.Namespace, config: Config) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Images ``(n, H, W, 1)`` in [0, 1]: a fixed random subset of the training set, and the
    whole test set with its labels (``--quick``: scikit-learn's 8×8 digits, all of them)."""
    dataset = data.digits() if config.dataset == "digits" else data.mnist(args.data_dir)
    x_train = dataset.x_train
    if config.train_size is not None:
        order = np.random.default_rng(SUBSET_SEED).permutation(len(x_train))
        x_train = x_train[np.sort(order[: config.train_size])]
    return x_train, (dataset.x_test, dataset.y_test)


def _one_per_class(labels: np.ndarray) -> np.ndarray:
    """The first test image of each digit 0…9."""
    return np.array([int(np.flatnonzero(labels == digit)[0]) for digit in range(10)])


# --- tables ------------------------------------------------------------------------------


def _stats(row: Row) -> tuple[float, float]:
    values = np.asarray(row.values)
    return float(values.mean()), float(values.std())


def _write_csv(path: Path, rows: Sequence[Row], config: Config) -> None:
    """One row per model and test input; ``std`` and ``seeds`` empty for the references
    computed without training."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            [
                "model",
                "code_size",
                "train_noise",
                "test_noise",
                "params",
                "test_mse_mean",
                "test_mse_std",
                "seeds",
            ]
        )
        for row in rows:
            mean, std = _stats(row)
            writer.writerow(
                [
                    row.model,
                    row.code_size,
                    f"{row.train_noise:g}",
                    f"{row.test_noise:g}",
                    row.params,
                    f"{mean:.6g}",
                    "" if row.deterministic else f"{std:.6g}",
                    "" if row.deterministic else config.seeds,
                ]
            )


def _find(rows: Sequence[Row], model: str, code: int, test_noise: float = 0.0) -> Row:
    return next(
        r for r in rows if (r.model, r.code_size, r.test_noise) == (model, code, test_noise)
    )


def _cell(row: Row) -> str:
    """The test MSE in units of 10⁻³, mean ± std over seeds."""
    mean, std = _stats(row)
    return f"{1e3 * mean:.2f}" if row.deterministic else f"{1e3 * mean:.2f} ± {1e3 * std:.2f}"


def _markdown(rows: Sequence[Row], config: Config, *, quick: bool) -> str:
    data_name = "scikit-learn digits 8×8 (quick mode)" if quick else "MNIST"
    size = "all" if config.train_size is None else f"{config.train_size:,}"
    seeds = f"{config.seeds} seed" + ("s" if config.seeds > 1 else "")
    pixels = _find(rows, "mean_image", 0).params
    lines = [
        f"# Autoencoders — {data_name}",
        "",
        f"Test reconstruction error: mean squared error per pixel (pixels in [0, 1]) over "
        f"the whole test set, **in units of 10⁻³**, mean ± std (population) over {seeds} "
        f"({', '.join(map(str, range(config.seeds)))}; the seed sets initialisation, "
        f"shuffling and masks). Every model: {size} "
        f"training images, {config.epochs} epochs, batch {config.batch_size}, Adam "
        f"{config.learning_rate:g}, loss MSE against the clean image.",
        "",
        f"## Error against code size (dense {pixels}-{config.hidden}-k-{config.hidden}-{pixels})",
        "",
        f"Mean training image: {_cell(_find(rows, 'mean_image', 0))}. PCA: the best linear "
        "code of k components (deterministic).",
        "",
        "| code size k | params | dense autoencoder | PCA |",
        "|---:|---:|---:|---:|",
    ]
    for code in config.code_sizes:
        dense = _find(rows, "dense", code)
        lines.append(
            f"| {code} | {dense.params:,} | {_cell(dense)} | {_cell(_find(rows, 'pca', code))} |"
        )
    levels = (0.0, *config.noise_levels)
    lines += [
        "",
        f"## Denoising and convolution (code size {config.code})",
        "",
        "Test inputs clean or masked (each pixel zeroed with the given probability, one "
        "fixed mask per level); the target is always the clean image.",
        "",
        "| model | params | "
        + " | ".join("clean test" if level == 0 else f"masked {level:g} test" for level in levels)
        + " |",
        "|---|---:|" + "---:|" * len(levels),
    ]
    names = ["dense", *(f"dense_denoising_{rate:g}" for rate in config.noise_levels), "conv"]
    for name in names:
        cells = [_find(rows, name, config.code, level) for level in levels]
        lines.append(f"| {name} | {cells[0].params:,} | " + " | ".join(map(_cell, cells)) + " |")
    return "\n".join(lines) + "\n"


# --- figures -----------------------------------------------------------------------------


def _image_grid(path: Path, rows: list[tuple[str, list[np.ndarray]]], title: str) -> None:
    """One labelled row of grey images per entry, tiled into a single image (one ``imshow``:
    fast to draw, small to store)."""
    height, width = rows[0][1][0].shape
    gap = max(1, height // 14)
    columns = len(rows[0][1])
    mosaic = np.ones((len(rows) * (height + gap) - gap, columns * (width + gap) - gap))
    for r, (_, images) in enumerate(rows):
        for c, image in enumerate(images):
            top, left = r * (height + gap), c * (width + gap)
            mosaic[top : top + height, left : left + width] = image
    fig, ax = plt.subplots(figsize=(0.62 * columns + 1.5, 0.62 * len(rows) + 0.5))
    ax.imshow(mosaic, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks(
        [r * (height + gap) + (height - 1) / 2 for r in range(len(rows))],
        [label for label, _ in rows],
        fontsize=8,
    )
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title, fontsize=9)
    fig.tight_layout(pad=0.3)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_reconstructions(path: Path, inputs: np.ndarray, shown: dict, config: Config) -> None:
    rows = [("input", list(inputs))]
    rows += [(f"dense k={code}", list(shown["dense", code][0])) for code in config.shown_codes]
    rows.append((f"conv k={config.code}", list(shown["conv", config.code][0])))
    _image_grid(path, rows, "Test images (top) and their reconstructions (seed 0)")


def _plot_code_space(path: Path, codes: np.ndarray, labels: np.ndarray) -> None:
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    cmap = plt.get_cmap("tab10")
    for digit in range(10):
        points = codes[labels == digit]
        ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.5, color=cmap(digit), rasterized=True)
        centre = np.median(points, axis=0)
        ax.text(
            centre[0],
            centre[1],
            str(digit),
            fontsize=10,
            weight="bold",
            ha="center",
            va="center",
            color="white",
            zorder=4,
            bbox=dict(boxstyle="round,pad=0.2", fc=cmap(digit), ec="black", lw=0.6),
        )
    ax.set_xlabel("code unit 1")
    ax.set_ylabel("code unit 2")
    ax.set_title(
        f"2-D codes of the {len(codes):,} test images (dense, seed 0);\n"
        "labels at each digit's median — the labels were not used in training",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_error_vs_code(path: Path, rows: Sequence[Row], config: Config) -> None:
    codes = np.asarray(config.code_sizes)
    dense = [_find(rows, "dense", code) for code in codes]
    means = np.array([_stats(r)[0] for r in dense])
    stds = np.array([_stats(r)[1] for r in dense])
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    ax.errorbar(codes, means, yerr=stds, marker="o", capsize=3, label="dense autoencoder")
    for code, row in zip(codes, dense):
        ax.scatter([code] * len(row.values), row.values, color="black", s=6, zorder=3)
    ax.plot(
        codes,
        [_stats(_find(rows, "pca", code))[0] for code in codes],
        marker="s",
        linestyle="--",
        color="#55a868",
        label="PCA (best linear code)",
    )
    ax.axhline(
        _stats(_find(rows, "mean_image", 0))[0],
        color="grey",
        linestyle=":",
        label="mean training image",
    )
    conv = _find(rows, "conv", config.code)
    ax.errorbar(
        [config.code],
        [_stats(conv)[0]],
        yerr=[_stats(conv)[1]],
        marker="*",
        markersize=11,
        color="#c44e52",
        linestyle="none",
        capsize=3,
        label="conv autoencoder",
    )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(codes, [str(c) for c in codes])
    ax.set_xlabel("code size k")
    ax.set_ylabel("test MSE per pixel")
    ax.set_title(
        f"Reconstruction error against code size (mean ± std, {config.seeds} "
        f"seed{'s' if config.seeds > 1 else ''}; dots: seeds)",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _plot_denoising(path: Path, inputs: np.ndarray, shown: dict, config: Config) -> None:
    """``inputs``: (levels, 10, H, W), clean first."""
    plain = shown["dense", config.code]
    rows = [("clean", list(inputs[0]))]
    for index, rate in enumerate(config.noise_levels, start=1):
        denoiser = shown[f"dense_denoising_{rate:g}", config.code]
        rows += [
            (f"masked {rate:g}", list(inputs[index])),
            ("plain AE", list(plain[index])),
            (f"denoising {rate:g}", list(denoiser[index])),
        ]
    _image_grid(
        path, rows, f"Masked test images and their reconstructions, dense k={config.code} (seed 0)"
    )


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
        help=f"seeds per model (default {DEFAULT.seeds}; --quick {QUICK.seeds})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test on scikit-learn's 8×8 digits: small models, 1 seed",
    )
    parser.add_argument(
        "--out", default=None, help="output folder (default: results/ beside this file)"
    )
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


if __name__ == "__main__":
    sys.exit(main())
