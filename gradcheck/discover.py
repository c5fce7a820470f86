"""Find the activations a loaded module defines (the contract's "Discovery" rules).

An activation is a public name (no leading ``_``, and listed in ``__all__`` if the module
has one) bound to an object defined in the module itself, that :func:`classify` accepts:

- ``Kind.CUSTOM_GRADIENT``: a ``tf.custom_gradient`` / ``keras.ops.custom_gradient``
  function, also under ``tf.function``; :func:`find_custom_gradient` reaches the wrapper;
- ``Kind.FUNCTION``: a Python function, lambda or ``tf.function`` callable with one argument;
- ``Kind.LAYER``: a ``keras.layers.Layer`` subclass whose constructor needs no arguments
  (not instantiated here), or a Layer *instance* bound at module level
  (``act = MyLayer(alpha=0.2)``) whose class the module defines. For an instance,
  ``Activation.obj`` is the instance itself, so checkers must accept both a class
  (build it) and an instance (use it as is).

Every other public callable defined in the module (helpers of two tensors, plain classes,
Layers that need constructor arguments) is not checked, but :func:`survey` lists it with
the reason (the contract's ``not_checked``).

Cheap on purpose: TensorFlow and Keras are never imported here. An object can only be a
``tf.function`` or a Layer if the user's module already imported them, so their types
are taken from ``sys.modules``.
"""

from __future__ import annotations

import enum
import inspect
import sys
from dataclasses import dataclass
from types import ModuleType

from .marker import options_of
from .results import NotChecked, activation_id

_P = inspect.Parameter
# Deepest wrapper chain followed (tf.function -> custom_gradient -> ...): a guard against odd objects.
MAX_WRAPPERS = 20


class Kind(str, enum.Enum):
    """How an activation is called. A ``str``: equal to, and serialised as, its value."""

    FUNCTION = "function"
    CUSTOM_GRADIENT = "custom_gradient"
    LAYER = "layer"

    def __str__(self) -> str:  # the plain value in f-strings and reports, on every Python
        return self.value

    __format__ = str.__format__


@dataclass(frozen=True)
class Activation:
    name: str  # attribute name in the module
    kind: Kind
    obj: object  # function / tf.function / custom_gradient wrapper / Layer subclass or instance
    file: str  # the path as the user gave it (or as found under a folder)
    options: dict  # from @gradcheck.options (marker.options_of)
    id: str  # results.activation_id(file, name): "file::name"


@dataclass(frozen=True)
class Survey:
    """What discovery saw in one module: the activations, and the public callables it
    cannot check (with the reason), both in definition order."""

    activations: list[Activation]
    not_checked: list[NotChecked]


def discover(module: ModuleType, file: str, *, only_tf_modules: bool = False) -> list[Activation]:
    """The activations ``module`` defines, in definition order, each with id ``file::name``.

    ``only_tf_modules``: a module that never uses TensorFlow or Keras holds no activation, so
    its one-argument functions (``main(argv=None)``, helpers) are not checked. (The command
    line no longer needs it: folder targets and hook mode only import files that the static
    scan of :mod:`gradcheck.scan` admits.)
    """
    return survey(module, file, only_tf_modules=only_tf_modules).activations


def survey(module: ModuleType, file: str, *, only_tf_modules: bool = False) -> Survey:
    """:func:`discover`'s activations plus the module's public callables it cannot check."""
    exported = getattr(module, "__all__", None)
    try:
        allowed = None if exported is None else set(exported)
    except TypeError:  # a malformed __all__: treat as absent rather than crash
        allowed = None
    found, skipped = [], []
    plain_functions_ok = not only_tf_modules or _uses_tensorflow(module)
    for name, obj in list(vars(module).items()):
        if name.startswith("_") or (allowed is not None and name not in allowed):
            continue
        if not (_defined_in(obj, module.__name__) or _keras_activation_layer(obj)):
            continue  # imported into the module, e.g. `from tensorflow.nn import relu`
        kind = classify(obj)
        if kind == Kind.FUNCTION and not plain_functions_ok and not _is_tf_function(obj):
            continue
        if kind is not None:
            found.append(Activation(name, kind, obj, file, options_of(obj), activation_id(file, name)))
            continue
        reason = why_not(obj)
        if reason is not None:
            skipped.append(NotChecked(activation_id(file, name), file, name, definition_line(obj), reason))
    return Survey(found, skipped)


_TF_ROOTS = frozenset({"tensorflow", "keras", "tf_keras"})


def _references_tf(namespace: dict) -> bool:
    for value in list(namespace.values()):
        try:
            name = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", None)
        except Exception:  # odd objects with a raising __getattr__
            continue
        if isinstance(name, str) and name.split(".")[0] in _TF_ROOTS:
            return True
    return False


def _uses_tensorflow(module: ModuleType) -> bool:
    """Whether ``module`` uses TensorFlow/Keras: it imports them (or names from them), one of its
    own helper modules or imported functions does, or its source mentions them (imports inside
    functions)."""
    ns = vars(module)
    if _references_tf(ns):
        return True
    for value in list(ns.values()):
        inner = vars(value) if inspect.ismodule(value) else getattr(value, "__globals__", None)
        if isinstance(inner, dict) and inner is not ns and _references_tf(inner):
            return True
    try:
        source = inspect.getsource(module)
    except (OSError, TypeError):
        return True  # cannot tell: keep the contract's rule
    return "tensorflow" in source or "keras" in source


def classify(obj: object) -> Kind | None:
    """The :class:`Kind` of ``obj``, or None if it is not an activation."""
    try:
        return _classify(obj)
    except Exception:  # odd user objects (__getattr__ that raises, broken signatures)
        return None


def find_custom_gradient(obj: object) -> object | None:
    """The ``tf.custom_gradient`` wrapper in ``obj``'s ``python_function``/``__wrapped__``
    chain (``obj`` itself if it is one); its ``__wrapped__`` returns ``(y, grad_fn)``."""
    for o in _chain(obj):
        if getattr(getattr(o, "_tf_decorator", None), "decorator_name", None) == "custom_gradient":
            return o
    return None


def why_not(obj: object) -> str | None:
    """Why ``obj``, a public name of a module, is not an activation; None if it is one or
    is not callable at all (constants, modules)."""
    try:
        if inspect.ismodule(obj) or classify(obj) is not None:
            return None
        if isinstance(obj, type):
            layer = _layer_type()
            if layer is not None and issubclass(obj, layer):
                return _constructor_problem(obj) or "cannot be built with no arguments"
            return "not a keras Layer"
        if find_custom_gradient(obj) is not None or inspect.isfunction(obj) or _is_tf_function(obj):
            return _call_problem(obj) or "not callable with one tensor"
        if callable(obj):
            return f"a callable {type(obj).__name__} object, not a function or a keras Layer"
    except Exception as exc:  # odd user objects
        return f"cannot be inspected: {type(exc).__name__}"
    return None


def definition_line(obj: object) -> int | None:
    """1-based line of the ``def``/``class`` that defines ``obj`` (past its decorators), or None."""
    target = obj if isinstance(obj, type) else innermost(obj)
    if not (inspect.isfunction(target) or isinstance(target, type)):
        return None
    try:
        lines, start = inspect.getsourcelines(target)
    except (OSError, TypeError):
        return None
    for offset, text in enumerate(lines):
        if text.lstrip().startswith(("def ", "async def ", "class ")):
            return start + offset
    return start or None


def _classify(obj: object) -> Kind | None:
    if inspect.ismodule(obj):
        return None
    layer = _layer_type()
    if isinstance(obj, type):
        if layer is not None and issubclass(obj, layer) and _buildable(obj):
            return Kind.LAYER
        return None  # plain classes, and Layers that need constructor arguments
    if layer is not None and isinstance(obj, layer):
        return Kind.LAYER
    if find_custom_gradient(obj) is not None:
        return Kind.CUSTOM_GRADIENT if _takes_one_arg(obj) else None
    if inspect.isfunction(obj) or _is_tf_function(obj):
        return Kind.FUNCTION if _takes_one_arg(obj) else None
    return None


def _chain(obj: object):
    """``obj`` and what it wraps (tf.function -> custom_gradient wrapper -> user function)."""
    seen = set()
    while obj is not None and id(obj) not in seen and len(seen) < MAX_WRAPPERS:
        seen.add(id(obj))
        yield obj
        obj = getattr(obj, "python_function", None) or getattr(obj, "__wrapped__", None)


def innermost(obj: object) -> object:
    """The function (or object) at the end of ``obj``'s wrapper chain: what the user wrote."""
    last = obj
    for last in _chain(obj):
        pass
    return last


def _keras_activation_layer(obj: object) -> bool:
    """A module-level instance of one of Keras's own activation layers (``Activation("gelu")``,
    ``LeakyReLU(0.2)``, ``PReLU()``...): configured in the user's module, so it is theirs."""
    layer = _layer_type()
    return (layer is not None and isinstance(obj, layer) and not isinstance(obj, type)
            and type(obj).__module__.startswith("keras.src.layers.activations"))


def _defined_in(obj: object, module_name: str) -> bool:
    # Layer instances report their class's module; wrappers copy or wrap the user's function.
    return any(getattr(o, "__module__", None) == module_name for o in _chain(obj))


def _layer_type() -> type | None:
    keras = sys.modules.get("keras")
    return getattr(getattr(keras, "layers", None), "Layer", None)


def _is_tf_function(obj: object) -> bool:
    tf = sys.modules.get("tensorflow")
    generic = getattr(getattr(getattr(tf, "types", None), "experimental", None), "GenericFunction", None)
    return generic is not None and isinstance(obj, generic)


def _takes_one_arg(fn: object) -> bool:
    """Callable as ``fn(x)``: one required positional parameter, or none but room for one."""
    return _call_problem(fn) is None


def _call_problem(fn: object) -> str | None:
    """Why ``fn(x)`` is not a call of ``fn`` with one tensor (None if it is)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return "its signature cannot be read"
    keyword_only = [p.name for p in params if p.kind is _P.KEYWORD_ONLY and p.default is _P.empty]
    if keyword_only:
        s = "s" if len(keyword_only) > 1 else ""
        return f"takes required keyword-only argument{s} ({', '.join(keyword_only)})"
    positional = [p for p in params if p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)]
    required = [p.name for p in positional if p.default is _P.empty]
    var_args = any(p.kind is _P.VAR_POSITIONAL for p in params)
    if len(required) > 1:
        return f"takes {len(required)} required arguments ({', '.join(required)})"
    if not required and not (positional or var_args):
        return "takes no arguments"
    return None


def _buildable(cls: type) -> bool:
    """Whether ``cls()`` needs no arguments, judged from ``__init__``'s signature."""
    return _constructor_problem(cls) is None


def _constructor_problem(cls: type) -> str | None:
    """Why ``cls()`` cannot be called without arguments (None if it can)."""
    try:
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]  # drop self
    except (TypeError, ValueError):
        return "its constructor's signature cannot be read"
    needed = [p.name for p in params
              if p.default is _P.empty and p.kind not in (_P.VAR_POSITIONAL, _P.VAR_KEYWORD)]
    return f"needs constructor arguments ({', '.join(needed)})" if needed else None
