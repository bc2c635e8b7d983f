"""Contract: a model that uses any registered entry, trained, saved with `model.save` and
loaded with `netfleet.load_model`, is the same model: same config, same compile settings,
same predictions, and the same next epoch of training (optimizer state and random streams
come back too). A callback entry runs in the training before the save."""

import numpy as np
import pytest

import netfleet
from netfleet import registry
from netfleet.errors import InvalidArgumentError

from . import specs, trials


@pytest.mark.parametrize(
    ("kind", "name", "obj"), specs.cases(*registry.KINDS, where=specs.storable)
)
def test_a_saved_model_loads_predicting_and_training_the_same(kind, name, obj, tmp_path):
    trial = trials.trial(kind, name, obj, tmp_path / "files")
    history = trial.fit(epochs=1)
    assert history.epoch == [0]
    path = tmp_path / "model.keras"
    trial.model.save(path)
    loaded = netfleet.load_model(path)
    assert loaded.get_config() == trial.model.get_config()
    assert loaded.compiled.get_config() == trial.model.compiled.get_config()
    np.testing.assert_array_equal(
        loaded.predict(trial.x, verbose=0), trial.model.predict(trial.x, verbose=0)
    )
    resumed = trials.Trial(loaded, trial.x, trial.y, [])
    trials.assert_same_training(
        resumed.fit(epochs=1), loaded, trial.fit(epochs=1, callbacks=False), trial.model
    )


@pytest.mark.parametrize(
    ("kind", "name", "obj"),
    specs.cases(*registry.KINDS, where=lambda *entry: not specs.storable(*entry)),
)
def test_a_model_holding_code_refuses_to_be_saved_and_leaves_no_file(kind, name, obj, tmp_path):
    trial = trials.trial(kind, name, obj, tmp_path / "files")
    trial.fit(epochs=1)
    path = tmp_path / "model.keras"
    with pytest.raises(InvalidArgumentError, match="never serializes code"):
        trial.model.save(path)
    assert not path.exists()
