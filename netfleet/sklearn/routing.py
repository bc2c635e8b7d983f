"""How an estimator's routed parameters reach the build function, the optimizer, `compile`
and `fit`, as scikeras and skorch route them.

- A plain name that the build function takes (`hidden_size=64`), or the same name with the
  prefix `model__`, is a build argument (the prefixed form wins when both are given).
- `optimizer__<hyperparameter>` (e.g. `optimizer__learning_rate`) sets a hyperparameter of
  the estimator's optimizer.
- `compile__<argument>` goes to `Model.compile`, `fit__<argument>` to `Model.fit`.

The meta arguments `n_features_in_`, `n_outputs_` and `output_activation_`, which describe
the data, are filled in when the build function takes them.
"""

import collections
import inspect

from netfleet.errors import InvalidArgumentError, unknown_name_error

PREFIXES = ("model__", "optimizer__", "compile__", "fit__")
META = ("n_features_in_", "n_outputs_", "output_activation_")

Routes = collections.namedtuple("Routes", ["build", "optimizer", "compile", "fit"])


def build_arguments(fn):
    """The parameter names of build function `fn` (without the meta arguments), and whether
    it takes `**kwargs` (then it accepts any name)."""
    if fn is None:
        return [], False
    parameters = inspect.signature(fn).parameters.values()
    names = [
        p.name
        for p in parameters
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in META
    ]
    return names, any(p.kind is p.VAR_KEYWORD for p in parameters)


def accepts(name, fn):
    """Whether `name` can be a routed parameter of an estimator whose build function is `fn`
    (any name, when `fn` is not a function: `fit` reports that)."""
    if name.startswith(PREFIXES) or (fn is not None and not callable(fn)):
        return True
    names, any_name = build_arguments(fn)
    return any_name or name in names


def route(params, fn, owner):
    """Split routed parameters into `Routes(build, optimizer, compile, fit)` dicts.

    Args:
        params: The estimator's routed parameters, plain or prefixed.
        fn: The build function (None for a model instance, which takes no arguments).
        owner: The estimator's name, for messages.

    Raises:
        InvalidArgumentError: Some names reach nothing; the message lists all of them with
            the build function's arguments.
    """
    names, any_name = build_arguments(fn)
    routes = Routes({}, {}, {}, {})
    plain, problems = {}, []
    for key, value in params.items():
        prefix = next((p for p in PREFIXES if key.startswith(p)), None)
        name = key[len(prefix) :] if prefix else key
        if prefix in (None, "model__") and not (any_name or name in names):
            problems.append(str(unknown_name_error("build argument", name, names or ["none"])))
        elif prefix is None:
            plain[name] = value
        else:
            getattr(routes, prefix[:-2])[name] = value
    if problems:
        function = getattr(fn, "__name__", "the model instance")
        raise InvalidArgumentError(
            f"{owner} cannot route these parameters to {function}: " + " ".join(problems)
        )
    routes.build.update({k: v for k, v in plain.items() if k not in routes.build})
    return routes


def build_kwargs(fn, routes, defaults, meta):
    """The keyword arguments to call `fn` with: the estimator's `defaults` (optimizer, loss,
    metrics) and the `meta` arguments that `fn` names, then the routed build arguments."""
    names, _ = build_arguments(fn)
    kwargs = {k: v for k, v in defaults.items() if k in names and v is not None}
    kwargs.update({k: v for k, v in meta.items() if k in inspect.signature(fn).parameters})
    kwargs.update(routes.build)
    return kwargs
