"""group_indices: optimizer kinds always share a run; batch sizes share one only where the
module's rule says padding pays (small models, sizes that save steps)."""

import pytest

from netfleet import Sequential
from netfleet.fleet.grouping import _runs, group_indices
from netfleet.layers import Dense


def compiled(model, optimizer="sgd", loss="binary_crossentropy"):
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return model


def mnist_network():
    layers = [Dense(32, input_shape=(784,), activation="relu"), Dense(10, activation="softmax")]
    return compiled(Sequential(layers), "adam", "categorical_crossentropy")


def test_the_notebooks_batch_sizes_and_optimizers_each_share_one_run(build_model):
    sizes = [16, 32, 64, 128]
    models = [compiled(build_model()) for _ in sizes]
    settings = [{"batch_size": size, "epochs": 10} for size in sizes]
    assert group_indices(models, settings, mix_batch_sizes=True) == [[0, 1, 2, 3]]
    assert group_indices(models, settings) == [[0], [1], [2], [3]]
    kinds = [compiled(build_model(), kind) for kind in ("sgd", "adam", "adagrad", "rmsprop")]
    assert group_indices(kinds, [{"batch_size": 16}] * 4) == [[0, 1, 2, 3]]


def test_a_large_model_or_distant_batch_sizes_keep_their_own_runs(build_model):
    settings = [{"batch_size": 32}, {"batch_size": 1024}]
    mnist = [mnist_network(), mnist_network()]
    assert group_indices(mnist, settings, mix_batch_sizes=True) == [[0], [1]]
    small = [compiled(build_model()), compiled(build_model())]
    assert group_indices(small, settings, mix_batch_sizes=True) == [[0], [1]]


def test_other_fit_settings_layers_and_losses_still_split_in_first_seen_order(build_model):
    models = [
        compiled(build_model()),
        compiled(build_model(units=2)),
        compiled(build_model()),
        compiled(build_model(), loss="mse"),
        compiled(build_model()),
    ]
    settings = [
        {"batch_size": 16},
        {"batch_size": 16},
        {"batch_size": 16, "epochs": 3},
        {"batch_size": 16},
        {"batch_size": 32, "shuffle": False},
    ]
    assert group_indices(models, settings, mix_batch_sizes=True) == [[0, 2], [1], [3], [4]]


@pytest.mark.parametrize(
    ("members", "params", "runs"),
    [
        ({16: 1, 32: 1, 64: 1, 128: 1}, 5, {16: 16, 32: 16, 64: 16, 128: 16}),
        ({16: 1, 32: 1, 64: 1, 128: 1, 1024: 1}, 5, {16: 16, 32: 16, 64: 16, 128: 16, 1024: 1024}),
        ({16: 8, 32: 8, 64: 8, 128: 8}, 5, {16: 16, 32: 16, 64: 16, 128: 128}),
        ({16: 1, 32: 1, 64: 1, 128: 1}, 25_450, {16: 16, 32: 32, 64: 64, 128: 128}),
        ({16: 1, 128: 1}, 5, {16: 16, 128: 128}),
        ({16: 3}, 25_450, {16: 16}),
    ],
    ids=["notebook", "one_far_size", "many_members", "mnist_sized", "two_far_sizes", "one_size"],
)
def test_the_rule_merges_from_the_smallest_batch_size_while_it_pays(members, params, runs):
    assert _runs(members, params) == runs
