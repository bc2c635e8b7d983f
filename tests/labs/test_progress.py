"""Progress prints runs, members and the time left on a terminal, and nothing elsewhere."""

import io

import numpy as np

from netfleet.fleet import sweep
from netfleet.labs import Progress
from netfleet.layers import Dense
from netfleet.models import Sequential


class Terminal(io.StringIO):
    def isatty(self):
        return True


def _sweep(progress):
    X = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    sweep(
        lambda: Sequential([Dense(1, input_shape=(3,), activation="sigmoid")]),
        {"learning_rate": [0.01, 0.1, 1.0]},
        X,
        y,
        compile={"optimizer": "sgd", "loss": "binary_crossentropy"},
        fit={"epochs": 2, "callbacks": [progress.callback(3)]},
    )


def test_a_terminal_sees_runs_members_and_time_left():
    stream = Terminal()
    progress = Progress(stream)
    progress.step("sweeping")
    _sweep(progress)
    text = stream.getvalue()
    assert "sweeping" in text
    assert "run 1: 3 members, epoch 2/2 · members 3/3 · 0 s left" in text


def test_nothing_is_printed_when_output_is_not_a_terminal():
    stream = io.StringIO()
    progress = Progress(stream)
    progress.step("sweeping")
    _sweep(progress)
    assert stream.getvalue() == ""
