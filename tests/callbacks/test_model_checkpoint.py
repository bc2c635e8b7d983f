"""ModelCheckpoint: when it writes, what it writes (a fleet of per-member bests), file
names from the logs, batch-frequency saving, and a real save and load."""

import numpy as np
import pytest

import netfleet.saving
from netfleet.callbacks import LambdaCallback, ModelCheckpoint
from netfleet.errors import InvalidArgumentError
from netfleet.models import load_model
from netfleet.optimizers import Adam


def record_saves(monkeypatch, model):
    """Replace `save` / `save_weights` with stubs that write a marker file and record the
    path and the weights at that moment; returns the records."""
    saves = []

    def stub(kind):
        def save(path, overwrite=True):
            with open(path, "w") as file:
                file.write(kind)
            saves.append((kind, path, model.get_weights()))

        return save

    monkeypatch.setattr(model, "save", stub("model"))
    monkeypatch.setattr(model, "save_weights", stub("weights"))
    return saves


def fit(model, data, callbacks, epochs, **kwargs):
    x, y, x_val, y_val = data
    return model.fit(
        x,
        y,
        epochs=epochs,
        validation_data=(x_val, y_val),
        verbose=0,
        callbacks=callbacks,
        **kwargs,
    )


def improving_epochs(values):
    best, epochs = np.inf, []
    for epoch, value in enumerate(values):
        if value < best:
            best = value
            epochs.append(epoch)
    return epochs


def test_saves_every_epoch_with_formatted_names(tmp_path, monkeypatch, wines_split, wines_model):
    model = wines_model(Adam(learning_rate=0.1))
    saves = record_saves(monkeypatch, model)
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.2f}.nfm")
    history = fit(model, wines_split, [ModelCheckpoint(pattern)], epochs=3)
    expected = [
        str(tmp_path / f"ckpt-{epoch + 1:02d}-{loss:.2f}.nfm")
        for epoch, loss in zip(history.epoch, history.history["val_loss"])
    ]
    assert [path for _, path, _ in saves] == expected
    assert all(kind == "model" for kind, _, _ in saves)


def test_save_best_only_writes_only_on_improvement(tmp_path, monkeypatch, wines_split, wines_model):
    model = wines_model(Adam(learning_rate=0.1))
    saves = record_saves(monkeypatch, model)
    weights = []
    checkpoint = ModelCheckpoint(str(tmp_path / "{epoch}.nfm"), save_best_only=True)
    recorder = LambdaCallback(on_epoch_end=lambda epoch, logs: weights.append(model.get_weights()))
    history = fit(model, wines_split, [checkpoint, recorder], epochs=12)
    improved = improving_epochs(history.history["val_loss"])
    assert len(improved) < 12
    assert [path for _, path, _ in saves] == [str(tmp_path / f"{e + 1}.nfm") for e in improved]
    for (_, _, saved), epoch in zip(saves, improved):
        for a, b in zip(saved, weights[epoch]):
            np.testing.assert_array_equal(a, b)


def test_save_weights_only_calls_save_weights(tmp_path, monkeypatch, wines_split, wines_model):
    model = wines_model()
    saves = record_saves(monkeypatch, model)
    fit(model, wines_split, [ModelCheckpoint(tmp_path / "w.nfw", save_weights_only=True)], 2)
    assert [kind for kind, _, _ in saves] == ["weights", "weights"]


def test_fleet_file_holds_each_members_best_weights(
    tmp_path, monkeypatch, wines_split, wines_model
):
    model = wines_model(Adam(learning_rate=[0.02, 0.2]), seed=1)
    saves = record_saves(monkeypatch, model)
    weights = []
    checkpoint = ModelCheckpoint(tmp_path / "best.nfm", save_best_only=True)
    recorder = LambdaCallback(on_epoch_end=lambda epoch, logs: weights.append(model.get_weights()))
    history = fit(model, wines_split, [checkpoint, recorder], epochs=12)
    val_loss = np.array(history.history["val_loss"])
    any_improved = sorted(set(improving_epochs(val_loss[:, 0]) + improving_epochs(val_loss[:, 1])))
    assert len(saves) == len(any_improved) < 12
    for (_, _, saved), epoch in zip(saves, any_improved):
        for member in (0, 1):
            best = int(np.argmin(val_loss[: epoch + 1, member]))
            for a, b in zip(saved, weights[best]):
                np.testing.assert_array_equal(a[member], b[member])
    for a, b in zip(model.get_weights(), weights[-1]):
        np.testing.assert_array_equal(a, b)  # the model got its own weights back


def test_fleet_names_use_the_best_members_values(tmp_path, monkeypatch, wines_split, wines_model):
    model = wines_model(Adam(learning_rate=[0.001, 0.1]))
    saves = record_saves(monkeypatch, model)
    history = fit(model, wines_split, [ModelCheckpoint(tmp_path / "{val_loss:.4f}.nfm")], 2)
    best = np.min(history.history["val_loss"][-1])
    assert saves[-1][1] == str(tmp_path / f"{best:.4f}.nfm")


def test_save_freq_counts_batches(tmp_path, monkeypatch, wines_data, wines_model):
    x, y = wines_data
    model = wines_model()
    saves = record_saves(monkeypatch, model)
    checkpoint = ModelCheckpoint(tmp_path / "e{epoch}-b{batch}.nfm", save_freq=4)
    model.fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[checkpoint])
    steps = [f"e{(s - 1) // 6 + 1}-b{(s - 1) % 6 + 1}.nfm" for s in range(4, 19, 4)]
    assert [p for _, p, _ in saves] == [str(tmp_path / name) for name in steps]


def test_missing_monitor_warns_and_saves(tmp_path, monkeypatch, wines_data, wines_model):
    x, y = wines_data
    model = wines_model()
    saves = record_saves(monkeypatch, model)
    with pytest.warns(UserWarning, match="'val_loss', which is not in the logs"):
        model.fit(
            x,
            y,
            epochs=2,
            verbose=0,
            callbacks=[ModelCheckpoint(tmp_path / "m", save_best_only=True)],
        )
    assert len(saves) == 2


def test_unknown_format_field_says_which_fields_exist(tmp_path, wines_data, wines_model):
    x, y = wines_data
    with pytest.raises(KeyError, match="Available fields: epoch, loss, accuracy"):
        wines_model().fit(
            x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "{val_loss}")]
        )


def test_invalid_save_freq_is_rejected():
    with pytest.raises(InvalidArgumentError, match="'save_freq' argument of ModelCheckpoint"):
        ModelCheckpoint("m.nfm", save_freq="batch")


def test_verbose_messages_follow_keras(tmp_path, monkeypatch, capsys, wines_split, wines_model):
    model = wines_model(Adam(learning_rate=0.1))
    record_saves(monkeypatch, model)
    path = tmp_path / "m.nfm"
    fit(model, wines_split, [ModelCheckpoint(path, save_best_only=True, verbose=1)], 1)
    out = capsys.readouterr().out
    assert "Epoch 1: val_loss improved from None to " in out and f"saving model to {path}" in out


@pytest.mark.skipif(
    not hasattr(netfleet.saving, "save_model"), reason="netfleet.saving is not written yet"
)
def test_best_model_file_loads_back_with_equal_predictions(tmp_path, wines_split, wines_model):
    x_val = wines_split[2]
    model = wines_model(Adam(learning_rate=0.1))
    predictions = []
    recorder = LambdaCallback(
        on_epoch_end=lambda epoch, logs: predictions.append(model.predict(x_val, verbose=0))
    )
    path = tmp_path / "best.nfm"
    history = fit(model, wines_split, [ModelCheckpoint(path, save_best_only=True), recorder], 10)
    best = int(np.argmin(history.history["val_loss"]))
    loaded = load_model(path)
    np.testing.assert_allclose(loaded.predict(x_val, verbose=0), predictions[best], rtol=1e-6)


@pytest.mark.skipif(
    not hasattr(netfleet.saving, "save_model"), reason="netfleet.saving is not written yet"
)
def test_best_fleet_file_loads_back_with_each_members_best(tmp_path, wines_split, wines_model):
    x_val = wines_split[2]
    model = wines_model(Adam(learning_rate=[0.02, 0.2]), seed=1)
    predictions = []
    recorder = LambdaCallback(
        on_epoch_end=lambda epoch, logs: predictions.append(model.predict(x_val, verbose=0))
    )
    path = tmp_path / "best.nfm"
    history = fit(model, wines_split, [ModelCheckpoint(path, save_best_only=True), recorder], 12)
    best = np.argmin(np.array(history.history["val_loss"]), axis=0)
    loaded = load_model(path).predict(x_val, verbose=0)
    assert loaded.shape == (2, len(x_val), 3)
    for member in (0, 1):
        np.testing.assert_allclose(loaded[member], predictions[best[member]][member], rtol=1e-6)
