"""Static scan of a source file: may it be imported to look for activations? (pure ``ast``)

Folder targets and hook mode import a file only if this scan, which never imports or
runs it, shows that

- it imports TensorFlow or Keras (``import tensorflow``, ``from tensorflow... import``,
  ``import keras``, ``from keras...``, ``tf_keras``; anywhere in the file), and
- it is an activation file: its path matches one of the ``files`` patterns
  (``[tool.gradcheck] files``, default ``*activation*``), or a top-level public ``def`` or
  ``class`` carries an explicit marker (``tf.custom_gradient``, ``keras.ops.custom_gradient``,
  ``@gradcheck.options(...)``, ``@gradcheck.skip(...)``, also stacked under other decorators).

A file admitted only by its markers is checked for the marked objects only
(:attr:`Scan.marked`). No TensorFlow, no import of the file: ``ast``, ``fnmatch`` only.
"""

from __future__ import annotations

import ast
import fnmatch
import tokenize
from dataclasses import dataclass

from .defaults import DEFAULT_FILES

TF_ROOTS = frozenset({"tensorflow", "keras", "tf_keras"})
# Decorators that make a def/class an activation, as fully resolved dotted names.
MARKERS = frozenset({
    "tensorflow.custom_gradient",
    "keras.ops.custom_gradient",
    "tensorflow.keras.ops.custom_gradient",
    "gradcheck.options",
    "gradcheck.skip",
    "gradcheck.marker.options",
    "gradcheck.marker.skip",
})
# Names a file may use without importing them under that name (``from compat import tf``).
CONVENTIONAL = {"tf": "tensorflow"}


@dataclass(frozen=True)
class Scan:
    """What the static scan of one file found."""

    file: str  # the path as found
    imports_tf: bool
    pattern: str | None  # the first ``files`` pattern the path matches
    marked: tuple[str, ...]  # public top-level defs/classes with a marker, in source order
    patterns: tuple[str, ...] = DEFAULT_FILES
    error: str | None = None  # the file could not be read or parsed (one line)

    @property
    def admitted(self) -> bool:
        """Whether the file may be imported. A matching file that does not parse is admitted:
        importing it runs nothing and reports the error where the user expects it."""
        if self.error is not None:
            return self.pattern is not None
        return self.imports_tf and (self.pattern is not None or bool(self.marked))

    @property
    def marker_only(self) -> bool:
        """Admitted only for its marked objects (the path matches no ``files`` pattern)."""
        return self.admitted and self.pattern is None

    @property
    def reason(self) -> str | None:
        """Why the file is not imported (one line), None if it is."""
        if self.admitted:
            return None
        if self.error is not None:
            return self.error
        if not self.imports_tf:
            return "does not import tensorflow/keras"
        where = " or ".join(self.patterns)
        return f"no activation file: path does not match {where}, no marker" if where else \
            "no activation file: no files pattern, no marker"


def normalize(path: str) -> str:
    """``path`` with ``/`` separators and without a leading ``./`` (what patterns match)."""
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:].lstrip("/")
    return path


def matching_pattern(path: str, patterns: tuple[str, ...] = DEFAULT_FILES) -> str | None:
    """The first of ``patterns`` (fnmatch globs: ``*`` also spans ``/``) that ``path`` matches."""
    path = normalize(path)
    return next((p for p in patterns if fnmatch.fnmatch(path, p)), None)


def scan_file(path: str, patterns: tuple[str, ...] = DEFAULT_FILES) -> Scan:
    """Scan the file at ``path`` (never raises for unreadable or invalid source)."""
    patterns = tuple(patterns)
    pattern = matching_pattern(path, patterns)
    try:
        with tokenize.open(path) as f:  # honours PEP 263 encoding declarations
            source = f.read()
        tree = ast.parse(source, filename=path)
    except SyntaxError as e:
        where = f" (line {e.lineno})" if e.lineno else ""
        return Scan(path, False, pattern, (), patterns, f"cannot be parsed: {type(e).__name__}: {e.msg}{where}")
    except (OSError, UnicodeDecodeError, ValueError) as e:
        return Scan(path, False, pattern, (), patterns, f"cannot be read: {type(e).__name__}: {e}")
    return scan_tree(tree, path, patterns, pattern)


def scan_source(source: str, path: str = "<string>", patterns: tuple[str, ...] = DEFAULT_FILES) -> Scan:
    """:func:`scan_file` for source text (``path`` is only matched against ``patterns``)."""
    patterns = tuple(patterns)
    return scan_tree(ast.parse(source, filename=path), path, patterns, matching_pattern(path, patterns))


def scan_tree(tree: ast.Module, path: str, patterns: tuple[str, ...], pattern: str | None) -> Scan:
    aliases = _aliases(tree)
    imports_tf = _imports_tf(tree)
    marked = tuple(d.name for d in _top_level_definitions(tree.body)
                   if not d.name.startswith("_") and any(_is_marker(dec, aliases) for dec in d.decorator_list))
    return Scan(path, imports_tf, pattern, tuple(dict.fromkeys(marked)), patterns)


def _root(dotted: str) -> str:
    return dotted.split(".", 1)[0]


def _imports_tf(tree: ast.AST) -> bool:
    """Any absolute import of TensorFlow/Keras anywhere (inside functions too)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(_root(a.name) in TF_ROOTS for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _root(node.module or "") in TF_ROOTS:
            return True
    return False


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted name it was imported as, for the imports anywhere in the module
    (``import tensorflow as tf``: tf -> tensorflow; ``from keras import ops``: ops -> keras.ops)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    names[a.asname] = a.name
                else:  # `import keras.ops` binds `keras`
                    names[_root(a.name)] = _root(a.name)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for a in node.names:
                if a.name != "*":
                    names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _top_level_definitions(body: list[ast.stmt]):
    """The defs and classes that bind module-level names, also inside top-level
    ``if``/``try``/``with`` blocks (not inside functions or classes)."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node
        elif isinstance(node, ast.If):
            yield from _top_level_definitions(node.body)
            yield from _top_level_definitions(node.orelse)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            yield from _top_level_definitions(node.body)
        elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _top_level_definitions(block)


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _is_marker(decorator: ast.expr, aliases: dict[str, str]) -> bool:
    if isinstance(decorator, ast.Call):  # @gradcheck.options(...), @tf.custom_gradient()
        decorator = decorator.func
    dotted = _dotted(decorator)
    if dotted is None:
        return False
    head, _, rest = dotted.partition(".")
    resolved = aliases.get(head) or CONVENTIONAL.get(head) or head
    full = f"{resolved}.{rest}" if rest else resolved
    return full in MARKERS
