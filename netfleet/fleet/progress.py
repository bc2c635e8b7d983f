"""The progress of a run of groups: groups and members done, and the time left.

One line, rewritten in place (a carriage return) as each group finishes, on a terminal or in
a notebook (Jupyter's output keeps only the text after the last carriage return); nothing
at all when the output is not interactive (a log file, a pipe, a test run):

    groups 3/8 ━━━━━━━━━━━━━━━━━━━━ members 12/32 - 4s elapsed - 9s left

The time left is the time so far, per unit of work done in this run, times the work left;
a group's work is the training steps of its longest member (see `runner.group_work`), and
groups read back from a results directory count as done without taking any time.
"""

import sys
import time

BAR_WIDTH = 20


def is_interactive(stream):
    """Whether `stream` is shown to a person as it is written: a terminal or a notebook."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) or "ipykernel" in sys.modules


class GroupProgress:
    """Shows how many of `groups` groups (`members` members, `work` units) are done.

    Args:
        groups: The number of groups of the run.
        members: Their number of members.
        work: Their work, in any unit (e.g. training steps).
        stream: Where the line goes. Defaults to `sys.stdout`.
        live: Whether to show it. Defaults to whether `stream` is interactive.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> bar = GroupProgress(2, 5, 10, stream=out, live=True)
        >>> bar.advance(members=3, work=4)
        >>> out.getvalue().split(" - ")[0]
        '\\rgroups 1/2 ━━━━━━━━━━\\x1b[2m━━━━━━━━━━\\x1b[0m members 3/5'
    """

    def __init__(self, groups, members, work, stream=None, live=None):
        self.stream = sys.stdout if stream is None else stream
        self.live = is_interactive(self.stream) if live is None else live
        self.totals = {"groups": groups, "members": members, "work": work}
        self.done = dict.fromkeys(self.totals, 0)
        self.work_timed = 0  # the work done in this run, which the time so far is for
        self.width = 0
        self.start = time.perf_counter()

    def advance(self, members, work, resumed=False):
        """Count one more group of `members` members and `work` done; `resumed`: read back,
        not trained now (it does not count towards the pace)."""
        self.done["groups"] += 1
        self.done["members"] += members
        self.done["work"] += work
        if not resumed:
            self.work_timed += work
        if self.live:
            line = self.line()
            self.stream.write("\r" + line.ljust(self.width))  # blanks what a longer one left
            self.width = len(line)
            self.stream.flush()

    def close(self):
        """End the line (when one was shown)."""
        if self.live and self.done["groups"]:
            self.stream.write("\n")
            self.stream.flush()

    def line(self):
        done, totals = self.done, self.totals
        filled = BAR_WIDTH * done["groups"] // max(1, totals["groups"])
        bar = "━" * filled
        if filled < BAR_WIDTH:
            bar += "\x1b[2m" + "━" * (BAR_WIDTH - filled) + "\x1b[0m"
        elapsed = time.perf_counter() - self.start
        text = (
            f"groups {done['groups']}/{totals['groups']} {bar} members "
            f"{done['members']}/{totals['members']} - {_duration(elapsed)} elapsed"
        )
        left = totals["work"] - done["work"]
        if done["groups"] < totals["groups"] and self.work_timed:
            text += f" - {_duration(elapsed / self.work_timed * left)} left"
        return text


def _duration(seconds):
    """Whole seconds, minutes or hours, as a person reads a wait."""
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"
