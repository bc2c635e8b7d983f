"""Stack structurally identical models into one fleet, and unstack a fleet back into
ordinary models. Each member keeps its weights, seed, optimizer kind and settings and swept
settings; optimizer state (moments) starts afresh in the result. Models with different
optimizer kinds make a fleet with a `MixedOptimizer`."""

import itertools

import torch

from netfleet.errors import InvalidArgumentError, InvalidTypeError
from netfleet.models.cloning import clone_model
from netfleet.models.model import Model
from netfleet.optimizers import MixedOptimizer


def layer_signature(model):
    """Each layer's kind, settings (activation, rate, ...) and weight shapes: what members of
    one fleet must share. Names, input shapes and initializers may differ (the weight shapes
    are compared, and the weights exist already)."""
    return [
        (type(layer).__name__, _settings(layer), tuple(tuple(w.shape[1:]) for w in layer.weights))
        for layer in model.layers
    ]


def _settings(layer):
    config = layer.get_config()
    return sorted(
        (k, repr(v))
        for k, v in config.items()
        if k not in ("name", "input_shape") and not k.endswith("initializer")
    )


def _check_stackable(models):
    if not models:
        raise InvalidArgumentError("stack() needs at least one model. Got none.")
    for i, model in enumerate(models):
        if not isinstance(model, Model):
            raise InvalidTypeError(f"stack() takes models; item {i} is {type(model).__name__}.")
        model.require_built("stack()")
        model.require_compiled("stack")
    reference = models[0]
    for i, model in enumerate(models[1:], start=1):
        if layer_signature(model) != layer_signature(reference):
            raise InvalidArgumentError(
                f"Model {i} cannot share a batched run with model 0: their layers differ "
                f"({layer_signature(model)} vs {layer_signature(reference)})."
            )
        if model.compiled.signature() != reference.compiled.signature():
            raise InvalidArgumentError(
                f"Model {i} is compiled with another loss or metrics than model 0."
            )


def stack(models, member_params=None):
    """One fleet whose members are the members of `models`, in order.

    Args:
        models: Compiled models with identical layer shapes, loss and metrics. Their
            optimizers may be of different kinds.
        member_params: Optional settings dict per resulting member, to label its history.
            Defaults to each model's own `member_params`.
    """
    models = list(models)
    _check_stackable(models)
    reference = models[0]
    fleet = clone_model(reference, seed=reference.seed)
    seeds, params, optimizers = [], [], []
    for model in models:
        optimizers += _member_optimizers(model)
        for m in range(model.num_members):
            seeds.append(model.member_seeds[m])
            params.append(model.member_params[m] if m < len(model.member_params) else {})
    if member_params is not None:
        if len(member_params) != len(seeds):
            raise InvalidArgumentError(
                f"member_params needs one dict per member ({len(seeds)}). Got {len(member_params)}."
            )
        params = list(member_params)
    for target, *sources in zip(fleet.layers, *(m.layers for m in models)):
        for name in target.weight_names:
            value = torch.cat(
                [_members_of(getattr(s, name), s_model) for s, s_model in zip(sources, models)]
            )
            setattr(target, name, value.requires_grad_(name in target.trainable_weight_names))
    compiled = reference.compiled
    fleet.compile(optimizer=_fleet_optimizer(optimizers), **compiled.arguments())
    fleet.set_members(len(seeds), seeds=seeds, params=params)
    return fleet


def _member_optimizers(model):
    """Each member's optimizer kind and hyperparameters, as `(class, config)` pairs."""
    optimizer = model.compiled.optimizer
    if isinstance(optimizer, MixedOptimizer):
        parts = optimizer.parts
    else:
        parts = [(optimizer, model.num_members)]
    return [
        (type(part), part.member_config(m % part.num_members))
        for part, count in parts
        for m in range(count)
    ]


def _fleet_optimizer(members):
    """One optimizer for `members` (`(class, config)` pairs): their kind's, or a
    `MixedOptimizer` with one part per run of consecutive members of one kind."""
    parts = []
    for cls, run in itertools.groupby(members, key=lambda member: member[0]):
        rows = [config for _, config in run]
        parts.append((cls.for_members(rows), len(rows)))
    return parts[0][0] if len(parts) == 1 else MixedOptimizer(parts)


def _members_of(weight, model):
    weight = weight.detach()
    return weight.expand(model.num_members, *weight.shape[1:]).clone()


def unstack(fleet):
    """The members of `fleet` as separate single models (weights copied)."""
    fleet.require_built("unstack()")
    fleet.require_compiled("unstack")
    optimizers = _member_optimizers(fleet)
    singles = []
    for m, (cls, config) in enumerate(optimizers):
        model = clone_model(fleet, seed=fleet.member_seeds[m])
        for target, source in zip(model.layers, fleet.layers):
            for name in target.weight_names:
                value = _members_of(getattr(source, name), fleet)[m : m + 1].clone()
                setattr(target, name, value.requires_grad_(name in target.trainable_weight_names))
        model.compile(optimizer=cls(**config), **fleet.compiled.arguments())
        model.member_params = [fleet.member_params[m]]
        singles.append(model)
    return singles
