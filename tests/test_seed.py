"""--seed makes a layer's numbers reproducible: Keras initializers without a seed (and
whatever else the user's code draws from the global generators) are seeded from it, in the
CLI's workers and in the in-process API, which puts the caller's generator states back."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYERS = '''\
import keras
import tensorflow as tf


class GlorotGate(keras.layers.Layer):
    """A per-column weight from glorot_uniform (no seed) inside a smooth function."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="glorot_uniform")

    def call(self, x):
        return x * tf.sigmoid(self.w * x)


built_at_import = GlorotGate()  # its weights are drawn while the module is imported
built_at_import.build((None, 8))
'''


@pytest.fixture(scope="module")
def layers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seeded")
    (folder / ".git").mkdir()  # keeps config discovery inside the folder
    (folder / "layers.py").write_text(LAYERS)
    return folder / "layers.py"


def _figures(path: Path, seed: int) -> dict:
    """Each activation's per-check figures from ``gradcheck --seed SEED --format json``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    proc = subprocess.run([sys.executable, "-m", "gradcheck", "--seed", str(seed), "--samples", "256", "--format", "json",
                           str(path)],
                          cwd=path.parent, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    figures = {r["name"]: [(c["name"], c["max_abs_error"], c["max_rel_error"], c["worst_input"])
                           for c in r["checks"]] for r in doc["results"]}
    assert set(figures) == {"GlorotGate", "built_at_import"}
    return figures


def test_same_seed_same_figures_for_a_layer_with_random_weights(layers):
    first, again, other = _figures(layers, 3), _figures(layers, 3), _figures(layers, 4)
    assert first == again
    for name in first:  # the figures depend on the weights: another seed, other weights
        assert first[name] != other[name], name
        weights = dict((c[0], c[2]) for c in first[name])["weights"]
        assert weights is not None and weights > 0


def _glorot_gate(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "seeded_layers.py").write_text(LAYERS)
    import seeded_layers

    return seeded_layers.GlorotGate


def _numbers(result):
    return [(c.name, c.max_abs_error, c.max_rel_error, c.worst_input) for c in result.checks]


def test_api_seeds_like_the_cli_and_puts_the_callers_generators_back(tmp_path, monkeypatch, isolate_imports):
    import gradcheck

    layer = _glorot_gate(tmp_path, monkeypatch)
    random.seed(11)
    np.random.seed(11)
    expected = (random.random(), np.random.random())
    random.seed(11)
    np.random.seed(11)
    first = gradcheck.check(layer, seed=3, samples=256)
    assert (random.random(), np.random.random()) == expected  # the caller's sequences go on
    assert _numbers(gradcheck.check(layer, seed=3, samples=256)) == _numbers(first)
    assert _numbers(gradcheck.check(layer, seed=4, samples=256)) != _numbers(first)


@pytest.mark.parametrize("caller_seed", [5, None])
def test_api_leaves_the_callers_tensorflow_random_sequence_going_on(caller_seed):
    """After gradcheck.check, the caller's unseeded tf.random ops go on with the values they
    would have drawn had no check run (not a restarted sequence that repeats earlier values),
    and the global seed is the caller's."""
    import tensorflow as tf
    from tensorflow.python.eager import context

    import gradcheck

    def swish(x):
        return x * tf.sigmoid(x)

    def draws(check: bool):
        tf.random.set_seed(caller_seed)
        first = tf.random.uniform([4]).numpy()
        if check:
            assert gradcheck.check(swish, seed=3, samples=64).status == "pass"
        return first, tf.random.uniform([4]).numpy()

    first, second = draws(check=False)
    first_c, second_c = draws(check=True)
    assert context.global_seed() == caller_seed
    if caller_seed is not None:  # seeded: the same values as without the check
        assert (first_c == first).all() and (second_c == second).all()
    assert not (second_c == first_c).all()  # the sequence did not start over


def test_seeding_is_not_a_change_a_worker_child_puts_back():
    """Between files, the worker child verifies what a file left behind: gradcheck's own
    seeding is not such a change (no retired child, no per-file reset of the TF seed, which
    clears TensorFlow's kernel cache)."""
    import tensorflow as tf
    from tensorflow.python.eager import context

    from gradcheck.seeding import seed_all
    from gradcheck.state import CleanState

    tf.constant(1.0)  # TensorFlow's eager context exists, as in a worker child
    clean = CleanState()
    seed_all(3)
    assert clean.restore() == []
    assert context.global_seed() == 3
