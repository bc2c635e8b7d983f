"""Successive halving in one fleet: all candidates start together, the worst are dropped at
each rung, and the survivors keep training where they are.

The rung schedule is scikit-learn's (`HalvingGridSearchCV`, epochs as the resource): with
`n` candidates and a `factor`, iteration `i` trains its candidates to `r_i` epochs and keeps
the best `ceil(n_i / factor)` for the next, where `r_i = min_resources * factor**i` (never
above `max_resources`). Training to `r_{i+1}` continues from `r_i`: the fleet runner gives
back each member's optimizer and generator state (`continuation.MemberState`), and the next rung
is a `Group` of the same models continued from `initial_epoch=r_i`, so a survivor's numbers
are those of a run trained from scratch to `r_{i+1}`. Dropped members stay in their
group, frozen (`stop_members`), as members EarlyStopping stopped; a group left without
survivors stops running. Each rung is one round of `run_groups` over every group, so groups
of different architectures (or on different Ray workers) meet at the rung before the ranking.

The front ends: `netfleet.sklearn.FleetHalvingGridSearchCV` and
`FleetHalvingRandomSearchCV` rank candidates by their mean cross-validated score, and
`sweep(..., prune=Halving(...))` ranks configurations by a logged metric.
"""

import dataclasses
import math
import numbers

import numpy as np

from netfleet.callbacks.monitor import MonitorCallback
from netfleet.errors import InvalidArgumentError, argument_error, check_positive_int
from netfleet.fleet.runner import GroupResult, run_groups

MIN_RESOURCES = ("exhaust", "smallest")


@dataclasses.dataclass(frozen=True)
class Schedule:
    """The iterations of a successive halving run.

    Args:
        resources: The epochs (or samples) each iteration trains its candidates to.
        candidates: How many candidates each iteration ranks.
        remaining: How many candidates the last iteration keeps.
        min_resources: The first iteration's resources (scikit-learn's `min_resources_`).
        max_resources: The most any iteration may use (`max_resources_`).
        required_iterations: Iterations needed to end with fewer than `factor` candidates.
        possible_iterations: Iterations that fit between `min_resources` and
            `max_resources`.
    """

    resources: tuple
    candidates: tuple
    remaining: int
    min_resources: int
    max_resources: int
    required_iterations: int
    possible_iterations: int

    def kept(self, iteration):
        """How many candidates `iteration` keeps."""
        last = iteration + 1 == len(self.candidates)
        return self.remaining if last else self.candidates[iteration + 1]


def plan(
    n_candidates,
    *,
    factor=3,
    min_resources="exhaust",
    max_resources,
    aggressive_elimination=False,
    smallest=1,
    owner="Halving",
):
    """The `Schedule` for `n_candidates`, computed as scikit-learn's successive halving does.

    Args:
        n_candidates: The number of candidates of the first iteration.
        factor: Each iteration keeps `1 / factor` of its candidates and multiplies the
            resources by `factor`; a number > 1. Defaults to `3`.
        min_resources: The first iteration's resources: an int >= 1, `"smallest"`
            (`smallest`) or `"exhaust"` (the largest start whose last iteration still fits
            `max_resources`). Defaults to `"exhaust"`.
        max_resources: The most resources an iteration may use, an int >= 1.
        aggressive_elimination: Repeat the first iteration's resources until few enough
            candidates are left to end with fewer than `factor`, when the resources would
            run out first. Defaults to `False`.
        smallest: What `"smallest"` means (and where `"exhaust"` starts). Defaults to `1`.
        owner: The caller's name, for error messages.

    Raises:
        InvalidArgumentError: a setting is invalid, or `min_resources` exceeds
            `max_resources`.
    """
    check_positive_int(n_candidates, "n_candidates", owner)
    _check_factor(factor, owner)
    if not (isinstance(min_resources, str) and min_resources in MIN_RESOURCES):
        check_positive_int(min_resources, "min_resources", owner)
    check_positive_int(max_resources, "max_resources", owner)
    _check_flag(aggressive_elimination, owner)
    start = first_resources(min_resources, max_resources, smallest, owner)
    required = 1 + math.floor(math.log(n_candidates, factor))
    if min_resources == "exhaust":
        start = max(start, max_resources // factor ** (required - 1))
    possible = 1 + math.floor(math.log(max_resources // start, factor))
    iterations = required if aggressive_elimination else min(possible, required)
    resources, candidates = [], []
    for iteration in range(iterations):
        power = iteration
        if aggressive_elimination:
            power = max(0, iteration - required + possible)
        resources.append(min(int(factor**power * start), max_resources))
        candidates.append(n_candidates)
        n_candidates = math.ceil(n_candidates / factor)
    return Schedule(
        tuple(resources),
        tuple(candidates),
        n_candidates,
        start,
        max_resources,
        required,
        possible,
    )


def first_resources(min_resources, max_resources, smallest=1, owner="Halving"):
    """The first iteration's resources before `"exhaust"` raises them (scikit-learn's
    `min_resources_` after its input checks); see `plan` for the arguments.

    Raises:
        InvalidArgumentError: they exceed `max_resources`.
    """
    start = smallest if isinstance(min_resources, str) else min_resources
    if start > max_resources:
        raise InvalidArgumentError(
            f"{owner} would start with min_resources={start} but may use at most "
            f"max_resources={max_resources}: lower min_resources or raise max_resources."
        )
    return start


def best_of(scores, count):
    """Positions of the `count` best `scores` (higher is better, NaN worst), worst first:
    the candidates scikit-learn's successive halving keeps, in the order it keeps them."""
    scores = np.asarray(scores, dtype=float)
    order = np.roll(np.argsort(scores), np.count_nonzero(np.isnan(scores)))
    return order[len(order) - count :].tolist()


@dataclasses.dataclass
class Rung:
    """One iteration of a run: its `epoch`, its `candidates` (ids, in ranking order), the
    `results` of its groups' runs (`GroupResult`s), the candidates' `scores` and the ones
    it `kept`."""

    iteration: int
    epoch: int
    candidates: list
    results: list
    scores: list = None
    kept: list = None


@dataclasses.dataclass
class Outcome:
    """What `run_rungs` gives back: every `Rung`, each group's last `GroupResult` (in group
    order) and the epoch each member trained to, by key."""

    rungs: list
    results: list
    epochs: dict


def run_rungs(
    groups,
    schedule,
    candidates,
    candidates_of,
    evaluate,
    *,
    hook=None,
    finish=None,
    executor=None,
    record_errors=False,
):
    """Successive halving over the members of `groups`, rung by rung.

    Args:
        groups: The runner's `Group`s, fresh (no member state); members' `epochs` and
            `checkpoints` are set here, rung by rung.
        schedule: The `Schedule`; its `resources` are the rungs' epochs.
        candidates: The first iteration's candidate ids, in order.
        candidates_of: Member key -> the set of candidate ids it trains for (a candidate
            may have several members, e.g. one per cross-validation fold). A member trains
            while one of its candidates is kept.
        evaluate: Called with each `Rung` (its results in); returns one score per
            candidate of the rung, higher is better.
        hook: The runner's hook, shown each live member at the end of each rung.
            Defaults to `None`.
        finish: Train the last iteration's kept candidates on to this epoch (a sweep's
            `epochs`). Defaults to `None`: stop at the last rung.
        executor: Where the groups run (see `run_groups`). Defaults to a `LocalExecutor`.
        record_errors: Give back a failed group's traceback instead of raising; its members
            then fail at every later rung too. Defaults to `False`.
    """
    rounds = _Rounds(groups, candidates_of, hook, executor, record_errors)
    current, reached, rungs = list(candidates), 0, []
    for iteration, epoch in enumerate(schedule.resources):
        rung = Rung(iteration, epoch, current, rounds.train(current, reached, epoch))
        rung.scores = list(evaluate(rung))
        if len(rung.scores) != len(current):
            raise InvalidArgumentError(
                f"evaluate gave {len(rung.scores)} scores for {len(current)} candidates."
            )
        rung.kept = [current[i] for i in best_of(rung.scores, schedule.kept(iteration))]
        rungs.append(rung)
        current, reached = rung.kept, epoch
    if finish is not None and finish > reached:
        rounds.train(current, reached, finish, show=False)
    return Outcome(rungs, rounds.latest, rounds.epochs)


class _Rounds:
    """The groups across rungs: each one's latest result (models and member states, or its
    failure) and the epoch each member trained to."""

    def __init__(self, groups, candidates_of, hook, executor, record_errors):
        self.groups, self.candidates_of = groups, candidates_of
        self.hook, self.executor, self.record_errors = hook, executor, record_errors
        self.latest = [None] * len(groups)
        self.owner = {member.key: g for g, group in enumerate(groups) for member in group.members}
        self.epochs = dict.fromkeys(self.owner, 0)

    def train(self, candidates, reached, epoch, show=True):
        """Every group with a member training for one of `candidates` continues from
        `reached` to `epoch` (shown to the hook there when `show`); the rung's results."""
        alive, runs, results = set(candidates), [], []
        for g, group in enumerate(self.groups):
            members = group.members
            live = {m for m, member in enumerate(members) if self.candidates_of[member.key] & alive}
            latest = self.latest[g]
            if not live:
                continue
            if latest is not None and latest.error is not None:
                results.append(GroupResult(latest.keys, None, [], latest.error))
                continue
            runs.append(self._continued(g, live, reached, epoch, show))
            self.epochs.update((members[m].key, epoch) for m in live)
        for result in run_groups(
            runs, self.hook, executor=self.executor, record_errors=self.record_errors
        ):
            self.latest[self.owner[result.keys[0]]] = result
            results.append(result)
        return results

    def _continued(self, g, live, reached, epoch, show):
        """Group `g`'s run from `reached` to `epoch` for its members `live` (positions); the
        others stay frozen."""
        group, latest = self.groups[g], self.latest[g]
        members = [
            dataclasses.replace(
                member,
                epochs=epoch if m in live else self.epochs[member.key],
                checkpoints=(epoch,) if m in live and show else (),
                state=None if latest is None else latest.states[m],
            )
            for m, member in enumerate(group.members)
        ]
        models = group.models if latest is None else latest.models
        return dataclasses.replace(
            group, models=models, members=members, initial_epoch=reached, continuable=True
        )


@dataclasses.dataclass(frozen=True)
class Halving:
    """Successive halving for `sweep(..., prune=...)`: the configurations are ranked by a
    logged metric at each rung and the worst dropped (see `plan` for the rungs; the
    sweep's `epochs` are the most a configuration trains). Those kept after the last rung
    train on to the sweep's `epochs`.

    Args:
        metric: The logged value that ranks the configurations, at a rung's last epoch.
            Defaults to `"val_loss"`.
        mode: `"min"`, `"max"` or `"auto"` (the metric's declared direction, else `"max"`
            for names with `acc` or `auc`), as EarlyStopping reads it. Defaults to `"auto"`.
        factor: Each rung keeps `1 / factor` of its configurations and trains `factor`
            times as many epochs as the one before. Defaults to `3`.
        min_epochs: The first rung's epochs: an int >= 1 or `"exhaust"` (the largest
            start whose last rung still fits the sweep's `epochs`). Defaults to
            `"exhaust"`.
        aggressive_elimination: Repeat the first rung until few enough configurations are
            left, when the epochs would run out first. Defaults to `False`.

    Example:
        >>> Halving(metric="val_accuracy", min_epochs=1).factor
        3
    """

    metric: str = "val_loss"
    mode: str = "auto"
    factor: float = 3
    min_epochs: int | str = "exhaust"
    aggressive_elimination: bool = False

    def __post_init__(self):
        if not isinstance(self.metric, str) or not self.metric:
            raise argument_error("metric", "Halving", "a logged metric's name", self.metric)
        if self.mode not in ("auto", "min", "max"):
            raise argument_error("mode", "Halving", "'auto', 'min' or 'max'", self.mode)
        _check_factor(self.factor, "Halving")
        if self.min_epochs != "exhaust":
            check_positive_int(self.min_epochs, "min_epochs", "Halving")
        _check_flag(self.aggressive_elimination, "Halving")

    @classmethod
    def of(cls, prune, owner="sweep"):
        """`prune` as a `Halving`: one already, or a dict of its arguments."""
        if isinstance(prune, cls):
            return prune
        if isinstance(prune, dict):
            names = [field.name for field in dataclasses.fields(cls)]
            unknown = [name for name in prune if name not in names]
            if unknown:
                raise InvalidArgumentError(
                    f"The 'prune' argument of {owner} got {', '.join(map(repr, unknown))}. "
                    f"Valid: {', '.join(names)}."
                )
            return cls(**prune)
        expected = "a Halving or a dict such as dict(metric='val_loss', min_epochs=1)"
        raise argument_error("prune", owner, expected, prune)

    def schedule(self, configurations, epochs, validated, owner="sweep"):
        """The `Schedule` of `configurations` sharing `epochs`, checked before training.

        Args:
            configurations: How many configurations the sweep trains.
            epochs: The epochs every configuration trains at most.
            validated: Whether the sweep has validation data (`val_` metrics need it).
            owner: The caller's name, for error messages.
        """
        if self.metric.startswith("val_") and not validated:
            raise InvalidArgumentError(
                f"{owner} cannot prune by {self.metric!r} without validation data: pass "
                "validation_data or fit=dict(validation_split=...), or prune by 'loss'."
            )
        if self.min_epochs != "exhaust" and self.min_epochs > epochs:
            raise InvalidArgumentError(
                f"The first rung of {owner}'s prune would train min_epochs={self.min_epochs} "
                f"epochs, more than the configurations' epochs={epochs}: lower min_epochs or "
                "train more epochs."
            )
        return plan(
            configurations,
            factor=self.factor,
            min_resources=self.min_epochs,
            max_resources=epochs,
            aggressive_elimination=self.aggressive_elimination,
            owner=owner,
        )

    def run(self, groups, schedule, executor=None):
        """Train the sweep's `groups` (one member per configuration, keyed by its index)
        with successive halving; the trained models by key and, by key, the epoch at which
        a configuration was pruned (`None`: it trained all its epochs)."""
        keys = [member.key for group in groups for member in group.members]
        direction = _direction(self.metric, self.mode, groups[0].models[0])

        def evaluate(rung):
            models = {
                key: model
                for result in rung.results
                for key, model in zip(result.keys, result.models)
            }
            values = [self._value(models[key]) for key in rung.candidates]
            return values if direction == "max" else [-value for value in values]

        epochs = schedule.max_resources
        outcome = run_rungs(
            groups,
            schedule,
            keys,
            {key: {key} for key in keys},
            evaluate,
            finish=epochs,
            executor=executor,
        )
        models = {
            key: model
            for result in outcome.results
            for key, model in zip(result.keys, result.models)
        }
        pruned = {
            key: None if reached >= epochs else reached for key, reached in outcome.epochs.items()
        }
        return models, pruned

    def _value(self, model):
        """The model's last logged value of the metric (NaN before any epoch)."""
        logged = model.history.history
        if self.metric not in logged:
            raise InvalidArgumentError(
                f"The sweep's prune ranks by {self.metric!r}, which is not logged. Logged: "
                f"{', '.join(logged)}. Pass Halving(metric=...) one of those."
            )
        values = logged[self.metric]
        return float(values[-1]) if values else math.nan


def _direction(metric, mode, model):
    """`"min"` or `"max"`: which way `metric` of `model` improves, as EarlyStopping reads it."""
    monitor = MonitorCallback(monitor=metric, mode=mode)
    monitor.set_model(model)
    return monitor.direction


def _check_factor(factor, owner):
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not factor > 1:
        raise argument_error("factor", owner, "a number > 1 (each rung keeps 1/factor)", factor)


def _check_flag(value, owner):
    if not isinstance(value, bool):
        raise argument_error("aggressive_elimination", owner, "True or False", value)
