"""``[tool.gradcheck]`` in pyproject.toml: finding it and turning it into click defaults.

Discovery (like black's project root): walk up from the common parent of the targets
(or the cwd) and use the first ``pyproject.toml`` that has a ``[tool.gradcheck]`` table.
A ``pyproject.toml`` without the table is passed over (monorepo sub-projects), and the
walk stops at the first folder holding ``.git`` or ``.hg`` (the repository root), so a
config outside the project is never picked up. No TensorFlow here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .validation import unknown_names, validate_option  # noqa: E402

# Top-level keys of [tool.gradcheck]; each is also the click parameter name it feeds,
# except "overrides" and "files", which have no command-line form.
KEYS = ("samples", "range", "seed", "timeout", "rtol", "atol", "exclude", "files", "format", "jobs",
        "stability", "order", "plot", "overrides")
# Per-activation keys: the Settings options (defaults.OPTION_NAMES), in the order errors list them.
OVERRIDE_KEYS = ("range", "samples", "seed", "timeout", "rtol", "atol", "kinks", "skip", "stability", "order")
_ROOT_MARKERS = (".git", ".hg")


class ConfigError(ValueError):
    """A pyproject.toml that cannot be used (the CLI turns it into exit status 2)."""


def find_pyproject(paths: list[str]) -> Path | None:
    """The ``pyproject.toml`` with a ``[tool.gradcheck]`` table that governs ``paths``."""
    start = _common_parent(paths)
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if _is_file(candidate) and "gradcheck" in _read(candidate).get("tool", {}):
            return candidate
        if any(_is_file(folder / marker, or_folder=True) for marker in _ROOT_MARKERS):
            return None
    return None


def _is_file(path: Path, or_folder: bool = False) -> bool:
    """Whether ``path`` is a file (or a folder), False where it cannot be looked at (a folder
    the user may not read: the walk goes on instead of failing with a traceback)."""
    try:
        return path.is_file() or (or_folder and path.exists())
    except OSError:
        return False


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """The validated ``[tool.gradcheck]`` table of ``path`` as a click ``default_map``.

    Keys are click parameter names (``-`` becomes ``_``); ``exclude`` and ``files`` are
    tuples of globs, ``range`` a pair of floats, and ``overrides`` maps each glob to a dict
    of :class:`Settings` keys.
    An empty dict if the file has no ``[tool.gradcheck]`` table.
    """
    path = Path(path)
    table = _read(path).get("tool", {}).get("gradcheck", {})
    where = f"{path}: [tool.gradcheck]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    config = {}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        if key not in KEYS:
            raise ConfigError(f"{where}: unknown key '{raw_key}'; allowed keys: {', '.join(KEYS)}")
        if key == "overrides":
            config[key] = _overrides(value, f"{path}: [tool.gradcheck.overrides]")
        else:
            config[key] = _value(key, value, where)
    return config


def _common_parent(paths: list[str]) -> Path:
    folders = []
    for target in paths:
        p = Path(target.partition("::")[0]).resolve()
        folders.append(p if p.is_dir() else p.parent)
    if not folders:
        return Path.cwd().resolve()
    return Path(os.path.commonpath(folders))


def _read(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None


def _value(key: str, value: Any, where: str) -> Any:
    """``value`` checked (and normalised) for the option ``key``."""
    try:
        return validate_option(key, value)
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None


def _overrides(value: Any, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ConfigError(f"{where} must be a table of tables, e.g. [tool.gradcheck.overrides.\"*::relu*\"]")
    result = {}
    for glob, table in value.items():
        opts = {k.replace("-", "_"): v for k, v in table.items()}
        here = f'{where[:-1]}."{glob}"]'
        unknown = unknown_names(opts, OVERRIDE_KEYS)
        if unknown:
            raise ConfigError(
                f"{here}: unknown key '{unknown[0]}'; allowed keys: {', '.join(OVERRIDE_KEYS)}"
            )
        result[glob] = {key: _value(key, v, here) for key, v in opts.items()}
    return result
