"""Contract: the fast path trains as autograd. A model trains through the layers' hand-written
stages where every layer of its chain declares one (`Layer.stage`), with the activations'
derivatives and the losses' gradients; `compile(run_eagerly=True)` trains the same model
through autograd. Both give the same logs and weights, to float rounding. Entries without a
stage (or a derivative, or a gradient) train through autograd both times and agree trivially."""

import pytest

from . import specs, trials


def _declares_stage(kind, name, obj):
    return kind != "layer" or specs.declares_stage(obj)


@pytest.mark.parametrize(
    ("kind", "name", "obj"),
    specs.cases("layer", "activation", "loss", "metric", where=_declares_stage),
)
def test_the_fast_path_trains_as_autograd(kind, name, obj, tmp_path, monkeypatch):
    stages = _record_stages(obj, monkeypatch) if kind == "layer" else None
    fast = trials.trial(kind, name, obj, tmp_path / "fast", seed=3)
    fast_history = fast.fit()
    if stages is not None:
        assert any(stage is not None for stage in stages), f"fit never used {name}'s stage"
        stages.clear()
    eager = trials.trial(kind, name, obj, tmp_path / "eager", seed=3, run_eagerly=True)
    eager_history = eager.fit()
    assert not stages, "compile(run_eagerly=True) still trained through the stages"
    trials.assert_same_training(fast_history, fast.model, eager_history, eager.model)


def _record_stages(cls, monkeypatch):
    """The list of the stages that layers of class `cls` give the engine from now on."""
    stages = []
    declared = cls.stage

    def recording(layer, *args, **kwargs):
        stage = declared(layer, *args, **kwargs)
        stages.append(stage)
        return stage

    monkeypatch.setattr(cls, "stage", recording)
    return stages
