"""Symbolic tensors and nodes: what calling a layer on an `Input` records, so that a
functional model is a graph of layer calls."""


class SymbolicTensor:
    """The shape (batch axis `None`) of a value a layer will produce, and who produces it."""

    def __init__(self, shape, node=None, index=0, name=None):
        self.shape = tuple(shape)
        self.node = node
        self.index = index
        self.name = name
        self.dtype = "float32"

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<SymbolicTensor shape={self.shape}, dtype=float32, name={self.name}>"


class Node:
    """One call of `layer` on `inbound` symbolic tensors, producing `outputs`."""

    def __init__(self, layer, inbound, output_shapes):
        self.layer = layer
        self.inbound = list(inbound)
        self.outputs = [
            SymbolicTensor(shape, self, i, name=layer.name) for i, shape in enumerate(output_shapes)
        ]


def flatten(structure):
    """A list of the symbolic tensors in a tensor or a list/tuple of them."""
    if isinstance(structure, (list, tuple)):
        return list(structure)
    return [structure]


def is_symbolic(value):
    return isinstance(value, SymbolicTensor) or (
        isinstance(value, (list, tuple))
        and len(value) > 0
        and all(isinstance(v, SymbolicTensor) for v in value)
    )
