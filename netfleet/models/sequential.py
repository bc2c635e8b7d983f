"""`Sequential`: a plain stack of layers, built as a functional graph once its input
shape is known."""

from netfleet import registry
from netfleet.errors import InvalidArgumentError, InvalidTypeError, argument_error
from netfleet.layers.base import Layer
from netfleet.layers.core import InputLayer
from netfleet.layers.symbolic import SymbolicTensor
from netfleet.models.model import Model


@registry.register("model")
class Sequential(Model):
    """A linear stack of layers.

    Args:
        layers: Layers to add in order. Defaults to none.
        name: Defaults to `"sequential"`, `"sequential_1"`, ...
        seed: The model's seed (batch order, dropout). Defaults to a draw from the global
            generator.
    """

    def __init__(self, layers=None, name=None, seed=None):
        if layers is not None and not isinstance(layers, (list, tuple)):
            raise argument_error("layers", "Sequential", "a list of layers", layers)
        super().__init__(name=name, seed=seed)
        self._stack = []
        self._input_layer = None
        self._own_nodes = []
        for layer in layers or []:
            self.add(layer)

    def _default_name(self):
        return "sequential"

    @property
    def input_layer(self):
        """The `InputLayer` that fixes the input shape, or None while it is unknown."""
        return self._input_layer

    def add(self, layer):
        """Add `layer` on top of the stack.

        Raises:
            TypeError: `layer` is not a layer.
            ValueError: `layer` declares an input shape that does not fit the stack.
        """
        if isinstance(layer, SymbolicTensor) and isinstance(layer.node.layer, InputLayer):
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if self._stack or self._input_layer is not None:
                raise InvalidArgumentError(
                    "An Input can only be the first element of a Sequential model."
                )
            self._input_layer = layer
            return
        if not isinstance(layer, Layer):
            raise InvalidTypeError(
                f"The 'layer' argument of Sequential.add must be a Layer instance. Got {layer!r} "
                f"of type {type(layer).__name__}."
            )
        hint = layer.input_shape_hint
        if hint is not None:
            if self._stack and self.built and tuple(self.outputs[0].shape[1:]) != hint:
                raise InvalidArgumentError(
                    f"Layer '{layer.name}' declares input_shape={hint}, but the layers before it "
                    f"output examples of shape {tuple(self.outputs[0].shape[1:])}."
                )
            if not self._stack and self._input_layer is None:
                self._input_layer = InputLayer(shape=hint)
        self._stack.append(layer)
        self._rebuild()

    def pop(self):
        """Remove the last layer."""
        if not self._stack:
            raise InvalidArgumentError("There is no layer to pop: the model is empty.")
        layer = self._stack.pop()
        self._rebuild()
        return layer

    def build(self, input_shape=None):
        """Build for inputs of `input_shape`, batch axis first: e.g. `(None, 784)`."""
        if input_shape is None:
            self.require_built("build()")
            return
        if self._input_layer is None:
            self._input_layer = InputLayer(shape=tuple(input_shape)[1:])
        self._rebuild()

    def ensure_built(self, example_shape):
        if not self.built:
            self.build((None, *example_shape))

    def _rebuild(self):
        for layer, node in self._own_nodes:
            if node in layer.inbound_nodes:
                layer.inbound_nodes.remove(node)
        self._own_nodes = []
        if self._input_layer is None or not self._stack:
            self.built = False
            return
        x = self._input_layer.output
        for layer in self._stack:
            x = layer(x)
            self._own_nodes.append((layer, x.node))
        self._init_graph(self._input_layer.output, x)
        if self._members > 1:
            self.set_members(self._members, self.member_seeds, self.member_params)

    @property
    def layers(self):
        return list(self._stack)

    def parameter_store(self):
        self.require_built("Training")
        return super().parameter_store()
