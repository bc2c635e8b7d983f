"""The fleet runner: trains groups of single models as fleets, each member to its own epoch.

A `Group` is one self-contained unit of work: compiled single models that can share one
batched run (see `grouping.group_indices`), one `Member` of settings each (epochs, batch
size, training rows, swept settings), the data and the fit arguments they share.
`run_group` stacks the models, fits the fleet once up to the largest `epochs` with each
member's batch size and rows, freezes each member at the end of its own last epoch (so its
weights and history are those of its separate run), and gives back the same single models
trained, each with its own `history`. A hook sees members at the epochs they list
(`checkpoints`): the cross-validated searches score candidates there.

`sweep` and the scikit-learn searches are front ends: they build and group the models, then
call `run_groups`. These plug in here:

- Executors (`netfleet.fleet.executors`). `run_groups` hands the groups to an executor's
  `map(fn, groups)`, which yields `fn(group)` as groups finish: `LocalExecutor` runs them
  in this process, one after another; `RayExecutor` runs each call as a Ray task (a group,
  its hook and its result are plain objects that pickle). An executor with a `max_members`
  budget gets larger groups cut into parts (members train independently, so a part trains
  its members as the whole group would); their results are put together again here.
- A results store (`netfleet.fleet.durable.ResultStore`): finished groups are written as
  they arrive and read back instead of trained when the same run starts again.
- Progress (`netfleet.fleet.progress`): groups and members done, and the time left.
- Continued runs. A `continuable` group's run gives back each member's `MemberState` (its
  optimizer state, its random generators' states, whether a callback stopped it, its
  training seconds); a
  `Group` whose members carry one and whose `initial_epoch` is the epoch they reached
  continues their training exactly where it stopped (a member with fewer `epochs` stays
  frozen). Successive halving (`netfleet.fleet.halving`) runs each rung so: one round of
  `run_groups` over every group, from the previous rung's epoch to this one's.
"""

import collections
import dataclasses
import functools
import itertools
import math
import time
import traceback
from typing import Any

from netfleet.callbacks.base import Callback
from netfleet.engine.training import DEFAULT_BATCH_SIZE
from netfleet.errors import InvalidArgumentError, argument_error, check_positive_int
from netfleet.fleet import continuation
from netfleet.fleet.continuation import MemberState
from netfleet.fleet.executors import LocalExecutor
from netfleet.fleet.progress import GroupProgress
from netfleet.fleet.stack import stack

Checkpoint = collections.namedtuple("Checkpoint", ["key", "epoch", "model", "seconds"])
Checkpoint.__doc__ = """What a hook sees: member `key` at the end of `epoch` (0: before
training), `model` a single model holding its weights then, and `seconds` the run's
training time so far divided equally among its members (plus the member's share of the
earlier runs a continued group carries on)."""

Record = collections.namedtuple("Record", ["key", "epoch", "value"])
Record.__doc__ = "What the hook returned for member `key` at `epoch`."


@dataclasses.dataclass(frozen=True)
class Member:
    """One member's own settings in a group.

    Args:
        key: The caller's name for the member (e.g. its configuration's index), handed back
            in results and records.
        epochs: Trains this many epochs, then is frozen. 0 trains nothing.
        batch_size: Its batch size. Defaults to Keras' 32.
        rows: Its training rows, indices into the group's `x`: it trains as a separate `fit`
            on `x[rows]` would, `validation_split` holding out their last fraction. Defaults
            to `None`: all rows (give rows for every member of a group or for none).
        checkpoints: Epochs (0 to `epochs`) at which the hook sees the member. Defaults to
            none.
        params: Its settings, which label its history. Defaults to none.
        state: Its `MemberState` after an earlier run, which this one continues (see
            `Group.initial_epoch`). Defaults to `None`: training starts afresh.
    """

    key: Any
    epochs: int
    batch_size: int = DEFAULT_BATCH_SIZE
    rows: Any = None
    checkpoints: tuple = ()
    params: dict = dataclasses.field(default_factory=dict)
    state: MemberState | None = None

    def __post_init__(self):
        check_positive_int(self.epochs, "epochs", "Member", minimum=0)
        check_positive_int(self.batch_size, "batch_size", "Member")
        late = [epoch for epoch in self.checkpoints if not 0 <= epoch <= self.epochs]
        if late:
            raise argument_error(
                "checkpoints", "Member", f"epochs from 0 to its epochs ({self.epochs})", late
            )


@dataclasses.dataclass
class Group:
    """Single models that train as one fleet, with everything their run needs.

    Args:
        models: Compiled single models that can be stacked (same layers, loss, metrics),
            one per member.
        members: Their `Member` settings, in the same order.
        x: Training features (all members' rows).
        y: Training targets, in the form the models' loss takes.
        fit: The `fit` arguments the members share (`shuffle`, `validation_split`,
            `validation_data`, `class_weight`, `sample_weight`, `verbose`, `callbacks`).
            Defaults to none.
        initial_epoch: The epoch an earlier run of these members reached: the run
            continues from there (every member then carries its `state`, and its model the
            weights and `history` that run gave back). Defaults to `0`.
        continuable: Give back each member's `MemberState`, so that a later run can continue
            this one (successive halving's rungs). Defaults to `False`.
    """

    models: list
    members: list
    x: Any
    y: Any
    fit: dict = dataclasses.field(default_factory=dict)
    initial_epoch: int = 0
    continuable: bool = False

    def __post_init__(self):
        if len(self.models) != len(self.members) or not self.members:
            raise InvalidArgumentError(
                f"A Group needs one Member per model. Got {len(self.models)} models and "
                f"{len(self.members)} members."
            )
        fleets = [i for i, model in enumerate(self.models) if model.num_members != 1]
        if fleets:
            raise InvalidArgumentError(
                f"A Group takes single models; models {fleets} are fleets: give each of their "
                "members as a model of its own."
            )
        if len({member.rows is None for member in self.members}) > 1:
            raise InvalidArgumentError(
                "Give rows for every member of a Group or for none (all rows)."
            )
        self._check_continuation()
        reserved = set(self.fit) & {
            "epochs",
            "batch_size",
            "member_rows",
            "member_validation_rows",
            "member_batch_sizes",
        }
        if reserved:
            raise InvalidArgumentError(
                f"A Group's fit arguments cannot set {sorted(reserved)}: each Member has its own."
            )

    def _check_continuation(self):
        check_positive_int(self.initial_epoch, "initial_epoch", "Group", minimum=0)
        if len({member.state is None for member in self.members}) > 1:
            raise InvalidArgumentError(
                "Give a state for every member of a Group or for none (a fresh run)."
            )
        if self.initial_epoch and self.members[0].state is None:
            raise InvalidArgumentError(
                f"A Group continued from initial_epoch={self.initial_epoch} needs each "
                "member's state from the run that reached it (GroupResult.states)."
            )
        early = [
            member.key
            for member in self.members
            if any(epoch < self.initial_epoch for epoch in member.checkpoints)
        ]
        if early:
            raise InvalidArgumentError(
                f"Members {early} have checkpoints before the Group's initial_epoch "
                f"({self.initial_epoch}), which this run cannot show."
            )


@dataclasses.dataclass
class GroupResult:
    """What running a group gives back.

    Args:
        keys: The members' keys, in member order.
        models: The group's models, trained, each with its `history`; `None` when the run
            failed.
        records: Every `Record` of the hook, in the order it was called.
        error: The traceback of the failure when the run failed and errors are recorded.
        states: Each member's `MemberState`, in member order, for a run that continues
            this one; `None` unless the group is `continuable`, or when the run failed.
    """

    keys: list
    models: list | None
    records: list
    error: str | None = None
    states: list | None = None


def run_groups(
    groups, hook=None, *, executor=None, record_errors=False, store=None, progress=False
):
    """Run each group as one fleet; yield a `GroupResult` per group as groups finish.

    Args:
        groups: `Group`s. Their members' keys must be distinct (hashable) across groups.
        hook: Called as `hook(checkpoint)` at each member's checkpoints; what it returns is
            recorded. Defaults to `None` (no checkpoints).
        executor: Where the groups run (see `netfleet.fleet.executors`). Defaults to a
            `LocalExecutor`.
        record_errors: Give back a failed group's traceback in its result instead of
            raising. Defaults to `False`.
        store: A `netfleet.fleet.durable.ResultStore`: the groups it holds are read back
            first, not trained, and every group that finishes without error is written to
            it. Defaults to `None`.
        progress: Show the groups and members done and the time left, when the output is
            interactive. Defaults to `False`.

    Raises:
        InvalidArgumentError: two members share a key, or `store` holds another run.
    """
    groups = list(groups)
    owners = _owners(groups)
    finished = {} if store is None else store.open(groups)
    bar = GroupProgress(
        len(groups),
        sum(len(group.members) for group in groups),
        sum(group_work(group) for group in groups),
        live=None if progress else False,
    )
    run = functools.partial(run_group, hook=hook, record_errors=record_errors)
    executor = LocalExecutor() if executor is None else executor
    return _run(groups, owners, run, executor, store, finished, bar)


def _run(groups, owners, run, executor, store, finished, bar):
    """`run_groups`' results: the stored groups, then each trained one as it finishes."""
    try:
        for index, result in finished.items():
            bar.advance(len(result.keys), group_work(groups[index]), resumed=True)
            yield result
        budget = getattr(executor, "max_members", None)
        parts = [
            part
            for index, group in enumerate(groups)
            if index not in finished
            for part in split_group(group, budget)
        ]
        arrived = collections.defaultdict(list)
        for part in executor.map(run, parts):
            index = owners[part.keys[0]]
            arrived[index].append(part)
            if sum(len(p.keys) for p in arrived[index]) < len(groups[index].members):
                continue
            result = _merge(groups[index], arrived.pop(index))
            if store is not None and result.error is None:
                store.save(index, groups[index], result)
            bar.advance(len(result.keys), group_work(groups[index]))
            yield result
    finally:
        bar.close()


def _owners(groups):
    """The index of the group of each member key (keys must be distinct and hashable)."""
    owners = {}
    for index, group in enumerate(groups):
        for member in group.members:
            try:
                known = member.key in owners
            except TypeError:
                known = True
            if known:
                raise InvalidArgumentError(
                    "The members of a run need distinct, hashable keys. Got the key "
                    f"{member.key!r} twice or unhashable."
                )
            owners[member.key] = index
    return owners


def split_group(group, max_members):
    """`group` cut into parts of at most `max_members` consecutive members, as even as can
    be (the whole group when it fits, or when `max_members` is None)."""
    count = len(group.members)
    if max_members is None or count <= max_members:
        return [group]
    parts = math.ceil(count / max_members)
    bounds = [count * p // parts for p in range(parts + 1)]
    return [
        dataclasses.replace(group, models=group.models[a:b], members=group.members[a:b])
        for a, b in itertools.pairwise(bounds)
    ]


def group_work(group):
    """A measure of the time `group` takes: the training steps of its longest member."""
    rows = len(group.x)
    return max(
        max(0, member.epochs - group.initial_epoch)
        * math.ceil((rows if member.rows is None else len(member.rows)) / member.batch_size)
        for member in group.members
    )


def _merge(group, parts):
    """One `GroupResult` for `group` from the results of its parts, in member order."""
    if len(parts) == 1:
        return parts[0]
    position = {member.key: m for m, member in enumerate(group.members)}
    parts = sorted(parts, key=lambda part: position[part.keys[0]])
    errors = [part.error for part in parts if part.error is not None]
    return GroupResult(
        keys=[key for part in parts for key in part.keys],
        models=None if errors else [model for part in parts for model in part.models],
        records=[record for part in parts for record in part.records],
        error="\n".join(errors) if errors else None,
        states=None
        if errors or parts[0].states is None
        else [state for part in parts for state in part.states],
    )


def run_group(group, hook=None, record_errors=False):
    """Train `group` as one fleet (see the module docstring); its `GroupResult`.

    An error is raised with a note naming the members, with their settings, or given back
    as its traceback (`record_errors`).
    """
    keys = [member.key for member in group.members]
    records = []
    try:
        fleet = stack(group.models, member_params=[member.params for member in group.members])
        if group.members[0].state is not None:
            continuation.load_states(fleet, [member.state for member in group.members])
        schedule = _Schedule(group, hook, records)
        history = fleet.fit(group.x, group.y, **_fit_arguments(group, schedule))
        states = (
            continuation.member_states(fleet, schedule.stopped, schedule.seconds_of)
            if group.continuable
            else None
        )
    except Exception as error:
        if not record_errors:
            error.add_note(f"While training the fleet of members {_describe(group.members)}.")
            raise
        return GroupResult(keys, None, records, traceback.format_exc())
    weights = _weights_by_member(fleet)
    for m, model in enumerate(group.models):
        model.set_weights(weights[m])
        model.member_params = [group.members[m].params]
        earlier = getattr(model, "history", None) if group.initial_epoch else None
        model.history = continuation.continued_history(earlier, history.member(m))
    return GroupResult(keys, list(group.models), records, states=states)


def _describe(members, shown=10):
    """The members' keys with their settings, the first `shown` of them."""
    text = ", ".join(
        f"{member.key!r} {member.params}" if member.params else repr(member.key)
        for member in members[:shown]
    )
    more = len(members) - shown
    return text + (f" and {more} more" if more > 0 else "")


def _fit_arguments(group, schedule):
    """The fleet's `fit` arguments: the shared ones, each member's batch size and rows, and
    the largest `epochs`."""
    members = group.members
    arguments = dict(group.fit)
    sizes = [member.batch_size for member in members]
    if group.initial_epoch:
        arguments["initial_epoch"] = group.initial_epoch
    arguments.update(
        epochs=max(group.initial_epoch, *(member.epochs for member in members)),
        batch_size=max(sizes),  # validation's: every batch size gives the same means
        member_batch_sizes=sizes,
        callbacks=[*arguments.get("callbacks", []), schedule],
    )
    if members[0].rows is not None:
        split = arguments.pop("validation_split", 0.0)
        cuts = [int(len(member.rows) * (1 - split)) for member in members]
        arguments["member_rows"] = [m.rows[:cut] for m, cut in zip(members, cuts)]
        if split:
            arguments["member_validation_rows"] = [m.rows[cut:] for m, cut in zip(members, cuts)]
    return arguments


def _weights_by_member(fleet):
    """Each member's weights, arrays of one member's shape, from one read of the fleet's."""
    weights = fleet.get_weights()
    if fleet.num_members == 1:
        return [weights]
    return [[w[m] for w in weights] for m in range(fleet.num_members)]


class _Schedule(Callback):
    """Shows members to the hook at their checkpoints and freezes each after its last epoch.

    Members that another callback stopped early (EarlyStopping) are shown at the end of
    training for the checkpoints they did not reach, with the weights they stopped with; in
    a continued run, members stopped so before stay frozen, and so do members whose
    `epochs` the run's `initial_epoch` already reached.
    """

    def __init__(self, group, hook, records):
        super().__init__()
        self.group, self.hook, self.records = group, hook, records
        self.stopped = set()

    def on_train_begin(self, logs=None):
        self.start, self.hook_seconds = time.perf_counter(), 0.0
        self.pending = [
            sorted(set(member.checkpoints)) if self.hook is not None else []
            for member in self.group.members
        ]
        self.finished = set()
        self.stopped = {
            m
            for m, member in enumerate(self.group.members)
            if member.state and member.state.stopped
        }
        if self.stopped:
            self.model.stop_members(sorted(self.stopped))
        self._reach(self.group.initial_epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._reach(epoch + 1)

    def on_train_end(self, logs=None):
        self._show(lambda epoch: True)
        self.end = time.perf_counter()
        stopped = set(range(len(self.group.members))) - set(self.model.active_members)
        self.stopped |= stopped - self.finished

    def seconds_of(self, m):
        """Member `m`'s share of the training time, earlier runs' included."""
        return self._share(self.end) + self._earlier(m)

    def _share(self, now):
        return (now - self.start - self.hook_seconds) / len(self.group.members)

    def _earlier(self, m):
        state = self.group.members[m].state
        return 0.0 if state is None else state.seconds

    def _reach(self, epoch):
        self._show(lambda due: due == epoch)
        done = [m for m in self.model.active_members if self.group.members[m].epochs <= epoch]
        if done:
            self.model.stop_members(done)
            self.finished.update(done)

    def _show(self, is_due):
        began = time.perf_counter()
        share = self._share(began)
        weights = None
        for m, member in enumerate(self.group.members):
            due = [epoch for epoch in self.pending[m] if is_due(epoch)]
            if not due:
                continue
            weights = _weights_by_member(self.model) if weights is None else weights
            model = self.group.models[m]
            model.set_weights(weights[m])
            seconds = share + self._earlier(m)
            for epoch in due:
                value = self.hook(Checkpoint(member.key, epoch, model, seconds))
                self.records.append(Record(member.key, epoch, value))
                self.pending[m].remove(epoch)
        self.hook_seconds += time.perf_counter() - began
