"""The ``jaxdl`` command: train a model, print a model's summary, or run a study.

Run ``jaxdl --help`` (or ``python -m jaxdl --help``) for the commands, and
``jaxdl train --help`` for the training options.

Exit codes: 0 success; 2 a usage error (an unknown option, ``--epochs 0``, ``--lr -1``,
``--validation-fraction 1.5``, ``--resume`` without ``--checkpoint-dir``), reported by
argparse before anything is loaded; 1 a failure while running (missing data files, an
``--output`` or ``--checkpoint-dir`` that cannot be written, ``--resume`` from a folder
without checkpoints, a checkpoint of another model or a corrupt one). ``train`` checks its
options, folders and the checkpoint to resume from before it loads data or trains. A
failure prints one line, ``jaxdl COMMAND: error: ...``, to stderr; ``--debug`` (or
``JAXDL_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax

import jaxdl
from jaxdl import checkpoint, data, losses, models, nn, optim, train
from jaxdl._checks import check_int, is_int

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
    sets them or ``JAXDL_NO_XLA_DEFAULTS=1``, and raises glibc's malloc thresholds so that
    each training step reuses the memory the last one freed instead of faulting in fresh
    pages (see ``jaxdl/_malloc.py``), unless ``JAXDL_NO_MALLOC_DEFAULTS=1``. Child
    processes (studies) inherit both.

    Usage errors exit through argparse (``SystemExit(2)``); a failure while running prints
    one line to stderr and returns 1, unless ``--debug`` or ``JAXDL_DEBUG=1`` asks for the
    traceback (the exception then propagates).
    """
    from jaxdl import _malloc, _xla

    _xla.apply_defaults()
    _malloc.keep_freed_memory()
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "train":
        _check_train_usage(args.parser, args)
    debug = args.debug or os.environ.get("JAXDL_DEBUG", "") not in ("", "0")
    if debug:
        return args.run(args)
    # On the command line the filters stay for the process's life (late reports come at
    # exit); called from Python with ``argv``, they are removed again.
    restore_reports = _quiet_background_errors()
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print(f"jaxdl {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        print(f"jaxdl {args.command}: error: {_one_line(error)}", file=sys.stderr)
        if argv is None:
            _drop_stderr()
        return 1
    finally:
        if argv is not None:
            restore_reports()


def _drop_stderr() -> None:
    """Send what the interpreter prints while it shuts down (background threads of a
    failed orbax restore report again then) to the null device: the process is about to
    exit 1, and its one line of error is out."""
    try:
        sys.stderr.flush()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stderr.fileno())
        os.close(null)
    except (OSError, ValueError):  # stderr is not a file (replaced by the caller): keep it
        pass


def _one_line(error: BaseException) -> str:
    """The error's message on one line; unexpected kinds of error are named."""
    text = " ".join(str(error).split())
    if isinstance(error, (ValueError, TypeError, OSError)) and text:
        return text
    return f"{type(error).__name__}: {text} (run with --debug for the traceback)"


def _quiet_background_errors() -> Callable[[], None]:
    """Silence the reports that orbax's background threads print after a failed restore
    (``RuntimeError: Event loop is closed`` and asyncio's "exception was never
    retrieved"): the failure itself is reported, once, by :func:`main`. Returns the
    function that restores the previous hooks."""
    previous_unraisable, previous_except = sys.unraisablehook, sys.excepthook

    def closed_loop(error: BaseException | None) -> bool:
        return isinstance(error, RuntimeError) and "Event loop is closed" in str(error)

    def unraisable_hook(unraisable: sys.UnraisableHookArgs) -> None:
        if not closed_loop(unraisable.exc_value):
            previous_unraisable(unraisable)

    def except_hook(kind: type, error: BaseException, traceback: object) -> None:
        if not closed_loop(error):
            previous_except(kind, error, traceback)

    def keep(record: logging.LogRecord) -> bool:
        return "exception was never retrieved" not in record.getMessage()

    asyncio_log = logging.getLogger("asyncio")
    sys.unraisablehook, sys.excepthook = unraisable_hook, except_hook
    asyncio_log.addFilter(keep)

    def restore() -> None:
        gc.collect()  # the abandoned tasks report when collected: let that happen first
        asyncio_log.removeFilter(keep)
        if sys.unraisablehook is unraisable_hook:
            sys.unraisablehook = previous_unraisable
        if sys.excepthook is except_hook:
            sys.excepthook = previous_except

    return restore


def build_model(name: str, input_shape: Sequence[int], num_classes: int) -> nn.Sequential:
    """The CLI's models: ``mlp`` (784-512-256-10 on MNIST), ``cnn``, ``lstm`` over rows."""
    if name == "mlp":
        return models.mlp(num_classes, (512, 256), dropout=0.2)
    if name == "cnn":
        return models.cnn(input_shape, num_classes)
    if name == "lstm":
        return models.lstm_classifier(input_shape, num_classes)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}.")


def _check_train_usage(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors that involve several options (each option's range is checked by its
    ``type=`` function); exits 2 through ``parser.error``."""
    if args.resume and args.checkpoint_dir is None:
        parser.error("--resume needs --checkpoint-dir, the folder to resume from.")


def _train(args: argparse.Namespace) -> int:
    # Everything that can fail without training is checked first: the folders, then the
    # checkpoint to resume from, then the data.
    if args.output is not None:
        _writable_folder("--output", args.output)
    if args.checkpoint_dir is not None:
        _check_checkpoint_dir(args.checkpoint_dir, resume=args.resume)
    shape, num_classes = _dataset_shape(args.dataset)
    model = build_model(args.model, shape, num_classes)
    learning_rate = args.lr if args.lr is not None else DEFAULT_LEARNING_RATES[args.optimizer]
    optimizer = getattr(optim, args.optimizer)(learning_rate)
    key = jax.random.key(args.seed)
    train_state, initial_epoch = None, 0
    if args.resume:
        train_state, initial_epoch = _resume(args, model, optimizer, shape)
    dataset = _load(args)
    if dataset.x_train.shape[1:] != shape or dataset.num_classes != num_classes:
        raise ValueError(
            f"{dataset.name} has samples of shape {dataset.x_train.shape[1:]} and "
            f"{dataset.num_classes} classes, expected {shape} and {num_classes}."
        )
    (x_fit, y_fit), validation = _split_validation(dataset, args.validation_fraction, key)

    callbacks: list[train.Callback] = []
    if args.patience is not None:
        callbacks.append(
            train.EarlyStopping(
                monitor="val_accuracy", patience=args.patience, restore_best_weights=True
            )
        )
    if args.checkpoint_dir is not None:
        callbacks.append(train.ModelCheckpoint(args.checkpoint_dir, monitor="val_accuracy"))

    print(
        f"jaxdl {jaxdl.__version__}: {args.model} on {dataset.name} "
        f"({len(x_fit)} train, {len(validation[0])} validation, {len(dataset.x_test)} test), "
        f"{args.optimizer} lr={learning_rate:g}, {args.epochs} epochs of batch "
        f"{args.batch_size}, on {jax.devices()[0].platform}"
    )
    started = time.perf_counter()
    train_state, history = train.fit(
        model,
        optimizer,
        (x_fit, y_fit),
        loss=losses.softmax_cross_entropy,
        epochs=args.epochs,
        batch_size=args.batch_size,
        key=key,
        validation_data=validation,
        callbacks=callbacks,
        progress=not args.no_progress,
        train_state=train_state,
        initial_epoch=initial_epoch,
        eval_batch_size=1000,
    )
    seconds = time.perf_counter() - started
    test = train.evaluate(
        model, train_state, dataset.test, loss=losses.softmax_cross_entropy, batch_size=1000
    )
    result = {
        "model": args.model,
        "dataset": dataset.name,
        "optimizer": args.optimizer,
        "learning_rate": learning_rate,
        "epochs_run": len(history),
        "seconds": round(seconds, 1),
        "test_loss": round(test["loss"], 5),
        "test_accuracy": round(test["accuracy"], 5),
    }
    print(
        f"test accuracy {test['accuracy']:.2%}, test loss {test['loss']:.4f} after "
        f"{len(history)} epochs in {seconds:.1f} s"
    )
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
    shapes = {
        "digits": (8, 8, 1),
        "mnist": (28, 28, 1),
        "fashion-mnist": (28, 28, 1),
        "mnist1d": (40, 1),
    }
    return shapes[name], 10


def _split_validation(dataset: data.Dataset, fraction: float, key: jax.Array):
    (x_fit, y_fit), (x_val, y_val) = data.train_val_split(
        dataset.x_train, dataset.y_train, fraction=fraction, key=jax.random.fold_in(key, 1)
    )
    return (x_fit, y_fit), (x_val, y_val)


def _writable_folder(option: str, folder: str) -> Path:
    """``folder``, created if missing; an ``OSError`` naming ``option`` unless it is a
    folder this process can create files in."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{option} {folder} is a file, not a folder.")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise PermissionError(f"{option} {folder} is not a writable folder ({reason}).") from None
    return path


def _check_checkpoint_dir(folder: str, *, resume: bool) -> None:
    """With ``--resume`` the folder must hold a checkpoint; without, it must hold none (a
    fresh run would mix its checkpoints with the old run's)."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"--checkpoint-dir {folder} is a file, not a folder.")
    steps = _checkpoint_steps(path)
    if resume and not steps:
        where = "does not exist" if not path.exists() else "holds no checkpoint"
        raise FileNotFoundError(
            f"--resume: --checkpoint-dir {folder} {where}; nothing to "
            "resume from (drop --resume to start a new run)."
        )
    if not resume and steps:
        raise FileExistsError(
            f"--checkpoint-dir {folder} already holds checkpoints (steps "
            f"{steps}): pass --resume to continue that run, or choose an "
            "empty folder."
        )
    _writable_folder("--checkpoint-dir", folder)


def _checkpoint_steps(path: Path) -> list[int]:
    if not path.is_dir():
        return []
    with checkpoint.Checkpointer(path) as checkpointer:
        return sorted(checkpointer.all_steps())


def _resume(args, model, optimizer, shape):
    spec = jax.ShapeDtypeStruct((1, *shape), jax.numpy.float32)
    params, state = model.init(jax.random.key(0), spec)
    like = train.TrainState.create(params=params, state=state, optimizer=optimizer)
    try:
        restored = checkpoint.restore(args.checkpoint_dir, like=like)
    except checkpoint.CheckpointError as error:
        if error.kind != "mismatch":
            raise
        raise ValueError(
            f"checkpoint {args.checkpoint_dir} step {error.step} does not match the model "
            f"(--model {args.model} --dataset {args.dataset} --optimizer {args.optimizer}): "
            f"{error.reason.removeprefix('does not match `like` (TrainState): ')}"
        ) from error
    epoch = restored.metadata.get("epoch", restored.step)
    if not is_int(epoch) or epoch < 0:
        raise ValueError(
            f"checkpoint {args.checkpoint_dir} step {restored.step} has epoch "
            f"{epoch!r} in its metadata, expected an int ≥ 0."
        )
    if epoch >= args.epochs:
        raise ValueError(
            f"checkpoint {args.checkpoint_dir} step {restored.step} is after "
            f"epoch {epoch}, so --epochs {args.epochs} leaves nothing to train; "
            f"pass --epochs above {epoch}."
        )
    print(f"resuming from {args.checkpoint_dir} after epoch {epoch}")
    return restored.tree, int(epoch)


def _int_option(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse ``type=``: an int in ``[minimum, maximum]``."""
    bounds = f"≥ {minimum}" if maximum is None else f"from {minimum} to {maximum}"

    def parse(text: str) -> int:
        try:
            value = check_int("jaxdl", "option", int(text), minimum=minimum)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an int {bounds}, got {text!r}") from None
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"expected an int {bounds}, got {text!r}")
        return value

    parse.__name__ = "int"
    return parse


def _float_option(low: float, high: float | None = None) -> Callable[[str], float]:
    """An argparse ``type=``: a finite float in the open interval ``(low, high)``."""
    bounds = f"> {low:g}" if high is None else f"between {low:g} and {high:g} (exclusive)"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > low and (high is None or value < high)):
            raise argparse.ArgumentTypeError(f"expected a number {bounds}, got {text!r}")
        return value

    parse.__name__ = "float"
    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jaxdl",
        description="jaxdl: train neural networks written as pure JAX functions.",
        epilog="Examples:\n"
        "  jaxdl train --model mlp --dataset digits --epochs 30\n"
        "  jaxdl train --model cnn --dataset mnist --data-dir ~/data/mnist --epochs 10\n"
        "  jaxdl summary --model cnn --dataset mnist\n"
        "  jaxdl study optimizers --quick\n\n"
        "Exit codes: 0 success, 1 failure while running (one line on stderr; --debug or\n"
        "JAXDL_DEBUG=1 shows the traceback), 2 usage error.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"jaxdl {jaxdl.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    fit = commands.add_parser(
        "train",
        help="train a model and report its test accuracy",
        description="Train a model on a data set; hold out part of the training set for "
        "validation after each epoch; report accuracy on the test set at the end.",
        epilog="The options, folders and the checkpoint to resume from are checked before "
        "any data is loaded. Exit codes: 0 success; 1 failure while running (one line on "
        "stderr; --debug or JAXDL_DEBUG=1 shows the traceback); 2 usage error.",
    )
    _model_arguments(fit)
    fit.add_argument(
        "--optimizer",
        choices=sorted(DEFAULT_LEARNING_RATES),
        default="adam",
        help="optimizer (default: adam)",
    )
    fit.add_argument(
        "--lr",
        type=_float_option(0.0),
        default=None,
        help="learning rate, > 0 (default: a per-optimizer value, adam 1e-3, sgd 0.1)",
    )
    fit.add_argument(
        "--epochs",
        type=_int_option(1),
        default=10,
        help="passes over the data, ≥ 1; with --resume, the total (default 10)",
    )
    fit.add_argument(
        "--batch-size", type=_int_option(1), default=128, help="samples per step, ≥ 1 (default 128)"
    )
    fit.add_argument(
        "--seed",
        type=_int_option(0, 2**63 - 1),
        default=0,
        help="random seed, ≥ 0: same seed, same result (default 0)",
    )
    fit.add_argument(
        "--data-dir",
        default=None,
        help="folder with the MNIST/Fashion-MNIST files (default: $JAXDL_DATA_DIR, "
        "then the download cache)",
    )
    fit.add_argument(
        "--validation-fraction",
        type=_float_option(0.0, 1.0),
        default=0.1,
        help="share of the training set held out for validation, in (0, 1) (default 0.1)",
    )
    fit.add_argument(
        "--patience",
        type=_int_option(0),
        default=None,
        help="stop after this many epochs (≥ 0) without a better validation accuracy",
    )
    fit.add_argument(
        "--checkpoint-dir",
        default=None,
        help="save a checkpoint after every epoch into this folder (it must hold "
        "no checkpoints, unless --resume)",
    )
    fit.add_argument(
        "--resume",
        action="store_true",
        help="continue from the latest checkpoint in --checkpoint-dir (an error "
        "if there is none, or if it is of another model or optimizer)",
    )
    fit.add_argument(
        "--output",
        default=None,
        help="folder to write history.csv and result.json into (created, and "
        "checked to be writable, before training)",
    )
    fit.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _debug_argument(fit)
    fit.set_defaults(run=_train, parser=fit)

    show = commands.add_parser("summary", help="print a model's layers and parameter counts")
    _model_arguments(show)
    _debug_argument(show)
    show.set_defaults(run=_summary)

    study = commands.add_parser(
        "study",
        help="run a study from experiments/ (e.g. the optimizer study)",
        description="Run a study of the source repository's experiments/ folder; the "
        "arguments after its name go to the study (see `jaxdl study optimizers --help`).",
    )
    _debug_argument(study)
    study.add_argument("name", choices=STUDIES, help="the study: optimizers")
    study.add_argument(
        "arguments",
        nargs=argparse.REMAINDER,
        help="arguments for the study, e.g. --quick or --dataset mnist",
    )
    study.set_defaults(run=_study)
    return parser


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        choices=MODELS,
        default="mlp",
        help="mlp (784-512-256-10 on MNIST), cnn (LeNet-style) or lstm "
        "(over image rows); default mlp",
    )
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        default="digits",
        help="digits (bundled, offline; the default), mnist, fashion-mnist, or mnist1d",
    )


def _debug_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on a failure, show the traceback instead of one line (also JAXDL_DEBUG=1)",
    )
