"""The Callback base with Keras' hooks, and the list that dispatches to several."""


class Callback:
    """Base class for objects called during `fit`, `evaluate` and `predict`.

    Override any hook. `self.model` is the model being trained, `self.params` holds
    `epochs`, `steps` and `verbose`. In a fleet (M > 1 members) the values in `logs` are
    NumPy arrays of shape (M,) instead of floats.
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch, logs=None):
        """Keras' older name of `on_train_batch_begin`, still called by it."""

    def on_batch_end(self, batch, logs=None):
        """Keras' older name of `on_train_batch_end`, still called by it."""

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass


BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")


class CallbackList:
    """Calls a hook on every callback in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            callback.set_model(model)
            callback.set_params(params)
        self.wants_batches = any(
            _overrides(c, hook) for c in self.callbacks for hook in BATCH_HOOKS
        )

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def dispatch(*args, **kwargs):
            for callback in self.callbacks:
                getattr(callback, hook)(*args, **kwargs)

        return dispatch


def _overrides(callback, hook):
    """Whether `callback` has its own `hook`: a method of its class or one set on the
    instance (as `LambdaCallback` and callbacks with optional batch work do)."""
    method = getattr(callback, hook, None)
    return getattr(method, "__func__", method) is not getattr(Callback, hook)
