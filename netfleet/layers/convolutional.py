"""Convolution layers: Conv1D and Conv2D on channels-last inputs, every member in one call.

The members' kernels are stacked along torch's output channels and the member axis is folded
into the input channels (`netfleet.layers.spatial`), so a fleet's convolution is one grouped
convolution (`groups=M`), or one plain convolution with M times the filters when every
member sees the same batch. In the fused training step (`ConvStage`) the backward pass is
torch's convolution backward called directly, and ReLU, sigmoid and tanh work in place.
"""

import torch
import torch.nn.functional as F

from netfleet import activations, initializers, registry
from netfleet.errors import argument_error, check_positive_int
from netfleet.layers import spatial, stages
from netfleet.layers.base import Layer

_TORCH_CONV = {1: F.conv1d, 2: F.conv2d}


class Conv(Layer):
    """Base of the convolutions of `rank` spatial axes (see Conv1D and Conv2D)."""

    rank = None
    paddings = spatial.PADDINGS

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.filters = check_positive_int(filters, "filters", owner)
        self.kernel_size = spatial.int_tuple(kernel_size, self.rank, "kernel_size", owner)
        self.strides = spatial.int_tuple(strides, self.rank, "strides", owner)
        self.padding = spatial.padding_mode(padding, owner, self.paddings)
        spatial.check_channels_last(data_format, owner)
        self.dilation_rate = spatial.int_tuple(dilation_rate, self.rank, "dilation_rate", owner)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise argument_error(
                "dilation_rate",
                owner,
                "1 when strides > 1 (Keras allows only one of them)",
                dilation_rate,
            )
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        spatial.check_spatial_rank(input_shape, self.rank, type(self).__name__)
        kernel_shape = (*self.kernel_size, input_shape[-1], self.filters)
        self.add_weight("kernel", kernel_shape, self.kernel_initializer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer)
        self.built = True

    def pre_activation(self, inputs):
        """The convolution plus bias, before the activation.

        Shape:
            `(M or 1, batch, *spatial, in_channels)` → `(M, batch, *out_spatial, filters)`.
        """
        x, padding, _ = self.folded_input(inputs)
        bias = self.bias.reshape(-1) if self.use_bias else None
        y = _TORCH_CONV[self.rank](
            x,
            self.torch_weight(self.kernel),
            bias,
            self.strides,
            padding,
            self.dilation_rate,
            groups=inputs.shape[0],
        )
        return spatial.unfold_members(y, self.kernel.shape[0])

    def call(self, inputs, training=False):
        return self.activation(self.pre_activation(inputs))

    def stage(self, first, logits):
        if not self.trainable:
            return None
        if logits or self.activation is activations.linear:
            return ConvStage(self, first)
        activation = _in_place_stage(self.activation) or stages.activation_stage(self.activation)
        return None if activation is None else ConvStage(self, first, activation)

    def torch_weight(self, kernel):
        """`kernel` `(M, *kernel_size, in, filters)` as torch's `(M * filters, in,
        *kernel_size)`: the members' filters one after another, as a grouped convolution
        reads them."""
        weight = kernel.permute(0, self.rank + 2, self.rank + 1, *range(1, self.rank + 1))
        return weight.reshape(kernel.shape[0] * self.filters, *weight.shape[2:])

    def folded_input(self, inputs):
        """`inputs` folded channels-first (`spatial.fold_members`) and padded where torch
        cannot pad: `(x, the padding left to torch, the (before, after) zeros added or None)`."""
        x = spatial.fold_members(inputs)
        if self.padding == "valid":
            return x, 0, None
        lengths = x.shape[2:]
        if self.padding == "causal":
            pads = [(self.dilation_rate[0] * (self.kernel_size[0] - 1), 0)]
        else:
            pads = [
                spatial.same_padding(n, k, s, d)
                for n, k, s, d in zip(lengths, self.kernel_size, self.strides, self.dilation_rate)
            ]
        if all(before == after for before, after in pads):
            return x, tuple(before for before, _ in pads), None
        return spatial.pad_spatial(x, pads), 0, pads

    def compute_output_shape(self, input_shape):
        padding = "same" if self.padding == "causal" else self.padding
        lengths = [
            spatial.output_length(n, k, s, d, padding)
            for n, k, s, d in zip(
                input_shape[1:-1], self.kernel_size, self.strides, self.dilation_rate
            )
        ]
        if any(n is not None and n < 1 for n in lengths):
            raise argument_error(
                "kernel_size",
                type(self).__name__,
                f"no larger than the inputs {tuple(input_shape)} (with padding='valid')",
                self.kernel_size,
            )
        return (input_shape[0], *lengths, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": "channels_last",
            "dilation_rate": list(self.dilation_rate),
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }


class _InPlaceActivation:
    """An activation applied in place to a convolution's own output, and its derivative
    (from that output) in place to the gradient the stage is handed, a temporary of the
    fused step: at a convolution's large outputs, fresh tensors cost more in first-touch
    page faults than the arithmetic."""

    def __init__(self, apply, derivative):
        self.apply, self.derivative = apply, derivative
        self.out = None

    def forward(self, x):
        self.out = self.apply(x)
        return self.out

    def backward(self, grad):
        return self.derivative(grad, self.out, grad_input=grad)


def _relu_backward(grad, out, grad_input):
    return torch.ops.aten.threshold_backward.grad_input(grad, out, 0, grad_input=grad_input)


_IN_PLACE = {
    activations.relu: (torch.relu_, _relu_backward),
    activations.sigmoid: (torch.sigmoid_, torch.ops.aten.sigmoid_backward.grad_input),
    activations.tanh: (torch.tanh_, torch.ops.aten.tanh_backward.grad_input),
}


def _in_place_stage(activation):
    """The in-place stage of `activation`, or None when it has none (see `_IN_PLACE`)."""
    pair = _IN_PLACE.get(activation)
    return None if pair is None else _InPlaceActivation(*pair)


class ConvStage:
    """A convolution's fast path: its forward keeps the folded input, its backward is
    torch's convolution backward, the kernel's gradient laid back out as netfleet's kernel.

    Args:
        layer: The built convolution, its weights packed in the flat buffer.
        first: Whether nothing trainable comes before it (no gradient for its input).
        activation: The stage of its activation, or None for linear outputs.
    """

    def __init__(self, layer, first, activation=None):
        self.layer = layer
        self.weights = (layer.kernel, layer.bias) if layer.use_bias else (layer.kernel,)
        self.first = first
        self.activation = activation

    def forward(self, x):
        layer = self.layer
        self.lead = x.shape[0]
        self.x, self.padding, self.pads = layer.folded_input(x)
        self.weight = layer.torch_weight(layer.kernel.detach())
        bias = layer.bias.detach().reshape(-1) if layer.use_bias else None
        y = _TORCH_CONV[layer.rank](
            self.x, self.weight, bias, layer.strides, self.padding, layer.dilation_rate, self.lead
        )
        out = spatial.unfold_members(y, layer.kernel.shape[0])
        return out if self.activation is None else self.activation.forward(out)

    def backward(self, grad):
        layer = self.layer
        if self.activation is not None:
            grad = self.activation.backward(grad)
        members, rank = layer.kernel.shape[0], layer.rank
        grad_input, grad_weight, grad_bias = torch.ops.aten.convolution_backward(
            spatial.fold_members(grad),
            self.x,
            self.weight,
            [members * layer.filters] if layer.use_bias else None,
            layer.strides,
            self.padding or (0,) * rank,
            layer.dilation_rate,
            False,
            (0,) * rank,
            self.lead,
            (not self.first, True, layer.use_bias),
        )
        kernel = grad_weight.reshape(members, layer.filters, -1, *layer.kernel_size)
        layer.kernel.grad.copy_(kernel.permute(0, *range(3, rank + 3), 2, 1))
        if layer.use_bias:
            layer.bias.grad.copy_(grad_bias.reshape(members, layer.filters))
        if self.first:
            return None
        if self.pads is not None:  # the zeros folded_input added
            grad_input = spatial.crop_spatial(grad_input, self.pads)
        return spatial.unfold_members(grad_input, self.lead)


@registry.register("layer")
class Conv1D(Conv):
    """1D convolution over the steps of `(batch, steps, channels)` examples.

    Args:
        filters: Number of output channels.
        kernel_size: Window length (an int or a tuple of one).
        strides: Step of the window. Defaults to `1`.
        padding: `"valid"` (no padding), `"same"` (output length `ceil(steps / strides)`;
            an odd total padding puts the extra zero at the end, as in Keras) or `"causal"`
            (zeros before the sequence only). Defaults to `"valid"`.
        data_format: Only `"channels_last"` (Keras' default). Defaults to `None`.
        dilation_rate: Spacing of the window's taps; > 1 only with `strides=1`.
            Defaults to `1`.
        activation: Name or callable. Defaults to `None` (linear).
        use_bias: Whether to add a bias. Defaults to `True`.
        kernel_initializer: Defaults to `"glorot_uniform"`.
        bias_initializer: Defaults to `"zeros"`.

    Shape:
        `(M, batch, steps, in)` → `(M, batch, new_steps, filters)`; kernel
        `(M, kernel_size, in, filters)`, bias `(M, filters)`.

    >>> from netfleet.layers import Conv1D
    >>> Conv1D(4, 3, padding="same").compute_output_shape((None, 10, 2))
    (None, 10, 4)
    """

    rank = 1
    paddings = (*spatial.PADDINGS, "causal")


@registry.register("layer")
class Conv2D(Conv):
    """2D convolution over the height and width of `(batch, height, width, channels)` images.

    Args:
        filters: Number of output channels.
        kernel_size: Window height and width (an int for both, or a tuple of two).
        strides: Steps of the window (an int or a tuple of two). Defaults to `1`.
        padding: `"valid"` (no padding) or `"same"` (output size `ceil(size / strides)`;
            an odd total padding puts the extra zero at the bottom / right, as in Keras).
            Defaults to `"valid"`.
        data_format: Only `"channels_last"` (Keras' default). Defaults to `None`.
        dilation_rate: Spacing of the window's taps; > 1 only with `strides=1`.
            Defaults to `1`.
        activation: Name or callable. Defaults to `None` (linear).
        use_bias: Whether to add a bias. Defaults to `True`.
        kernel_initializer: Defaults to `"glorot_uniform"`.
        bias_initializer: Defaults to `"zeros"`.

    Shape:
        `(M, batch, height, width, in)` → `(M, batch, new_height, new_width, filters)`;
        kernel `(M, kh, kw, in, filters)`, bias `(M, filters)`.

    >>> from netfleet.layers import Conv2D
    >>> Conv2D(32, (3, 3), activation="relu").compute_output_shape((None, 28, 28, 1))
    (None, 26, 26, 32)
    """

    rank = 2
