"""Dropout inside a cross-validated fleet: folds of different sizes pad each step to the
largest fold, and each member must still draw exactly the dropout numbers its own separate
run draws (one generator per member, masks for its real rows only)."""

import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import scale

import netfleet as nf
from netfleet.datasets import wines
from netfleet.layers import Dense, Dropout
from netfleet.sklearn import FleetSearchCV, NetClassifier


def build(hidden=8):
    model = nf.Sequential(
        [
            Dense(hidden, activation="relu", input_shape=(13,)),
            Dropout(0.5),
            Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_fleet_search_with_dropout_equals_grid_search_on_folds_of_different_sizes():
    x, y = wines.load_data()
    x = scale(x).astype("float32")
    cv = StratifiedKFold(3, shuffle=True, random_state=0)  # 118, 119 and 119 training rows
    estimator = NetClassifier(build, epochs=3, batch_size=16, seed=1, verbose=0)
    grid = {"hidden": [8, 16]}
    separate = GridSearchCV(estimator, grid, cv=cv).fit(x, y).cv_results_
    fleet = FleetSearchCV(estimator, grid, cv=cv).fit(x, y).cv_results_
    for split in range(3):
        key = f"split{split}_test_score"
        np.testing.assert_array_equal(fleet[key], separate[key])
