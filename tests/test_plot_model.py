"""Tests for netfleet.utils.plot_model and model_to_dot: the graph drawn, the image file, and
the errors for a missing optional dependency or a bad file name.

Tests that draw need pydot and Graphviz's `dot`; they are skipped where either is missing.
"""

import importlib.util
import shutil
import sys

import pytest

from netfleet.errors import InvalidArgumentError, NotBuiltError
from netfleet.layers import Dense, Dropout, Input
from netfleet.models import Model, Sequential
from netfleet.utils import model_to_dot, model_visualization, plot_model

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
needs_graphviz = pytest.mark.skipif(
    importlib.util.find_spec("pydot") is None or shutil.which("dot") is None,
    reason="plot_model needs pydot and Graphviz's dot (pip install pydot; apt-get install graphviz)",
)


@pytest.fixture
def sequential():
    return Sequential(
        [Dense(8, activation="relu", input_shape=(4,), name="hidden"), Dropout(0.5), Dense(1)]
    )


@pytest.fixture
def two_branch():
    """One input feeding two Dense branches, each an output of the model."""
    features = Input((4,), name="features")
    wide = Dense(3, name="wide")(features)
    deep = Dense(8, activation="relu", name="deep")(features)
    deep_out = Dense(2, activation="softmax", name="deep_out")(deep)
    return Model(features, [wide, deep_out])


def _boxes(dot):
    """The layers' boxes of a pydot graph (not its `node [...]` defaults)."""
    return [node for node in dot.get_nodes() if node.get_label()]


def _edges(dot):
    """The arrows of a pydot graph as (source layer name, target layer name) pairs."""
    names = {node.get_name(): _layer_name(node) for node in _boxes(dot)}
    return sorted((names[e.get_source()], names[e.get_destination()]) for e in dot.get_edges())


def _layer_name(node):
    label = node.get_label()
    return label[label.index("<b>") + 3 : label.index("</b>")]


@needs_graphviz
def test_sequential_model_renders_a_png(sequential, tmp_path):
    file = tmp_path / "model.png"
    plot_model(sequential, to_file=file, show_shapes=True)
    data = file.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    assert list(tmp_path.iterdir()) == [file]  # no temporary file left


@needs_graphviz
def test_sequential_graph_is_a_chain_of_its_layers(sequential):
    hidden, dropout, output = (layer.name for layer in sequential.layers)
    dot = model_to_dot(sequential)
    assert _edges(dot) == sorted([(hidden, dropout), (dropout, output)])
    assert len(_boxes(dot)) == 3  # like Keras 3, a Sequential model draws no input box


@needs_graphviz
def test_two_branch_functional_model_renders_a_png_with_both_branches(two_branch, tmp_path):
    file = tmp_path / "branches.png"
    plot_model(two_branch, to_file=str(file), show_shapes=True, dpi=72)
    assert file.read_bytes().startswith(PNG_SIGNATURE)
    dot = model_to_dot(two_branch)
    assert _edges(dot) == [("deep", "deep_out"), ("features", "deep"), ("features", "wide")]


@needs_graphviz
def test_labels_show_what_is_asked(two_branch):
    plain = {_layer_name(n): n.get_label() for n in _boxes(model_to_dot(two_branch))}
    assert "(Dense)" in plain["deep"] and "shape" not in plain["deep"]
    detailed = model_to_dot(
        two_branch,
        show_shapes=True,
        show_dtype=True,
        show_layer_activations=True,
        show_trainable=True,
    )
    labels = {_layer_name(n): n.get_label() for n in _boxes(detailed)}
    assert "Input shape: <b>(None, 4)</b>" in labels["deep"]
    assert "Output shape: <b>(None, 8)</b>" in labels["deep"]
    assert "Output shape: <b>(None, 4)</b>" in labels["features"]
    assert "Activation: <b>relu</b>" in labels["deep"]
    assert "Output dtype: <b>float32</b>" in labels["deep_out"]
    assert "<b>Trainable</b>" in labels["wide"] and "Trainable" not in labels["features"]
    unnamed = model_to_dot(two_branch, show_layer_names=False)
    assert all("deep" not in n.get_label() for n in _boxes(unnamed))


@needs_graphviz
def test_file_without_extension_is_png_and_other_formats_follow_the_extension(sequential, tmp_path):
    plot_model(sequential, to_file=tmp_path / "graph")
    assert (tmp_path / "graph").read_bytes().startswith(PNG_SIGNATURE)
    plot_model(sequential, to_file=tmp_path / "graph.svg", rankdir="LR")
    assert b"<svg" in (tmp_path / "graph.svg").read_bytes()


@needs_graphviz
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    sequential, tmp_path, monkeypatch
):
    file = tmp_path / "model.png"
    file.write_bytes(b"old image")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model_visualization.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        plot_model(sequential, to_file=file)
    assert file.read_bytes() == b"old image"
    assert list(tmp_path.iterdir()) == [file]


def test_missing_pydot_says_what_to_install(sequential, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pydot", None)  # makes `import pydot` fail
    with pytest.raises(ImportError, match="needs pydot") as info:
        plot_model(sequential, to_file=tmp_path / "model.png")
    assert "pip install pydot" in str(info.value)
    assert "apt-get install graphviz" in str(info.value)
    assert not (tmp_path / "model.png").exists()


@pytest.mark.skipif(importlib.util.find_spec("pydot") is None, reason="pydot is not installed")
def test_missing_dot_program_says_what_to_install(sequential, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ImportError, match="Graphviz's 'dot' program") as info:
        plot_model(sequential, to_file=tmp_path / "model.png")
    assert "apt-get install graphviz" in str(info.value)


def test_unknown_extension_is_refused_before_drawing(sequential, tmp_path):
    with pytest.raises(InvalidArgumentError, match="'to_file' argument of plot_model") as info:
        plot_model(sequential, to_file=tmp_path / "model.docx")
    assert ".png" in str(info.value) and "model.docx" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_bad_rankdir_and_dpi_are_refused(sequential, tmp_path):
    with pytest.raises(InvalidArgumentError, match="'rankdir' argument of plot_model"):
        plot_model(sequential, to_file=tmp_path / "m.png", rankdir="UP")
    with pytest.raises(InvalidArgumentError, match="'dpi' argument of plot_model"):
        plot_model(sequential, to_file=tmp_path / "m.png", dpi=0)


def test_an_unbuilt_model_is_refused():
    with pytest.raises(NotBuiltError, match="input shape"):
        plot_model(Sequential([Dense(2)]))


@needs_graphviz
def test_a_model_that_is_no_graph_of_layer_calls_is_one_box(tmp_path):
    class Subclassed:
        """Built, with layers, but no recorded graph: how Keras draws a subclassed model."""

        name, built, layers = "custom", True, []

    dot = model_to_dot(Subclassed())
    assert [_layer_name(node) for node in _boxes(dot)] == ["custom"] and dot.get_edges() == []
    plot_model(Subclassed(), to_file=tmp_path / "custom.png")
    assert (tmp_path / "custom.png").read_bytes().startswith(PNG_SIGNATURE)
