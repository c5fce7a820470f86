"""TEMPORARY stand-in for the numerical core while developing runner/worker. Delete me."""
import time

from ..results import ERROR, FAIL, PASS, ActivationResult


def check_activation(activation, settings, *, want_curves=False):
    import numpy as np
    import tensorflow as tf

    t0 = time.perf_counter()
    x = tf.constant(np.linspace(*settings.range, 16), tf.float64)
    try:
        obj = activation.obj
        fn = obj() if isinstance(obj, type) else obj
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
        g = tape.gradient(y, x)
        status, msg = (PASS, "ok") if g is not None else (FAIL, "gradient is None")
    except Exception as e:
        status, msg = ERROR, f"{type(e).__name__}: {e}"
    r = ActivationResult(activation.id, activation.file, activation.name, activation.kind, status, msg,
                         duration=time.perf_counter() - t0)
    return r, None
