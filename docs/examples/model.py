"""A build function for `wines_build.toml`: `netfleet run` calls it once per configuration,
with the swept settings that are its parameters (here `depth` and `hidden_units`)."""

from netfleet.layers import Dense
from netfleet.models import Sequential


def make_model(depth=1, hidden_units=16):
    """`depth` hidden relu layers of `hidden_units` units, then a 3-way softmax."""
    layers = [Dense(hidden_units, activation="relu") for _ in range(depth)]
    return Sequential([*layers, Dense(3, activation="softmax")])
