"""Tests for netfleet.layers.preprocessing (Rescaling)."""

import numpy as np
import pytest

from netfleet.layers import Input, Rescaling


def test_rescaling_computes_inputs_times_scale_plus_offset(rng):
    x = rng.uniform(0, 255, size=(3, 4, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(Rescaling(1 / 255)(x).numpy(), x / 255, rtol=1e-6)
    np.testing.assert_allclose(
        Rescaling(1 / 127.5, offset=-1)(x).numpy(), x / 127.5 - 1, rtol=1e-5, atol=1e-6
    )
    per_channel = Rescaling([1.0, 2.0, 3.0], offset=[0.0, 0.0, 1.0])(x).numpy()
    np.testing.assert_allclose(per_channel, x * [1, 2, 3] + [0, 0, 1], rtol=1e-6)
    assert Rescaling(2.0)(Input((4, 4, 3))).shape == (None, 4, 4, 3)


def test_rescaling_config_round_trips():
    layer = Rescaling([0.5, 2.0], offset=1.0, name="scale")
    assert Rescaling.from_config(layer.get_config()).get_config() == layer.get_config()


@pytest.mark.parametrize("scale", ["1/255", float("nan"), True, [1.0, None]])
def test_bad_scales_are_named(scale):
    with pytest.raises(ValueError, match="The 'scale' argument of Rescaling must be a finite"):
        Rescaling(scale)
