"""`LambdaCallback`: Keras' callback built from plain functions."""

from netfleet import registry
from netfleet.callbacks.base import Callback
from netfleet.errors import argument_error

_ALIASES = {"on_batch_begin": "on_train_batch_begin", "on_batch_end": "on_train_batch_end"}


@registry.register("callback")
class LambdaCallback(Callback):
    """A callback whose hooks are the functions given, called as Keras calls them.

    `on_epoch_begin` and `on_epoch_end` receive `(epoch, logs)`; `on_train_begin` and
    `on_train_end` receive `(logs)`; `on_batch_begin` / `on_batch_end` (or their Keras 3
    names `on_train_batch_begin` / `on_train_batch_end`) receive `(batch, logs)`. `logs` is
    always a dict (empty when there is nothing to report). Any other hook of `Callback` may
    be given by name. Batch hooks cost a read of the batch loss per step, so `fit` only
    produces them when one is given.

    Args:
        on_epoch_begin: Called at the start of every epoch.
        on_epoch_end: Called at the end of every epoch.
        on_batch_begin: Called before every training batch.
        on_batch_end: Called after every training batch.
        on_train_begin: Called when training starts.
        on_train_end: Called when training ends.
        **kwargs: Other hooks, e.g. `on_train_batch_end=fn`.

    Example:
        >>> seen = []
        >>> callback = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
        >>> callback.on_epoch_end(0, {"loss": 0.5})
        >>> seen
        [0]
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_batch_begin=None,
        on_batch_end=None,
        on_train_begin=None,
        on_train_end=None,
        **kwargs,
    ):
        super().__init__()
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_batch_begin": on_batch_begin,
            "on_batch_end": on_batch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            **kwargs,
        }
        for name, function in hooks.items():
            hook = _ALIASES.get(name, name)
            if not hook.startswith("on_") or not hasattr(Callback, hook):
                raise TypeError(f"LambdaCallback got an unexpected keyword argument {name!r}.")
            if function is None:
                continue
            if not callable(function):
                raise argument_error(name, "LambdaCallback", "a function or None", function)
            setattr(self, hook, _with_logs(function, hook))


def _with_logs(function, hook):
    """`function` called with the hook's arguments and a `logs` dict, as Keras passes it."""
    if "epoch" in hook or "batch" in hook:

        def indexed(index, logs=None):
            return function(index, {} if logs is None else logs)

        return indexed

    def plain(logs=None):
        return function({} if logs is None else logs)

    return plain
