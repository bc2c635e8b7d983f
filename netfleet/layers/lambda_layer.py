"""Lambda: a Python function as a layer, for models that live in memory.

The function is written for one model, as in Keras: it receives `(batch, ...)` tensors.
`torch.func.vmap` lifts it over the member axis, so each member runs it on its own batch.
Its code is never serialized: a model holding a Lambda cannot be saved with its architecture.
"""

import torch

from netfleet import registry
from netfleet.errors import InvalidArgumentError, InvalidTypeError, argument_error
from netfleet.layers.base import Layer
from netfleet.layers.list_inputs import ListInputs

_DRY_RUN_BATCH = 2  # examples in the zeros the function is called on to learn its output shape


@registry.register("layer")
class Lambda(ListInputs, Layer):
    """Wraps `function(inputs, **arguments)` as a layer.

    Args:
        function: Takes a `(batch, ...)` torch tensor (or a list of them) and returns one,
            written with torch operations.
        output_shape: The output's shape without the batch axis (a tuple), or a function of
            the input shape (batch axis included) returning the output shape. Defaults to
            `None`: found by calling `function` on zeros.
        arguments: Keyword arguments passed to `function`. Defaults to `None`.

    Shape:
        `(M or 1, batch, ...)` → what `function` returns for each member, member axis first.

    >>> import numpy as np
    >>> import torch
    >>> from netfleet.layers import Lambda
    >>> layer = Lambda(lambda x: torch.square(x).sum(dim=-1, keepdim=True))
    >>> layer(np.array([[1.0, 2.0]])).numpy()
    array([[5.]], dtype=float32)
    """

    def __init__(self, function, output_shape=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise argument_error(
                "function", "Lambda", "a callable", function, error=InvalidTypeError
            )
        if not (output_shape is None or callable(output_shape) or _is_shape(output_shape)):
            raise argument_error(
                "output_shape", "Lambda", "None, a tuple of sizes or a callable", output_shape
            )
        if arguments is not None and not isinstance(arguments, dict):
            raise argument_error(
                "arguments", "Lambda", "None or a dict", arguments, error=InvalidTypeError
            )
        self.function = function
        self.output_shape_spec = output_shape
        self.arguments = dict(arguments or {})

    def call(self, inputs, training=False):
        def one_member(*tensors):
            args = list(tensors) if isinstance(inputs, (list, tuple)) else tensors[0]
            return self.function(args, **self.arguments)

        tensors = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        members = max(t.shape[0] for t in tensors)
        tensors = [t.expand(members, *t.shape[1:]) for t in tensors]
        return torch.func.vmap(one_member)(*tensors)

    def compute_output_shape(self, input_shape):
        spec = self.output_shape_spec
        if callable(spec):
            return tuple(spec(input_shape))
        if spec is not None:
            first = input_shape[0][0] if _is_shape_list(input_shape) else input_shape[0]
            return (first, *spec)
        shapes = input_shape if _is_shape_list(input_shape) else [input_shape]
        zeros = [torch.zeros(1, _DRY_RUN_BATCH, *(d or 1 for d in s[1:])) for s in shapes]
        try:
            with torch.no_grad():
                out = self.call(zeros if _is_shape_list(input_shape) else zeros[0])
        except Exception as error:
            raise InvalidArgumentError(
                f"Lambda '{self.name}' could not find its output shape by calling its function "
                f"on zeros of shape {[tuple(z.shape[1:]) for z in zeros]}: {error}. Give "
                "output_shape=... (the shape of one output example)."
            ) from error
        return (None, *out.shape[2:])

    def get_config(self):
        raise InvalidArgumentError(
            f"Lambda layer '{self.name}' holds Python code, and netfleet never serializes code: "
            "a model holding a Lambda layer works in memory, but cannot be saved with its "
            "architecture, cloned or stacked. Save its weights with save_weights() and rebuild "
            "the model in code, or replace the Lambda by a built-in layer or a Layer subclass."
        )


def _is_shape(value):
    return isinstance(value, (tuple, list)) and all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 1) for d in value
    )


def _is_shape_list(value):
    return bool(value) and isinstance(value[0], (tuple, list))
