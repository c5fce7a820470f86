"""Import a user's module file by path, the way pytest does, with readable load errors.

A file inside a package (folders with ``__init__.py``) is imported by its dotted name with
the package root's parent first on ``sys.path``, so relative and sibling-package imports
work. A standalone file is imported under a unique name derived from its absolute path
(two ``activations.py`` in different folders never collide), with its folder on
``sys.path`` so ``import helpers`` from a sibling works.

Any failure during import (including ``SystemExit``, but not ``KeyboardInterrupt``)
becomes a :class:`ModuleLoadError` carrying a :class:`~gradcheck.results.LoadError`.
This module does not import TensorFlow.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import os
import re
import sys
from types import ModuleType

from .results import LoadError
from .tracebacks import describe_import_error, same_file, user_traceback

# Hex digits of the path's hash in a standalone module's name: files that share a name stay apart.
_DIGEST_CHARS = 10


class ModuleLoadError(Exception):
    """A user module could not be imported; ``load_error`` says why, in one line."""

    def __init__(self, load_error: LoadError):
        super().__init__(load_error.message)
        self.load_error = load_error


def load_module(path: str, display_path: str | None = None) -> ModuleType:
    """Import the Python file at ``path`` and return the module.

    Raises :class:`ModuleLoadError` for any failure during the import. ``display_path``
    (default ``path``) is the name used for the file in the error.
    """
    abspath = os.path.abspath(path)
    old_dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # never leave __pycache__ in the user's folders
    try:
        importlib.invalidate_caches()  # files may have appeared since the finders cached listings
        dotted = _package_name(abspath)
        if dotted is not None:
            return _import_in_package(abspath, *dotted)
        return _import_standalone(abspath)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit and anything user code raises at import
        message = describe_import_error(exc, abspath)
        raise ModuleLoadError(LoadError(display_path or path, message, user_traceback(exc))) from exc
    finally:
        sys.dont_write_bytecode = old_dont_write


def _package_name(abspath: str) -> tuple[str, str] | None:
    """``(root_parent, dotted_name)`` if the file sits in a package, else None."""
    folder, filename = os.path.split(abspath)
    stem = os.path.splitext(filename)[0]
    if stem != "__init__" and not stem.isidentifier():
        return None
    parts = [] if stem == "__init__" else [stem]
    own = len(parts)
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        name = os.path.basename(folder)
        if not name.isidentifier():  # not importable by a dotted name: the root stops here
            break
        parts.insert(0, name)
        folder = os.path.dirname(folder)
    if len(parts) == own:
        return None  # not inside an importable package
    return folder, ".".join(parts)


def _import_in_package(abspath: str, root_parent: str, dotted: str) -> ModuleType:
    # A name already imported from somewhere else (another project's package, or a
    # package shadowing an installed one) would resolve to the wrong file.
    prefixes = [".".join(dotted.split(".")[: i + 1]) for i in range(dotted.count(".") + 1)]
    for name in prefixes:
        mod = sys.modules.get(name)
        if mod is not None and not _is_module_at(mod, root_parent, name):
            return _import_standalone(abspath)
    _prepend_path(root_parent)
    module = importlib.import_module(dotted)
    if not _is_module_at(module, root_parent, dotted):  # e.g. a built-in module of that name
        return _import_standalone(abspath)
    return module


def _is_module_at(module: ModuleType, root_parent: str, dotted: str) -> bool:
    """Whether ``module`` was loaded from where ``dotted`` lives under ``root_parent``."""
    file = getattr(module, "__file__", None)
    if not file:
        return False
    base = os.path.join(root_parent, *dotted.split("."))
    expected = [base + ".py", os.path.join(base, "__init__.py")]
    return any(same_file(file, e) for e in expected)


def _import_standalone(abspath: str) -> ModuleType:
    _prepend_path(os.path.dirname(abspath))
    stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(abspath))[0])
    digest = hashlib.sha1(os.path.normcase(os.path.realpath(abspath)).encode()).hexdigest()[:_DIGEST_CHARS]
    name = f"gradcheck_user_{stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    # An explicit loader also accepts files not ending in .py.
    loader = importlib.machinery.SourceFileLoader(name, abspath)
    spec = importlib.util.spec_from_file_location(name, abspath, loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before exec: dataclasses and pickle look the module up
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _prepend_path(folder: str) -> None:
    if folder not in sys.path:
        sys.path.insert(0, folder)
