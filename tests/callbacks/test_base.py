"""Callback and CallbackList: batch logs are gathered only for callbacks that use them."""

from netfleet.callbacks import Callback, CallbackList


class EpochOnly(Callback):
    def on_epoch_end(self, epoch, logs=None):
        pass


class BatchMethod(Callback):
    def on_train_batch_end(self, batch, logs=None):
        pass


def test_batch_hooks_are_detected_on_the_class_and_on_the_instance():
    assert not CallbackList([EpochOnly(), Callback()], None, {}).wants_batches
    assert CallbackList([BatchMethod()], None, {}).wants_batches
    instance = EpochOnly()
    instance.on_train_batch_begin = lambda batch, logs=None: None
    assert CallbackList([instance], None, {}).wants_batches
