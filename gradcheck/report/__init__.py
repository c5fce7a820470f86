"""Formatters: each turns a finished :class:`~gradcheck.results.Report` into text on a stream.

They only read the Report (the exit code is the Report's, not theirs). Modules are imported
on demand so ``--format json`` never pays for rich.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TextIO

from ..defaults import FORMATS

if TYPE_CHECKING:
    from ..results import Report


class Formatter(Protocol):
    def write(self, report: Report, stream: TextIO) -> None:
        """Write the whole report to ``stream``."""


def get_formatter(name: str, *, verbosity: int = 0, color: bool | None = None) -> Formatter:
    """The formatter called ``name``.

    ``verbosity``: 0 normal, -1 (``-q``) and -2 (``-qq``) less, 1+ (``-v``) more; only
    ``text`` uses it. ``color``: None decides from the stream (TTY and no ``NO_COLOR``).
    """
    if name == "text":
        from .text import TextFormatter

        return TextFormatter(verbosity=verbosity, color=color)
    if name == "json":
        from .json_report import JsonFormatter

        return JsonFormatter()
    if name == "junit":
        from .junit import JunitFormatter

        return JunitFormatter()
    if name == "github":
        from .github import GithubFormatter

        return GithubFormatter()
    raise ValueError(f"unknown format {name!r}; choose from {', '.join(FORMATS)}")


def total_time(report: Report) -> float | None:
    """Wall time of the run: the ``total`` timing if present."""
    return dict(report.timings).get("total")
