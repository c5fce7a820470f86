"""An exception as one line for people, pointing at the user's code, not at ours.

Every place that reports a user's exception goes through here:

- :func:`describe_import_error` / :func:`user_traceback`: a module that failed to import
  (``ZeroDivisionError: division by zero (line 7)``), with the traceback cut to the user's frames;
- :func:`describe_exception`: the user's activation raised while being checked
  (``TypeError: message (acts.py:12)``);
- :func:`describe_escaped`: an exception that escaped the numerical core;
- :func:`one_line`: any exception, type and message, on one line.

The two "where" policies differ on purpose: at import the location is relative to the file
being loaded (``line 7``, or ``other/file.py, line 4``) and a library frame is a fallback;
during a check it is ``file.py:12`` and library frames never count.
Cheap: no TensorFlow or NumPy import (TensorFlow's folder is looked up only if it is loaded).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import sysconfig
import traceback

GRADCHECK_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_IMPORTLIB_DIR = os.path.dirname(os.path.abspath(importlib.__file__)) + os.sep
# Library folders: a location there is less useful to the user than one in their code.
_LIBRARY_DIRS = tuple(
    {os.path.abspath(p) + os.sep for k in ("stdlib", "platstdlib", "purelib", "platlib") if (p := sysconfig.get_path(k))}
)
# Longest first line of a check-time message; longer ones are cut with "...".
MAX_MESSAGE = 200


def one_line(exc: BaseException) -> str:
    """``Type: message`` with the message's whitespace (newlines too) collapsed."""
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def in_gradcheck(filename: str) -> bool:
    """Whether ``filename`` is one of gradcheck's own source files."""
    return os.path.abspath(filename).startswith(GRADCHECK_DIR)


# -- at import time ----------------------------------------------------------------------------

def _is_user_frame(filename: str) -> bool:
    """False for gradcheck's and importlib's own frames (pytest hides them too)."""
    if filename.startswith("<frozen"):
        return False
    return not os.path.abspath(filename).startswith((GRADCHECK_DIR, _IMPORTLIB_DIR))


def describe_import_error(exc: BaseException, abspath: str) -> str:
    """One line for an exception raised while importing the file at ``abspath``:
    ``Type: first line of the message (line N)``."""
    if isinstance(exc, SystemExit):
        code = "" if exc.code is None else repr(exc.code)
        text = f"SystemExit: module called sys.exit({code}) at import"
    elif isinstance(exc, SyntaxError):
        text = f"{type(exc).__name__}: {exc.msg}"
    else:
        first = str(exc).strip().splitlines()
        text = type(exc).__name__ + (f": {first[0]}" if first else "")
    where = _import_location(exc, abspath)
    return f"{text} ({where})" if where else text


def user_traceback(exc: BaseException) -> str:
    """The formatted traceback of ``exc`` (and what it chains to) with only the user's frames."""
    te = traceback.TracebackException.from_exception(exc)
    _keep_user_frames(te, set())
    return "".join(te.format()).rstrip("\n")


def _keep_user_frames(te: traceback.TracebackException, seen: set[int]) -> None:
    if id(te) in seen:
        return
    seen.add(id(te))
    te.stack = traceback.StackSummary.from_list([f for f in te.stack if _is_user_frame(f.filename)])
    for chained in (te.__cause__, te.__context__):
        if chained is not None:
            _keep_user_frames(chained, seen)


def _import_location(exc: BaseException, abspath: str) -> str | None:
    """``line N`` in the loaded file, or ``other/file.py, line N`` for another user file."""
    where: tuple[str, int | None] | None = None
    if isinstance(exc, SyntaxError) and exc.filename and not exc.filename.startswith("<"):
        where = (exc.filename, exc.lineno)
    else:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_user_frame(f.filename)]
        # Innermost frame in the user's code; a library frame only if there is none.
        own = [f for f in frames if not os.path.abspath(f.filename).startswith(_LIBRARY_DIRS)]
        if own or frames:
            f = (own or frames)[-1]
            where = (f.filename, f.lineno)
    if where is None or where[1] is None:
        return None
    filename, lineno = where
    if same_file(filename, abspath):
        return f"line {lineno}"
    shown = os.path.relpath(filename) if _under_cwd(filename) else filename
    return f"{shown.replace(os.sep, '/')}, line {lineno}"


def same_file(a: str, b: str) -> bool:
    """Whether two paths name the same file (links and case-insensitive file systems too)."""
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _under_cwd(filename: str) -> bool:
    try:
        return not os.path.relpath(filename).startswith("..")
    except ValueError:  # other drive on Windows
        return False


# -- during a check ----------------------------------------------------------------------------

def _tool_dirs() -> tuple[str, ...]:
    """Folders whose frames are never the user's: TensorFlow's (when loaded) and ours."""
    tf = sys.modules.get("tensorflow")
    tf_file = getattr(tf, "__file__", None)
    return ((os.path.dirname(tf_file) + os.sep,) if tf_file else ()) + (GRADCHECK_DIR,)


def _cut(line: str) -> str:
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 3] + "..."


def describe_exception(exc: BaseException) -> str:
    """``TypeError: message (file.py:12)`` naming the innermost frame in the user's code."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # Keras puts terminal bold codes in its messages
    msg = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(msg) > 1 and msg[0].startswith("Exception encountered when calling"):
        msg = msg[1:]  # Keras's wrapper around what the layer's call raised: the reason is next
    first = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", msg[0]) if msg else ""  # TF's kernel name
    if first.startswith("in user code:") and len(msg) > 1:
        # graph-mode errors: the real message is last, the user's frame is quoted in the text
        first = msg[-1]
        frames = re.findall(r'File "([^"]+)", line (\d+)', str(exc))
        user = [(f, n) for f, n in frames if "site-packages" not in f and not f.startswith("<")
                and "__autograph_generated" not in f]
        if user:
            first_line = _cut(first)
            if not first_line.startswith(type(exc).__name__):
                first_line = f"{type(exc).__name__}: {first_line}"
            return f"{first_line} ({os.path.basename(user[-1][0])}:{user[-1][1]})"
    first = _cut(first)
    tools = _tool_dirs()
    where = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        fn = os.path.abspath(frame.filename)
        if "site-packages" in fn or fn.startswith(tools) or fn.startswith("<"):
            continue
        where = f" ({os.path.basename(fn)}:{frame.lineno})"
        break
    return f"{type(exc).__name__}: {first}{where}" if first else f"{type(exc).__name__}{where}"


def describe_escaped(exc: BaseException) -> str:
    """One line for an exception that escaped the core: the user's if raised in their code,
    else marked as gradcheck's own bug (so nobody hunts for it in their activation)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames and in_gradcheck(frames[-1].filename):
        return f"gradcheck internal error (please report): {one_line(exc)}"
    return f"raised {describe_exception(exc)}"
