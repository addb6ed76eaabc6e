"""Generative adversarial networks on MNIST: an MLP GAN and a DCGAN-style convolutional
GAN, trained with ``jaxdl.train.fit_gan``, their samples judged by a jaxdl classifier.

- **MLP GAN** (Goodfellow et al., 2014): a generator ``z → 256 → 512 → 784`` (ReLU, tanh
  output) against a discriminator ``784 → 512 → 256 → 1`` (LeakyReLU 0.2 and dropout 0.3
  after each hidden layer, a logit).
- **DCGAN** (Radford, Metz and Chintala, 2016), small enough for a CPU: a generator
  ``Dense → BatchNorm → ReLU → Reshape(7×7) → ConvTranspose2D(stride 2) → BatchNorm →
  ReLU → ConvTranspose2D(stride 2, tanh)`` against strided ``Conv2D`` layers with
  LeakyReLU 0.2 and a dense logit, on a fixed subset of the training set.

Both use the non-saturating generator loss and Adam (2e-4, β₁ = 0.5) for both players.
Sample quality is measured with an MLP classifier trained once per run on the MNIST
training set with ``jaxdl.train.fit`` (deterministic: the same weights on every run):

1. the share of samples it classifies with confidence > 0.9;
2. class coverage, the entropy (nats) of its predicted-class histogram (log 10 ≈ 2.303
   when every class is equally frequent);
3. the Fréchet distance between Gaussians fitted to its penultimate-layer features of the
   samples and of real test images — an MNIST analogue of the FID.

Real held-out test images and untrained generators are measured the same way, as the
floor and the ceiling of each number.

Usage::

    python experiments/gan/run.py                  # MNIST, ~4 min on 2 CPU cores
    python experiments/gan/run.py --quick --out /tmp/gan   # digits 8×8, offline, seconds

Writes ``table.md``, ``table.csv``, ``samples_mlp_gan.png``, ``samples_dcgan.png``,
``losses.png``, ``quality.png`` and ``history_<model>.csv`` to ``--out`` (default
``results/`` beside this file), and prints the table and the wall time.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from jaxdl import activations, data, losses, models, nn, optim, train

HERE = Path(__file__).resolve().parent
GANS = ("mlp_gan", "dcgan")
ROWS = ("real_images", "untrained_mlp_generator", "untrained_dcgan_generator", *GANS)
TITLES = {
    "real_images": "real images (held-out test)",
    "untrained_mlp_generator": "untrained generator (MLP GAN's, at init)",
    "untrained_dcgan_generator": "untrained generator (DCGAN's, at init)",
    "mlp_gan": "MLP GAN",
    "dcgan": "DCGAN",
}
METRICS = ("confident_share", "class_entropy", "frechet_distance")
OUTPUTS = (
    "table.md",
    "table.csv",
    "samples_mlp_gan.png",
    "samples_dcgan.png",
    "losses.png",
    "quality.png",
    "history_mlp_gan.csv",
    "history_dcgan.csv",
)
CONFIDENCE = 0.9
SUBSET_SEED = 2014  # the DCGAN's fixed training subset (Goodfellow et al., 2014)
CLASSIFIER_SEED = 1998  # the judge's training run (LeCun et al., 1998: MNIST)
GRID = 64  # samples per snapshot grid: the first of the measured ones


def leaky_relu(z: jax.Array) -> jax.Array:
    """LeakyReLU with slope 0.2 on the negative side, as in DCGAN's discriminator."""
    return activations.leaky_relu(z, negative_slope=0.2)


@dataclasses.dataclass(frozen=True)
class Config:
    dataset: str
    latent_dim: int
    mlp_widths: tuple[int, int]
    mlp_dropout: float
    mlp_epochs: int
    mlp_batch: int
    dc_generator_channels: int
    dc_discriminator_channels: int
    dc_epochs: int
    dc_batch: int
    dc_train_size: int
    classifier_hidden: tuple[int, int]
    classifier_epochs: int
    eval_samples: int
    """Samples per compared set: generated, real, and the real reference."""
    seeds: int


DEFAULT = Config(
    dataset="mnist",
    latent_dim=64,
    mlp_widths=(256, 512),
    mlp_dropout=0.3,
    mlp_epochs=8,
    mlp_batch=64,
    dc_generator_channels=16,
    dc_discriminator_channels=32,
    dc_epochs=10,
    dc_batch=32,
    dc_train_size=12_000,
    classifier_hidden=(256, 128),
    classifier_epochs=3,
    eval_samples=5_000,
    seeds=1,
)
QUICK = Config(
    dataset="digits",
    latent_dim=16,
    mlp_widths=(64, 128),
    mlp_dropout=0.3,
    mlp_epochs=3,
    mlp_batch=32,
    dc_generator_channels=8,
    dc_discriminator_channels=16,
    dc_epochs=2,
    dc_batch=32,
    dc_train_size=1_438,
    classifier_hidden=(64, 32),
    classifier_epochs=10,
    eval_samples=179,
    seeds=1,
)


# --- models ----------------------------------------------------------------------------


def mlp_gan(shape: tuple[int, ...], config: Config) -> tuple[nn.Sequential, nn.Sequential]:
    """A fully connected generator (tanh pixels in [-1, 1]) and discriminator (a logit;
    dropout after each hidden layer, which keeps it from overpowering the generator)."""
    small, large = config.mlp_widths
    drop = config.mlp_dropout
    generator = nn.Sequential(
        [
            nn.Dense(small),
            activations.relu,
            nn.Dense(large),
            activations.relu,
            nn.Dense(math.prod(shape), activation=activations.tanh),
            nn.Reshape(shape),
        ]
    )
    discriminator = nn.Sequential(
        [
            nn.Flatten(),
            nn.Dense(large),
            leaky_relu,
            nn.Dropout(drop),
            nn.Dense(small),
            leaky_relu,
            nn.Dropout(drop),
            nn.Dense(1),
        ]
    )
    return generator, discriminator


def dcgan(shape: tuple[int, ...], config: Config) -> tuple[nn.Sequential, nn.Sequential]:
    """DCGAN's recipe at two resolutions: batch norm and ReLU in the generator, strided
    convolutions and LeakyReLU in the discriminator, no pooling."""
    c, d, base = config.dc_generator_channels, config.dc_discriminator_channels, shape[0] // 4
    generator = nn.Sequential(
        [
            nn.Dense(base * base * 2 * c, use_bias=False),
            nn.BatchNorm(),
            activations.relu,
            nn.Reshape((base, base, 2 * c)),
            nn.ConvTranspose2D(c, 4, strides=2, use_bias=False),
            nn.BatchNorm(),
            activations.relu,
            nn.ConvTranspose2D(shape[-1], 4, strides=2, activation=activations.tanh),
        ]
    )
    discriminator = nn.Sequential(
        [
            nn.Conv2D(d, 4, strides=2),
            leaky_relu,
            nn.Conv2D(2 * d, 4, strides=2),
            leaky_relu,
            nn.Flatten(),
            nn.Dense(1),
        ]
    )
    return generator, discriminator


BUILDERS: dict[str, Callable[[tuple[int, ...], Config], tuple[nn.Sequential, nn.Sequential]]]
BUILDERS = {"mlp_gan": mlp_gan, "dcgan": dcgan}
OPTIMIZER = optim.adam(2e-4, b1=0.5)  # both players, both GANs (DCGAN's setting)


# --- the measures ----------------------------------------------------------------------


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    r"""The Fréchet distance between Gaussians fitted to feature sets ``a`` and ``b``
    (``(n, d)`` each):

    .. math:: \lVert \mu_a - \mu_b \rVert^2 + \operatorname{tr}\big(\Sigma_a + \Sigma_b
        - 2 (\Sigma_a \Sigma_b)^{1/2}\big)

    with unbiased covariances, in float64. The trace of the matrix square root is
    computed as :math:`\operatorname{tr} (\Sigma_a^{1/2} \Sigma_b \Sigma_a^{1/2})^{1/2}`
    (the same eigenvalues, of a symmetric positive semi-definite matrix), from symmetric
    eigendecompositions: no complex parts to discard, as ``scipy.linalg.sqrtm`` of the
    non-symmetric product can leave.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(
            f"frechet_distance: expected (n, d) and (m, d) features with n, "
            f"m ≥ 2, got {a.shape} and {b.shape}."
        )
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False, ddof=1), np.cov(b, rowvar=False, ddof=1)
    cov_a, cov_b = np.atleast_2d(cov_a), np.atleast_2d(cov_b)
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = root_a @ cov_b @ root_a
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root
    return float(max(distance, 0.0))


class Judge:
    """The trained classifier: probabilities and penultimate-layer features of images in
    [0, 1], and the three measures of a set of samples against the real reference."""

    CHUNK = 1000

    def __init__(
        self, model: nn.Sequential, train_state: train.TrainState, reference: np.ndarray
    ) -> None:
        self.model, self.train_state = model, train_state
        self._apply = jax.jit(functools.partial(_features_and_probabilities, model))
        self.reference_features, _ = self.features_and_probabilities(reference)

    def features_and_probabilities(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """In chunks of one size (the last one padded), so one program serves every call."""
        features, probabilities = [], []
        for chunk, size in _chunks(np.asarray(images, np.float32), self.CHUNK):
            f, p = self._apply(self.train_state.params, self.train_state.state, chunk)
            features.append(np.asarray(f)[:size])
            probabilities.append(np.asarray(p)[:size])
        return np.concatenate(features), np.concatenate(probabilities)

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(self.features_and_probabilities(images)[1].argmax(axis=1) == labels))

    def measure(self, images: np.ndarray) -> dict[str, float]:
        features, probabilities = self.features_and_probabilities(images)
        return {
            "confident_share": float(np.mean(probabilities.max(axis=1) > CONFIDENCE)),
            "class_entropy": class_entropy(probabilities.argmax(axis=1)),
            "frechet_distance": frechet_distance(features, self.reference_features),
        }


def _chunks(array: np.ndarray, size: int):
    """``(chunk, valid)`` pairs: ``array`` in blocks of ``size`` rows, the last one padded
    with zeros to ``size`` (``valid`` counts its real rows)."""
    for start in range(0, len(array), size):
        block = array[start : start + size]
        valid = len(block)
        if valid < size:
            block = np.concatenate([block, np.zeros((size - valid, *block.shape[1:]), block.dtype)])
        yield block, valid


def class_entropy(labels: np.ndarray, classes: int = 10) -> float:
    """The entropy (nats) of the histogram of predicted classes: log(classes) when every
    class is predicted equally often, 0 when one class takes all."""
    counts = np.bincount(np.asarray(labels), minlength=classes).astype(np.float64)
    shares = counts[counts > 0] / counts.sum()
    return float(-(shares * np.log(shares)).sum()) + 0.0  # + 0.0: no -0.0


def _features_and_probabilities(
    model: nn.Sequential, params: Any, state: Any, images: jax.Array
) -> tuple[jax.Array, jax.Array]:
    bound = model.bind(params, state)
    body, head = bound[:-1], bound[-1:]
    features, _ = body.model.apply(body.params, body.state, images)
    logits, _ = head.model.apply(head.params, head.state, features)
    return features, jax.nn.softmax(logits)


@functools.partial(jax.jit, static_argnums=0)
def _generate(generator: nn.Layer, params: Any, state: Any, z: jax.Array) -> jax.Array:
    """Samples in inference mode (batch norm with its running statistics), mapped from the
    tanh range [-1, 1] to pixels in [0, 1]."""
    return (generator.apply(params, state, z)[0] + 1.0) / 2.0


def generate(
    generator: nn.Layer, train_state: train.TrainState, z: np.ndarray, chunk: int = 1000
) -> np.ndarray:
    """``generator``'s images in [0, 1] for the noise ``z``, in chunks of one size."""
    return np.concatenate(
        [
            np.asarray(_generate(generator, train_state.params, train_state.state, block))[:size]
            for block, size in _chunks(z, chunk)
        ]
    )


def noise(seed: int, n: int, latent_dim: int) -> np.ndarray:
    return np.asarray(jax.random.normal(jax.random.key(seed), (n, latent_dim)))


class Snapshots(train.Callback):
    """Measures the generator's samples of a fixed noise batch before training and after
    every epoch (added to the epoch's logs, so to the History), and keeps the first
    ``GRID`` of them for the sample grids."""

    def __init__(self, generator: nn.Layer, judge: Judge, z: np.ndarray) -> None:
        self.generator, self.judge, self.z = generator, judge, z
        self.grids: dict[int, np.ndarray] = {}
        self.measures: dict[int, dict[str, float]] = {}
        self.seconds = 0.0

    def _record(self, epochs_done: int, gan_state: train.GANState) -> dict[str, float]:
        start = time.perf_counter()
        images = generate(self.generator, gan_state.generator, self.z)
        self.grids[epochs_done] = images[:GRID]
        self.measures[epochs_done] = self.judge.measure(images)
        self.seconds += time.perf_counter() - start
        return self.measures[epochs_done]

    def on_train_begin(self, context: train.FitContext) -> None:
        self._record(0, context.train_state)

    def on_epoch_end(self, epoch: int, logs: dict[str, float], context: train.FitContext) -> None:
        logs.update(self._record(epoch + 1, context.train_state))


# --- the study -------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study with command-line arguments ``argv`` (default ``sys.argv[1:]``)."""
    args = _parse(argv)
    config = QUICK if args.quick else DEFAULT
    if args.seeds:
        config = dataclasses.replace(config, seeds=args.seeds)
    out = Path(args.out) if args.out else HERE / "results"
    out.mkdir(parents=True, exist_ok=True)
    begin = time.perf_counter()
    dataset = _load(args, config)
    shape = dataset.x_train.shape[1:]
    n = config.eval_samples
    reference, held_out = dataset.x_test[:n], dataset.x_test[n : 2 * n]
    print(
        f"{dataset.name}: {len(dataset.x_train)} training images {shape}; measures on "
        f"{n} samples against {n} test images; {config.seeds} seed(s)",
        flush=True,
    )

    judge, accuracy = _train_judge(dataset, config, reference)
    print(
        f"judge: MLP {config.classifier_hidden}, test accuracy {100 * accuracy:.2f} % "
        f"({time.perf_counter() - begin:.0f} s)",
        flush=True,
    )

    results: dict[str, list[dict[str, float]]] = {row: [] for row in ROWS}
    results["real_images"].append(judge.measure(held_out))
    runs: dict[str, dict[str, Any]] = {}
    for seed in range(config.seeds):
        for name in GANS:
            start = time.perf_counter()
            run = _train_gan(name, dataset, config, judge, seed, progress=not args.quick)
            seconds = time.perf_counter() - start
            results[f"untrained_{name.replace('_gan', '')}_generator"].append(
                run["snapshots"].measures[0]
            )
            results[name].append(run["snapshots"].measures[max(run["snapshots"].measures)])
            if seed == 0:
                runs[name] = run
            final = results[name][-1]
            print(
                f"seed {seed} {name:8s} {seconds:6.1f} s (measuring "
                f"{run['snapshots'].seconds:.1f} s): FD {final['frechet_distance']:.2f}, "
                f"confident {final['confident_share']:.3f}, entropy "
                f"{final['class_entropy']:.3f}",
                flush=True,
            )

    _write_csv(out / "table.csv", results)
    table = _markdown(results, config, dataset.name, accuracy, runs, quick=args.quick)
    (out / "table.md").write_text(table)
    for name, run in runs.items():
        run["history"].to_csv(out / f"history_{name}.csv")
        _plot_samples(out / f"samples_{name}.png", run["snapshots"].grids, TITLES[name])
    _plot_losses(out / "losses.png", runs)
    _plot_quality(out / "quality.png", runs, results)
    print(table)
    print(f"{(time.perf_counter() - begin) / 60:.1f} min in all")
    return 0


def _load(args: argparse.Namespace, config: Config) -> data.Dataset:
    """Images ``(n, H, W, 1)`` in [0, 1]: MNIST, or (``--quick``) scikit-learn's digits."""
    if config.dataset == "digits":
        return data.digits()
    return data.mnist(args.data_dir)


def _train_judge(
    dataset: data.Dataset, config: Config, reference: np.ndarray
) -> tuple[Judge, float]:
    """The MLP classifier on the whole training set; its test accuracy."""
    model = models.mlp(hidden=config.classifier_hidden)
    state, _ = train.fit(
        model,
        optim.adam(1e-3),
        (dataset.x_train, dataset.y_train),
        loss=losses.softmax_cross_entropy,
        epochs=config.classifier_epochs,
        batch_size=128,
        key=jax.random.key(CLASSIFIER_SEED),
        progress=False,
    )
    judge = Judge(model, state, reference)
    return judge, judge.accuracy(dataset.x_test, dataset.y_test)


def _train_gan(
    name: str, dataset: data.Dataset, config: Config, judge: Judge, seed: int, *, progress: bool
) -> dict[str, Any]:
    shape = dataset.x_train.shape[1:]
    generator, discriminator = BUILDERS[name](shape, config)
    if name == "mlp_gan":
        x, epochs, batch = dataset.x_train, config.mlp_epochs, config.mlp_batch
    else:
        order = np.random.default_rng(SUBSET_SEED).permutation(len(dataset.x_train))
        x = dataset.x_train[order[: config.dc_train_size]]
        epochs, batch = config.dc_epochs, config.dc_batch
    z = noise(10_000 + seed, config.eval_samples, config.latent_dim)
    snapshots = Snapshots(generator, judge, z)
    gan_state, history = train.fit_gan(
        generator,
        discriminator,
        OPTIMIZER,
        OPTIMIZER,
        2.0 * x - 1.0,
        latent_dim=config.latent_dim,
        epochs=epochs,
        batch_size=batch,
        key=jax.random.key(seed),
        callbacks=[snapshots],
        progress=f"{name} seed {seed}" if progress else False,
    )
    return {
        "gan_state": gan_state,
        "history": history,
        "snapshots": snapshots,
        "train_size": len(x),
        "epochs": epochs,
        "batch": batch,
        "steps": int(gan_state.generator.step),
        "generator_params": sum(nn.count_params(gan_state.generator.params)),
        "discriminator_params": sum(nn.count_params(gan_state.discriminator.params)),
    }


# --- outputs ---------------------------------------------------------------------------


def _summary(values: list[dict[str, float]], metric: str) -> tuple[float, float]:
    column = np.asarray([v[metric] for v in values])
    return float(column.mean()), float(column.std())


def _write_csv(path: Path, results: dict[str, list[dict[str, float]]]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["model", "seeds", *(f"{m}{s}" for m in METRICS for s in ("", "_std"))])
        for row in ROWS:
            cells = []
            for metric in METRICS:
                mean, std = _summary(results[row], metric)
                cells += [f"{mean:.4f}", f"{std:.4f}"]
            writer.writerow([row, len(results[row]), *cells])


def _markdown(
    results: dict[str, list[dict[str, float]]],
    config: Config,
    data_name: str,
    accuracy: float,
    runs: dict[str, dict[str, Any]],
    *,
    quick: bool,
) -> str:
    n = config.eval_samples
    seeds = config.seeds
    spread = f"mean ± std over seeds 0–{seeds - 1}" if seeds > 1 else "one seed (0), so no spread"
    lines = [
        f"# GANs on {data_name}{' (quick mode)' if quick else ''}",
        "",
        f"Measured by an MLP classifier {config.classifier_hidden} (test accuracy "
        f"{100 * accuracy:.2f} %) on {n} samples per row, against {n} real test images: "
        f"the share classified with confidence > {CONFIDENCE}, the entropy of the "
        f"predicted-class histogram (nats; log 10 = {math.log(10):.3f} is even coverage) "
        f"and the Fréchet distance of the classifier's penultimate-layer features "
        f"(lower is better). Real images: {n} other test images. GANs: {spread}.",
        "",
        "| model | confident > 0.9 | class entropy | Fréchet distance |",
        "|---|---:|---:|---:|",
    ]
    for row in ROWS:
        cells = []
        for metric, digits in zip(METRICS, (3, 3, 2)):
            mean, std = _summary(results[row], metric)
            cells.append(
                f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if len(results[row]) > 1 else "")
            )
        lines.append(f"| {TITLES[row]} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| GAN | training images | epochs | batch | generator steps | "
        "generator params | discriminator params |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in runs.items():
        lines.append(
            f"| {TITLES[name]} | {run['train_size']:,} | {run['epochs']} | "
            f"{run['batch']} | {run['steps']:,} | {run['generator_params']:,} | "
            f"{run['discriminator_params']:,} |"
        )
    return "\n".join(lines) + "\n"


def _mosaic(images: np.ndarray, gap: int = 2) -> np.ndarray:
    """``(k², H, W, 1)`` images tiled into one ``(k·(H+gap), k·(W+gap))`` array, white
    lines of ``gap`` pixels between them."""
    k = math.isqrt(len(images))
    h, w = images.shape[1:3]
    tiles = np.ones((k, k, h + gap, w + gap), np.float32)
    tiles[:, :, :h, :w] = images[: k * k, :, :, 0].reshape(k, k, h, w)
    return tiles.transpose(0, 2, 1, 3).reshape(k * (h + gap), k * (w + gap))


def _plot_samples(path: Path, grids: dict[int, np.ndarray], title: str) -> None:
    """The fixed noise batch's samples at four points: untrained, after 1 epoch, halfway,
    and at the end — each panel drawn pixel for pixel (``figimage``: no resampling, so
    every sample and every line between them stays as it is)."""
    last = max(grids)
    shown = sorted({0, min(1, last), last // 2, last})
    mosaics = [_mosaic(grids[epochs]) for epochs in shown]
    h, w = mosaics[0].shape
    dpi, margin, caption, header = 100, 12, 22, 26  # sizes in pixels
    width = len(shown) * (w + margin) + margin
    height = margin + h + caption + header
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    for i, (epochs, mosaic) in enumerate(zip(shown, mosaics)):
        left = margin + i * (w + margin)
        fig.figimage(mosaic, xo=left, yo=margin, cmap="gray", vmin=0, vmax=1, origin="upper")
        label = (
            "untrained" if epochs == 0 else f"after {epochs} epoch" + ("s" if epochs > 1 else "")
        )
        fig.text(
            (left + w / 2) / width,
            (margin + h + 4) / height,
            label,
            ha="center",
            va="bottom",
            fontsize=8,
        )
    fig.text(
        0.5,
        1 - 6 / height,
        f"{title}: the same {GRID} noise vectors through training",
        ha="center",
        va="top",
        fontsize=9,
    )
    _save_grey(fig, path)


def _save_grey(fig: Any, path: Path) -> None:
    """Save an all-grey figure as an 8-bit greyscale PNG: a quarter of the bytes of
    matplotlib's RGBA, which matters for panels of noise-like samples."""
    from PIL import Image

    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., 0]
    plt.close(fig)
    Image.fromarray(np.ascontiguousarray(pixels)).save(path, optimize=True)  # uint8: "L"


def _plot_losses(path: Path, runs: dict[str, dict[str, Any]]) -> None:
    """Both players' losses per epoch (top) and the discriminator's mean outputs
    (bottom), per GAN (seed 0)."""
    fig, axes = plt.subplots(2, len(runs), figsize=(4.6 * len(runs), 6), squeeze=False)
    for column, (name, run) in enumerate(runs.items()):
        history = run["history"]
        epochs = np.asarray(history.epoch) + 1
        top, bottom = axes[0, column], axes[1, column]
        top.plot(epochs, history["d_loss"], marker="o", label="discriminator loss")
        top.plot(epochs, history["g_loss"], marker="o", label="generator loss")
        top.axhline(2 * math.log(2), color="grey", ls=":", lw=1, label="2 log 2 (D can't tell)")
        top.set_title(TITLES[name], fontsize=10)
        top.set_ylabel("epoch mean")
        top.legend(fontsize=7)
        bottom.plot(epochs, history["d_real"], marker="o", label="D(x), real")
        bottom.plot(epochs, history["d_fake"], marker="o", label="D(G(z)), generated")
        bottom.axhline(0.5, color="grey", ls=":", lw=1)
        bottom.set_ylim(0, 1)
        bottom.set_xlabel("epoch")
        bottom.set_ylabel("mean discriminator output")
        bottom.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _plot_quality(
    path: Path, runs: dict[str, dict[str, Any]], results: dict[str, list[dict[str, float]]]
) -> None:
    """The three measures after every epoch (seed 0), real images as the reference line."""
    fig, axes = plt.subplots(1, len(METRICS), figsize=(4.2 * len(METRICS), 3.3))
    labels = {
        "confident_share": "share confident > 0.9",
        "class_entropy": "class entropy (nats)",
        "frechet_distance": "Fréchet distance (log scale)",
    }
    for ax, metric in zip(axes, METRICS):
        for name, run in runs.items():
            measures = run["snapshots"].measures
            epochs = sorted(measures)
            ax.plot(epochs, [measures[e][metric] for e in epochs], marker="o", label=TITLES[name])
        ax.axhline(
            results["real_images"][0][metric],
            color="black",
            ls="--",
            lw=1,
            label="real test images",
        )
        if metric == "class_entropy":
            ax.axhline(math.log(10), color="grey", ls=":", lw=1, label="log 10")
        if metric == "frechet_distance":
            ax.set_yscale("log")
        ax.set_xlabel("epochs (0: untrained)")
        ax.set_title(labels[metric], fontsize=10)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with the MNIST IDX files (default: $JAXDL_DATA_DIR, "
        "then jaxdl's cache, downloading if needed)",
    )
    parser.add_argument(
        "--seeds", type=_positive, default=None, help=f"seeds per GAN (default {DEFAULT.seeds})"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke test on scikit-learn's 8×8 digits, offline, seconds",
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
