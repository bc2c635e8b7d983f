"""Which trained configurations can share one batched run.

Models can be stacked into one fleet when their layers have the same shapes, they use the
same optimizer kind, loss and metrics, and they are fitted with the same batch size and
fit settings. `epochs` need not agree: a group trains to its largest value and each member
is read off at its own epoch.
"""

import collections

from netfleet.fleet.stack import _signature


def batch_key(model, fit_settings):
    """What must agree for `model` (compiled) to join a batched run."""
    compiled = model.compiled
    settings = {k: v for k, v in fit_settings.items() if k != "epochs"}
    return (
        repr(_signature(model)),
        type(compiled.optimizer).__name__,
        compiled.loss.name,
        repr(compiled.metric_ids),
        repr(sorted(settings.items(), key=lambda kv: kv[0])),
    )


def group_indices(models, fit_settings):
    """Lists of indices into `models` that can train together, in first-seen order.

    Args:
        models: Compiled single models.
        fit_settings: One dict of fit arguments per model (batch_size, epochs, ...).
    """
    groups = collections.OrderedDict()
    for i, (model, settings) in enumerate(zip(models, fit_settings)):
        groups.setdefault(batch_key(model, settings), []).append(i)
    return list(groups.values())
