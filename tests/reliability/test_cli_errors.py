"""The ``jaxdl train`` command's failures: usage errors exit 2 before anything is loaded;
runtime failures print one line to stderr and exit 1, checked before the data is loaded."""

import os
import shutil
import subprocess
import sys

import jax
import pytest

from jaxdl import checkpoint, cli, optim
from jaxdl.train import TrainState

# A failed orbax read leaves background tasks that report when collected; the failure
# itself is what these tests check.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning"),
]

FAST = ["train", "--dataset", "digits", "--epochs", "2", "--no-progress"]


@pytest.fixture
def loads(monkeypatch):
    """The calls to the CLI's data loader (none are made: it is replaced by a recorder)."""
    calls = []

    def record(args):
        calls.append(args.dataset)
        raise RuntimeError("the test stops here: data would be loaded")

    monkeypatch.setattr(cli, "_load", record)
    return calls


def _mlp_checkpoint(folder, *, epoch=1):
    """A checkpoint of the CLI's default run (mlp on digits, adam), as if after ``epoch``."""
    network = cli.build_model("mlp", (8, 8, 1), 10)
    params, state = network.init(jax.random.key(0), jax.ShapeDtypeStruct((1, 8, 8, 1), "float32"))
    train_state = TrainState.create(params=params, state=state, optimizer=optim.adam(1e-3))
    checkpoint.save(
        folder, train_state, step=epoch, key=jax.random.key(1), metadata={"epoch": epoch}
    )
    return folder / str(epoch)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("jaxdl train: error: ")
    return err.removeprefix("jaxdl train: error: ").strip()


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--epochs", "-1", "argument --epochs: expected an int ≥ 1, got '-1'"),
        ("--epochs", "0", "argument --epochs: expected an int ≥ 1, got '0'"),
        ("--epochs", "2.5", "argument --epochs: expected an int ≥ 1, got '2.5'"),
        ("--batch-size", "0", "argument --batch-size: expected an int ≥ 1, got '0'"),
        ("--lr", "-1", "argument --lr: expected a number > 0, got '-1'"),
        ("--lr", "0", "argument --lr: expected a number > 0, got '0'"),
        ("--lr", "nan", "argument --lr: expected a number > 0, got 'nan'"),
        ("--lr", "inf", "argument --lr: expected a number > 0, got 'inf'"),
        ("--lr", "fast", "argument --lr: expected a number > 0, got 'fast'"),
        (
            "--validation-fraction",
            "1.5",
            "argument --validation-fraction: expected a number between 0 and 1 (exclusive), "
            "got '1.5'",
        ),
        (
            "--validation-fraction",
            "0",
            "argument --validation-fraction: expected a number between 0 and 1 (exclusive), "
            "got '0'",
        ),
        (
            "--validation-fraction",
            "1",
            "argument --validation-fraction: expected a number between 0 and 1 (exclusive), "
            "got '1'",
        ),
        ("--patience", "-3", "argument --patience: expected an int ≥ 0, got '-3'"),
        (
            "--seed",
            "-1",
            "argument --seed: expected an int from 0 to 9223372036854775807, got '-1'",
        ),
        (
            "--seed",
            str(2**63),
            f"argument --seed: expected an int from 0 to 9223372036854775807, got '{2**63}'",
        ),
    ],
)
def test_bad_option_values_are_usage_errors(capsys, loads, option, value, expected):
    with pytest.raises(SystemExit) as info:
        cli.main([*FAST, option, value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: jaxdl train") and err.strip().endswith(
        f"jaxdl train: error: {expected}"
    )
    assert loads == []


def test_resume_without_checkpoint_dir_is_a_usage_error(capsys, loads):
    with pytest.raises(SystemExit) as info:
        cli.main([*FAST, "--resume"])
    assert info.value.code == 2
    assert "--resume needs --checkpoint-dir" in capsys.readouterr().err
    assert loads == []


@pytest.mark.parametrize("where", ["file", "below-a-file"])
def test_an_output_that_cannot_be_a_folder_fails_before_loading(tmp_path, capsys, loads, where):
    target = tmp_path / "taken"
    target.write_text("not a folder")
    output = target if where == "file" else target / "results"
    assert cli.main([*FAST, "--output", str(output)]) == 1
    message = _one_line_error(capsys)
    if where == "file":
        assert message == f"--output {output} is a file, not a folder."
    else:
        assert message == f"--output {output} is not a writable folder (Not a directory)."
    assert loads == []


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions, which root bypasses"
)
def test_a_read_only_output_folder_fails_before_loading(tmp_path, capsys, loads):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        assert cli.main([*FAST, "--output", str(folder)]) == 1
    finally:
        folder.chmod(0o700)
    assert _one_line_error(capsys).startswith(f"--output {folder} is not a writable folder")
    assert loads == []


@pytest.mark.parametrize("state", ["missing", "empty"])
def test_resume_from_a_folder_without_checkpoints_fails(tmp_path, capsys, loads, state):
    folder = tmp_path / "ckpt"
    if state == "empty":
        folder.mkdir()
    assert cli.main([*FAST, "--checkpoint-dir", str(folder), "--resume"]) == 1
    where = "does not exist" if state == "missing" else "holds no checkpoint"
    assert _one_line_error(capsys) == (
        f"--resume: --checkpoint-dir {folder} {where}; nothing to resume from (drop --resume "
        "to start a new run)."
    )
    assert loads == []


def test_a_checkpoint_dir_that_is_a_file_fails(tmp_path, capsys, loads):
    taken = tmp_path / "ckpt"
    taken.write_text("")
    assert cli.main([*FAST, "--checkpoint-dir", str(taken)]) == 1
    assert _one_line_error(capsys) == f"--checkpoint-dir {taken} is a file, not a folder."
    assert loads == []


def test_a_fresh_run_into_a_folder_of_checkpoints_fails(tmp_path, capsys, loads):
    _mlp_checkpoint(tmp_path)
    assert cli.main([*FAST, "--checkpoint-dir", str(tmp_path)]) == 1
    assert _one_line_error(capsys).startswith(
        f"--checkpoint-dir {tmp_path} already holds checkpoints (steps [1]): pass --resume"
    )
    assert loads == []


@pytest.mark.parametrize(
    ("options", "detail"),
    [
        (["--model", "cnn"], "the structures differ (20 saved leaves, 26 in `like`)"),
        (["--optimizer", "sgd"], "the structures differ (20 saved leaves, 7 in `like`)"),
    ],
    ids=["other-model", "other-optimizer"],
)
def test_a_checkpoint_of_another_model_fails_with_one_line(
    tmp_path, capsys, loads, options, detail
):
    _mlp_checkpoint(tmp_path)
    assert cli.main([*FAST, *options, "--checkpoint-dir", str(tmp_path), "--resume"]) == 1
    message = _one_line_error(capsys)
    assert message.startswith(f"checkpoint {tmp_path} step 1 does not match the model (--model")
    assert detail in message
    assert loads == []


def test_a_corrupt_checkpoint_fails_with_one_line(tmp_path, capsys, loads):
    step = _mlp_checkpoint(tmp_path)
    (step / "metadata" / "metadata").write_text('{"epoch": 1')
    assert cli.main([*FAST, "--checkpoint-dir", str(tmp_path), "--resume"]) == 1
    assert _one_line_error(capsys).startswith(
        f"checkpoint {tmp_path} step 1 has an unreadable metadata file: JSONDecodeError"
    )
    assert loads == []


def test_resuming_with_no_epochs_left_fails(tmp_path, capsys, loads):
    _mlp_checkpoint(tmp_path, epoch=2)
    assert cli.main([*FAST, "--checkpoint-dir", str(tmp_path), "--resume"]) == 1
    assert _one_line_error(capsys) == (
        f"checkpoint {tmp_path} step 2 is after epoch 2, so --epochs 2 leaves nothing to "
        "train; pass --epochs above 2."
    )
    assert loads == []


def test_a_matching_checkpoint_passes_the_checks_and_data_is_loaded(tmp_path, capsys, loads):
    _mlp_checkpoint(tmp_path)
    assert cli.main([*FAST, "--checkpoint-dir", str(tmp_path), "--resume"]) == 1
    # the recorder stands for the data loader: it is reached, after the resume message
    assert loads == ["digits"]
    assert "resuming from" in capsys.readouterr().out


def test_an_unexpected_error_is_one_line_naming_its_type(capsys, loads):
    assert cli.main(FAST) == 1
    assert _one_line_error(capsys) == (
        "RuntimeError: the test stops here: data would be loaded (run with --debug for the "
        "traceback)"
    )


@pytest.mark.parametrize("how", ["option", "environment"])
def test_debug_shows_the_traceback(monkeypatch, loads, how):
    if how == "environment":
        monkeypatch.setenv("JAXDL_DEBUG", "1")
    with pytest.raises(RuntimeError, match="data would be loaded"):
        cli.main([*FAST, *(["--debug"] if how == "option" else [])])


def test_an_interrupt_exits_130_with_one_line(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_load", interrupted)
    assert cli.main(FAST) == 130
    assert capsys.readouterr().err == "jaxdl train: interrupted\n"


@pytest.mark.slow  # a process of its own: about 5 s, most of it importing JAX and orbax
def test_the_command_prints_one_line_for_a_damaged_checkpoint(tmp_path):
    """As a process (the interpreter's shutdown included): orbax's background threads
    report the failed read again, and none of that reaches stderr."""
    step = _mlp_checkpoint(tmp_path)
    shutil.rmtree(step / "state" / "d")
    (step / "state" / "manifest.ocdbt").unlink()
    done = subprocess.run(
        [sys.executable, "-m", "jaxdl", *FAST, "--checkpoint-dir", str(tmp_path), "--resume"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"jaxdl train: error: checkpoint {tmp_path} step 1 ")
