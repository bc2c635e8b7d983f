"""The course's labs as runnable experiments, each written as a report folder.

- `gates`: the lecture's logic gates, hand-built and learned.
- `gradient-descent`: the notebook on the banknotes and wines data, its four comparisons
  each trained as one fleet.
- `mnist`: the lecture's MNIST hands-on, the Keras MLP and the grid search as a
  `FleetSearchCV`.

`run_lab(name, quick=True)` runs one (`quick`: subsets, under a minute on two CPU cores)
and returns the report folder. `run_experiment` runs a user's TOML experiment file.
"""

from netfleet.labs.catalog import LABS, default_folder, run_lab
from netfleet.labs.experiment import run_experiment
from netfleet.labs.experiment_file import ExperimentError, load_experiment
from netfleet.labs.progress import Progress

__all__ = [
    "LABS",
    "ExperimentError",
    "Progress",
    "default_folder",
    "load_experiment",
    "run_experiment",
    "run_lab",
]
