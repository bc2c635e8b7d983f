"""`plot_model` and `model_to_dot`: an image of a model's graph of layers, as Keras draws it.

As in Keras, the graph is built with pydot and laid out by Graphviz's `dot` program. Both are
optional (`pip install "netfleet[plot]"`, and Graphviz from the system's packages) and are
looked for only when a graph is drawn. The model is read through its public interface alone
(`built`, `layers`, `inputs` and `nodes`, each node with its `layer`, `inbound` and
`outputs` symbolic tensors), so this module imports neither `models` nor `layers`.
"""

import html
import os
import shutil
import subprocess
import uuid

from netfleet.errors import InvalidTypeError, NotBuiltError, argument_error

__all__ = ["model_to_dot", "plot_model"]

# Graphviz output formats, by the file extension that asks for them.
_FORMATS = ("png", "jpg", "jpeg", "gif", "svg", "pdf", "ps", "dot")
_RANKDIRS = ("TB", "LR", "BT", "RL")
_INSTALL = (
    "install pydot (pip install pydot, or pip install 'netfleet[plot]') and Graphviz, which "
    "provides the 'dot' program (apt-get install graphviz, brew install graphviz or conda "
    "install graphviz; see https://graphviz.org/download/)"
)


def plot_model(
    model,
    to_file="model.png",
    show_shapes=False,
    show_dtype=False,
    show_layer_names=True,
    rankdir="TB",
    expand_nested=False,
    dpi=200,
    show_layer_activations=False,
    show_trainable=False,
):
    """Draws the graph of `model`'s layers into the image file `to_file`.

    Each layer is a box (its name and class, optionally its shapes, dtype, activation and
    whether it trains) with an arrow from each layer it reads. The file is written atomically.

    Args:
        model: A built model (a `Sequential` or a functional `Model`).
        to_file: The image file; its extension picks the format: `.png`, `.jpg`, `.jpeg`,
            `.gif`, `.svg`, `.pdf`, `.ps` or `.dot`, PNG without one. Defaults to
            `"model.png"`.
        show_shapes: Show each layer's input and output shapes. Defaults to `False`.
        show_dtype: Show each layer's output dtype. Defaults to `False`.
        show_layer_names: Show each layer's name beside its class. Defaults to `True`.
        rankdir: `"TB"` draws top to bottom, `"LR"` left to right (`"BT"`, `"RL"` reversed).
            Defaults to `"TB"`.
        expand_nested: Keras' switch to draw nested models as clusters, accepted so Keras
            code runs; netfleet models hold no nested models, so there is nothing to expand.
            Defaults to `False`.
        dpi: Resolution of raster images, in dots per inch. Defaults to `200`.
        show_layer_activations: Show the activation of layers that have one. Defaults to
            `False`.
        show_trainable: Show whether each layer with weights trains. Defaults to `False`.

    Returns:
        An `IPython.display.Image` (or `SVG`) of the file where IPython is installed, so the
        image shows in a notebook, else None.

    Raises:
        NotBuiltError: The model's input shape is not known yet.
        InvalidArgumentError: `to_file` has an unknown extension, or `rankdir` or `dpi` is
            not one of the values above.
        ImportError: pydot or Graphviz's `dot` program is missing; the message says what to
            install.

    Example:
        >>> import netfleet
        >>> model = netfleet.Sequential([netfleet.layers.Dense(2, input_shape=(3,))])
        >>> netfleet.utils.plot_model(model, "model.png", show_shapes=True)  # doctest: +SKIP
    """
    fmt = _format(to_file)
    dot = model_to_dot(
        model,
        show_shapes=show_shapes,
        show_dtype=show_dtype,
        show_layer_names=show_layer_names,
        rankdir=rankdir,
        expand_nested=expand_nested,
        dpi=dpi,
        show_layer_activations=show_layer_activations,
        show_trainable=show_trainable,
    )
    _write_atomically(os.fspath(to_file), _render(dot.to_string(), fmt))
    return _notebook_image(os.fspath(to_file), fmt)


def model_to_dot(
    model,
    show_shapes=False,
    show_dtype=False,
    show_layer_names=True,
    rankdir="TB",
    expand_nested=False,
    dpi=200,
    show_layer_activations=False,
    show_trainable=False,
):
    """Returns the graph of `model`'s layers as a `pydot.Dot`, as Keras' `model_to_dot` does.

    The arguments are those of `plot_model`. The graph renders with pydot itself, e.g.
    `model_to_dot(model).create(prog="dot", format="svg")`.

    Raises:
        NotBuiltError: The model's input shape is not known yet.
        InvalidArgumentError: `rankdir` or `dpi` is not one of the values `plot_model` takes.
        ImportError: pydot or Graphviz's `dot` program is missing.
    """
    _check_model(model)
    if rankdir not in _RANKDIRS:
        raise argument_error("rankdir", "plot_model", f"one of {', '.join(_RANKDIRS)}", rankdir)
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not dpi > 0:
        raise argument_error("dpi", "plot_model", "a number > 0", dpi)
    pydot = _require_graphviz()
    show = {
        "names": show_layer_names,
        "shapes": show_shapes,
        "dtype": show_dtype,
        "activations": show_layer_activations,
        "trainable": show_trainable,
    }
    dot = pydot.Dot(graph_type="digraph", rankdir=rankdir, concentrate=True, dpi=dpi)
    dot.set_node_defaults(shape="plain", fontname="Helvetica")
    nodes = getattr(model, "nodes", None)
    if nodes is None:  # not a graph of layer calls (a subclassed model): one box, as in Keras
        dot.add_node(pydot.Node("0", label=_label(model, None, None, show)))
        return dot
    layers = list(model.layers)
    index = {id(layer): i for i, layer in enumerate(layers)}
    inputs, outputs = _layer_tensors(model, nodes)
    for i, layer in enumerate(layers):
        label = _label(layer, inputs.get(id(layer)), outputs.get(id(layer)), show)
        dot.add_node(pydot.Node(str(i), label=label))
    for source, target in _edges(nodes, index):
        dot.add_edge(pydot.Edge(str(source), str(target), penwidth=2))
    return dot


def _check_model(model):
    if not hasattr(model, "layers") or not hasattr(model, "built"):
        raise argument_error(
            "model", "plot_model", "a netfleet model", model, error=InvalidTypeError
        )
    if not model.built:
        raise NotBuiltError(
            "plot_model needs the model's input shape, which is not known yet: give the first "
            "layer an input_shape (e.g. Dense(32, input_shape=(784,))), call "
            "build(input_shape), or fit the model on data first."
        )


def _format(to_file):
    """The Graphviz format `to_file`'s extension asks for (PNG without one), or raises."""
    if not isinstance(to_file, (str, os.PathLike)):
        raise argument_error(
            "to_file", "plot_model", "a file name", to_file, error=InvalidTypeError
        )
    extension = os.path.splitext(os.fspath(to_file))[1][1:].lower()
    if extension and extension not in _FORMATS:
        raise argument_error(
            "to_file",
            "plot_model",
            f"a file name ending in {', '.join('.' + f for f in _FORMATS)} (PNG without one)",
            os.fspath(to_file),
        )
    return extension or "png"


def _require_graphviz():
    """Returns the pydot module once pydot and `dot` are both found, else raises ImportError."""
    try:
        import pydot  # imported here: it is optional and `import netfleet` does not pay for it
    except ImportError as exc:
        raise ImportError(f"plot_model needs pydot, which is not installed: {_INSTALL}.") from exc
    if shutil.which("dot") is None:
        raise ImportError(
            f"plot_model needs Graphviz's 'dot' program, which is not on the PATH: {_INSTALL}."
        )
    return pydot


def _layer_tensors(model, nodes):
    """Each layer's input and output symbolic tensors in this model, by `id(layer)`: from
    the first node that calls it, and from `model.inputs` for input layers."""
    inputs, outputs = {}, {}
    for tensor in model.inputs:
        outputs.setdefault(id(tensor.node.layer), [tensor])
    for node in nodes:
        inputs.setdefault(id(node.layer), list(node.inbound))
        outputs.setdefault(id(node.layer), list(node.outputs))
    return inputs, outputs


def _edges(nodes, index):
    """The arrows `(source, target)` between drawn layers (by position), each once, in order."""
    edges = {}
    for node in nodes:
        for tensor in node.inbound:
            pair = (index.get(id(tensor.node.layer)), index.get(id(node.layer)))
            if None not in pair:
                edges.setdefault(pair, None)
    return list(edges)


def _label(layer, inputs, outputs, show):
    """The HTML-like table that labels `layer`'s box: a title row, then the details asked."""
    kind = type(layer).__name__
    title = f"<b>{_text(layer.name)}</b> ({kind})" if show["names"] else f"<b>{kind}</b>"
    rows = [_cell(title, bold_background=True)]
    activation = getattr(layer, "activation", None)
    if show["activations"] and activation is not None:
        rows.append(_cell(f"Activation: <b>{_text(_name_of(activation))}</b>"))
    details = []
    if show["shapes"]:
        if inputs:
            details.append(f"Input shape: <b>{_text(_shapes(inputs))}</b>")
        details.append(f"Output shape: <b>{_text(_shapes(outputs) if outputs else '?')}</b>")
    if show["dtype"]:
        dtype = outputs[0].dtype if outputs else "?"
        details.append(f"Output dtype: <b>{_text(dtype)}</b>")
    if show["trainable"] and getattr(layer, "weights", None):
        details.append("<b>Trainable</b>" if layer.trainable else "<b>Non-trainable</b>")
    rows.extend(_cell(detail) for detail in details)
    body = "".join(f"<tr>{row}</tr>" for row in rows)
    return f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="6">{body}</table>>'


def _cell(content, bold_background=False):
    if bold_background:
        return f'<td bgcolor="black"><font color="white">{content}</font></td>'
    return f"<td>{content}</td>"


def _text(value):
    return html.escape(str(value))


def _shapes(tensors):
    """`(None, 4)` for one tensor, `[(None, 4), (None, 2)]` for several."""
    shapes = [tuple(tensor.shape) for tensor in tensors]
    return str(shapes[0]) if len(shapes) == 1 else str(shapes)


def _name_of(activation):
    return getattr(activation, "name", None) or getattr(activation, "__name__", str(activation))


def _render(source, fmt):
    """Lays out the DOT `source` with Graphviz's `dot` and returns the image's bytes."""
    result = subprocess.run(
        [shutil.which("dot"), f"-T{fmt}"], input=source.encode(), capture_output=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"Graphviz's dot failed (exit status {result.returncode}) to draw the model as "
            f"{fmt}: {result.stderr.decode(errors='replace').strip()}"
        )
    return result.stdout


def _write_atomically(path, data):
    """Writes `data` to `path` through a temporary file beside it and a rename, so `path` is
    either the old file or the whole new one."""
    folder = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with os.fdopen(
            os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb"
        ) as file:
            file.write(data)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _notebook_image(path, fmt):
    """The image for a notebook to show, where IPython is installed, else None."""
    try:
        from IPython import display
    except ImportError:
        return None
    if fmt == "svg":
        return display.SVG(filename=path)
    if fmt in ("png", "jpg", "jpeg", "gif"):
        return display.Image(filename=path, format="jpeg" if fmt == "jpg" else fmt)
    return None
