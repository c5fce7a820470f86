"""The global random generators an activation's own code draws from, seeded from ``--seed``.

    seed_all(seed)               # Python's random, NumPy's global generator, Keras, TensorFlow
    with kept_seeds(): ...       # the in-process API: the caller's generator states put back

gradcheck's sample points come from their own ``np.random.default_rng(seed)``; this is for
the user's code: a Layer's weights (Keras initializers without a seed draw their seed from
Python's ``random`` when the weight is created), ``keras.random`` calls without a seed (the
global Keras SeedGenerator, created from Python's ``random``), ``np.random.*`` and
``tf.random.*``. Seeded before each file's import and each activation's check, two runs with
the same ``--seed`` give a layer the same weights, hence the same figures (docs/method.md s.6a).

What ``keras.utils.set_random_seed`` does, but TensorFlow's global seed is set only when it
differs: ``tf.random.set_seed`` clears TensorFlow's kernel cache, which costs ~15 ms in the
next check (benchmarks/README.md), and gradcheck sets the same seed activation after
activation. So stateful ``tf.random`` ops without a seed continue their sequence from one
activation to the next in a worker child (the same sequence for the same files in the same
order); Keras's random ops are stateless and start anew.
"""

from __future__ import annotations

import contextlib
import random
import sys
from typing import Any

# keras.utils.set_random_seed's names for its global state (keras/src/utils/rng_utils.py)
KERAS_SEED = "global_random_seed"
KERAS_GENERATOR = "global_seed_generator"


def _keras_state():
    """keras's global_state module, or None (no Keras imported, or its internals moved)."""
    if "keras" not in sys.modules:
        return None
    try:
        from keras.src.backend.common import global_state
    except ImportError:
        return None
    return global_state


def _tf_context():
    if "tensorflow" not in sys.modules:
        return None
    try:
        from tensorflow.python.eager import context
    except ImportError:
        return None
    return context


def seed_all(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator, Keras (its global seed and seed
    generator, as ``keras.utils.set_random_seed``) and TensorFlow's global seed (only set when
    it differs: setting it clears TensorFlow's kernel cache)."""
    random.seed(seed)
    np = sys.modules.get("numpy")
    if np is not None:
        np.random.seed(seed)
    state = _keras_state()
    if state is not None:
        state.set_global_attribute(KERAS_SEED, seed)
        state.set_global_attribute(KERAS_GENERATOR, None)  # recreated, from random, on first use
    elif "keras" in sys.modules:  # internals moved: the public call (it also sets TF's seed)
        sys.modules["keras"].utils.set_random_seed(seed)
    context = _tf_context()
    if context is not None and context.global_seed() != seed:
        sys.modules["tensorflow"].random.set_seed(seed)


def _saved() -> dict[str, Any]:
    saved: dict[str, Any] = {"random": random.getstate()}
    np = sys.modules.get("numpy")
    if np is not None:
        saved["numpy"] = np.random.get_state()
    state = _keras_state()
    if state is not None:
        saved["keras"] = {k: state.get_global_attribute(k) for k in (KERAS_SEED, KERAS_GENERATOR)}
    context = _tf_context()
    if context is not None:
        rng = getattr(context.context(), "_rng", None)  # its op-seed sequence (None: no seed set)
        saved["tf"] = (context.global_seed(), rng.getstate() if isinstance(rng, random.Random) else None)
    return saved


def _put_back(saved: dict[str, Any]) -> None:
    random.setstate(saved["random"])
    np = sys.modules.get("numpy")
    if "numpy" in saved and np is not None:
        np.random.set_state(saved["numpy"])
    state = _keras_state()
    if state is not None:
        for key, value in saved.get("keras", {KERAS_SEED: None, KERAS_GENERATOR: None}).items():
            state.set_global_attribute(key, value)
    context = _tf_context()
    if context is not None and "tf" in saved and context.global_seed() != saved["tf"][0]:
        _put_back_tf_seed(context, *saved["tf"])


def _put_back_tf_seed(context, seed, rng_state) -> None:
    """TensorFlow's global seed and op-seed sequence as they were, without clearing its
    kernel cache as ``tf.random.set_seed`` does (~15 ms in the next check, every API call):
    the random kernels the check created carry the check's seed in their attributes, which
    the caller's ops (another seed) never look up, and the caller's own kernels go on with
    their sequences as if the check had not run. If TensorFlow's internals moved, the
    public call (the caller's op-seed sequence then restarts)."""
    ctx = context.context()
    if not hasattr(ctx, "_seed"):
        sys.modules["tensorflow"].random.set_seed(seed)
        return
    ctx._seed = seed
    if rng_state is None:
        ctx._rng = None if seed is None else random.Random(seed)
    else:
        ctx._rng = random.Random()
        ctx._rng.setstate(rng_state)


@contextlib.contextmanager
def kept_seeds():
    """Put back the caller's random generator states on exit (Python, NumPy, Keras;
    TensorFlow's global seed and op-seed sequence)."""
    saved = _saved()
    try:
        yield
    finally:
        _put_back(saved)
