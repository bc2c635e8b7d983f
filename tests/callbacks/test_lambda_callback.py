"""LambdaCallback: each function called at its hook, as often as Keras calls it."""

from collections import Counter

import numpy as np
import pytest

from netfleet.callbacks import CallbackList, LambdaCallback
from netfleet.optimizers import Adam


def counting_callback(calls, **names):
    """A LambdaCallback counting each hook in `names` (keyword -> label) into `calls`."""
    return LambdaCallback(
        **{
            keyword: (lambda *args, label=label: calls.update([label]) or args)
            for keyword, label in names.items()
        }
    )


def test_hooks_are_called_the_right_number_of_times(wines_data, wines_model):
    x, y = wines_data
    calls = Counter()
    hooks = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end"]
    callback = counting_callback(
        calls, **{h: h for h in hooks}, on_batch_begin="batch_begin", on_batch_end="batch_end"
    )
    wines_model().fit(x, y, epochs=3, batch_size=64, verbose=0, callbacks=[callback])
    assert calls == {
        "on_train_begin": 1,
        "on_train_end": 1,
        "on_epoch_begin": 3,
        "on_epoch_end": 3,
        "batch_begin": 9,
        "batch_end": 9,
    }


def test_functions_get_the_index_and_a_logs_dict(wines_data, wines_model):
    x, y = wines_data
    seen = []
    callback = LambdaCallback(
        on_train_begin=lambda logs: seen.append(("train_begin", logs)),
        on_epoch_begin=lambda epoch, logs: seen.append(("epoch_begin", epoch, logs)),
        on_epoch_end=lambda epoch, logs: seen.append(("epoch_end", epoch, sorted(logs))),
        on_train_batch_end=lambda batch, logs: seen.append(("batch_end", batch, sorted(logs))),
    )
    history = wines_model().fit(x, y, epochs=2, batch_size=100, verbose=0, callbacks=[callback])
    assert seen == [
        ("train_begin", {}),
        ("epoch_begin", 0, {}),
        ("batch_end", 0, ["loss"]),
        ("batch_end", 1, ["loss"]),
        ("epoch_end", 0, sorted(history.history)),
        ("epoch_begin", 1, {}),
        ("batch_end", 0, ["loss"]),
        ("batch_end", 1, ["loss"]),
        ("epoch_end", 1, sorted(history.history)),
    ]


def test_batch_logs_are_produced_only_when_a_batch_hook_is_given():
    epoch_only = LambdaCallback(on_epoch_end=lambda epoch, logs: None)
    with_batches = LambdaCallback(on_batch_end=lambda batch, logs: None)
    assert not CallbackList([epoch_only], None, {}).wants_batches
    assert CallbackList([epoch_only, with_batches], None, {}).wants_batches


def test_unknown_hook_names_are_rejected():
    with pytest.raises(TypeError, match="unexpected keyword argument 'on_epoch_finish'"):
        LambdaCallback(on_epoch_finish=print)


def test_a_member_stopped_in_a_batch_hook_is_frozen_from_the_next_batch(wines_data, wines_model):
    x, y = wines_data
    model = wines_model(Adam(learning_rate=[0.01, 0.02]))
    after_first_batch = []

    def stop_member_1(batch, logs):
        if not after_first_batch:
            after_first_batch.append(model.get_weights())
            model.stop_members([1])

    history = model.fit(
        x,
        y,
        epochs=2,
        batch_size=32,
        verbose=0,
        callbacks=[LambdaCallback(on_batch_end=stop_member_1)],
    )
    for now, then in zip(model.get_weights(), after_first_batch[0]):
        np.testing.assert_array_equal(now[1], then[1])
        assert not np.array_equal(now[0], then[0])
    assert history.member(1).epoch == [0]  # it trained (one batch) in epoch 0
