import csv
import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import pytest

from jaxdl import cli

FAST = ["--dataset", "digits", "--epochs", "3", "--batch-size", "64", "--no-progress"]


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "train" in out and "summary" in out and "Exit codes" in out


def test_no_command_prints_help_and_exits_2(capsys):
    assert cli.main([]) == 2
    assert "usage: jaxdl" in capsys.readouterr().out


def test_unknown_choice_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--model", "transformer"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'transformer'" in capsys.readouterr().err


def test_summary_prints_the_mnist_mlp_counts(capsys):
    assert cli.main(["summary", "--model", "mlp", "--dataset", "mnist"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1].split()
    assert last == ["Total", "535,040", "778", "535,818"]


@pytest.mark.parametrize("model", ["mlp", "cnn", "lstm"])
def test_train_runs_each_model_on_digits_and_writes_results(tmp_path, capsys, model):
    assert cli.main(["train", "--model", model, *FAST, "--output", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["model"] == model and result["epochs_run"] == 3
    assert result["test_accuracy"] > 0.3  # ten classes: chance is 0.1
    rows = list(csv.DictReader((tmp_path / "history.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert "test accuracy" in capsys.readouterr().out


def test_train_is_reproducible_for_a_seed(tmp_path):
    for run in ("a", "b"):
        cli.main(["train", *FAST, "--seed", "3", "--output", str(tmp_path / run)])
    first, second = (json.loads((tmp_path / r / "result.json").read_text()) for r in "ab")
    assert first["test_loss"] == second["test_loss"]


def test_train_resumes_from_its_checkpoint(tmp_path, capsys):
    ckpt = str(tmp_path / "ckpt")
    assert (
        cli.main(["train", *FAST[:2], "--epochs", "2", "--no-progress", "--checkpoint-dir", ckpt])
        == 0
    )
    assert (
        cli.main(
            [
                "train",
                *FAST[:2],
                "--epochs",
                "3",
                "--no-progress",
                "--checkpoint-dir",
                ckpt,
                "--resume",
                "--output",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert "resuming from" in capsys.readouterr().out
    assert json.loads((tmp_path / "result.json").read_text())["epochs_run"] == 1


def test_resume_without_checkpoint_dir_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", *FAST, "--resume"])
    assert exit_info.value.code == 2
    assert "--resume needs --checkpoint-dir" in capsys.readouterr().err


def test_missing_data_folder_fails_with_a_message(tmp_path, capsys):
    missing = str(tmp_path / "nowhere")
    assert cli.main(["train", "--dataset", "mnist", "--data-dir", missing, "--no-progress"]) == 1
    assert "nowhere" in capsys.readouterr().err


def test_python_dash_m_runs_the_same_command():
    done = subprocess.run(
        [sys.executable, "-m", "jaxdl", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("jaxdl ")


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist", "mnist1d"])
def test_train_mlp_one_epoch_on_each_dataset(dataset, tmp_path, request):
    arguments = [
        "train",
        "--model",
        "mlp",
        "--dataset",
        dataset,
        "--epochs",
        "1",
        "--batch-size",
        "256",
        "--no-progress",
        "--output",
        str(tmp_path),
    ]
    if dataset != "mnist1d":
        folder = request.getfixturevalue(dataset.replace("-", "_") + "_dir")
        arguments += ["--data-dir", str(folder)]
    assert cli.main(arguments) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["dataset"] == dataset
    assert result["test_accuracy"] > (0.25 if dataset == "mnist1d" else 0.7)


@pytest.mark.parametrize("model", cli.MODELS)
@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (40, 1)])
def test_every_model_builds_for_every_dataset_shape(model, shape):
    network = cli.build_model(model, shape, 10)
    params, state = network.init(jax.random.key(0), jax.ShapeDtypeStruct((1, *shape), jnp.float32))
    y, _ = network.apply(params, state, jnp.zeros((2, *shape)))
    assert y.shape == (2, 10)


def test_study_runs_the_experiment_script():
    done = subprocess.run(
        [sys.executable, "-m", "jaxdl", "study", "optimizers", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and "--quick" in done.stdout
