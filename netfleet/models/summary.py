"""`Model.summary()`: Keras' table of layers, output shapes and parameter counts."""

import numpy as np

from netfleet.layers.core import InputLayer

DEFAULT_POSITIONS = (0.45, 0.85, 1.0)


def _columns(line_length, positions):
    positions = list(positions or DEFAULT_POSITIONS)
    if len(positions) == 4:  # Keras' four-column form: drop the "Connected to" column
        positions = positions[:2] + positions[3:]
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    return list(positions)


def _row(fields, positions):
    line = ""
    for i, field in enumerate(fields):
        if i > 0:
            line = line[:-1] + " "
        line += str(field)
        line = line[: positions[i]]
        line += " " * (positions[i] - len(line))
    return line


def print_summary(model, line_length=None, positions=None, print_fn=None):
    """Print the layers of `model` with their output shapes and parameters of one member."""
    line_length = line_length or 65
    positions = _columns(line_length, positions)
    emit = print_fn or print
    emit(f'Model: "{model.name}"')
    emit("_" * line_length)
    emit(_row(["Layer (type)", "Output Shape", "Param #"], positions))
    emit("=" * line_length)
    layers = model.layers
    show_inputs = type(model).__name__ != "Sequential"
    rows = [layer for layer in layers if show_inputs or not isinstance(layer, InputLayer)]
    for i, layer in enumerate(rows):
        shape = layer.output.shape
        shape_text = str(shape) if len(shape) != 1 else f"({shape[0]},)"
        emit(
            _row(
                [f"{layer.name} ({type(layer).__name__})", shape_text, layer.count_params()],
                positions,
            )
        )
        emit(("=" if i == len(rows) - 1 else "_") * line_length)
    trainable = sum(
        int(np.prod(weight.shape[1:])) for layer in layers for weight in layer.trainable_weights
    )
    total = sum(layer.count_params() for layer in layers)
    emit(f"Total params: {total:,}")
    emit(f"Trainable params: {trainable:,}")
    emit(f"Non-trainable params: {total - trainable:,}")
    if model.num_members > 1:
        emit(
            f"Members: {model.num_members} (parameters above are per member; {total * model.num_members:,} in all)"
        )
    emit("_" * line_length)
