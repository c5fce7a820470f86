"""The activation under test, wrapped so that checks can call it on NumPy batches.

This is the only place that knows how each kind is called (function, custom-gradient
function, Keras layer), which dtype it is checked in, and how the user's exceptions are
turned into one-line reasons.
"""

from __future__ import annotations

import functools
import inspect
import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..discover import Kind, find_custom_gradient, innermost
from ..tracebacks import describe_exception  # noqa: F401  (other verify modules import it from here)
from .arrays import ALIGN


class UserCodeError(Exception):
    """The user's activation raised or returned something unusable; ``reason`` is one line.

    ``stage`` is "forward" or "gradient": where it happened.
    """

    def __init__(self, reason: str, stage: str = "forward", status: str = "error"):
        super().__init__(reason)
        self.reason = reason
        self.stage = stage
        self.status = status  # "fail" where the user's code raised because its gradient is wrong


def _describe_value(y) -> str:
    if y is None:
        return "None"
    if isinstance(y, (tf.Tensor, tf.Variable)):
        return f"{_article(y.dtype.name)} {y.dtype.name} tensor of shape {tuple(y.shape)}"
    if isinstance(y, np.ndarray):
        return f"a NumPy array ({y.dtype}, shape {y.shape})"
    return f"{_article(type(y).__name__)} {type(y).__name__}"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


@dataclass
class Evaluation:
    """Forward output and, when asked, gradients for one batch."""

    y: np.ndarray
    g: np.ndarray | None = None  # d<u, y>/dx, None when TF returned None
    g_raw: object = None  # what TF returned, for shape/dtype checks
    not_tensor: str | None = None  # what a hand-written gradient returned instead of a tensor
    weight_grads: list | None = None
    x_tensor: object = None  # the input as sent to TensorFlow (reused by the finite differences)


@dataclass
class SecondOrder:
    """The first VJP and its gradient for one batch (nested GradientTapes)."""

    v: np.ndarray | None  # J^T u: the VJP with upstream u, None when TF returned None
    s: np.ndarray | None  # d<w, J^T u>/dx = H_u w, None when TF returned None (nothing connects it to x)
    missing: str | None = None  # TF has no gradient for an op of the gradient (LookupError), one line


class Subject:
    """A callable activation checked in one dtype (and, for a Keras layer whose ``call`` takes
    ``training``, in one mode: ``training`` True or False, None for everything else).

    A layer is called from the same state every time: its non-trainable weights (running
    means, counters kept in variables) are put back before each call to what they were after
    the first one, so that outputs are a function of the input as finite differences need,
    and a gradient is taken with the state its own call left (as training takes it). Random
    seeds (Keras seed generators, not weights) are not put back: randomness stays visible."""

    def __init__(self, activation, dtype: str, training: bool | None = None):
        self.activation = activation
        self.kind = activation.kind
        self.dtype = dtype
        self.training = training
        self.tol_dtype = dtype  # float32 when the arithmetic inside is float32
        self.grad_tol_dtype = dtype  # float32 when a hand-written gradient computes in float32
        self.tf_dtype = tf.as_dtype(dtype)
        self.layer = None
        self._state = None  # (variables, values after the first call) of a layer
        self.graph_traced = {}  # the graph check's graph functions by shape (the xla check reads their trace)
        self.out_tails = {}  # input's trailing shape -> output's, when they differ (GLU halves the last axis)
        # trainable float tf.Variables the activation reads beyond a layer's own weights (a
        # module-level alpha): found by the first gradient tape (evaluate), None until then
        self.variables = None
        self._variables_confirmed = False
        obj = activation.obj
        if self.kind == Kind.LAYER:
            self.layer = build_layer(obj, dtype)
            self._call = self.layer if training is None else functools.partial(self.layer, training=training)
        else:
            self._call = obj
        self.custom = find_custom_gradient(obj) if self.kind == Kind.CUSTOM_GRADIENT else None
        self.is_tf_function = isinstance(obj, tf.types.experimental.GenericFunction)
        if self.is_tf_function and _rank_of_signature(obj) == 1:
            # a tf.function that declares 1-D input: feed it the batch flattened
            self._call = lambda x, f=obj: tf.reshape(f(tf.reshape(x, [-1])), tf.shape(x))

    # -- calling ---------------------------------------------------------------------
    @property
    def weights(self) -> list:
        """What the weights check differentiates: a layer's trainable weights, then the
        variables the activation reads besides (``variables``)."""
        own = list(self.layer.trainable_weights) if self.layer is not None else []
        return own + (self.variables or [])

    def _find_variables(self, tape) -> list:
        """The trainable floating-point tf.Variables ``tape`` saw read (a tape watches those
        only), a layer's own weights left out (Keras 3 reads them through a tf.Variable
        inside each keras.Variable)."""
        owned = set()
        for w in (self.layer.variables if self.layer is not None else []):
            owned |= {id(w), id(getattr(w, "_value", w))}
        return [v for v in tape.watched_variables()
                if id(v) not in owned and v.trainable and v.dtype.is_floating]

    def weight_label(self, w) -> str:
        """How messages name ``w``: "weight 'kernel'" for a layer's own weights; for a variable
        read besides, the Python name it has where the user wrote it: "variable 'alpha'
        (module-level tf.Variable)", "(tf.Variable in a closure)", else its TF name."""
        if not any(w is v for v in self.variables or []):
            return f"weight '{getattr(w, 'name', None) or 'weight'}'"
        fn = innermost(self.activation.obj)
        if isinstance(fn, type):
            import sys
            scope, closure = vars(sys.modules.get(fn.__module__, fn)), {}
        else:
            scope = getattr(fn, "__globals__", {})
            cells = getattr(fn, "__closure__", None) or ()
            closure = dict(zip(getattr(getattr(fn, "__code__", None), "co_freevars", ()), cells))

        def same(obj):
            return obj is w or getattr(obj, "_value", None) is w

        for name, obj in scope.items():
            if same(obj):
                return f"variable '{name}' (module-level tf.Variable)"
        for name, cell in closure.items():
            try:
                if same(cell.cell_contents):
                    return f"variable '{name}' (tf.Variable in a closure)"
            except ValueError:  # an empty cell
                continue
        return f"variable '{w.name.split(':')[0]}' (tf.Variable)"

    def call(self, x: tf.Tensor, fn=None):
        fn = fn or self._call
        self.reset_state()
        try:
            y = fn(x)
        except UserCodeError:
            raise
        except Exception as exc:  # the user's code: any exception is a reason, not a crash
            if isinstance(exc, TypeError) and "grad_fn must accept keyword argument 'variables'" in str(exc):
                raise UserCodeError(self._no_variables_argument(x, fn), "gradient", "fail") from exc
            raise UserCodeError(f"raised {describe_exception(exc)}") from exc
        self.validate_output(y, x)
        if self._state is None and self.layer is not None:
            variables = [w for w in self.layer.weights if not w.trainable]  # weights: no seed generators
            self._state = (variables, [np.array(v.numpy()) for v in variables])
        return y

    def _no_variables_argument(self, x, fn) -> str:
        """The message for a custom-gradient function that reads variables while its grad
        function takes no ``variables`` (TensorFlow then raises TypeError at every call)."""
        with tf.GradientTape() as tape:  # records the reads made before TF raised
            try:
                fn(x)
            except Exception:
                pass
        self.variables = self._find_variables(tape)
        names = ", ".join(self.weight_label(v) for v in self.variables) or "a tf.Variable"
        return (f"the function reads {names} but its grad function takes no `variables` argument: TensorFlow raises "
                "TypeError at every call; define grad(dy, variables=None) and return (dx, [one gradient per "
                "variable])")

    def _variable_gradients_missing(self, exc: Exception) -> str | None:
        """A one-line message when the backward pass raised because a custom-gradient
        function's grad function did not return a gradient per variable it reads, else None."""
        text = str(exc)
        if not self.variables or self.custom is None:
            return None
        if "Must return gradient for each variable" not in text and "unpack" not in text:
            return None
        names = ", ".join(self.weight_label(v) for v in self.variables)
        return (f"the function reads {names} but its grad function does not return one gradient per variable "
                f"(TensorFlow: {describe_exception(exc)}); return (dx, [d_var, ...]) from grad(dy, variables=None)")

    def reset_state(self) -> None:
        """Put a layer's non-trainable weights back to what they were after its first call."""
        if self._state is not None:
            for v, value in zip(*self._state):
                v.assign(value)

    def adopt_weights(self, other: "Subject") -> str | None:
        """Give this subject's layer (built, by a first call, on inputs of another rank) the
        values of ``other``'s weights, and ``other``'s state as the one put back before each
        call, so both compute the same function. A weight built per position (Keras's PReLU:
        ``input_shape[1:]``) takes the other's per-feature values broadcast to its shape.
        Both layers have as many weights, in the same order. Returns None, or why the weights
        cannot be made the same (one line, "weight 'alpha' has shape (4,) where ... (8,)")."""
        other.reset_state()
        mine, theirs = self.layer.weights, other.layer.weights
        values = []
        for w, v in zip(mine, theirs):
            a = np.asarray(v.numpy())
            try:
                values.append(np.broadcast_to(a, tuple(w.shape)))
            except ValueError:
                return (f"it builds weight '{getattr(w, 'name', 'weight')}' of shape {tuple(w.shape)} where (rows, 8) "
                        f"inputs build {a.shape}")
        for w, a in zip(mine, values):
            w.assign(a)
        variables = [w for w in self.layer.weights if not w.trainable]
        self._state = (variables, [np.array(v.numpy()) for v in variables])
        return None

    @property
    def declared_rank(self) -> int | None:
        """The input rank the activation declares it takes (a tf.function's input_signature, a
        layer's InputSpec ndim), None when it declares none."""
        if self.is_tf_function:
            return _rank_of_signature(self.activation.obj)
        spec = getattr(self.layer, "input_spec", None)
        spec = spec[0] if isinstance(spec, (list, tuple)) and len(spec) == 1 else spec
        return getattr(spec, "ndim", None)

    def validate_output(self, y, x) -> None:
        if not isinstance(y, (tf.Tensor, tf.Variable)) or isinstance(y, tf.RaggedTensor):
            if isinstance(y, tuple) and len(y) == 2 and callable(y[1]):
                raise UserCodeError("returned a (value, grad_fn) pair: decorate it with @tf.custom_gradient")
            raise UserCodeError(f"returned {_describe_value(y)}, expected a tensor like its input")
        if not y.dtype.is_floating:
            raise UserCodeError(f"returned {_article(y.dtype.name)} {y.dtype.name} tensor, expected a floating-point tensor")
        if tuple(y.shape) != tuple(x.shape):
            # the contract allows other trailing sizes (GLU, maxout, CReLU), not another batch
            # size; nor another rank: a reduction over the features is not an activation
            if y.shape.rank in (None, 0) or y.shape[0] != x.shape[0]:
                raise UserCodeError(f"returned shape {tuple(y.shape)} for input shape {tuple(x.shape)}: the leading "
                                    "(batch) dimension must be kept")
            if y.shape.rank != x.shape.rank:
                raise UserCodeError(f"returned shape {tuple(y.shape)} for input shape {tuple(x.shape)}: an activation "
                                    "keeps the number of axes (it may change their sizes, as GLU halves the last)")
            self.out_tails[tuple(x.shape[1:])] = tuple(y.shape[1:])

    def out_shape(self, x_shape) -> tuple:
        """The output's shape for an input of ``x_shape`` (an upstream gradient must have it):
        ``x_shape`` itself unless a call on that trailing shape returned another one."""
        x_shape = tuple(x_shape)
        return (x_shape[0],) + self.out_tails.get(x_shape[1:], x_shape[1:])

    def forward(self, x: np.ndarray) -> np.ndarray:
        return host(self.call(to_tensor(x, self.tf_dtype)))

    def forward_shifted(self, x, h: np.ndarray, ks) -> list[np.ndarray]:
        """f(x + k h) for each k, with x and h sent to TensorFlow once (the shifts are TF ops).
        ``x`` may already be a tensor of the subject's dtype."""
        xt = x if isinstance(x, tf.Tensor) else to_tensor(x, self.tf_dtype)
        ht = to_tensor(h, self.tf_dtype)
        steps = {abs(k): (ht if abs(k) == 1 else ht * abs(k)) for k in ks}  # one product per |k|
        return [host(self.call(xt + steps[k] if k > 0 else xt - steps[-k])) for k in ks]

    def evaluate(self, x: np.ndarray, u: np.ndarray | None, *, weights=False, fn=None) -> Evaluation:
        """Forward and reverse pass as training runs them: GradientTape, upstream ``u``.
        ``x`` may already be a tensor of the subject's dtype.

        One gradient per tape, as in training (a second gradient from a persistent tape
        breaks tf.py_function)."""
        xt = x if isinstance(x, tf.Tensor) else to_tensor(x, self.tf_dtype)
        with tf.GradientTape() as tape:  # watches the variables read (they are found once)
            tape.watch(xt)
            y = self.call(xt, fn)
        if self.variables is None:
            self.variables = self._find_variables(tape)
        elif self.variables and not self._variables_confirmed:
            # a variable created inside the call (a new one each time) is no parameter: only
            # those the second call reads again are kept
            again = {id(v) for v in self._find_variables(tape)}
            self.variables = [v for v in self.variables if id(v) in again]
            self._variables_confirmed = True
        ws = self.weights if weights else []  # after the call: a layer's first call builds them
        ut = tf.ones_like(y) if u is None else to_tensor(u, y.dtype)  # None: ones of the output's shape
        out = Evaluation(y=host(y), x_tensor=xt)
        try:
            grads = tape.gradient(y, [xt] + ws, output_gradients=ut)
        except Exception as exc:
            missing = self._variable_gradients_missing(exc)
            if missing is not None:
                raise UserCodeError(missing, "gradient", "fail") from exc
            raise UserCodeError(f"gradient computation raised {describe_exception(exc)}", "gradient") from exc
        g = grads[0]
        out.g_raw = g
        if g is not None and not isinstance(g, (tf.Tensor, tf.IndexedSlices, tf.Variable)):
            out.not_tensor = _describe_value(g)
        out.g = _to_numpy(g)
        out.weight_grads = [_to_numpy(w) for w in grads[1:]]
        return out

    def evaluate_twice(self, x1: np.ndarray, u1: np.ndarray, x2: np.ndarray, u2: np.ndarray):
        """Input gradients (VJPs with ``u1``, ``u2``) of two calls, on ``x1`` then ``x2``, made
        in one GradientTape before one backward pass, as a model that applies the activation
        twice runs them. Raises UserCodeError (stage "gradient") if the backward pass raises."""
        x1t, x2t = to_tensor(x1, self.tf_dtype), to_tensor(x2, self.tf_dtype)
        with tf.GradientTape() as tape:
            tape.watch(x1t)
            tape.watch(x2t)
            y1 = self.call(x1t)
            y2 = self.call(x2t)
        try:
            g1, g2 = tape.gradient([y1, y2], [x1t, x2t],
                                   output_gradients=[to_tensor(u1, y1.dtype), to_tensor(u2, y2.dtype)])
        except Exception as exc:
            raise UserCodeError(f"gradient computation raised {describe_exception(exc)}", "gradient") from exc
        return _to_numpy(g1), _to_numpy(g2)

    def second_order(self, x: np.ndarray, u: np.ndarray, w: np.ndarray) -> SecondOrder:
        """The VJP v = J(x)^T u (inner tape, as training computes it) and the gradient of <w, v>
        with respect to x (outer tape): H_u w, where H_u is the Hessian of <u, f(x)>. This is
        what a gradient penalty or a Hessian-vector product differentiates, through the
        hand-written gradient of a custom-gradient function."""
        xt = to_tensor(x, self.tf_dtype)
        with tf.GradientTape() as outer:
            outer.watch(xt)
            with tf.GradientTape() as inner:
                inner.watch(xt)
                y = self.call(xt)
            try:
                v = inner.gradient(y, xt, output_gradients=to_tensor(u, y.dtype))
            except Exception as exc:
                raise UserCodeError(f"gradient computation raised {describe_exception(exc)}", "gradient") from exc
            if v is not None:
                v = tf.convert_to_tensor(v)  # IndexedSlices: dense, on the outer tape
        if v is None:
            return SecondOrder(None, None)
        try:
            s = outer.gradient(v, xt, output_gradients=to_tensor(w, v.dtype))
        except LookupError as exc:  # "gradient registry has no entry for: SoftsignGrad"
            return SecondOrder(_to_numpy(v), None, describe_exception(exc))
        except Exception as exc:
            raise UserCodeError(f"second derivative computation raised {describe_exception(exc)}",
                                "second_order") from exc
        return SecondOrder(_to_numpy(v), _to_numpy(s))

    def autodiff_of_forward(self, x: np.ndarray, u: np.ndarray) -> np.ndarray | None:
        """Autodiff of the forward ops of a custom-gradient function, ignoring its grad_fn."""
        raw = self.custom.__wrapped__
        xt = tf.constant(x, self.tf_dtype)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            out = raw(xt)
            y = out[0] if isinstance(out, (tuple, list)) else out
        return _to_numpy(tape.gradient(y, xt, output_gradients=tf.constant(u, y.dtype)))

    def gradient_line(self) -> int | None:
        """The line of the hand-written gradient function in the activation's file (where a
        check that blames it points), or None."""
        if self.custom is None:
            return None
        try:
            out = self.custom.__wrapped__(tf.zeros((1, 8), self.tf_dtype))
            grad_fn = out[1] if isinstance(out, (tuple, list)) and len(out) == 2 else None
            code = getattr(inspect.unwrap(grad_fn), "__code__", None)
            origin = inspect.getsourcefile(innermost(self.activation.obj))
            same = code is not None and origin is not None and os.path.samefile(code.co_filename, origin)
        except Exception:  # the user's code: any failure only costs the pointer
            return None
        return code.co_firstlineno if same else None

    def graph_function(self, shape, gradient: bool = True, jit_compile: bool | None = None):
        """forward + gradient compiled with tf.function for inputs of ``shape`` (``None`` for
        an unknown batch size, which is what Keras traces when the batch size changes), called
        as ``f(x, u) -> (y, g)``; with ``gradient=False`` the forward alone (g is None), which
        traces in about half the time; with ``jit_compile=True`` traced in XLA's context and
        compiled by XLA, as Keras's train step is by default on a GPU (AutoGraph then bounds
        tf.range loops for XLA). A layer's is a function that puts its state back first, and
        its ``function`` the tf.function it calls."""
        call = self._call
        spec = tf.TensorSpec(shape, self.tf_dtype)
        uspec = tf.TensorSpec(self.out_shape(shape), self.tf_dtype)  # the upstream has the output's shape

        @tf.function(input_signature=[spec, uspec], jit_compile=jit_compile)
        def fwd_bwd(x, u):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = call(x)
            g = tape.gradient(y, x, output_gradients=u)
            return y, (tf.zeros_like(x) * np.nan if g is None else g)

        if not gradient:
            fwd = tf.function(call, input_signature=[spec])

            def fwd_bwd(x, u):
                return fwd(x), None

        if self._state is None:
            return fwd_bwd

        def from_same_state(x, u):
            self.reset_state()
            return fwd_bwd(x, u)

        from_same_state.function = fwd_bwd
        return from_same_state


def host(t) -> np.ndarray:
    """A tensor's values as float64 NumPy: for float64, a read-only view of the tensor's own
    buffer (no copy; tensors are immutable); small ones are copied."""
    if t.dtype != tf.float64 or t.shape.num_elements() is None or t.shape.num_elements() < 1 << 16:
        return np.asarray(t.numpy(), dtype=np.float64)
    return np.asarray(t)


def to_tensor(a, tf_dtype) -> tf.Tensor:
    """``a`` as a tensor of ``tf_dtype``: the array itself (DLPack, no copy) when it is a large,
    aligned (numerics.aligned_empty), C-contiguous, writable array of that dtype, else a copy.
    At a million points a copy costs a fifth of a forward pass. The array is made read-only:
    the tensor shares its memory, so nothing may write to it afterwards."""
    if (isinstance(a, np.ndarray) and a.size >= 1 << 16 and a.dtype == tf_dtype.as_numpy_dtype
            and a.flags.c_contiguous and a.flags.writeable and a.ctypes.data % ALIGN == 0):
        try:
            t = tf.experimental.dlpack.from_dlpack(a.__dlpack__())
        except Exception:  # an older TensorFlow or NumPy: copy
            pass
        else:
            a.flags.writeable = False
            return t
    return tf.constant(a, tf_dtype)


def _rank_of_signature(fn) -> int | None:
    sig = getattr(fn, "input_signature", None)
    if not sig or len(sig) != 1 or not isinstance(sig[0], tf.TensorSpec) or sig[0].shape.rank is None:
        return None
    return sig[0].shape.rank


def _to_numpy(g):
    if g is None:
        return None
    if isinstance(g, tf.IndexedSlices):
        g = tf.convert_to_tensor(g)
    if isinstance(g, (tf.Tensor, tf.Variable)):
        g = tf.convert_to_tensor(g)
        if g.dtype.is_floating:
            return host(g)
    try:
        return np.asarray(g, dtype=np.float64)
    except (TypeError, ValueError):  # a hand-written gradient returned something odd
        return None


def build_layer(obj, dtype: str):
    """Instantiate a Layer subclass with the given dtype policy (instances are used as they are)."""
    import keras

    if not isinstance(obj, type):
        return obj
    old = keras.config.dtype_policy()
    try:
        keras.config.set_dtype_policy(dtype)
        return obj()
    except Exception as exc:
        raise UserCodeError(f"could not be built with no arguments: {describe_exception(exc)}") from exc
    finally:
        keras.config.set_dtype_policy(old)


def training_modes(activation) -> tuple[bool | None, ...]:
    """The ``training`` values a layer is checked with: (True, False) when its ``call`` takes a
    ``training`` argument (Keras fit calls it with True, predict and evaluate with False, and
    the two may run different code), else (None,): called as it is, once."""
    if activation.kind != Kind.LAYER:
        return (None,)
    obj = activation.obj
    has = getattr(obj, "_call_has_training_arg", None)  # a built instance: Keras's own answer
    if has is None:
        try:
            has = "training" in inspect.signature(obj.call).parameters
        except (TypeError, ValueError, AttributeError):
            has = False
    return (True, False) if has else (None,)


def choose_subject(activation, probe: np.ndarray, training: bool | None = None) -> tuple[Subject, str | None]:
    """A Subject in float64 when the activation (and its gradient) runs in float64, else float32
    (in mode ``training``, see Subject).

    Returns the subject and a note saying why float32 (or float32 tolerances) are used.
    Raises UserCodeError when it runs in neither.
    """
    note = None
    try:
        s = Subject(activation, "float64", training)
        y = s.call(tf.constant(probe, tf.float64))
        if y.dtype != tf.float64:
            note = f"returns {y.dtype.name} for float64 input: checked in float32"
        else:
            grad_note = _probe_gradient(s, activation, probe, training)
            if grad_note is None:
                if _computes_in_float32(y.numpy()):
                    s.tol_dtype = "float32"
                    return s, "float64 inputs but float32 arithmetic inside: float32 tolerances"
                return s, None if s.grad_tol_dtype == "float64" else \
                    "hand-written gradient computed in float32: float32 tolerances for it"
            note = grad_note
    except UserCodeError as exc:
        note = f"does not run in float64 ({exc.reason}): checked in float32"
    s = Subject(activation, "float32", training)
    y = s.call(tf.constant(probe, tf.float32))
    if y.dtype != tf.float32:
        raise UserCodeError(f"returned {_article(y.dtype.name)} {y.dtype.name} tensor for float32 input")
    return s, note


def _probe_gradient(s: Subject, activation, probe, training: bool | None) -> str | None:
    """None if the gradient runs in float64 (or fails in float32 too: then the float64 run
    reports it); else a note why float32 is used. Marks a hand-written gradient whose
    arithmetic is float32 (all its values float32 numbers with a ones upstream)."""
    ones = np.ones(s.out_shape(probe.shape))
    try:
        ev = s.evaluate(probe, ones)
    except UserCodeError as exc:
        try:
            Subject(activation, "float32", training).evaluate(probe, ones)
        except UserCodeError:
            return None
        return f"its gradient does not run in float64 ({exc.reason}): checked in float32"
    if s.custom is not None and ev.g is not None and ev.not_tensor is None and _computes_in_float32(ev.g):
        s.grad_tol_dtype = "float32"
    return None


def _computes_in_float32(values: np.ndarray) -> bool:
    """True when float64 results are all exactly float32 numbers although inputs are not."""
    vals = np.asarray(values).ravel()
    nontrivial = vals[(vals != 0) & np.isfinite(vals) & (vals != np.round(vals))]
    # a few distinct levels (quantizers) are float32 numbers by construction
    if nontrivial.size < 4 or np.unique(nontrivial).size < nontrivial.size // 2:
        return False
    return bool(np.all(nontrivial.astype(np.float32).astype(np.float64) == nontrivial))
