"""What the learning-rate callbacks share: each member's learning rate as the epoch's logs
hold it, and the members that train in an epoch."""

import numpy as np


def trained_members(model):
    """Mask (M,) of the members still training (all when the model does not say)."""
    members = model.num_members
    mask = np.zeros(members, dtype=bool)
    mask[getattr(model, "active_members", range(members))] = True
    return mask


def logged_rates(model, trained):
    """The learning rate of each member that trained (`trained`: a mask), as logs hold
    values: a float for one model, an array (M,) for a fleet, NaN for frozen members."""
    rates = np.where(trained, model.optimizer.current_learning_rates(), np.nan)
    return float(rates[0]) if len(rates) == 1 else rates
