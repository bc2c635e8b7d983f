"""Tests for netfleet.models.summary: `model.summary()` prints the lecture's table (layer,
output shape, parameters of one member, totals), captured with `print_fn`."""

import re

import pytest

import netfleet.backend as K
from netfleet.layers import Activation, Dense, Input
from netfleet.models import Model, Sequential
from netfleet.optimizers import SGD


def _lines(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    return lines


def _rows(lines):
    """The table rows: (layer (type), output shape, params)."""
    return [
        tuple(re.split(r"\s{2,}", line.strip()))
        for line in lines
        if re.match(r"^\w+ \(\w+\)", line) and not line.startswith("Layer (type)")
    ]


@pytest.fixture
def lecture_model():
    K.clear_session()
    return Sequential(
        [Dense(32, input_shape=(784,)), Activation("relu"), Dense(10), Activation("softmax")]
    )


def test_lecture_summary_shows_each_layer_and_the_totals(lecture_model):
    lines = _lines(lecture_model)
    assert lines[0] == 'Model: "sequential"'
    assert _rows(lines) == [
        ("dense (Dense)", "(None, 32)", "25120"),
        ("activation (Activation)", "(None, 32)", "0"),
        ("dense_1 (Dense)", "(None, 10)", "330"),
        ("activation_1 (Activation)", "(None, 10)", "0"),
    ]
    assert "Total params: 25,450" in lines
    assert "Trainable params: 25,450" in lines
    assert "Non-trainable params: 0" in lines


def test_header_and_rules_have_the_line_length(lecture_model):
    for line_length in (65, 100):
        lines = _lines(lecture_model, line_length=line_length)
        header = next(line for line in lines if line.startswith("Layer (type)"))
        assert len(header) == line_length
        assert ("=" * line_length) in lines and ("_" * line_length) in lines
        assert all(len(line) <= line_length for line in lines)


def test_line_length_widens_the_columns(lecture_model):
    narrow = next(line for line in _lines(lecture_model) if line.startswith("dense "))
    wide = next(
        line for line in _lines(lecture_model, line_length=100) if line.startswith("dense ")
    )
    assert narrow.index("(None, 32)") < wide.index("(None, 32)")
    assert narrow.index("25120") < wide.index("25120")


def test_positions_place_the_columns(lecture_model):
    lines = _lines(lecture_model, line_length=80, positions=[0.5, 0.75, 1.0])
    row = next(line for line in lines if line.startswith("dense "))
    assert row.index("(None, 32)") == 40 and row.index("25120") == 60
    keras_four = _lines(lecture_model, line_length=80, positions=[0.5, 0.75, 0.9, 1.0])
    assert _rows(keras_four) == _rows(lines)


def test_print_fn_receives_every_line_and_print_is_the_default(lecture_model, capsys):
    lines = _lines(lecture_model)
    lecture_model.summary()
    assert capsys.readouterr().out.splitlines() == lines


def test_summary_of_the_notebook_models():
    model = Sequential()
    model.add(Dense(3, input_shape=(4,), activation="relu"))
    model.add(Dense(2, activation="relu"))
    model.add(Dense(1, activation="sigmoid"))
    lines = _lines(model)
    assert [row[2] for row in _rows(lines)] == ["15", "8", "3"]
    assert "Total params: 26" in lines


def test_functional_summary_lists_the_input_layer():
    K.clear_session()
    inputs = Input(shape=(13,))
    x = Dense(8, activation="relu")(inputs)
    x = Dense(5, activation="relu")(x)
    second_to_last = Dense(2, activation="relu")(x)
    outputs = Dense(3, activation="softmax")(second_to_last)
    lines = _lines(Model(inputs, outputs))
    assert lines[0] == 'Model: "functional"'
    assert _rows(lines)[0] == ("input_layer (InputLayer)", "(None, 13)", "0")
    assert [row[2] for row in _rows(lines)[1:]] == ["112", "45", "12", "9"]
    assert "Total params: 178" in lines


def test_non_trainable_layers_are_counted_apart():
    model = Sequential([Dense(4, input_shape=(3,), trainable=False), Dense(1)])
    lines = _lines(model)
    assert "Total params: 21" in lines
    assert "Trainable params: 5" in lines
    assert "Non-trainable params: 16" in lines


def test_a_fleet_summary_shows_one_members_parameters_and_the_member_count(lecture_model):
    lecture_model.compile(SGD(learning_rate=[0.01, 0.1]), "categorical_crossentropy")
    lines = _lines(lecture_model)
    assert "Total params: 25,450" in lines
    assert any(line.startswith("Members: 2") and "50,900 in all" in line for line in lines)


def test_summary_before_the_input_shape_is_known_raises_value_error():
    model = Sequential([Dense(32), Dense(10)])
    with pytest.raises(ValueError, match=r"summary\(\) needs the model's input shape"):
        model.summary()
