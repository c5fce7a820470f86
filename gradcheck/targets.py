"""Expand the command line's TARGET arguments into :class:`Job` objects (no TensorFlow).

TARGET forms: ``module.py`` (every activation), ``dir`` (every ``*.py`` below it) and
``module.py::name`` (one activation, repeatable). Files named explicitly are imported;
files found in folders, and every file in hook mode, only if the static scan
(:mod:`gradcheck.scan`) admits them (:func:`apply_scope`).
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass

from .defaults import DEFAULT_FILES
from .results import NotImported

# Folder names never searched: virtual envs and tool caches.
SKIP_DIRS = frozenset({"__pycache__", "venv", ".venv", "env", "site-packages", "node_modules"})
# Files skipped when found in a folder (still checked when given explicitly).
SKIP_FILES = frozenset({"__init__.py", "setup.py", "conftest.py"})


class TargetError(ValueError):
    """A TARGET that cannot be used (the CLI turns it into exit status 2)."""


@dataclass(frozen=True)
class Job:
    """One module to load.

    ``names``: the activations asked for by name (one that is missing is an error); None
    means every activation found in the file. ``scoped``: reached through a folder or the
    hook, not named on the command line, so :func:`apply_scope` decides whether it is
    imported. ``marked``: the file was admitted for its markers only; these names are
    checked too if they are activations (one that is missing is simply not checked).
    """

    file: str
    names: tuple[str, ...] | None = None
    scoped: bool = False
    marked: tuple[str, ...] | None = None


def expand_targets(targets: list[str], exclude: tuple[str, ...] = (), *, hook: bool = False) -> list[Job]:
    """Jobs for ``targets`` in first-seen order, one per file.

    A file named twice (also through a folder) is checked once; several ``::name`` for
    one file merge, and naming the whole file wins over ``::name``. A file found in a
    folder is ``scoped`` unless it is also named explicitly. ``exclude`` globs apply to
    files found in folders (matched against the path relative to the folder and the
    basename; a matching folder is not entered), not to files given explicitly.
    ``hook``: every file argument is treated as found in a folder (what a pre-commit hook
    is handed): ``*.py`` only, without ``__init__.py``/``setup.py``/``conftest.py``, excludes
    apply, and it is ``scoped``. Raises :class:`TargetError` for a path that does not exist,
    cannot be read, or (outside hook mode) is a file that is not ``*.py``.
    """
    order: list[str] = []  # dedupe keys, first-seen order
    shown: dict[str, str] = {}  # key -> the path as the user gave it
    names: dict[str, list[str] | None] = {}  # None: the whole file was named explicitly
    scoped: dict[str, bool] = {}  # found in a folder (or handed to the hook)
    for target in targets:
        path, sep, name = target.partition("::")
        if not os.path.exists(path):
            raise TargetError(f"Path '{path}' does not exist.")
        if not os.access(path, os.R_OK | (os.X_OK if os.path.isdir(path) else 0)):
            raise TargetError(f"Path '{path}' cannot be read (permission denied).")
        if os.path.isfile(path) and not path.endswith(".py") and not hook:
            raise TargetError(f"'{path}' is not a Python file (.py).")
        if sep:
            if not os.path.isfile(path):
                raise TargetError(f"'{target}': '::name' needs a file, not a folder.")
            if not name.isidentifier():
                raise TargetError(f"'{target}': '{name}' is not a valid activation name.")
        if os.path.isdir(path):
            files, found = _files_under(path, exclude), True
        elif hook and not sep:
            files, found = ([path] if _wanted_in_folder(path, exclude) else []), True
        else:
            files, found = [path], False
        for file in files:
            key = os.path.normcase(os.path.realpath(file))
            if key not in shown:
                order.append(key)
                shown[key] = file
                names[key] = [] if found or sep else None
                scoped[key] = False
            if found:
                scoped[key] = True
            elif not sep:
                names[key] = None
            elif names[key] is not None and name not in names[key]:
                names[key].append(name)
    jobs = []
    for k in order:
        if names[k] is None:  # named whole: explicit rules
            jobs.append(Job(shown[k]))
        else:
            jobs.append(Job(shown[k], None if scoped[k] and not names[k] else tuple(names[k]), scoped=scoped[k]))
    return jobs


def apply_scope(jobs: list[Job], patterns: tuple[str, ...] = DEFAULT_FILES) -> tuple[list[Job], list[NotImported]]:
    """The jobs to run and the files passed over, after the static scan of each ``scoped`` job.

    A scoped file the scan admits by its path (a ``patterns`` match) becomes a whole-file
    job; one admitted by its markers only checks the marked names (plus any asked for by
    ``::name``); one not admitted is only imported if names were asked for, and otherwise
    listed as :class:`~gradcheck.results.NotImported` with the reason.
    """
    from .scan import scan_file

    kept: list[Job] = []
    passed_over: list[NotImported] = []
    for job in jobs:
        if not job.scoped:
            kept.append(job)
            continue
        scan = scan_file(job.file, patterns)
        asked = job.names or ()
        if scan.admitted and not scan.marker_only:
            kept.append(Job(job.file))
        elif scan.admitted:
            kept.append(Job(job.file, asked, marked=scan.marked))
        elif asked:
            kept.append(Job(job.file, asked))
        else:
            passed_over.append(NotImported(job.file, scan.reason))
    return kept, passed_over


def _wanted_in_folder(path: str, exclude: tuple[str, ...]) -> bool:
    """Whether a file handed to the hook is one a folder walk would have taken."""
    from .scan import normalize

    rel = normalize(path.replace(os.sep, "/"))
    *folders, base = rel.split("/")
    if any(d.startswith(".") and d not in (".", "..") or d in SKIP_DIRS for d in folders):
        return False
    if not base.endswith(".py") or base.startswith(".") or base in SKIP_FILES:
        return False
    # As in a folder walk: the file and each folder above it, by path and by name.
    paths = ["/".join(folders[: i + 1]) for i in range(len(folders))] + [rel]
    return not any(fnmatch.fnmatch(p, g) or fnmatch.fnmatch(p.rsplit("/", 1)[-1], g) for p in paths for g in exclude)


def _files_under(folder: str, exclude: tuple[str, ...]) -> list[str]:
    """Every ``*.py`` below ``folder`` (sorted, as paths joined under ``folder``)."""

    def excluded(rel: str) -> bool:
        base = rel.rsplit("/", 1)[-1]
        return any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(base, g) for g in exclude)

    found: list[tuple[str, ...]] = []
    for dirpath, dirnames, filenames in os.walk(folder):  # does not follow symlinked folders
        rel_dir = os.path.relpath(dirpath, folder).replace(os.sep, "/")
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = [
            d
            for d in dirnames
            if not d.startswith(".")
            and d not in SKIP_DIRS
            and not os.path.isfile(os.path.join(dirpath, d, "pyvenv.cfg"))
            and not excluded(prefix + d)
        ]
        for f in filenames:
            if f.endswith(".py") and not f.startswith(".") and f not in SKIP_FILES and not excluded(prefix + f):
                found.append(tuple((prefix + f).split("/")))
    # Sorted by path components, so the files of one folder stay together.
    base = "" if folder in (".", "./") else (folder if folder.endswith("/") else folder + "/")
    return [base + "/".join(parts) for parts in sorted(found)]
