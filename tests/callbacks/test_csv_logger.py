"""CSVLogger: the file read back with pandas equals History, for a model and a fleet."""

import numpy as np
import pandas as pd
import pytest

from netfleet.callbacks import CSVLogger, EarlyStopping, LambdaCallback
from netfleet.optimizers import SGD, Adam


def optimizer_for(members):
    rates = [0.01, 0.05, 0.2]
    return Adam(learning_rate=rates[0] if members == 1 else rates[:members])


def test_file_equals_history(tmp_path, members, wines_split, wines_model):
    x, y, x_val, y_val = wines_split
    path = tmp_path / "log.csv"
    model = wines_model(optimizer_for(members))
    history = model.fit(
        x, y, epochs=3, validation_data=(x_val, y_val), verbose=0, callbacks=[CSVLogger(path)]
    )
    frame = pd.read_csv(path)
    keys = sorted(history.history)
    if members == 1:
        assert list(frame.columns) == ["epoch", *keys]
        expected = history.to_frame().reset_index()[["epoch", *keys]]
        pd.testing.assert_frame_equal(frame, expected, check_dtype=False)
        return
    assert list(frame.columns) == ["epoch", "member", "learning_rate", *keys]
    for member in range(members):
        rows = frame[frame["member"] == member]
        single = history.member(member)
        assert rows["epoch"].tolist() == single.epoch
        assert rows["learning_rate"].unique().tolist() == [[0.01, 0.05, 0.2][member]]
        for key in keys:
            np.testing.assert_allclose(rows[key], single.history[key], rtol=1e-12)


def test_stopped_members_write_no_rows(tmp_path, banknotes_data, banknotes_model):
    x, y = banknotes_data
    path = tmp_path / "log.csv"
    model = banknotes_model(SGD(learning_rate=[1e-4, 0.5]))
    stopper = EarlyStopping(monitor="loss", patience=1, min_delta=1e-3)
    history = model.fit(
        x, y, epochs=5, batch_size=256, verbose=0, callbacks=[stopper, CSVLogger(path)]
    )
    frame = pd.read_csv(path)
    assert not frame.isna().any().any()
    assert frame[frame["member"] == 0]["epoch"].tolist() == history.member(0).epoch
    assert len(history.member(0).epoch) < 5 == len(frame[frame["member"] == 1])


def test_append_keeps_one_header_and_overwrite_starts_again(tmp_path, wines_data, wines_model):
    x, y = wines_data
    path = tmp_path / "log.csv"
    model = wines_model()
    logger = CSVLogger(path, append=True)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[logger])
    model.fit(x, y, epochs=3, verbose=0, callbacks=[logger])
    assert pd.read_csv(path)["epoch"].tolist() == [0, 1, 0, 1, 2]
    model.fit(x, y, epochs=1, verbose=0, callbacks=[CSVLogger(path)])
    assert pd.read_csv(path)["epoch"].tolist() == [0]


def test_separator_and_flush_every_epoch(tmp_path, wines_data, wines_model):
    x, y = wines_data
    path = tmp_path / "log.tsv"
    seen = []
    peek = LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(len(pd.read_csv(path, sep="\t")))
    )
    wines_model().fit(x, y, epochs=3, verbose=0, callbacks=[CSVLogger(path, separator="\t"), peek])
    assert seen == [1, 2, 3]
    assert path.read_text().splitlines()[0].split("\t") == ["epoch", "accuracy", "loss"]


@pytest.mark.parametrize("append", [False, True])
def test_file_is_closed_after_training(tmp_path, append, wines_data, wines_model):
    x, y = wines_data
    logger = CSVLogger(tmp_path / "log.csv", append=append)
    wines_model().fit(x, y, epochs=1, verbose=0, callbacks=[logger])
    assert logger._file.closed
