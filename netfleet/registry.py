"""One table of netfleet's public building blocks, by kind: what files may name and what the
common contract tests check.

A class or function is registered where it is defined (`@register("layer")`); a model file,
`get("optimizer", "Adam")` and the contract tests find it here and nowhere else, so a file
can only ever name a registered object — netfleet's own, or a layer class the user registered
or named for one load (`netfleet.saving.custom`) — never an importable path. Each kind's module
adds only other spellings of registered names (Keras' aliases such as `"mse"`).

Example:
    >>> import netfleet
    >>> get("optimizer", "Adam") is netfleet.optimizers.Adam
    True
    >>> "relu" in entries("activation")
    True
"""

import contextlib
import contextvars

from netfleet.errors import unknown_name_error

KINDS = (
    "activation",
    "callback",
    "initializer",
    "layer",
    "loss",
    "metric",
    "model",
    "optimizer",
    "schedule",
)

_TABLES = {kind: {} for kind in KINDS}
_SCOPED = contextvars.ContextVar("netfleet_scoped_entries", default=None)


def register(kind, name=None):
    """Decorator: record the decorated object under `name` (its `__name__` by default)."""
    table = _table(kind)

    def decorate(obj):
        key = name or obj.__name__
        if key in table and table[key] is not obj:
            raise ValueError(f"Two {kind}s are registered as {key!r}.")
        table[key] = obj
        return obj

    return decorate


def get(kind, name):
    """The object registered as `name`; an error listing the known names otherwise."""
    table = entries(kind)
    if not isinstance(name, str) or name not in table:
        raise unknown_name_error(kind, name, sorted(table))
    return table[name]


def entries(kind):
    """A copy of the table of `kind`: name -> object, with the entries of the `scoped`
    blocks in progress (which take precedence)."""
    return {**_table(kind), **(_SCOPED.get() or {}).get(kind, {})}


@contextlib.contextmanager
def scoped(extra):
    """Within the block, `get` and `entries` also know `extra` (kind -> {name: object}):
    the objects a caller names for one load (Keras' `custom_objects`)."""
    merged = {kind: dict(table) for kind, table in (_SCOPED.get() or {}).items()}
    for kind, table in extra.items():
        merged.setdefault(_check_kind(kind), {}).update(table)
    token = _SCOPED.set(merged)
    try:
        yield
    finally:
        _SCOPED.reset(token)


def _table(kind):
    return _TABLES[_check_kind(kind)]


def _check_kind(kind):
    if kind not in _TABLES:
        raise ValueError(f"Unknown registry kind {kind!r}; known: {', '.join(KINDS)}.")
    return kind
