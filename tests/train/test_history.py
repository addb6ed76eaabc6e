import csv
import json
import math

from jaxdl.train import History


def _history():
    h = History()
    h.append(0, {"loss": 1.5, "accuracy": 0.25})
    h.append(1, {"loss": 0.75, "accuracy": 0.5, "val_loss": 0.8})
    return h


def test_history_keeps_one_value_per_epoch():
    h = _history()
    assert h["loss"] == [1.5, 0.75] and h.history["accuracy"] == [0.25, 0.5]
    assert h.epoch == [0, 1] and len(h) == 2
    assert math.isnan(h["val_loss"][0]) and h["val_loss"][1] == 0.8


def test_history_to_csv(tmp_path):
    rows = list(csv.reader(_history().to_csv(tmp_path / "h.csv").open()))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_loss"]
    assert [float(v) for v in rows[2]] == [1, 0.5, 0.75, 0.8]


def test_history_to_json(tmp_path):
    data = json.loads(_history().to_json(tmp_path / "h.json").read_text())
    assert data["epoch"] == [0, 1]
    assert data["history"]["loss"] == [1.5, 0.75]
    assert data["history"]["val_loss"] == [None, 0.8]
