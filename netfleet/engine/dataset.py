"""The checked tensors of one call: each input's examples, each output's labels and
per-example weights, and how each output is scored (its loss, its weight in the total loss,
its metrics). Everything is checked before any training starts."""

import copy

from netfleet import losses, metrics
from netfleet.engine import data, structure
from netfleet.errors import InvalidArgumentError


def model_inputs(model, x, owner, argument="x"):
    """`x` (one array, a list with one per input or a dict by input name) as one
    `(label, float32 tensor)` pair per input of `model`, each tensor checked against its
    input's example shape; the label (`x`, `x[1]`, `x['deep']`) names it in messages."""
    names = model.input_names
    several = len(names) > 1
    pairs = structure.by_input(x, names, argument, owner)
    return [
        (label, data.features(value, label, owner, shape, name if several else None))
        for (label, value), name, shape in zip(pairs, names, model.input_example_shapes)
    ]


class Head:
    """One output's labels and how they are scored.

    Attributes:
        name: The output's name.
        prefix: What its metrics' log names start with: "" when the model has one output,
            else `"<name>_"` (Keras' `<output>_accuracy`).
        shape: Its example shape.
        loss: Its `losses.Loss`.
        loss_weight: Its factor in the total loss.
        metrics: Its metric objects, computed without the sample weights (accumulators
            work on copies).
        weighted_metrics: Its metric objects computed with the sample weights.
        y: Its labels `(n, ...)` once loaded.
        weights: Its per-example weights `(n,)` (sample weights times class weights), or None.
        sample_weights: The sample weights alone, or None: what held-out validation rows
            keep (Keras applies `class_weight` to the training data only).
    """

    def __init__(self, spec, shape, several):
        self.name = spec.name
        self.prefix = f"{spec.name}_" if several else ""
        self.shape = tuple(shape)
        self.loss = spec.loss
        self.loss_weight = spec.loss_weight
        self.metrics = spec.make_metrics(self.shape[-1])
        self.weighted_metrics = spec.make_metrics(self.shape[-1], weighted=True)
        self.y = None
        self.weights = self.sample_weights = None

    def rows(self, rows, class_weighted=True):
        """This head on the rows `rows` (a slice), with or without the class weights."""
        part = copy.copy(self)
        part.y = self.y[rows]
        weights = self.weights if class_weighted else self.sample_weights
        part.weights = part.sample_weights = None if weights is None else weights[rows]
        if class_weighted and self.sample_weights is not None:
            part.sample_weights = self.sample_weights[rows]
        return part


class Dataset:
    """Checked tensors for one call: `inputs` (one tensor per model input) and `heads` (one
    `Head` per model output).

    A model with one input and one output, trained on its loss with weight 1, is `plain`:
    its dataset also has `x`, `y`, `weights`, `loss`, `metrics` and `weighted_metrics` (its
    input's and its head's), which the training steps for such models read directly; one-hot labels then
    become class indices when every metric reads those as well (the same loss, computed
    faster).

    Args:
        model: The compiled model.
        x: One array, a list with one array per input, or a dict by input name.
        y: Likewise, by output.
        owner: The method called (`fit`, `evaluate`), for messages.
        sample_weight: One weight per example, for every output or per output (a list or a
            dict by output name).
        class_weight: `{class: weight}` for a model with one output.
    """

    def __init__(self, model, x, y, owner, sample_weight=None, class_weight=None):
        self._configure(model, owner)
        self.load(x, y, sample_weight, class_weight, to_indices=True)

    @classmethod
    def window(cls, model, owner):
        """An empty dataset that streamed batches are loaded into, one after another."""
        dataset = cls.__new__(cls)
        dataset._configure(model, owner)
        return dataset

    def _configure(self, model, owner):
        compiled = model.require_compiled(owner)
        self.model = model
        self.owner = owner
        specs = compiled.outputs(model.output_names)
        several = len(specs) > 1
        shapes = model.output_example_shapes
        self.heads = [Head(spec, shape, several) for spec, shape in zip(specs, shapes)]
        self.plain = (
            len(model.input_names) == 1 and not several and self.heads[0].loss_weight == 1.0
        )
        if self.plain:  # the tensors come with `load`
            self.x = self.y = self.weights = None
            head = self.heads[0]
            self.loss, self.metrics = head.loss, head.metrics
            self.weighted_metrics = head.weighted_metrics

    def load(self, x, y, sample_weight=None, class_weight=None, to_indices=False):
        """Check and convert one call's (or one streamed batch's) arrays into this dataset.

        Args:
            to_indices: Whether exactly one-hot labels of a plain dataset may become class
                indices (never for streamed batches, whose loss must stay the same).
        """
        owner = self.owner
        inputs = model_inputs(self.model, x, owner)
        self.inputs = [tensor for _, tensor in inputs]
        names = [head.name for head in self.heads]
        several = len(names) > 1
        labels = []
        for head, (label, value) in zip(self.heads, structure.by_output(y, names, "y", owner)):
            port = head.name if several else None
            head.y = data.targets(value, label, owner, head.loss, head.shape, port)
            labels.append((label, head.y))
        first_label, first = inputs[0]
        for label, tensor in inputs[1:] + labels:
            data.check_same_length(first, tensor, owner, first_label, label)
        if class_weight is not None and several:
            raise InvalidArgumentError(
                f"The 'class_weight' argument of {owner} applies to models with one output; "
                f"this one has {len(names)} ({', '.join(map(repr, names))}). Give per-example "
                "weights for each output with sample_weight instead."
            )
        converted = {}  # one array given for every output is converted once
        for head, (_, weights) in zip(
            self.heads, structure.weights_by_output(sample_weight, names, owner)
        ):
            if id(weights) not in converted:
                both = data.row_weights(weights, class_weight, head.y, len(head.y), owner)
                alone = both
                if class_weight is not None:
                    alone = data.row_weights(weights, None, head.y, len(head.y), owner)
                converted[id(weights)] = both, alone
            head.weights, head.sample_weights = converted[id(weights)]
        if self.plain:
            head = self.heads[0]
            every_metric = head.metrics + head.weighted_metrics
            if to_indices and head.loss.labels == "one_hot" and _index_friendly(every_metric):
                indices = data.one_hot_indices(head.y)
                if indices is not None:
                    head.y, head.loss = indices, losses.get("sparse_categorical_crossentropy")
                    for metric in every_metric:
                        metric.kind, metric.fn = "sparse", metrics.sparse_categorical_accuracy
            self._share_plain()
        return self

    def _share_plain(self):
        """The plain dataset's direct attributes: its one input's and its one head's."""
        head = self.heads[0]
        self.x, self.y, self.weights = self.inputs[0], head.y, head.weights
        self.loss, self.metrics = head.loss, head.metrics
        self.weighted_metrics = head.weighted_metrics

    def to(self, device):
        """Move the tensors to `device` (once per call: batches then index them there)."""
        moved = {}  # weights given once for every output stay one tensor

        def to_device(tensor):
            if tensor is not None and id(tensor) not in moved:
                moved[id(tensor)] = tensor.to(device)
            return None if tensor is None else moved[id(tensor)]

        self.inputs = [to_device(tensor) for tensor in self.inputs]
        for head in self.heads:
            head.y, head.weights = to_device(head.y), to_device(head.weights)
            head.sample_weights = to_device(head.sample_weights)
        if self.plain:
            self._share_plain()
        return self

    def __len__(self):
        return len(self.inputs[0])

    def split(self, fraction):
        """(train, validation) with the *last* `fraction` of rows held out, as Keras does:
        the validation rows keep their sample weights, not the class weights."""
        n = len(self)
        cut = int(n * (1 - fraction))
        if cut == 0 or cut == n:
            raise InvalidArgumentError(
                f"The 'validation_split' argument of fit leaves no "
                f"{'training' if cut == 0 else 'validation'} examples with {n} examples. "
                f"Got {fraction}."
            )
        return self._slice(slice(0, cut)), self._slice(slice(cut, n), class_weighted=False)

    def _slice(self, rows, class_weighted=True):
        part = copy.copy(self)
        part.inputs = [tensor[rows] for tensor in self.inputs]
        part.heads = [head.rows(rows, class_weighted) for head in self.heads]
        if self.plain:
            part._share_plain()
        return part


def _index_friendly(metric_objects):
    """Whether every metric reads class indices as well as one-hot labels (accuracies)."""
    return all(
        isinstance(m, metrics.Accuracy) and m.kind in ("categorical", "sparse")
        for m in metric_objects
    )
