"""Which trained configurations can share one batched run.

Models can be stacked into one fleet when their layers have the same shapes, they use the
same loss and metrics, and they are fitted with the same fit settings but `epochs` and
`batch_size`:

- `epochs` need not agree: a group trains to its largest value and each member is read off
  at its own epoch.
- Optimizer kinds need not agree: the fleet updates each kind's members with its own rule
  (`MixedOptimizer`), one more optimizer call per step and kind. Always worth it.
- Batch sizes need not agree where it pays (`mix_batch_sizes=True`). A merged run pads every
  step to its largest batch `B_max` and takes the steps of its smallest `B_min`; separate
  runs take `R = sum(B_min / b)` times as many steps (`b` over the distinct batch sizes).
  A padded step costs about `PADDED_STEP` plain steps (per-member indices and masks) plus
  the arithmetic of its `M x B_max` rows, each worth the `P` parameters of a member plus
  `ROW_COST` (loss, metrics, gathering). So batch sizes share a run when

      M x (P + ROW_COST) x B_max <= STEP_COST x (R - PADDED_STEP)

  taking from the smallest batch size up the most sizes that satisfy it, then grouping the
  remaining sizes the same way. The notebook's logistic regression (P = 5) merges batch
  sizes 16, 32, 64, 128 (R = 1.875: 4 x 505 x 128 = 2.6e5 <= 1.5e6); MNIST's
  784 -> 32 -> 10 network (P = 25,450) keeps 32 and 1024 apart, and so does any model with
  sizes as far apart as 16 and 128 alone (R = 1.125), which even the notebook's model
  trains faster in two runs.
"""

import collections

from netfleet.engine.training import DEFAULT_BATCH_SIZE
from netfleet.fleet.stack import layer_signature

# Fitted to sweeps of batch sizes (16-128, 64-512, 16 and 128, 16 and 32, 32 and 1024) of
# 2 to 64 members with 5 to 8,257 parameters on a 2-core CPU: where the rule merges, merging
# saved 8-19 %; where it does not, merging cost up to 1.5x more, or saved at most 16 % (the
# rule errs towards separate runs).
STEP_COST = 4e6  # a step's fixed cost (with its share of per-epoch work), in parameter-rows
ROW_COST = 500  # a row's work beyond its parameters (loss, metrics, gathering), in parameters
PADDED_STEP = 1.5  # a padded step's fixed cost, in plain steps


def batch_key(model, fit_settings):
    """What must agree for `model` (compiled) to join a batched run."""
    compiled = model.compiled
    settings = {k: v for k, v in fit_settings.items() if k not in ("epochs", "batch_size")}
    return (
        repr(layer_signature(model)),
        compiled.signature(),
        repr(sorted(settings.items(), key=lambda kv: kv[0])),
    )


def group_indices(models, fit_settings, mix_batch_sizes=False):
    """Lists of indices into `models` that can train together, in first-seen order.

    Args:
        models: Compiled single models.
        fit_settings: One dict of fit arguments per model (batch_size, epochs, ...).
        mix_batch_sizes: Whether models fitted with different batch sizes may share a run
            where the module's rule says it pays; the caller then fits each member with its
            own (`member_batch_sizes`). Defaults to `False`: one batch size per run.
    """
    keys = [batch_key(model, settings) for model, settings in zip(models, fit_settings)]
    sizes = [settings.get("batch_size", DEFAULT_BATCH_SIZE) for settings in fit_settings]
    members = collections.defaultdict(collections.Counter)  # key -> batch size -> members
    params = {}  # key -> parameters per member
    for model, key, size in zip(models, keys, sizes):
        members[key][size] += model.num_members
        params.setdefault(key, model.count_params())
    labels = {  # key -> batch size -> the smallest batch size of its run
        key: _runs(counts, params[key]) if mix_batch_sizes else {size: size for size in counts}
        for key, counts in members.items()
    }
    groups = collections.OrderedDict()
    for i, (key, size) in enumerate(zip(keys, sizes)):
        groups.setdefault((key, labels[key][size]), []).append(i)
    return list(groups.values())


def _runs(members, params):
    """Label each batch size with the smallest batch size of the run it joins.

    Args:
        members: Members per batch size.
        params: Parameters per member.
    """
    sizes, labels = sorted(members), {}
    while sizes:
        take = max(
            k for k in range(1, len(sizes) + 1) if k == 1 or _pays(sizes[:k], members, params)
        )
        labels.update((size, sizes[0]) for size in sizes[:take])
        sizes = sizes[take:]
    return labels


def _pays(sizes, members, params):
    """Whether one run of ascending `sizes` padded to the largest beats a run per size."""
    steps_saved = sum(sizes[0] / size for size in sizes) - PADDED_STEP
    count = sum(members[size] for size in sizes)
    return count * (params + ROW_COST) * sizes[-1] <= STEP_COST * steps_saved
