"""Fixtures of the fleet tests: the notebook's logistic regression (the data is the shared
`banknotes_split` fixture of tests/conftest.py)."""

import pytest

from netfleet import Sequential
from netfleet.layers import Dense


def build(kernel_initializer="glorot_uniform", units=1, activation="sigmoid"):
    """The notebook's logistic regression on the four banknote features."""
    return Sequential(
        [
            Dense(
                units,
                input_shape=(4,),
                activation=activation,
                kernel_initializer=kernel_initializer,
            )
        ]
    )


@pytest.fixture(scope="session")
def build_model():
    return build
