"""The ``jaxdl`` command: train a model, print a model's summary, or run a study.

Run ``jaxdl --help`` (or ``python -m jaxdl --help``) for the commands, and
``jaxdl train --help`` for the training options. Exit codes: 0 success, 1 a failure
while running (missing data files, a checkpoint that does not fit), 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import jax

import jaxdl
from jaxdl import checkpoint, data, losses, models, nn, optim, train

__all__ = ["main"]

MODELS = ("mlp", "cnn", "lstm")
STUDIES = ("optimizers",)
DATASETS = ("digits", "mnist", "fashion-mnist", "mnist1d")
# Each optimizer's learning rate when --lr is not given: values that train these models.
DEFAULT_LEARNING_RATES = {
    "sgd": 0.1,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adagrad": 0.01,
    "adadelta": 1.0,
    "rmsprop": 1e-3,
    "adam": 1e-3,
    "nadam": 1e-3,
    "adamw": 1e-3,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); returns the exit code.

    Before anything starts JAX, adds jaxdl's default XLA flags to ``XLA_FLAGS`` (faster
    convolutions on CPU; see ``jaxdl/_xla.py``), unless ``XLA_FLAGS`` already
    sets them or ``JAXDL_NO_XLA_DEFAULTS=1``. Child processes (studies) inherit them.
    """
    from jaxdl import _xla

    _xla.apply_defaults()
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError, data.DatasetDownloadError) as error:
        print(f"jaxdl {args.command}: error: {error}", file=sys.stderr)
        return 1


def build_model(name: str, input_shape: Sequence[int], num_classes: int) -> nn.Sequential:
    """The CLI's models: ``mlp`` (784-512-256-10 on MNIST), ``cnn``, ``lstm`` over rows."""
    if name == "mlp":
        return models.mlp(num_classes, (512, 256), dropout=0.2)
    if name == "cnn":
        return models.cnn(input_shape, num_classes)
    if name == "lstm":
        return models.lstm_classifier(input_shape, num_classes)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}.")


def _train(args: argparse.Namespace) -> int:
    dataset = _load(args)
    model = build_model(args.model, dataset.x_train.shape[1:], dataset.num_classes)
    learning_rate = args.lr if args.lr is not None else DEFAULT_LEARNING_RATES[args.optimizer]
    optimizer = getattr(optim, args.optimizer)(learning_rate)
    key = jax.random.key(args.seed)
    (x_fit, y_fit), validation = _split_validation(dataset, args.validation_fraction, key)

    callbacks: list[train.Callback] = []
    if args.patience is not None:
        callbacks.append(
            train.EarlyStopping(monitor="val_accuracy", patience=args.patience,
                                restore_best_weights=True)
        )
    train_state, initial_epoch = None, 0
    if args.checkpoint_dir is not None:
        callbacks.append(train.ModelCheckpoint(args.checkpoint_dir, monitor="val_accuracy"))
        if args.resume:
            train_state, initial_epoch = _resume(args, model, optimizer, x_fit)
    elif args.resume:
        raise ValueError("--resume needs --checkpoint-dir, the folder to resume from.")

    print(f"jaxdl {jaxdl.__version__}: {args.model} on {dataset.name} "
          f"({len(x_fit)} train, {len(validation[0])} validation, {len(dataset.x_test)} test), "
          f"{args.optimizer} lr={learning_rate:g}, {args.epochs} epochs of batch "
          f"{args.batch_size}, on {jax.devices()[0].platform}")
    started = time.perf_counter()
    train_state, history = train.fit(
        model, optimizer, (x_fit, y_fit),
        loss=losses.softmax_cross_entropy, epochs=args.epochs, batch_size=args.batch_size,
        key=key, validation_data=validation, callbacks=callbacks,
        progress=not args.no_progress, train_state=train_state, initial_epoch=initial_epoch,
        eval_batch_size=1000,
    )
    seconds = time.perf_counter() - started
    test = train.evaluate(model, train_state, dataset.test, loss=losses.softmax_cross_entropy,
                          batch_size=1000)
    result = {
        "model": args.model, "dataset": dataset.name, "optimizer": args.optimizer,
        "learning_rate": learning_rate, "epochs_run": len(history), "seconds": round(seconds, 1),
        "test_loss": round(test["loss"], 5), "test_accuracy": round(test["accuracy"], 5),
    }
    print(f"test accuracy {test['accuracy']:.2%}, test loss {test['loss']:.4f} after "
          f"{len(history)} epochs in {seconds:.1f} s")
    if args.output is not None:
        folder = Path(args.output)
        folder.mkdir(parents=True, exist_ok=True)
        history.to_csv(folder / "history.csv")
        (folder / "result.json").write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {folder / 'history.csv'} and {folder / 'result.json'}")
    return 0


def _study(args: argparse.Namespace) -> int:
    # The studies are scripts of the source repository (experiments/<name>/run.py), not
    # part of the installed package: run the one beside this checkout of jaxdl.
    script = Path(jaxdl.__file__).resolve().parents[1] / "experiments" / args.name / "run.py"
    if not script.is_file():
        raise FileNotFoundError(
            f"the {args.name} study ships with the jaxdl source repository ({script} is "
            "missing): clone the repository, `pip install -e .` it, and run this again."
        )
    return subprocess.run([sys.executable, str(script), *args.arguments], check=False).returncode


def _summary(args: argparse.Namespace) -> int:
    shape, classes = _dataset_shape(args.dataset)
    model = build_model(args.model, shape, classes)
    params, _ = model.init(jax.random.key(0), jax.ShapeDtypeStruct((1, *shape), "float32"))
    nn.summary(model, params, jax.ShapeDtypeStruct((1, *shape), "float32"))
    return 0


def _load(args: argparse.Namespace) -> data.Dataset:
    if args.dataset == "digits":
        return data.digits(seed=args.seed)
    if args.dataset == "mnist1d":
        return data.mnist1d()
    return data.load(args.dataset, data_dir=args.data_dir)


def _dataset_shape(name: str) -> tuple[tuple[int, ...], int]:
    shapes = {"digits": (8, 8, 1), "mnist": (28, 28, 1), "fashion-mnist": (28, 28, 1),
              "mnist1d": (40, 1)}
    return shapes[name], 10


def _split_validation(dataset: data.Dataset, fraction: float, key: jax.Array):
    if not 0 < fraction < 1:
        raise ValueError(f"--validation-fraction must be in (0, 1), got {fraction}.")
    (x_fit, y_fit), (x_val, y_val) = data.train_val_split(
        dataset.x_train, dataset.y_train, fraction=fraction, key=jax.random.fold_in(key, 1)
    )
    return (x_fit, y_fit), (x_val, y_val)


def _resume(args, model, optimizer, x_fit):
    latest = checkpoint.latest_step(args.checkpoint_dir)
    if latest is None:
        print(f"no checkpoint in {args.checkpoint_dir}; starting from scratch")
        return None, 0
    spec = jax.ShapeDtypeStruct((1, *x_fit.shape[1:]), x_fit.dtype)
    params, state = model.init(jax.random.key(0), spec)
    like = train.TrainState.create(params=params, state=state, optimizer=optimizer)
    restored = checkpoint.restore(args.checkpoint_dir, like=like)
    epoch = int(restored.metadata.get("epoch", restored.step))
    print(f"resuming from {args.checkpoint_dir} after epoch {epoch}")
    return restored.tree, epoch


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxdl",
        description="jaxdl: train neural networks written as pure JAX functions.",
        epilog="Examples:\n"
        "  jaxdl train --model mlp --dataset digits --epochs 30\n"
        "  jaxdl train --model cnn --dataset mnist --data-dir ~/data/mnist --epochs 10\n"
        "  jaxdl summary --model cnn --dataset mnist\n"
        "  jaxdl study optimizers --quick\n\n"
        "Exit codes: 0 success, 1 failure while running, 2 usage error.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"jaxdl {jaxdl.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    fit = commands.add_parser(
        "train", help="train a model and report its test accuracy",
        description="Train a model on a data set; hold out part of the training set for "
        "validation after each epoch; report accuracy on the test set at the end.",
    )
    _model_arguments(fit)
    fit.add_argument("--optimizer", choices=sorted(DEFAULT_LEARNING_RATES), default="adam",
                     help="optimizer (default: adam)")
    fit.add_argument("--lr", type=float, default=None,
                     help="learning rate (default: a per-optimizer value, adam 1e-3, sgd 0.1)")
    fit.add_argument("--epochs", type=int, default=10, help="passes over the data (default 10)")
    fit.add_argument("--batch-size", type=int, default=128, help="samples per step (default 128)")
    fit.add_argument("--seed", type=int, default=0,
                     help="random seed: same seed, same result (default 0)")
    fit.add_argument("--data-dir", default=None,
                     help="folder with the MNIST/Fashion-MNIST files (default: $JAXDL_DATA_DIR, "
                     "then the download cache)")
    fit.add_argument("--validation-fraction", type=float, default=0.1,
                     help="share of the training set held out for validation (default 0.1)")
    fit.add_argument("--patience", type=int, default=None,
                     help="stop after this many epochs without a better validation accuracy")
    fit.add_argument("--checkpoint-dir", default=None,
                     help="save a checkpoint after every epoch into this folder")
    fit.add_argument("--resume", action="store_true",
                     help="continue from the latest checkpoint in --checkpoint-dir")
    fit.add_argument("--output", default=None,
                     help="folder to write history.csv and result.json into")
    fit.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    fit.set_defaults(run=_train)

    show = commands.add_parser("summary", help="print a model's layers and parameter counts")
    _model_arguments(show)
    show.set_defaults(run=_summary)

    study = commands.add_parser(
        "study", help="run a study from experiments/ (e.g. the optimizer study)",
        description="Run a study of the source repository's experiments/ folder; the "
        "arguments after its name go to the study (see `jaxdl study optimizers --help`).",
    )
    study.add_argument("name", choices=STUDIES, help="the study: optimizers")
    study.add_argument("arguments", nargs=argparse.REMAINDER,
                       help="arguments for the study, e.g. --quick or --dataset mnist")
    study.set_defaults(run=_study)
    return parser


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", choices=MODELS, default="mlp",
                        help="mlp (784-512-256-10 on MNIST), cnn (LeNet-style) or lstm "
                        "(over image rows); default mlp")
    parser.add_argument("--dataset", choices=DATASETS, default="digits",
                        help="digits (bundled, offline; the default), mnist, fashion-mnist, "
                        "or mnist1d")
