"""The ``gradcheck`` command: options, pyproject defaults, progress, the chosen formatter.

No TensorFlow here, and nothing heavy at import time: ``--help`` and ``--version`` stay
instant, and the runner/reporters are imported only when a run starts.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from dataclasses import replace
from typing import NamedTuple

import click

from . import __version__
from .defaults import (DEFAULT_FILES, DEFAULT_ORDER, DEFAULT_RANGE, DEFAULT_SAMPLES, DEFAULT_SEED, DEFAULT_TIMEOUT,
                       FORMATS, ORDERS)
from .validation import AUTO, INT_MINIMUM, MAXIMUM, is_number, is_positive

# config (tomllib, pathlib), settings (dataclasses) and targets are imported where used:
# `gradcheck --version` must start about as fast as `import click, rich`.

# Exit statuses of the contract that the command sets itself (0 / 1 are Report.exit_code's).
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports it
MIN_MEMORY = 64 << 20  # --max-memory below this cannot even hold a check's arrays


class BoundedFloat(click.ParamType):
    """A finite float > 0 and at most ``maximum`` (click's FloatRange lets ``nan`` and ``inf`` through)."""

    name = "float"

    def __init__(self, maximum: float = math.inf):
        self.maximum = maximum

    def convert(self, value, param, ctx):
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a valid number.", param, ctx)
        if not is_positive(number):
            self.fail(f"{value!r} is not a finite number > 0.", param, ctx)
        if number > self.maximum:
            self.fail(f"{value!r} is more than {self.maximum:g}.", param, ctx)
        return number


class Jobs(click.ParamType):
    """A number of workers >= 1, or ``auto``."""

    name = "N|auto"

    def convert(self, value, param, ctx):
        if value == AUTO:
            return AUTO
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of workers or 'auto'.", param, ctx)
        if number < INT_MINIMUM["jobs"]:
            self.fail(f"{value!r} is not >= 1.", param, ctx)
        return number


class Order(click.ParamType):
    """The order of derivatives checked: 1, or 2 (second derivatives too)."""

    name = "|".join(map(str, ORDERS))

    def convert(self, value, param, ctx):
        try:
            number = int(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number not in ORDERS or (isinstance(value, float) and value != number):
            self.fail(f"{value!r} is not {' or '.join(map(str, ORDERS))}.", param, ctx)
        return number


class MemorySize(click.ParamType):
    """Bytes, written as 2G, 1.5GB, 512M, 800MiB or a plain number of bytes."""

    name = "SIZE"
    UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        text = str(value).strip().upper().removesuffix("IB").removesuffix("B")
        unit = text[-1:] if text[-1:] in self.UNITS and text[-1:] else ""
        try:
            number = float(text[: len(text) - len(unit)])
        except ValueError:
            self.fail(f"{value!r} is not a size such as 2G, 512M or 1.5GB.", param, ctx)
        size = number * self.UNITS[unit]
        if not (math.isfinite(size) and size >= MIN_MEMORY):
            self.fail(f"{value!r} is less than {MIN_MEMORY >> 20} MB.", param, ctx)
        return int(size)


class Output(click.ParamType):
    """``FORMAT=PATH``: a report to write to a file as well."""

    name = "FORMAT=PATH"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        fmt, sep, path = str(value).partition("=")
        if not sep or not path:
            self.fail(f"{value!r} is not FORMAT=PATH (e.g. junit=report.xml).", param, ctx)
        if fmt not in FORMATS:
            self.fail(f"{fmt!r} is not a format: choose from {', '.join(FORMATS)}.", param, ctx)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            self.fail(f"the folder of {path!r} does not exist.", param, ctx)
        return fmt, path


def _check_range(ctx, param, value):
    lo, hi = value
    if not (is_number(lo) and is_number(hi)):
        raise click.BadParameter(f"LO and HI must be finite, got {lo:g} {hi:g}.", ctx, param)
    if not lo < hi:
        raise click.BadParameter(f"LO must be less than HI, got {lo:g} {hi:g}.", ctx, param)
    if max(abs(lo), abs(hi)) > MAXIMUM["range"]:
        raise click.BadParameter(f"LO and HI must lie within +-{MAXIMUM['range']:g} (finite in float32), "
                                 f"got {lo:g} {hi:g}.", ctx, param)
    return value


def _read_config(ctx, param, value):
    """Eager: load ``[tool.gradcheck]`` into ``ctx.default_map`` before the other options
    get their values, so that command-line flags still win (black's approach)."""
    from .config import ConfigError, find_pyproject, load_config

    try:
        path = value or find_pyproject(list(ctx.params.get("targets") or ()))
        if not path:
            return None
        config = load_config(path)
    except ConfigError as e:
        raise click.UsageError(str(e), ctx) from None
    ctx.meta["gradcheck.overrides"] = config.pop("overrides", None)
    ctx.meta["gradcheck.files"] = config.pop("files", None)  # no command-line form
    ctx.meta["gradcheck.config"] = str(path)
    ctx.default_map = {**(ctx.default_map or {}), **config}  # keys are our parameter names
    return str(path)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
# Eager so that the config callback below can start its search from the targets.
@click.argument("targets", nargs=-1, required=True, is_eager=True, metavar="TARGET...")
@click.option("--format", "format", type=click.Choice(FORMATS), default="text", show_default=True,
              help="text: a table for people; json / junit: machine-readable; github: Actions annotations.")
@click.option("--color", type=click.Choice(("auto", "always", "never")), default="auto", show_default=True,
              help="Colour in the text output: auto follows the terminal, NO_COLOR and FORCE_COLOR.")
@click.option("-o", "--output", "outputs", type=Output(), multiple=True, metavar="FORMAT=PATH",
              help="Also write FORMAT to PATH in the same run (repeatable), e.g. -o junit=report.xml.")
@click.option("--samples", type=click.IntRange(min=INT_MINIMUM["samples"], max=MAXIMUM["samples"]),
              default=DEFAULT_SAMPLES, show_default=True,
              help="Sample points per activation (per dtype checked).")
@click.option("--range", "range", type=(float, float), default=DEFAULT_RANGE, show_default=True,
              metavar="LO HI", callback=_check_range, help="Input interval sampled.")
@click.option("--seed", type=click.IntRange(min=INT_MINIMUM["seed"]), default=DEFAULT_SEED, show_default=True,
              help="Seed of the sampling; same seed, same verdicts.")
@click.option("--timeout", type=BoundedFloat(MAXIMUM["timeout"]), default=DEFAULT_TIMEOUT, show_default=True,
              metavar="SECONDS", help="Per activation; longer is reported as error.")
@click.option("--rtol", type=BoundedFloat(), default=None, help="Relative tolerance [default: per dtype].")
@click.option("--atol", type=BoundedFloat(), default=None, help="Absolute tolerance [default: per dtype].")
@click.option("-j", "--jobs", type=Jobs(), default=1, show_default=True,
              help="Worker processes, or 'auto': as many as the cores and memory allow (~1 GB each).")
@click.option("--max-memory", type=MemorySize(), default=None, metavar="SIZE",
              help="Memory one file's checks may use beyond the worker's own (e.g. 2G); more is an error.")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip files found in folders that match.")
@click.option("--plot", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Write a PNG of function and gradients per activation (needs matplotlib).")
@click.option("--hook", is_flag=True, default=False,
              help="The files a pre-commit hook is handed: scope rules of folders, exit 0 when nothing is found.")
@click.option("--only-tf-modules", is_flag=True, default=False, hidden=True,
              help="Old name of --hook.")
@click.option("--stability/--no-stability", default=True, show_default=True,
              help="Also sweep low-precision dtypes far outside the range for overflow/NaN.")
@click.option("--order", type=Order(), default=DEFAULT_ORDER, show_default=True,
              help="2: also check second derivatives (the gradient of the gradient).")
@click.option("-q", "--quiet", count=True, help="Less output: -q problems only, -qq summary only.")
@click.option("-v", "--verbose", count=True, help="More output: every check, timings; -vv shows worker output.")
@click.option("--config", type=click.Path(exists=True, dir_okay=False), is_eager=True,
              expose_value=False, callback=_read_config, metavar="FILE",
              help="pyproject.toml to read [tool.gradcheck] from [default: found walking up from the targets].")
@click.version_option(__version__, "--version", prog_name="gradcheck", message="%(prog)s %(version)s")
@click.pass_context
def gradcheck(ctx, targets, format, color, outputs, samples, range, seed, timeout, rtol, atol, jobs, max_memory, exclude, plot,
              hook, only_tf_modules, stability, order, quiet, verbose):
    """Check the gradients of the activation functions in TARGET...

    TARGET is a .py file, a folder or file.py::name. A file given by name is searched for
    activations; in a folder (and with --hook), only files that import TensorFlow/Keras
    and whose path matches [tool.gradcheck] files (default *activation*) or that mark an
    activation (@tf.custom_gradient, @gradcheck.options) are imported.
    """
    from .settings import Settings

    hook = hook or only_tf_modules
    scope = _expand(ctx, targets, exclude, hook)
    settings = Settings(samples=samples, range=range, seed=seed, timeout=timeout, rtol=rtol, atol=atol,
                        stability=stability, order=order)
    verbosity = verbose - quiet
    if verbosity >= 1 and ctx.meta.get("gradcheck.config"):
        click.echo(f"config: {ctx.meta['gradcheck.config']}", err=True)
    if plot is not None:  # once, up front, rather than a note on every activation's result
        _require_plotting(ctx)

    from .runner import Interrupted, run, workers_for

    workers, why = workers_for(jobs, len(scope.jobs))
    if why is not None and (verbosity >= 1 or jobs != AUTO):
        click.echo(f"gradcheck: {why}", err=True)
    started = time.perf_counter()
    try:
        with _signals_interrupt(), \
                _progress(enabled=format == "text" and verbosity >= 0 and _is_tty(sys.stderr)) as on_event:
            report = run(scope.jobs, settings, jobs_n=workers, overrides=ctx.meta.get("gradcheck.overrides"),
                         plot_dir=plot, on_event=on_event, show_worker_output=verbosity >= 2,
                         max_memory=max_memory)
    except Interrupted as stopped:  # every worker is gone; show what was checked before the signal
        report = replace(stopped.report, interrupted=stopped.signum)
    report = _completed(report, settings, time.perf_counter() - started, scope)
    _write(report, format, verbosity, outputs, color)
    for problem in report.usage_errors:  # a ::name that names nothing: the user's mistake, exit 2
        click.echo(f"Error: {problem}", err=True)
    return report.exit_code


class _signals_interrupt:
    """While checks run, SIGTERM and SIGHUP (a cancelled CI job, a closed terminal) stop the
    run like Ctrl-C: the runner kills every worker and the results so far are reported."""

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __enter__(self):
        from .runner import Interrupted

        def stop(signum, frame):
            raise Interrupted(signum)

        self.saved = {}
        if threading.current_thread() is threading.main_thread():
            self.saved = {s: signal.signal(s, stop) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for s, handler in self.saved.items():
            signal.signal(s, handler)
        return False


class _Scope(NamedTuple):
    """What the run imports: the jobs, the files passed over, and how that was decided."""

    jobs: list
    not_imported: list
    files: tuple[str, ...]  # the [tool.gradcheck] files patterns
    hook: bool


def _expand(ctx, targets, exclude, hook: bool) -> _Scope:
    """The targets as jobs, after the static scan of the files found in folders (or handed
    to the hook): a file that is not an activation file is never imported."""
    from .targets import TargetError, apply_scope, expand_targets

    files = ctx.meta.get("gradcheck.files")
    files = DEFAULT_FILES if files is None else tuple(files)
    try:
        jobs = expand_targets(list(targets), tuple(exclude), hook=hook)
    except TargetError as e:
        raise click.BadParameter(str(e), ctx, _param(ctx, "targets")) from None
    jobs, not_imported = apply_scope(jobs, files)
    return _Scope(jobs, not_imported, files, hook)


def _require_plotting(ctx) -> None:
    from .plot import PlotUnavailable, check_available

    try:
        check_available()
    except PlotUnavailable as e:
        raise click.UsageError(str(e), ctx) from None


# The settings of the whole run, as the JSON lists them first (kinks and skip are per activation).
RUN_SETTINGS = ("samples", "range", "seed", "timeout", "rtol", "atol", "stability", "order")


def _completed(report, settings, elapsed: float, scope: _Scope):
    """``report`` with what the runner may have left out: the run's settings (the JSON shows
    them), the total time (the text summary shows it), and the scope: the files passed over
    and hook mode (the exit code depends on it)."""

    effective = {k: v for k, v in settings.to_dict().items() if k in RUN_SETTINGS}
    effective.update(files=list(scope.files), hook=scope.hook)
    report = replace(report, settings={**effective, **report.settings}, not_imported=tuple(scope.not_imported),
                     hook=scope.hook)
    if "total" not in dict(report.timings):
        report = replace(report, timings=(*report.timings, ("total", elapsed)))
    return report


def _write(report, format: str, verbosity: int, outputs=(), color: str = "auto") -> None:
    """The report on stdout in ``format``, and in each (format, path) of ``outputs`` to its
    file (no colour there)."""
    from .report import get_formatter

    for fmt, path in outputs:  # first: a closed stdout (`| head`) must not cost the CI report
        with open(path, "w", encoding="utf-8") as f:
            get_formatter(fmt, verbosity=verbosity, color=False).write(report, f)
    get_formatter(format, verbosity=verbosity, color=use_color(color)).write(report, sys.stdout)
    sys.stdout.flush()


def use_color(choice: str) -> bool:
    """``--color``: always / never; auto follows the terminal, NO_COLOR (off) and FORCE_COLOR
    (on, e.g. in CI logs that render ANSI), as https://no-color.org and force-color.org say."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or _is_tty(sys.stdout)


def _param(ctx, name):
    return next(p for p in ctx.command.params if p.name == name)


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _progress:
    """A rich progress bar on stderr fed by the runner's events; a no-op when disabled."""

    def __init__(self, enabled: bool):
        self.bar = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self.task = self.bar.add_task("loading", total=None)

    def __enter__(self):
        if self.bar is None:
            return None
        self.bar.start()
        return self.on_event

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()

    def on_event(self, kind, payload):
        task = self.bar.tasks[0]
        if kind == "discovered":
            self.bar.update(self.task, total=(task.total or 0) + payload[1])
        elif kind == "started":
            self.bar.update(self.task, description=str(payload))
        elif kind == "finished":
            self.bar.advance(self.task)


def main(argv: list[str] | None = None) -> int:
    """Run gradcheck; return the exit status (console scripts ``sys.exit`` it)."""
    try:
        return gradcheck.main(args=argv, prog_name="gradcheck", standalone_mode=False)
    except click.ClickException as e:
        # One line, click's wording, always the usage-error status.
        click.echo(f"Error: {e.format_message()}", err=True)
        return EXIT_USAGE
    except click.Abort:
        click.echo("Aborted!", err=True)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `gradcheck ... | head`: stop quietly, and keep Python's exit flush quiet too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
