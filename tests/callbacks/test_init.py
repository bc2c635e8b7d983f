"""The public names of netfleet.callbacks."""

from netfleet import callbacks


def test_all_lists_every_public_callback():
    expected = {
        "Callback",
        "CallbackList",
        "CSVLogger",
        "EarlyStopping",
        "History",
        "LambdaCallback",
        "LearningRateScheduler",
        "ModelCheckpoint",
        "MonitorCallback",
        "ReduceLROnPlateau",
        "TensorBoard",
        "TerminateOnNaN",
    }
    assert set(callbacks.__all__) == expected
    for name in expected - {"CallbackList"}:
        assert issubclass(getattr(callbacks, name), callbacks.Callback)
