"""The interpreter state one file's code may change, put back and verified between files.

A worker child (:mod:`gradcheck.worker`) checks files one after another while their code
leaves the process as it found it. After each file, :meth:`CleanState.restore` puts back
what can be put back cheaply (the user's modules are dropped from ``sys.modules``;
``sys.path``, the working directory, the environment and TensorFlow's and Keras's global
settings are reset; the random generators are seeded anew before each file by
:mod:`gradcheck.seeding`) and then compares a fingerprint of everything else a file could leave
behind that changes a later verdict (TF/Keras configuration, the gradient and Keras object
registries, NumPy's error handling, the functions of tf, keras and numpy, threads the user
started). Any difference, and the child retires: the next file gets a freshly forked one.
So a verdict never depends on the files checked before it, and the common case costs a
millisecond instead of a new process (see benchmarks/README.md).
"""

from __future__ import annotations

import importlib
import os
import site
import sys
import sysconfig
import threading
from typing import Any, Callable

# Modules whose functions a file could replace (tf.nn.relu = ...): their attributes' identities
# are part of the fingerprint.
WATCHED_MODULES = ("tensorflow", "tensorflow.nn", "tensorflow.math", "keras.activations", "keras.ops",
                   "keras.layers", "numpy", "math")


def _library_dirs() -> tuple[str, ...]:
    dirs = {sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    try:
        dirs.update(site.getsitepackages())
        dirs.add(site.getusersitepackages())
    except AttributeError:  # virtualenvs with an old site.py
        pass
    dirs.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep + "gradcheck")
    return tuple(os.path.abspath(d) + os.sep for d in dirs if d)


_LIBRARY_DIRS = _library_dirs()


def is_user_module(module) -> bool:
    """A module loaded from the user's files (not built in, not from the standard library or
    an installed package, not gradcheck's)."""
    file = getattr(module, "__file__", None)
    paths = [file] if file else list(getattr(module, "__path__", None) or ())  # namespace packages
    return any(isinstance(p, str) and not os.path.abspath(p).startswith(_LIBRARY_DIRS) for p in paths)


CUSTOM = "CustomGradient-"


def _tensorflow() -> dict[str, Any]:
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return {}
    from tensorflow.python.framework import config, ops

    # No global seed here: seeding.seed_all sets it (with Python's, NumPy's and Keras's)
    # before each file's import and each check, so what a file leaves there reaches no other
    # file, and putting back an unseeded state would cost a kernel-cache clear per file.
    return {
        "tf run_functions_eagerly": tf.config.functions_run_eagerly(),
        "tf op determinism": config.is_op_determinism_enabled(),
        "tf jit": tf.config.optimizer.get_jit(),
        "tf optimizer options": sorted(tf.config.optimizer.get_experimental_options().items()),
        "tf soft device placement": tf.config.get_soft_device_placement(),
        "tf float32 as tf32": tf.config.experimental.tensor_float_32_execution_enabled(),
        "tf visible devices": [d.name for d in tf.config.get_visible_devices()],
        # tf.custom_gradient registers a uniquely named gradient at every call: not a collision risk
        "tf registered gradients": sorted(n for n in ops._gradient_registry.list() if not n.startswith(CUSTOM)),
    }


def _keras() -> dict[str, Any]:
    keras = sys.modules.get("keras")
    if keras is None:
        return {}
    return {
        "keras dtype policy": keras.config.dtype_policy().name,
        "keras floatx": keras.config.floatx(),
        "keras epsilon": keras.config.epsilon(),
        "keras image data format": keras.config.image_data_format(),
        "keras custom objects": len(keras.saving.get_custom_objects()),
    }


def _numpy() -> dict[str, Any]:
    np = sys.modules.get("numpy")
    return {} if np is None else {"numpy errors": sorted(np.geterr().items())}


FUNCTIONS = "functions of "


def _functions() -> dict[str, Any]:
    found = {}
    for name in WATCHED_MODULES:
        module = sys.modules.get(name)
        if module is not None:
            found[FUNCTIONS + name] = {k: id(v) for k, v in vars(module).items()}
    return found


def _differs(key: str, before: Any, after: Any) -> bool:
    if key.startswith(FUNCTIONS) and isinstance(before, dict) and isinstance(after, dict):
        # replaced or removed attributes; added ones (lazy submodules) change nothing we use
        return any(after.get(k) != v for k, v in before.items())
    return before != after


def _threads() -> dict[str, Any]:
    # gradcheck's own threads (lifeline, NumPy pool) come and go with the checks
    return {"threads": sorted(t.name for t in threading.enumerate() if not t.name.startswith("gradcheck"))}


FINGERPRINTS: tuple[Callable[[], dict[str, Any]], ...] = (_tensorflow, _keras, _numpy, _functions, _threads)


def fingerprint() -> dict[str, Any]:
    """What a file may leave behind that changes a later verdict, as comparable values."""
    found: dict[str, Any] = {}
    for part in FINGERPRINTS:
        try:
            found.update(part())
        except Exception as exc:  # a library whose internals moved: verify what we can read
            found[part.__name__] = f"unreadable: {type(exc).__name__}"
    return found


class CleanState:
    """The state of a worker child before its first file, to restore and verify after each."""

    def __init__(self):
        self.modules = set(sys.modules)
        self.path = list(sys.path)
        self.cwd = os.getcwd()
        self.environ = dict(os.environ)
        self.fingerprint = fingerprint()

    def restore(self) -> list[str]:
        """Put back what a file changed; return what still differs (empty: clean)."""
        try:
            os.chdir(self.cwd)
        except OSError:
            return ["working directory"]
        sys.path[:] = self.path
        if dict(os.environ) != self.environ:
            os.environ.clear()
            os.environ.update(self.environ)
        for name, module in list(sys.modules.items()):
            if name not in self.modules and is_user_module(module):
                del sys.modules[name]
        importlib.invalidate_caches()
        self._reset_settings()
        now = fingerprint()
        return sorted(k for k in self.fingerprint.keys() | now.keys() if _differs(k, self.fingerprint.get(k), now.get(k)))

    def _reset_settings(self) -> None:
        """The global settings a file's code commonly changes and that can be set back; only
        those that changed are touched (setting TensorFlow's options invalidates its caches)."""
        base, now = self.fingerprint, fingerprint_settings()
        tf, keras, np = (sys.modules.get(m) for m in ("tensorflow", "keras", "numpy"))
        setters = {
            "tf run_functions_eagerly": lambda v: tf.config.run_functions_eagerly(v),
            "tf jit": lambda v: tf.config.optimizer.set_jit(v),
            "keras dtype policy": lambda v: keras.config.set_dtype_policy(v),
            "keras floatx": lambda v: keras.config.set_floatx(v),
            "keras epsilon": lambda v: keras.config.set_epsilon(v),
            "keras image data format": lambda v: keras.config.set_image_data_format(v),
            "numpy errors": lambda v: np.seterr(**dict(v)),
        }
        for key, set_back in setters.items():
            if key in base and now.get(key) != base[key]:
                try:
                    set_back(base[key])
                except Exception:  # what could not be set back shows in the fingerprint
                    pass


def fingerprint_settings() -> dict[str, Any]:
    """The settings part of the fingerprint (TensorFlow, Keras, NumPy)."""
    found: dict[str, Any] = {}
    for part in (_tensorflow, _keras, _numpy):
        try:
            found.update(part())
        except Exception:
            pass
    return found
