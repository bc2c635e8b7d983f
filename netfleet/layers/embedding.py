"""Embedding: integer indices to dense vectors, one table per member."""

import torch

from netfleet import initializers, registry
from netfleet.errors import InvalidArgumentError, argument_error, check_positive_int
from netfleet.layers.base import Layer


@registry.register("layer")
class Embedding(Layer):
    """Maps each index in `[0, input_dim)` to its row of a learnt `(input_dim, output_dim)`
    table.

    Args:
        input_dim: Size of the vocabulary (largest index + 1).
        output_dim: Size of each vector.
        embeddings_initializer: Defaults to `"uniform"` (uniform in [-0.05, 0.05], as Keras).
        mask_zero: Only `False`: netfleet has no masks. Defaults to `False`.
        input_length: Keras 2's length of the input sequences; when given, the example
            shape `(input_length,)`. Defaults to `None`.

    Shape:
        `(M or 1, batch, ...)` of indices (any number type) → `(M, batch, ..., output_dim)`;
        embeddings `(M, input_dim, output_dim)`.

    >>> import numpy as np
    >>> from netfleet.layers import Embedding
    >>> Embedding(10, 4)(np.array([[1, 2, 3]])).shape
    torch.Size([1, 3, 4])
    """

    def __init__(
        self,
        input_dim,
        output_dim,
        embeddings_initializer="uniform",
        mask_zero=False,
        input_length=None,
        **kwargs,
    ):
        if input_length is not None and "input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(**kwargs)
        self.input_dim = check_positive_int(input_dim, "input_dim", "Embedding")
        self.output_dim = check_positive_int(output_dim, "output_dim", "Embedding")
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        if mask_zero is not False:
            raise argument_error(
                "mask_zero", "Embedding", "False (netfleet has no masks)", mask_zero
            )
        self.mask_zero = False

    def build(self, input_shape):
        self.add_weight(
            "embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer
        )
        self.built = True

    def call(self, inputs, training=False):
        indices = inputs.long()
        if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= self.input_dim):
            raise InvalidArgumentError(
                f"Embedding '{self.name}' has input_dim={self.input_dim}: its inputs must be "
                f"indices in [0, {self.input_dim}). Got values from {int(indices.min())} to "
                f"{int(indices.max())}."
            )
        table = self.embeddings
        members = torch.arange(table.shape[0], device=table.device)
        return table[members.view(-1, *[1] * (indices.ndim - 1)), indices]

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.output_dim)

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
            "mask_zero": self.mask_zero,
        }
