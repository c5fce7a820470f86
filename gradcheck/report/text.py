"""``--format text``: a rich table for people, then what went wrong, then a summary line.

Verbosity: -2 summary only; -1 problem lines and summary; 0 adds the table; 1+ adds every
check's message, kinks, load-error tracebacks, the files not imported and the callables
not checked (with the reason), and timings. User-supplied strings are
printed as :class:`rich.text.Text` (never parsed as markup) and with ``soft_wrap`` so a
one-line message stays one line, whatever the width.
"""

from __future__ import annotations

import math
import os
from typing import TextIO

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from ..results import ERROR, FAIL, PASS, SEVERITY, SKIP, WARN, ActivationResult, CheckResult, Report, number
from . import total_time

# The checks that get a column (name -> header); any other check shows up in the verdict
# message and, with -v, in the per-check lines.
HEADERS = {"custom_vs_autodiff": "custom/auto", "vs_fd": "vs FD", "second_order": "2nd order"}
# Checks shown in the same column: elementwise and non-elementwise finite differences; the
# forward's determinism with the forward, the gradient of two calls with the gradient, the
# 3-D and 4-D layouts of the batch with the batch (the table keeps its width; the compact
# table and the messages name the check itself).
COLUMN_OF = {"gradient_vs_fd": "vs_fd", "vjp_vs_fd": "vs_fd", "determinism": "forward", "two_calls": "gradient",
             "ranks": "batch"}
# What a check's own line (CheckResult.line) points at; the hand-written gradient otherwise.
POINTS_AT = {"xla": "the op XLA does not compile"}
STYLES = {PASS: "green", WARN: "yellow", FAIL: "red", ERROR: "bold red", SKIP: "dim"}
# Columns when stdout is not a terminal (CI logs, files): wide enough for a table row on one line.
NON_TTY_WIDTH = 200
WIDEST = 10_000  # to measure what the full table would take, unclamped


def _status(status: str, upper: bool = False) -> Text:
    return Text(status.upper() if upper else status, style=STYLES.get(status, ""))


def _num(value: float | None, fmt: str) -> str:
    if value is None:
        return "-"
    return number(value, fmt) if math.isfinite(value) else str(value)


def deciding_check(result: ActivationResult) -> CheckResult | None:
    """The check whose figures the table shows: the verdict's lead check (its error and the
    point it is at, or none); for a pass, the one with the largest error."""
    if result.lead is not None:
        return result.lead
    measured = [c for c in result.checks if c.max_abs_error is not None]
    if not measured:
        return None

    def key(c):
        err = c.max_abs_error
        return SEVERITY.get(c.status, 0), math.inf if math.isnan(err) else err

    return max(measured, key=key)


def summary_line(report: Report) -> str:
    s = report.summary
    parts = [
        f"{s['passed']} passed",
        f"{s['warned']} warned",
        f"{s['failed']} failed",
        f"{s['errors']} error{'' if s['errors'] == 1 else 's'}",
        f"{s['skipped']} skipped",
    ]
    if report.errors:
        n = len(report.errors)
        parts.append(f"{n} file{'' if n == 1 else 's'} not loaded")
    if report.not_checked:
        parts.append(f"{len(report.not_checked)} not checked")
    line = ", ".join(parts)
    seconds = total_time(report)
    line = line if seconds is None else f"{line} in {seconds:.1f} s"
    if report.interrupted_by:
        line += f"; interrupted by {report.interrupted_by}: the rest was not checked"
    return line


def check_columns(report: Report) -> list[str]:
    """One column per check, in the order the checks ran (the pipeline's list): the results'
    own orders merged, each new name placed after the name it follows in its result."""
    columns: list[str] = []
    for r in report.results:
        before = -1
        for c in r.checks:
            name = COLUMN_OF.get(c.name, c.name)
            if name in columns:
                before = max(before, columns.index(name))
            else:
                before += 1
                columns.insert(before, name)
    return columns


def nothing_found_hints(report: Report, *, verbose: bool) -> list[str]:
    """What to try when a run found no activation."""
    hints = []
    if report.not_imported:
        n = len(report.not_imported)
        patterns = report.settings.get("files")
        where = f" (now {', '.join(patterns)})" if patterns else ""
        hints.append(f"{n} file{'' if n == 1 else 's'} not imported{'' if verbose else ' (-v says why)'}: "
                     f"name the files that hold activations to match [tool.gradcheck] files{where}, "
                     "mark activations with @gradcheck.options(), or give the files as targets")
    if report.not_checked and not verbose:
        n = len(report.not_checked)
        hints.append(f"{n} public callable{' was' if n == 1 else 's were'} not checked (-v says why)")
    return hints


class TextFormatter:
    def __init__(self, *, verbosity: int = 0, color: bool | None = None):
        self.verbosity = verbosity
        self.color = color

    def _console(self, stream: TextIO) -> Console:
        tty = bool(getattr(stream, "isatty", lambda: False)())
        color = self.color if self.color is not None else tty and not os.environ.get("NO_COLOR")
        return Console(
            file=stream,
            force_terminal=True if color else None,
            color_system="auto" if color else None,
            no_color=not color,
            width=None if tty else NON_TTY_WIDTH,  # never squeeze piped output to 80 columns
            highlight=False,
            markup=False,
            emoji=False,
        )

    def write(self, report: Report, stream: TextIO) -> None:
        console = self._console(stream)
        line = lambda *parts: console.print(Text.assemble(*parts), soft_wrap=True)  # noqa: E731
        if self.verbosity >= 0 and report.results:
            console.print(self._table(report, console))
        if self.verbosity >= -1 and report.nothing_found:
            line("no activations found")
            for hint in nothing_found_hints(report, verbose=self.verbosity >= 1):
                line(f"    hint: {hint}")
        if self.verbosity >= 1:
            for r in report.results:
                self._details(r, line)
            for n in report.not_imported:
                line(Text(f"not imported: {n.file} ({n.reason})", style="dim"))
            for n in report.not_checked:
                at = f" (line {n.line})" if n.line is not None else ""
                line(Text(f"not checked: {n.id}{at}: {n.reason}", style="dim"))
        if self.verbosity >= -1:
            for r in report.results:
                if r.status != PASS:
                    # linters' "path:line: ..." so that editors and terminals jump to it
                    line(f"{r.location}: ", _status(r.status, upper=True), f" {r.name}: {r.message}")
                    # the check the message comes from: where it points, and its hint
                    first = r.lead
                    if first is not None and first.line is not None and first.line != r.line:
                        line(f"    {r.file}:{first.line}: {POINTS_AT.get(first.name, 'the hand-written gradient')}")
                    if first is not None and first.hint:
                        line(f"    hint: {first.hint}")
            for e in report.errors:
                line(Text(f"{e.file}: {e.message}", style="red"))
                if self.verbosity >= 1 and e.detail:
                    line(Text(e.detail.rstrip("\n"), style="dim"))
        if self.verbosity >= 1 and report.timings:
            line("timings:")
            for label, seconds in report.timings:
                line(f"  {seconds:8.2f} s  {label}")
        plot_dirs = dict.fromkeys(os.path.dirname(r.plot) or "." for r in report.results if r.plot)
        if plot_dirs and self.verbosity >= -1:
            line(f"plots written to {', '.join(plot_dirs)}")
        style = "red" if report.exit_code else "yellow" if report.summary["warned"] else "green"
        line(Text(summary_line(report), style=f"bold {style}"))

    def _table(self, report: Report, console: Console) -> Table:
        """The full table when it fits the terminal; else one that always fits: files as
        headings, each activation's name, its verdict and the checks that did not pass."""
        full = self._full_table(report)
        if Measurement.get(console, console.options.update_width(WIDEST), full).maximum <= console.width:
            return full
        return self._compact_table(report)

    def _compact_table(self, report: Report) -> Table:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        table.add_column("activation", overflow="fold", ratio=3)
        table.add_column("verdict", no_wrap=True)
        table.add_column("checks not passed", overflow="fold", ratio=4)
        file = None
        for r in report.results:
            if r.file != file:
                file = r.file
                table.add_row(Text(file, style="bold"), "", "")
            problems = Text()
            for c in r.checks:
                if c.status not in (PASS, SKIP):
                    if problems:
                        problems.append(", ")
                    problems.append(HEADERS.get(COLUMN_OF.get(c.name, c.name), c.name) + " ")
                    problems.append(_status(c.status))
            table.add_row(Text(f"  {r.name}"), _status(r.status, upper=True), problems)
        return table

    def _full_table(self, report: Report) -> Table:
        columns = check_columns(report)
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        table.add_column("activation", overflow="fold")
        table.add_column("kind", no_wrap=True)
        for name in columns:
            table.add_column(HEADERS.get(name, name), no_wrap=True)
        table.add_column("max error", justify="right", no_wrap=True)
        table.add_column("worst x", justify="right", no_wrap=True)
        table.add_column("verdict", no_wrap=True)
        file = None
        for r in report.results:
            if r.file != file:  # files as headings, as in the compact table: names stay short
                file = r.file
                table.add_row(Text(file, style="bold"), *[""] * (len(columns) + 4))
            cells = []
            for name in columns:
                statuses = [c.status for c in r.checks if COLUMN_OF.get(c.name, c.name) == name]
                if statuses:
                    cells.append(_status(max(statuses, key=lambda s: SEVERITY.get(s, 0))))
                else:
                    cells.append(Text("-", style="dim"))
            worst = deciding_check(r)
            table.add_row(
                Text(f"  {r.name}"),
                r.kind,
                *cells,
                _num(worst and worst.max_abs_error, ".2e"),
                _num(worst and worst.worst_input, ".4g"),
                _status(r.status, upper=True),
            )
        return table

    def _details(self, r: ActivationResult, line) -> None:
        extra = f"  ({r.duration:.2f} s)" if r.duration is not None else ""
        line(_status(r.status, upper=True), f" {r.id}{extra}")
        for c in r.checks:
            where = f" [{c.dtype}]" if c.dtype else ""
            numbers = []
            if c.max_abs_error is not None:
                numbers.append(f"abs {_num(c.max_abs_error, '.2e')}")
            if c.max_rel_error is not None:
                numbers.append(f"rel {_num(c.max_rel_error, '.2e')}")
            if c.worst_input is not None:
                numbers.append(f"at x={_num(c.worst_input, '.6g')}")
            tail = f" ({', '.join(numbers)})" if numbers else ""
            line("    ", _status(c.status), f" {c.name}{where}: {c.message}{tail}")
            if c.kinks:
                line(f"        kinks: {', '.join(_num(k, '.6g') for k in c.kinks)}")
        if r.plot:
            line(f"    plot: {r.plot}")
