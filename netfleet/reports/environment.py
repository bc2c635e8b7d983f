"""The versions a report was made with: Python, the platform and the packages that shape
its numbers."""

import platform
from importlib import metadata

PACKAGES = ("netfleet", "torch", "numpy", "scikit-learn", "pandas", "matplotlib")


def versions():
    """A dict name -> version string ("not installed" for a missing package)."""
    found = {"python": platform.python_version(), "platform": platform.platform()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found
