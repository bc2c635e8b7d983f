"""Compile configs (optimizer, loss names, metrics and weighted metrics by name or as entries
of netfleet's metric classes, loss weights) as JSON-able dicts, and the checked reading of
config fields that model and compile configs share."""

from netfleet import losses, metrics, optimizers, registry
from netfleet.errors import InvalidArgumentError, InvalidTypeError
from netfleet.saving import limits
from netfleet.saving.jsontext import brief

_COMPILE_KEYS = {"optimizer", "loss", "metrics", "weighted_metrics", "loss_weights"}


def compile_config(model):
    """What `model.compile` was given (optimizer, losses, metric and weighted metric names,
    loss weights), or None.

    Raises:
        InvalidArgumentError: the model uses a custom loss or metric, which a file cannot name.
    """
    if model.compiled is None:
        return None
    for loss in _leaves(model.compiled.loss):
        try:
            known = losses.get(loss.name)
        except InvalidArgumentError:
            known = None
        if known is None or known.fn is not loss.fn:
            raise InvalidArgumentError(
                f"Cannot save model '{model.name}': it is compiled with the custom loss "
                f"{loss.name!r}, which a file cannot name. Compile it with a built-in loss, or "
                "keep the weights alone with save_weights()."
            )
    return model.compiled.get_config()


def compile_from_config(model, config):
    """Compile `model` as `config` (from `compile_config`) says, keeping its members.

    Raises:
        InvalidArgumentError: the config names an unknown optimizer, loss or metric, has
            entries `compile_config` never writes, or its optimizer describes more members
            than the model has.
        InvalidTypeError: a loss or metric is not given by name.
    """
    require_dict(config, "The compile config")
    unknown = sorted(set(config) - _COMPILE_KEYS)
    if unknown:
        raise InvalidArgumentError(
            f"The compile config has the unexpected entries {', '.join(map(brief, unknown))}; "
            f"netfleet writes and reads only {', '.join(sorted(_COMPILE_KEYS))}."
        )
    if "loss" not in config:
        raise InvalidArgumentError("The compile config has no 'loss' entry.")
    if not all(name is None or isinstance(name, str) for name in _leaves(config["loss"])):
        raise InvalidTypeError(
            "The compile config's loss must be names (one, a list or a dict of them). "
            f"Got {brief(config['loss'])}."
        )
    optimizer = _optimizer(field(config, "optimizer", dict), model.num_members)
    seeds, params = list(model.member_seeds), list(model.member_params)
    model.compile(
        optimizer=optimizer,
        loss=config["loss"],
        metrics=_metrics(config.get("metrics"), "metrics"),
        weighted_metrics=_metrics(config.get("weighted_metrics"), "weighted_metrics"),
        loss_weights=config.get("loss_weights"),
    )
    model.set_members(len(seeds), seeds=seeds, params=params)


def _metrics(structure, key):
    """The metrics of a compile config's `key` (names and `{"class_name", "config"}` entries
    of netfleet's metric classes, in a list, a list per output or a dict by output name),
    with every entry made a metric object; anything else refused."""
    if structure is None or isinstance(structure, str) or _is_entry(structure):
        return _metric(structure, key)
    if isinstance(structure, list):
        return [_metrics(item, key) for item in structure]
    if isinstance(structure, dict):
        return {name: _metrics(item, key) for name, item in structure.items()}
    raise InvalidTypeError(
        f"The compile config's {key} must be metric names or entries (one, a list or a dict "
        f"of them). Got {brief(structure)}."
    )


def _is_entry(value):
    return isinstance(value, dict) and set(value) == {"class_name", "config"}


def _metric(value, key):
    """A name or None as it is; an entry as the metric object of the class it names."""
    if not _is_entry(value):
        return value
    name = value["class_name"]
    cls = registry.entries("metric").get(name) if isinstance(name, str) else None
    if not isinstance(cls, type) or not issubclass(cls, metrics.Metric):
        raise InvalidArgumentError(
            f"The compile config's {key} names the metric class {brief(name)}, which netfleet "
            "does not have."
        )
    settings = require_dict(value["config"], f"The config of metric {name}")
    thresholds = settings.get("num_thresholds")
    if isinstance(thresholds, int) and thresholds > limits.MAX_METRIC_THRESHOLDS:
        raise InvalidArgumentError(
            f"The compile config's metric {name} declares {thresholds} thresholds; a model "
            f"file may declare at most {limits.MAX_METRIC_THRESHOLDS}."
        )
    try:
        return cls.from_config(dict(settings))
    except TypeError as error:
        raise InvalidArgumentError(
            f"The compile config's metric {name} has settings its class does not take: {error}"
        ) from None


def _leaves(structure):
    """The values in `structure`: a value, or lists and dicts of them (nested), walked
    without recursion."""
    leaves, pending = [], [structure]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
        else:
            leaves.append(item)
    return leaves


def _optimizer(config, members):
    """The optimizer `config` describes, refused if it describes more members than `members`.

    A MixedOptimizer builds one row of settings per member of each part, so the parts'
    member counts are checked before it is built.
    """
    declared = sum(_part_counts(config))
    if declared <= members:
        optimizer = optimizers.get(config)
        if optimizer.num_members <= members and members % optimizer.num_members == 0:
            return optimizer
        declared = optimizer.num_members
    raise InvalidArgumentError(
        f"The compile config's optimizer describes {declared} members, but the model has {members}."
    )


def _part_counts(config):
    """The positive integer `member_count`s of a MixedOptimizer config's parts (none for
    other optimizers; a malformed part is left for the optimizer to refuse)."""
    settings = config.get("config")
    parts = settings.get("parts") if isinstance(settings, dict) else None
    if not isinstance(parts, list):
        return []
    counts = [part.get("member_count") for part in parts if isinstance(part, dict)]
    return [c for c in counts if isinstance(c, int) and not isinstance(c, bool) and c > 0]


def require_dict(value, what):
    """`value` if it is a dict (a JSON object), else an error naming `what`."""
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"{what} must be a JSON object. Got {brief(value)}.")
    return value


def field(config, key, kind):
    """`config[key]`, checked to be present and of type `kind`."""
    if key not in config:
        raise InvalidArgumentError(f"The config {brief(sorted(config))} has no {key!r} entry.")
    value = config[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidArgumentError(
            f"The config entry {key!r} must be of type {kind.__name__}. Got {brief(value)}."
        )
    return value
