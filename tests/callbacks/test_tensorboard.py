"""TensorBoard: real event files, read back with TensorBoard's own EventAccumulator."""

import os
import subprocess
import sys

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from netfleet.callbacks import EarlyStopping, TensorBoard
from netfleet.errors import InvalidArgumentError
from netfleet.optimizers import SGD, Adam


def read(folder):
    """Every event of the files in `folder` (no sampling)."""
    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0})
    accumulator.Reload()
    return accumulator


def scalars(folder, tag):
    """(steps, values) of `tag` in the event files of `folder`."""
    events = read(folder).Scalars(tag)
    return [e.step for e in events], np.array([e.value for e in events])


def tags(folder, kind="scalars"):
    return set(read(folder).Tags()[kind])


def optimizer_for(members):
    rates = [0.01, 0.05, 0.2]
    return Adam(learning_rate=rates[0] if members == 1 else rates[:members])


def test_writes_keras_tags_steps_and_history_values(tmp_path, members, wines_split, wines_model):
    x, y, x_val, y_val = wines_split
    model = wines_model(optimizer_for(members))
    callback = TensorBoard(log_dir=tmp_path)
    history = model.fit(
        x, y, epochs=3, validation_data=(x_val, y_val), verbose=0, callbacks=[callback]
    )
    runs = (
        [tmp_path] if members == 1 else [tmp_path / f"learning_rate={r}" for r in [0.01, 0.05, 0.2]]
    )
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["train", "validation"] if members == 1 else [r.name for r in runs]
    )
    for member, run in enumerate(runs):
        assert tags(run / "train") == {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"}
        assert tags(run / "validation") == {"epoch_loss", "epoch_accuracy"}
        for split, prefix in (("train", ""), ("validation", "val_")):
            for name in ("loss", "accuracy"):
                steps, values = scalars(run / split, f"epoch_{name}")
                expected = np.array(history.history[prefix + name]).reshape(3, -1)[:, member]
                assert steps == [0, 1, 2]
                np.testing.assert_allclose(values, expected, rtol=1e-6)
        _, rates = scalars(run / "train", "epoch_learning_rate")
        np.testing.assert_allclose(rates, [[0.01, 0.05, 0.2][member]] * 3, rtol=1e-6)
    assert callback._writers == {}  # closed at the end of training


def test_a_stopped_member_writes_nothing_more(tmp_path, banknotes_data, banknotes_model):
    x, y = banknotes_data
    model = banknotes_model(SGD(learning_rate=[1e-4, 0.5]))
    stopper = EarlyStopping(monitor="loss", patience=1, min_delta=1e-3)
    model.fit(x, y, epochs=5, batch_size=256, verbose=0, callbacks=[stopper, TensorBoard(tmp_path)])
    stopped = int(stopper.stopped_epochs[0])
    assert 0 < stopped < 4
    steps, _ = scalars(tmp_path / "learning_rate=0.0001" / "train", "epoch_loss")
    assert steps == list(range(stopped + 1))
    steps, _ = scalars(tmp_path / "learning_rate=0.5" / "train", "epoch_loss")
    assert steps == list(range(5))


def test_histograms_and_batch_scalars(tmp_path, wines_data, wines_model):
    x, y = wines_data
    model = wines_model()
    callback = TensorBoard(tmp_path, histogram_freq=2, update_freq="batch", write_graph=True)
    model.fit(x, y, epochs=3, batch_size=64, verbose=0, callbacks=[callback])
    expected = {f"{layer.name}/{w}/histogram" for layer in model.layers for w in ("kernel", "bias")}
    assert tags(tmp_path / "train", "histograms") == expected
    histograms = read(tmp_path / "train").Histograms(f"{model.layers[0].name}/kernel/histogram")
    assert [e.step for e in histograms] == [0, 2]
    steps, _ = scalars(tmp_path / "train", "batch_loss")
    assert steps == list(range(1, 10))  # 3 batches an epoch
    assert "model_summary/text_summary" in tags(tmp_path / "train", "tensors")


def test_invalid_update_freq_is_rejected():
    with pytest.raises(InvalidArgumentError, match="'update_freq' argument of TensorBoard"):
        TensorBoard(update_freq="step")


def test_importing_netfleet_does_not_import_tensorboard():
    code = "import sys, netfleet; print('torch.utils.tensorboard' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
