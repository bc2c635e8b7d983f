"""Writing a report folder all at once: built in a temporary folder beside the target, then
renamed into place, so a failed or interrupted run never leaves a half report where a good
one was.

POSIX cannot swap two folders in one step: an old report is first renamed aside, the new one
renamed into place, and only then the old one removed (or renamed back if that failed).
"""

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from netfleet.errors import InvalidArgumentError

RESULTS = "results.json"
FORMAT = "netfleet.report"


def is_report(folder):
    """Whether `folder` holds a `results.json` written by a netfleet report."""
    try:
        with open(Path(folder) / RESULTS, encoding="utf-8") as file:
            return json.load(file).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def write_folder(target, fill):
    """Create or replace the folder `target` with what `fill(path)` writes into a fresh one.

    Args:
        target: The report folder. An existing one is replaced only if it is empty or a
            netfleet report (never a folder of other files).
        fill: Called with the temporary folder's `Path`; writes every file.

    Returns:
        The target as an absolute `Path`.
    """
    target = Path(target).absolute()
    if target.exists() and not (
        target.is_dir() and (is_report(target) or not any(target.iterdir()))
    ):
        raise InvalidArgumentError(
            f"{str(target)!r} exists and is not a netfleet report folder; choose another "
            "output folder (reports replace only their own folders)."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        fill(building)
        building.chmod(0o755)
        _move_into_place(building, target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return target


def _move_into_place(building, target):
    if not target.exists():
        os.rename(building, target)
        return
    aside = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.old")
    os.rename(target, aside)
    try:
        os.rename(building, target)
    except BaseException:
        os.rename(aside, target)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def write_file(path, data):
    """Replace the file `path` with `data` (bytes) through a temporary file beside it."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
