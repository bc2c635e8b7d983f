"""Common contract tests: one set of checks run over every entry of `netfleet.registry`, in the
manner of scikit-learn's `parametrize_with_checks` and PyTorch's module database. A newly
registered class or function gets the checks by being registered; `specs.py` holds what the
checks cannot guess (example arguments, the data an entry is tried on)."""
