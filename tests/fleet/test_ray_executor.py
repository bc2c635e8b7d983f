"""Executors: groups trained as Ray tasks give the local executor's numbers, survive a killed
worker, report a failing callback without retrying it, and resume a results directory; the
executor arguments are checked before any work.

The Ray tests share one small local cluster (2 CPUs), started once by `ray_cluster`. Where
Linux allows it (root, or the CAP_SYS_ADMIN capability), the cluster is started inside a
network namespace of its own with only the loopback interface up: the test process enters
the namespace for the duration of `ray.init`, so every Ray process and socket it starts
lives there, then returns to its own (Ray's driver threads keep the namespace they were
made in). Elsewhere it binds to 127.0.0.1.
"""

import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from netfleet.callbacks import Callback
from netfleet.errors import InvalidArgumentError
from netfleet.fleet import sweep
from netfleet.fleet.executors import LocalExecutor, RayExecutor
from netfleet.fleet.runner import Group, Member, run_groups
from netfleet.sklearn import FleetSearchCV, NetClassifier

CLONE_NEWNET = 0x40000000
COMPILE = {"optimizer": "sgd", "loss": "binary_crossentropy", "metrics": ["accuracy"]}
GRID = {"learning_rate": [0.05, 0.2], "epochs": [1, 3], "batch_size": [16, 32]}


def _enter_private_network():
    """Move this thread into a new network namespace with loopback up; the function that
    brings it back, or None where the system does not allow it."""
    if not sys.platform.startswith("linux") or shutil.which("ip") is None:
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/self/ns/net", os.O_RDONLY)

    def leave():
        if libc.setns(home, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "cannot return to the test's network namespace")
        os.close(home)

    if libc.unshare(CLONE_NEWNET) != 0:
        os.close(home)
        return None
    if subprocess.run(
        ["ip", "link", "set", "lo", "up"], check=False, capture_output=True
    ).returncode:
        leave()
        return None
    return leave


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray cluster of 2 CPUs on the loopback address, for the whole session."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.fail("Ray is already initialized: the Ray tests start their own cluster")
    leave = _enter_private_network()
    try:
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            object_store_memory=100 * 2**20,
            log_to_driver=False,
        )
    finally:
        if leave is not None:
            leave()
    # the callbacks below travel to the workers as code: this module is not importable there
    module = sys.modules[__name__]
    ray.cloudpickle.register_pickle_by_value(module)
    yield ray
    ray.cloudpickle.unregister_pickle_by_value(module)
    ray.shutdown()


@pytest.fixture
def data(banknotes_split):
    X_train, X_test, y_train, y_test = banknotes_split
    return X_train[:320], y_train[:320].astype("float32"), (X_test[:80], y_test[:80])


def run_sweep(build, data, **options):
    x, y, validation = data
    return sweep(
        build,
        GRID,
        x,
        y,
        compile=COMPILE,
        validation_data=validation,
        seed=0,
        **options,
    )


def assert_same_sweeps(expected, got):
    """The same histories and the same trained weights, bit for bit."""
    assert got.groups == expected.groups
    assert got.histories == expected.histories
    for mine, theirs in zip(got.models, expected.models, strict=True):
        assert mine.history.history == theirs.history.history
        for a, b in zip(mine.get_weights(), theirs.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)


class Interrupted(Exception):
    """A run stopped on purpose."""


class Attempts(Callback):
    """Appends a line to `path` each time a fleet starts training (in whichever process);
    raises `Interrupted` when more than `interrupt_after` fleets started."""

    def __init__(self, path, interrupt_after=None):
        super().__init__()
        self.path = str(path)
        self.interrupt_after = interrupt_after

    def on_train_begin(self, logs=None):
        with open(self.path, "a") as file:
            file.write(f"{os.getpid()}\n")
        if self.interrupt_after is not None and len(lines(self.path)) > self.interrupt_after:
            raise Interrupted


class KillWorkerOnce(Attempts):
    """Kills the Ray worker that runs it at the end of its first epoch, the first time only
    (a marker file remembers); never the test process."""

    def __init__(self, path, marker):
        super().__init__(path)
        self.marker = str(marker)
        self.driver = os.getpid()

    def on_epoch_end(self, epoch, logs=None):
        if os.getpid() == self.driver:
            return
        try:  # created atomically: of two workers reaching here at once, one kills itself
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        os.kill(os.getpid(), signal.SIGKILL)


class Fail(Callback):
    """Raises from user code at the start of training, after appending the fleet's first
    member's settings to `path` (one line per fleet started, whichever the process)."""

    def __init__(self, path):
        super().__init__()
        self.path = str(path)

    def on_train_begin(self, logs=None):
        with open(self.path, "a") as file:
            file.write(
                json.dumps(self.model.member_params[0], sort_keys=True, separators=(",", ":"))
                + "\n"
            )
        raise ValueError("the callback failed")


def lines(path):
    return open(path).read().split() if os.path.exists(path) else []


# -- the executor arguments, checked before any work --------------------------------------
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"executor": "dask"}, "The 'executor' argument of sweep must be 'local', 'ray' or"),
        ({"executor": 3}, "The 'executor' argument of sweep"),
        ({"ray_address": "auto"}, "pass executor='ray'"),
        ({"executor": LocalExecutor(), "ray_address": "auto"}, "RayExecutor\\(address=...\\)"),
    ],
)
def test_bad_executor_arguments_are_refused_before_any_build(build_model, data, options, message):
    builds = []

    def build():
        builds.append(1)
        return build_model()

    with pytest.raises(InvalidArgumentError, match=message):
        run_sweep(build, data, **options)
    assert builds == []


def test_a_search_checks_its_executor_when_fitted(data):
    x, y, _ = data
    search = FleetSearchCV(NetClassifier(seed=0), {"epochs": [1, 2]}, cv=2, executor="threads")
    with pytest.raises(InvalidArgumentError, match="'executor' argument of FleetSearchCV"):
        search.fit(x, y)


def test_ray_missing_is_an_error_that_says_how_to_install_it(build_model, data, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails
    with pytest.raises(ImportError, match='pip install "netfleet\\[ray\\]"'):
        run_sweep(build_model, data, executor="ray")
    with pytest.raises(ImportError, match="netfleet\\[ray\\]"):
        FleetSearchCV(NetClassifier(), {"epochs": [1]}, executor="ray").fit(data[0], data[1])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"max_members": 0}, "'max_members' argument of RayExecutor"),
        ({"num_cpus": -1}, "'num_cpus' argument of RayExecutor"),
        ({"num_gpus": "1"}, "'num_gpus' argument of RayExecutor"),
        ({"max_retries": -1}, "'max_retries' argument of RayExecutor"),
        ({"address": 6379}, "'address' argument of RayExecutor"),
    ],
)
def test_bad_ray_executor_settings_are_refused(arguments, message):
    with pytest.raises(InvalidArgumentError, match=message):
        RayExecutor(**arguments)


def test_an_error_in_a_build_function_names_the_configuration(build_model, data):
    def build(learning_rate):
        if learning_rate > 0.1:
            raise RuntimeError("cannot build this one")
        return build_model()

    with pytest.raises(RuntimeError, match="cannot build") as raised:
        run_sweep(build, data)
    assert raised.value.__notes__ == [
        "While building configuration 4 {'learning_rate': 0.2, 'epochs': 1, 'batch_size': 16}."
    ]


# -- a task budget cuts groups, in any executor --------------------------------------------
class Budget(LocalExecutor):
    """A local executor that trains at most `max_members` members per call."""

    def __init__(self, max_members):
        self.max_members = max_members
        self.calls = []

    def map(self, fn, groups):
        for group in groups:
            self.calls.append([member.key for member in group.members])
            yield fn(group)


def test_a_group_larger_than_the_budget_trains_in_parts_with_the_same_results(build_model, data):
    executor = Budget(max_members=3)
    expected = run_sweep(build_model, data)
    got = run_sweep(build_model, data, executor=executor)
    assert expected.groups == [[0, 2, 4, 6], [1, 3, 5, 7]]  # by batch size
    assert executor.calls == [[0, 2], [4, 6], [1, 3], [5, 7]]
    assert_same_sweeps(expected, got)


def test_members_of_a_run_need_distinct_keys(build_model, data):
    x, y, _ = data
    model = build_model()
    model.compile(**COMPILE)
    groups = [Group([model], [Member("a", 1)], x, y), Group([model], [Member("a", 1)], x, y)]
    with pytest.raises(InvalidArgumentError, match="distinct, hashable keys"):
        run_groups(groups)


# -- on a Ray cluster ----------------------------------------------------------------------
@pytest.mark.slow
def test_the_cluster_runs_on_the_loopback_address(ray_cluster):
    (node,) = ray_cluster.nodes()
    assert node["NodeManagerAddress"] == "127.0.0.1" and node["Alive"]


@pytest.mark.slow
def test_a_sweep_on_ray_equals_the_local_sweep_and_ships_the_data_once(
    ray_cluster, build_model, data, monkeypatch
):
    expected = run_sweep(build_model, data)
    put = []
    original = ray_cluster.put
    monkeypatch.setattr(ray_cluster, "put", lambda value: put.append(value) or original(value))
    got = run_sweep(build_model, data, executor=RayExecutor(max_members=3))
    assert_same_sweeps(expected, got)
    x, y, validation = data
    kinds = [type(value).__name__ for value in put]
    assert kinds.count("partial") == 1  # the training function and its hook: once
    assert sum(value is x for value in put) == 1 and sum(value is y for value in put) == 1
    assert sum(value is validation for value in put) == 1
    assert len(put) == 4  # not once per task: the 2 groups trained as 4


@pytest.mark.slow
def test_a_fleet_search_on_ray_equals_the_local_search(ray_cluster, data):
    x, y, _ = data
    estimator = NetClassifier(seed=0, hidden_layer_sizes=(4,), batch_size=32)
    grid = {"epochs": [1, 2], "optimizer__learning_rate": [0.001, 0.01]}
    expected = FleetSearchCV(estimator, grid, cv=3, return_train_score=True).fit(x, y)
    got = FleetSearchCV(estimator, grid, cv=3, return_train_score=True, executor="ray").fit(x, y)
    assert got.best_params_ == expected.best_params_
    for key, want in expected.cv_results_.items():
        if "_time" not in key and key != "params" and not key.startswith("param_"):
            np.testing.assert_array_equal(got.cv_results_[key], want, err_msg=key)


@pytest.mark.slow
def test_a_worker_killed_mid_group_costs_a_retry_and_the_results_equal_a_clean_run(
    ray_cluster, build_model, data, tmp_path
):
    expected = run_sweep(build_model, data)
    attempts, marker = tmp_path / "attempts", tmp_path / "killed"
    killer = KillWorkerOnce(attempts, marker)
    got = run_sweep(build_model, data, fit={"callbacks": [killer]}, executor="ray")
    assert marker.exists()
    started = lines(attempts)  # each group once, and Ray's retry of the killed one
    assert len(started) == len(expected.groups) + 1 and len(set(started)) == 2
    assert_same_sweeps(expected, got)


@pytest.mark.slow
def test_an_error_in_user_code_is_reported_with_the_members_and_not_retried(
    ray_cluster, build_model, data, tmp_path
):
    attempts = tmp_path / "attempts"
    with pytest.raises(ValueError, match="the callback failed") as raised:
        run_sweep(build_model, data, fit={"callbacks": [Fail(attempts)]}, executor="ray")
    # whichever group fails first is reported, with its members and their settings
    message = str(raised.value)
    assert re.search(r"While training the fleet of members [01] \{'learning_rate': 0.05", message)
    started = lines(attempts)
    # no fleet is tried twice (the other group may start on a free worker before the failure
    # cancels it)
    assert started and len(started) == len(set(started))


@pytest.mark.slow
def test_a_run_interrupted_locally_resumes_on_ray_training_only_what_is_left(
    ray_cluster, build_model, data, tmp_path
):
    grid = {"learning_rate": [0.05, 0.2], "batch_size": [16, 32]}
    x, y, _ = data

    def run(**options):
        return sweep(build_model, grid, x, y, compile=COMPILE, seed=0, **options)

    expected = run()
    assert len(expected.groups) == 2
    stop = Attempts(tmp_path / "first", interrupt_after=1)
    with pytest.raises(Interrupted):
        run(fit={"callbacks": [stop]}, results_dir=tmp_path / "run")
    count = Attempts(tmp_path / "again")
    got = run(fit={"callbacks": [count]}, results_dir=tmp_path / "run", executor="ray")
    assert len(lines(tmp_path / "again")) == 1
    assert_same_sweeps(expected, got)
