"""Expand the command line's TARGET arguments into :class:`Job` objects (no TensorFlow).

TARGET forms: ``module.py`` (every activation), ``dir`` (every ``*.py`` below it) and
``module.py::name`` (one activation, repeatable).
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass

# Folder names never searched: virtual envs and tool caches.
SKIP_DIRS = frozenset({"__pycache__", "venv", ".venv", "env", "site-packages", "node_modules"})
# Files skipped when found in a folder (still checked when given explicitly).
SKIP_FILES = frozenset({"__init__.py", "setup.py", "conftest.py"})


class TargetError(ValueError):
    """A TARGET that cannot be used (the CLI turns it into exit status 2)."""


@dataclass(frozen=True)
class Job:
    """One module to load; ``names`` None means every activation found in it."""

    file: str
    names: tuple[str, ...] | None = None


def expand_targets(targets: list[str], exclude: tuple[str, ...] = ()) -> list[Job]:
    """Jobs for ``targets`` in first-seen order, one per file.

    A file named twice (also through a folder) is checked once; several ``::name`` for
    one file merge, and naming the whole file anywhere wins over ``::name``. ``exclude``
    globs apply to files found in folders (matched against the path relative to the
    folder and the basename; a matching folder is not entered), not to files given
    explicitly. Raises :class:`TargetError` for a path that does not exist.
    """
    order: list[str] = []  # dedupe keys, first-seen order
    shown: dict[str, str] = {}  # key -> the path as the user gave it
    names: dict[str, list[str] | None] = {}
    for target in targets:
        path, sep, name = target.partition("::")
        if not os.path.exists(path):
            raise TargetError(f"Path '{path}' does not exist.")
        if sep:
            if not os.path.isfile(path):
                raise TargetError(f"'{target}': '::name' needs a file, not a folder.")
            if not name.isidentifier():
                raise TargetError(f"'{target}': '{name}' is not a valid activation name.")
        files = _files_under(path, exclude) if os.path.isdir(path) else [path]
        for file in files:
            key = os.path.normcase(os.path.realpath(file))
            if key not in shown:
                order.append(key)
                shown[key] = file
                names[key] = [name] if sep else None
            elif names[key] is not None:
                if not sep:
                    names[key] = None
                elif name not in names[key]:
                    names[key].append(name)
    return [Job(shown[k], None if names[k] is None else tuple(names[k])) for k in order]


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
