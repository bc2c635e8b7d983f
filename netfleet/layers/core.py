"""Core layers: Input, Dense, Activation, Dropout, Flatten."""

import math

import torch

from netfleet import activations, initializers, registry
from netfleet.errors import (
    InvalidArgumentError,
    argument_error,
    check_bool,
    check_positive_int,
)
from netfleet.layers import stages
from netfleet.layers.base import Layer, _shape_tuple
from netfleet.layers.symbolic import Node
from netfleet.ops import context
from netfleet.ops.linear import member_linear


@registry.register("layer")
class InputLayer(Layer):
    """The entry of a functional graph: holds the shape of one example."""

    def __init__(self, shape=None, batch_size=None, name=None, input_shape=None, **kwargs):
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise argument_error("shape", "Input", "a tuple of positive integers", None)
        super().__init__(name=name, **kwargs)
        self.shape = _shape_tuple(shape, "shape", "Input")
        self.batch_size = batch_size
        self.built = True
        node = Node(self, [], [(batch_size, *self.shape)])
        self.inbound_nodes.append(node)

    @property
    def input(self):
        return self.output

    def call(self, inputs, training=False):
        return inputs

    def get_config(self):
        return {"name": self.name, "shape": list(self.shape), "batch_size": self.batch_size}


def Input(shape=None, batch_size=None, name=None):
    """A symbolic input of examples of `shape` (no batch axis), to call layers on."""
    return InputLayer(shape=shape, batch_size=batch_size, name=name).output


@registry.register("layer")
class Dense(Layer):
    """Densely connected layer: `activation(inputs @ kernel + bias)`.

    Args:
        units: Output size.
        activation: Name or callable. Defaults to `None` (linear).
        use_bias: Whether to add a bias. Defaults to `True`.
        kernel_initializer: Defaults to `"glorot_uniform"`.
        bias_initializer: Defaults to `"zeros"`.

    Shape:
        `(M, batch, ..., in)` → `(M, batch, ..., units)`; kernel `(M, in, units)`.
    """

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int(units, "units", "Dense")
        self.activation = activations.get(activation)
        self.use_bias = check_bool(use_bias, "use_bias", "Dense")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer)
        self.built = True

    def pre_activation(self, inputs):
        return member_linear(inputs, self.kernel, self.bias if self.use_bias else None)

    def call(self, inputs, training=False):
        return self.activation(self.pre_activation(inputs))

    def stage(self, first, logits):
        if not self.trainable:
            return None
        if logits or self.activation is activations.linear:
            return stages.DenseStage(self, first)
        activation = stages.activation_stage(self.activation)
        return None if activation is None else stages.DenseStage(self, first, activation)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }


@registry.register("layer")
class Activation(Layer):
    """Applies an activation function elementwise (softmax on the last axis)."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def pre_activation(self, inputs):
        return inputs

    def call(self, inputs, training=False):
        return self.activation(inputs)

    def stage(self, first, logits):
        if logits or self.activation is activations.linear:
            return stages.PassThroughStage()
        return stages.activation_stage(self.activation)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


@registry.register("layer")
class Dropout(Layer):
    """Sets a fraction `rate` of inputs to 0 during training and scales the rest by
    `1 / (1 - rate)`; each member draws its own mask from its own generator."""

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise argument_error("rate", "Dropout", "a float in [0, 1)", rate)
        self.rate = float(rate)
        self.seed = None if seed is None else check_positive_int(seed, "seed", "Dropout", minimum=0)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        keep = 1.0 - self.rate
        ctx = context.current()
        if ctx.draws_masks():
            mask = ctx.bernoulli(inputs.shape[1:], keep)
        else:  # training=True outside fit (Monte Carlo dropout): PyTorch's global generator
            mask = torch.empty(inputs.shape, device=inputs.device).bernoulli_(keep)
        return inputs * mask / keep

    def stage(self, first, logits):
        return stages.DropoutStage(self.rate) if self.rate > 0 else stages.PassThroughStage()

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@registry.register("layer")
class Flatten(Layer):
    """Flattens each example to one axis: `(M, batch, d1, d2, ...)` → `(M, batch, d1*d2*...)`."""

    def call(self, inputs, training=False):
        return inputs.reshape(inputs.shape[0], inputs.shape[1], -1)

    def stage(self, first, logits):
        return stages.FlattenStage(self)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        if any(d is None for d in rest):
            raise InvalidArgumentError(
                f"Flatten needs a fully known example shape. Got {tuple(input_shape)}."
            )
        return (input_shape[0], math.prod(rest))
