"""Compile configs (optimizer, loss and metric names) as JSON-able dicts, and the checked
reading of config fields that model and compile configs share."""

from netfleet import losses, optimizers
from netfleet.errors import InvalidArgumentError


def compile_config(model):
    """What `model.compile` was given (optimizer, loss name, metric names), or None.

    Raises:
        InvalidArgumentError: the model uses a custom loss or metric, which a file cannot name.
    """
    if model.compiled is None:
        return None
    loss = model.compiled.loss
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
        InvalidArgumentError: the config names an unknown optimizer, loss or metric.
    """
    require_dict(config, "The compile config")
    seeds, params = list(model.member_seeds), list(model.member_params)
    model.compile(
        optimizer=optimizers.get(field(config, "optimizer", dict)),
        loss=field(config, "loss", str),
        metrics=field(config, "metrics", list),
    )
    model.set_members(len(seeds), seeds=seeds, params=params)


def require_dict(value, what):
    """`value` if it is a dict (a JSON object), else an error naming `what`."""
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"{what} must be a JSON object. Got {value!r}.")
    return value


def field(config, key, kind):
    """`config[key]`, checked to be present and of type `kind`."""
    if key not in config:
        raise InvalidArgumentError(f"The config {sorted(config)} has no {key!r} entry.")
    value = config[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InvalidArgumentError(
            f"The config entry {key!r} must be of type {kind.__name__}. Got {value!r}."
        )
    return value
