"""The words of the checks' messages: numbers, where the failing points lie, and the fix
hints people read under a verdict. No NumPy work beyond min/max, no TensorFlow.
"""

from __future__ import annotations

import re

import numpy as np

from ..results import number


def fmt(v: float) -> str:
    """4 significant digits; zero as 0, never -0 (results.number)."""
    return number(v)


def where(xs: np.ndarray) -> str:
    """Where the points ``xs`` lie: "only there", or their interval and sign."""
    lo, hi = float(xs.min()), float(xs.max())
    if xs.size == 1:
        return "only there"
    if lo >= 0:
        return f"for x in [{fmt(lo)}, {fmt(hi)}], positive inputs only"
    if hi <= 0:
        return f"for x in [{fmt(lo)}, {fmt(hi)}], negative inputs only"
    return f"for x in [{fmt(lo)}, {fmt(hi)}]"


def describe_points(xs: np.ndarray) -> str:
    """"only there", or how many distinct points and their interval."""
    xs = np.unique(xs)
    if xs.size == 1:
        return "only there"
    return f"{xs.size} inputs in [{fmt(xs.min())}, {fmt(xs.max())}]"


def input_at(X: np.ndarray, shape, i: int) -> tuple[str, float | None]:
    """Where flat entry ``i`` of an output or gradient of ``shape``, computed on the batch ``X``
    (rows, WIDTH), lies: ("x=0.5", 0.5) when it has X's shape; else, an output whose trailing
    shape differs (GLU, maxout), its row ("row 3 (inputs in [a, b])", None): one output entry
    there depends on several inputs."""
    shape = tuple(shape)
    if shape == X.shape:
        x = float(X.ravel()[i])
        return f"x={fmt(x)}", x
    r = min(i // max(1, int(np.prod(shape[1:], dtype=np.int64))), X.shape[0] - 1)
    return f"row {r} (inputs in [{fmt(X[r].min())}, {fmt(X[r].max())}])", None


# -- fix hints ----------------------------------------------------------------------------
NAN_GRADIENT_HINT = ("an op's derivative is infinite there (sqrt or log at 0, x/|x|), or a tf.where whose other "
                     "branch is NaN/inf poisons the gradient (0 * inf = NaN): guard the op's input, e.g. "
                     "tf.where(mask, x, safe_value) before the op")
UPSTREAM_HINT = "return dy * (derivative) in every branch, not the derivative alone"
BATCH_HINT = ("each example's output should depend on that example alone (a prediction must not change with the "
              "rest of its batch): reduce over the features (axis=-1), not over axis 0; batch statistics belong "
              "in a BatchNormalization layer")

# exp(x) overflows above these inputs (method.md s.6)
EXP_LIMIT = {"float32": 88.72, "float16": 11.09, "bfloat16": 88.72}


def stability_hint(dtype: str, x0: float, in_forward: bool, source: str | None) -> str | None:
    """A standard fix for an overflow found by the stability sweep at ``x0``, read from the
    activation's source (log(1 + exp(x)), a tf.where branch), or None."""
    src = re.sub(r"\s+", "", source or "")
    if re.search(r"log(1p)?\((1(\.0*)?\+)?(tf\.|math\.|tf\.math\.|np\.)?exp\(", src) and ".softplus(" not in src:
        return "log(1 + exp(x)) overflows: use tf.nn.softplus(x)"
    near_exp = abs(abs(x0) - EXP_LIMIT[dtype]) < 1.0
    if not in_forward and "where" in src:
        return ("the gradient of an unselected tf.where branch overflows (0 * inf = NaN): clamp that branch's "
                "input, e.g. tf.exp(tf.minimum(x, 0.0))")
    if not in_forward:
        return "an intermediate of the gradient overflows (inf/inf or 0*inf): rewrite it in a saturating form"
    if near_exp:
        return (f"exp(x) overflows above x={EXP_LIMIT[dtype]} in {dtype}: use a stable form (tf.nn.softplus, "
                "tf.nn.sigmoid, tf.math.log_sigmoid) or clamp")
    return None
