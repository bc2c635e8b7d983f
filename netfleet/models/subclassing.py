"""Subclassed models, as in Keras: `class MyModel(Model)` makes its layers in `__init__`
and writes `call(inputs, training=None)`.

Layers are found in the model's attributes (also in lists, tuples and dicts, and inside
layers and models held there). The model builds itself on the first data it sees: its
`call` runs once on a small batch of zeros, which builds the layers and gives the output
shape. In a forward pass `call` reads `(M or 1, batch, ...)` tensors: the layers it calls run
on the member axis, so a `call` that chains layers and elementwise torch operations trains
as a fleet as it is.

`Model.__init_subclass__` gives a subclass that writes `call` the members of `Subclassed`
that it does not write itself; nothing changes for `Sequential` and functional models.
"""

import contextlib
import inspect
import math

import torch

from netfleet.engine import data, sources, structure
from netfleet.errors import InvalidArgumentError, InvalidTypeError, NotBuiltError
from netfleet.layers import lifting, naming
from netfleet.layers.base import find_layers
from netfleet.layers.symbolic import Node, SymbolicTensor
from netfleet.models import summary as summary_module
from netfleet.ops.context import ForwardContext, forward_context
from netfleet.ops.context import current as current_context

_DRY_RUN_BATCH = 2  # examples in the zeros `call` runs on to build the model
_UNBUILT = "0 (unbuilt)"  # Keras 3's parameter count of a layer not built yet


def adopt(cls, model_class):
    """Give `cls` (a subclass of `model_class` that writes `call`) the members of
    `Subclassed` that neither it nor a class between it and `model_class` writes."""
    parameters = inspect.signature(cls.call).parameters.values()
    cls._call_takes_training = any(
        p.name == "training" or p.kind is p.VAR_KEYWORD for p in parameters
    )
    cls._writes_build = cls.build is not model_class.build
    for name, member in vars(Subclassed).items():
        if name.startswith("__"):
            continue
        owner = next(k for k in cls.__mro__ if name in vars(k) or k is model_class)
        if owner is model_class:
            setattr(cls, name, member)
    if "__new__" not in vars(cls):
        cls.__new__ = _recording_new


def _recording_new(cls, *args, **kwargs):
    """Keep the constructor's arguments: `clone_model` calls the class again with them."""
    model = object.__new__(cls)
    model._init_arguments = (args, kwargs)
    return model


class Subclassed:
    """What a subclassed model does differently from a functional one."""

    def _default_name(self):
        return naming.snake_case(type(self).__name__)

    # -- layers ----------------------------------------------------------------------------
    @property
    def layers(self):
        """The layers in the model's attributes, in the order they were assigned, each
        followed by the layers it holds."""
        found = []
        for key, value in vars(self).items():
            if key == "_init_arguments":
                continue
            inner = value.layers if _is_model(value) else find_layers([value])
            for layer in inner:
                for one in [layer, *layer.sublayers()]:
                    if not any(one is known for known in found):
                        found.append(one)
        return found

    # -- building --------------------------------------------------------------------------
    def ensure_built(self, example_shape):
        """Build on examples of `example_shape` (no batch axis), or a list of them, one per
        input, by running `call` on zeros."""
        if self.built:
            return
        shapes = example_shape if _is_shape_list(example_shape) else [example_shape]
        shapes = [tuple(shape) for shape in shapes]
        if self._writes_build and not vars(self).get("_building"):
            batch_shapes = [(None, *shape) for shape in shapes]
            with _building(self):  # its super().build() is then this build's
                self.build(batch_shapes if len(batch_shapes) > 1 else batch_shapes[0])
        zeros = [torch.zeros(1, _DRY_RUN_BATCH, *(d or 1 for d in shape)) for shape in shapes]
        try:
            with (
                torch.no_grad(),
                forward_context(ForwardContext(False)),
                lifting.tracing() as calls,
            ):
                outputs = self.forward(zeros)
        except Exception as error:
            error.add_note(
                f"netfleet built model '{self.name}' by running its call() on zeros of shape "
                f"{[(_DRY_RUN_BATCH, *shape) for shape in shapes]}."
            )
            raise
        outputs = outputs if isinstance(outputs, list) else [outputs]
        self.inputs = [
            SymbolicTensor((None, *shape), name=name)
            for shape, name in zip(shapes, _names("input", len(shapes)))
        ]
        self.outputs = [
            SymbolicTensor((None, *out.shape[2:]), name=name)
            for out, name in zip(outputs, _names("output", len(outputs)))
        ]
        self.nodes = [  # the layer calls of the build, for what counts activations
            Node(layer, [], [(None, *out.shape[2:])])
            for layer, out in calls
            if torch.is_tensor(out)
        ]
        self.built = True
        self._store = None

    def _built_for(self, x, owner):
        if not self.built:
            several = isinstance(x, (list, tuple)) and len(x) > 1
            if several and all(structure.is_array(item) for item in x):
                shapes = [data.to_array(v, f"x[{i}]", owner).shape[1:] for i, v in enumerate(x)]
                self.ensure_built(shapes)
            else:
                self.ensure_built(sources.example_shape(x, owner))
        return x

    def require_built(self, what):
        if not self.built:
            raise NotBuiltError(
                f"{what} needs model '{self.name}' to be built, which a subclassed model is on "
                "the first data it sees: fit it, call build((None, *example_shape)) or "
                "predict on a batch first."
            )

    # -- the forward pass ------------------------------------------------------------------
    def forward(self, inputs, training=False, logits=False):
        """`call` on `(M or 1, batch, ...)` tensors, one per input: a tensor, or a list of
        them for several outputs. A subclassed model has no known final activation, so
        `logits` is never asked for."""
        x = inputs[0] if len(inputs) == 1 else list(inputs)
        with lifting.model_call():
            if self._call_takes_training:
                outputs = self.call(x, training=training)
            else:
                outputs = self.call(x)
        if isinstance(outputs, (list, tuple)) and all(torch.is_tensor(o) for o in outputs):
            return list(outputs) if len(outputs) > 1 else outputs[0]
        if not torch.is_tensor(outputs):
            raise InvalidTypeError(
                f"The call() of model '{self.name}' must return a tensor or a list of tensors. "
                f"Got {type(outputs).__name__}."
            )
        return outputs

    def final_activation(self):
        return None

    def layer_chain(self):
        return None

    # -- inputs and outputs ----------------------------------------------------------------
    @property
    def input_names(self):
        """`input_1`, `input_2`, ...: the keys of an `x` dict."""
        self.require_built("model.input_names")
        return [tensor.name for tensor in self.inputs]

    @property
    def output_names(self):
        """`output_1`, `output_2`, ...: the keys of per-output losses, metrics and targets."""
        self.require_built("model.output_names")
        return [tensor.name for tensor in self.outputs]

    # -- what a subclassed model cannot do -------------------------------------------------
    def get_config(self):
        raise InvalidArgumentError(
            f"Model '{self.name}' is a subclassed model ({type(self).__name__}): its "
            "architecture is the Python code of its call(), and netfleet never serializes "
            "code. Save its weights with save_weights() and rebuild the model in code before "
            "load_weights(), or write it as a Sequential or functional model to save it whole."
        )

    def summary(self, line_length=None, positions=None, print_fn=None):
        """Keras' table of the layers the model knows: an unbuilt layer shows `?` and
        `0 (unbuilt)`, as Keras 3 shows them."""
        line_length = line_length or 65
        positions = summary_module._columns(line_length, positions)
        emit = print_fn or print
        layers = self.layers
        if not all(layer.built for layer in layers):  # room for "0 (unbuilt)"
            positions[-1] = max(positions[-1], positions[-2] + len(_UNBUILT) + 1)
        emit(f'Model: "{self.name}"')
        emit("_" * line_length)
        emit(summary_module._row(["Layer (type)", "Output Shape", "Param #"], positions))
        emit("=" * line_length)
        for i, layer in enumerate(layers):
            params = layer.count_params() if layer.built else _UNBUILT
            fields = [f"{layer.name} ({type(layer).__name__})", _shape_text(layer), params]
            emit(summary_module._row(fields, positions))
            emit(("=" if i == len(layers) - 1 else "_") * line_length)
        trainable = sum(math.prod(w.shape[1:]) for layer in layers for w in layer.trainable_weights)
        total = sum(layer.count_params() for layer in layers)
        emit(f"Total params: {total:,}")
        emit(f"Trainable params: {trainable:,}")
        emit(f"Non-trainable params: {total - trainable:,}")
        emit("_" * line_length)


def build(model, input_shape):
    """`Model.build` of a subclassed model: build for inputs of `input_shape` (batch axis
    first, a list of shapes for several inputs); nothing when the model is built or is
    building (the class's own `build` calling `super().build(input_shape)`)."""
    if model.built or vars(model).get("_building"):
        return
    if input_shape is None:
        model.require_built("build()")
    shapes = input_shape if _is_shape_list(input_shape) else [input_shape]
    with _building(model):
        model.ensure_built([tuple(shape)[1:] for shape in shapes])


@contextlib.contextmanager
def _building(model):
    model._building = True
    try:
        yield
    finally:
        model._building = False


def call_in_model(model, x, training):
    """`model`'s output inside another model's call: `x` is `(M or 1, batch, ...)` tensors
    (a list of them for several inputs); the model builds itself on their shapes."""
    tensors = list(x) if isinstance(x, (list, tuple)) else [x]
    if not model.built:
        shapes = [tuple(t.shape[2:]) for t in tensors]
        model.ensure_built(shapes if len(shapes) > 1 else shapes[0])
    if training is None:
        training = current_context().training
    return model.forward(tensors, training=training)


def _shape_text(layer):
    """A layer's output shape from the shape it was built for, or `?` before."""
    shape = layer.input_spec_shape
    if not layer.built or shape is None:
        return "?"
    out = tuple(layer.compute_output_shape(shape))
    return str(out) if len(out) != 1 else f"({out[0]},)"


def _names(prefix, count):
    return [f"{prefix}_{i + 1}" for i in range(count)]


def _is_model(value):
    return hasattr(value, "parameter_store") and hasattr(value, "forward")


def _is_shape_list(value):
    return isinstance(value, (list, tuple)) and bool(value) and isinstance(value[0], (list, tuple))
