"""The Layer base class: Keras' `build` / `call` / `compute_output_shape` / `get_config`,
with every weight carrying a leading member axis `(M, *shape)`."""

import numpy as np
import torch

from netfleet import initializers
from netfleet.errors import InvalidArgumentError, InvalidTypeError, argument_error
from netfleet.layers import naming
from netfleet.layers.symbolic import Node, flatten, is_symbolic
from netfleet.ops import seeding


class Layer:
    """A building block of a model: maps `(M, batch, ...)` tensors to `(M, batch, ...)`.

    Subclasses create weights in `build(input_shape)` with `add_weight` and write their
    maths for the member axis in `call(inputs, training=False)`.

    Args:
        name: Unique name; Keras-style `dense`, `dense_1`, ... when omitted.
        trainable: Whether the optimizer updates this layer's weights. Defaults to `True`.
        input_shape: Shape of one example (no batch axis), for a model's first layer.
        input_dim: Shorthand for `input_shape=(input_dim,)`.
    """

    def __init__(self, name=None, trainable=True, input_shape=None, input_dim=None, **kwargs):
        kwargs.pop("dtype", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        if kwargs:
            raise InvalidTypeError(
                f"{type(self).__name__} got unexpected keyword arguments: {sorted(kwargs)}."
            )
        if input_dim is not None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        if input_shape is not None:
            input_shape = _shape_tuple(input_shape, "input_shape", type(self).__name__)
        self.name = name or naming.unique(naming.snake_case(type(self).__name__))
        self.trainable = trainable
        self.input_shape_hint = input_shape
        self.built = False
        self.weight_names = []
        self._initializers = {}
        self._inbound_nodes = []
        self.input_spec_shape = None

    # -- the four methods a layer writes ---------------------------------------------------
    def build(self, input_shape):
        """Create the weights for inputs of `input_shape` (batch axis `None`)."""
        self.built = True

    def call(self, inputs, training=False):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        if self.input_shape_hint is not None:
            config["input_shape"] = list(self.input_shape_hint)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    # -- weights ---------------------------------------------------------------------------
    def add_weight(self, name, shape, initializer="glorot_uniform"):
        """Create weight `name` of one member's `shape`, stored as `(1, *shape)`."""
        initializer = initializers.get(initializer)
        value = initializer(tuple(shape), seeding.global_generator()).to(torch.float32)
        tensor = value.unsqueeze(0)
        if self.trainable:
            tensor.requires_grad_(True)
        setattr(self, name, tensor)
        self.weight_names.append(name)
        self._initializers[name] = initializer
        return tensor

    @property
    def weights(self):
        return [getattr(self, name) for name in self.weight_names]

    @property
    def trainable_weights(self):
        return self.weights if self.trainable else []

    @property
    def non_trainable_weights(self):
        return [] if self.trainable else self.weights

    @property
    def num_members(self):
        weights = self.weights
        return weights[0].shape[0] if weights else 1

    def count_params(self):
        """Parameters of one member (what Keras' summary shows)."""
        return sum(int(np.prod(w.shape[1:])) for w in self.weights)

    def get_weights(self):
        """The weights as NumPy arrays: one member's shape, or `(M, *shape)` for a fleet."""
        return [_to_numpy(w) for w in self.weights]

    def set_weights(self, weights):
        """Copy arrays into the weights; one member's shape is broadcast to every member."""
        current = self.weights
        if len(weights) != len(current):
            raise InvalidArgumentError(
                f"Layer '{self.name}' expects {len(current)} weight arrays "
                f"({', '.join(self.weight_names)}). Got {len(weights)}."
            )
        for name, target, value in zip(self.weight_names, current, weights):
            value = torch.as_tensor(np.asarray(value), dtype=torch.float32)
            if value.shape == target.shape[1:]:
                value = value.unsqueeze(0)
            if value.shape[1:] != target.shape[1:] or value.shape[0] not in (1, target.shape[0]):
                raise InvalidArgumentError(
                    f"Weight '{name}' of layer '{self.name}' has shape "
                    f"{tuple(target.shape[1:])} (or {tuple(target.shape)} with the member axis). "
                    f"Got an array of shape {tuple(value.shape)}."
                )
            with torch.no_grad():
                target.copy_(value.expand_as(target))

    # -- graph -----------------------------------------------------------------------------
    def __call__(self, inputs, training=False):
        if is_symbolic(inputs):
            return self._call_symbolic(inputs)
        return self._call_eager(inputs, training)

    def _call_symbolic(self, inputs):
        shapes = [t.shape for t in flatten(inputs)]
        input_shape = shapes[0] if len(shapes) == 1 else shapes
        self.ensure_built(input_shape)
        node = Node(self, flatten(inputs), [self.compute_output_shape(input_shape)])
        self._inbound_nodes.append(node)
        return node.outputs[0]

    def _call_eager(self, inputs, training):
        """Call on arrays of shape `(batch, ...)` (or `(M, batch, ...)` for a fleet layer)."""
        x = torch.as_tensor(np.asarray(inputs) if not torch.is_tensor(inputs) else inputs)
        x = x.to(torch.float32)
        self.ensure_built((None, *x.shape[1:]))
        added_axis = self.input_spec_shape is not None and x.ndim == len(self.input_spec_shape)
        if added_axis:
            x = x.unsqueeze(0)
        with torch.no_grad():
            out = self.call(x, training=training)
        return out[0] if added_axis and out.shape[0] == 1 else out

    def ensure_built(self, input_shape):
        if self.input_spec_shape is None:
            self.input_spec_shape = (
                tuple(input_shape) if not isinstance(input_shape, list) else None
            )
        if not self.built:
            self.build(input_shape)
            self.built = True

    @property
    def input(self):
        return self._first_node("input").inbound[0]

    @property
    def output(self):
        return self._first_node("output").outputs[0]

    def _first_node(self, what):
        if not self._inbound_nodes:
            raise AttributeError(
                f"Layer '{self.name}' has no {what} yet: it has not been called on a "
                "symbolic input (add it to a model whose input shape is known)."
            )
        return self._inbound_nodes[-1]

    @property
    def output_shape(self):
        return self.output.shape

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _shape_tuple(shape, name, owner):
    if isinstance(shape, int):
        shape = (shape,)
    try:
        shape = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise argument_error(name, owner, "a tuple of positive integers", shape) from None
    if any(d is not None and d < 1 for d in shape):
        raise argument_error(name, owner, "a tuple of positive integers", shape)
    return shape


def _to_numpy(tensor):
    array = tensor.detach().cpu().numpy().copy()
    return array[0] if array.shape[0] == 1 else array
