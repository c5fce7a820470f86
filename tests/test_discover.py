"""Discovery: which names of a user module are activations, and of which kind."""

import textwrap

import keras
import pytest
import tensorflow as tf

from gradcheck.discover import Activation, classify, discover, find_custom_gradient, survey
from gradcheck.loader import load_module

HEADER = "import tensorflow as tf\nimport keras\nimport gradcheck\n"


@pytest.fixture(autouse=True)
def _isolate_imports(isolate_imports):  # tests/conftest.py
    yield


def found(tmp_path, source, name="acts.py"):
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(source))
    return discover(load_module(str(path)), f"shown/{name}")


def kinds(tmp_path, source):
    return {a.name: a.kind for a in found(tmp_path, source)}


def test_every_kind_is_found_in_definition_order(tmp_path):
    acts = found(
        tmp_path,
        """
        def plain(x):
            return x * tf.sigmoid(x)

        lam = lambda x: tf.nn.relu(x)

        @tf.function
        def compiled(x):
            return tf.tanh(x)

        @tf.custom_gradient
        def custom(x):
            return x, lambda dy: dy

        @tf.function
        @tf.custom_gradient
        def compiled_custom(x):
            return x, lambda dy: dy

        @keras.ops.custom_gradient
        def keras_custom(x):
            def grad(*args, upstream=None):
                return upstream
            return x, grad

        class Swish(keras.layers.Layer):
            def __init__(self, beta=1.0, **kwargs):
                super().__init__(**kwargs)
                self.beta = beta

            def call(self, x):
                return x * tf.sigmoid(self.beta * x)
        """,
    )
    assert [(a.name, a.kind) for a in acts] == [
        ("plain", "function"),
        ("lam", "function"),
        ("compiled", "function"),
        ("custom", "custom_gradient"),
        ("compiled_custom", "custom_gradient"),
        ("keras_custom", "custom_gradient"),
        ("Swish", "layer"),
    ]
    swish = acts[-1]
    assert swish.id == "shown/acts.py::Swish" and swish.file == "shown/acts.py"
    assert isinstance(swish.obj, type)  # not instantiated by discovery


def test_custom_gradient_wrapper_is_reachable_under_tf_function(tmp_path):
    acts = {a.name: a for a in found(
        tmp_path,
        """
        @tf.function
        @tf.custom_gradient
        def compiled_custom(x):
            return 2 * x, lambda dy: 2 * dy
        """,
    )}
    wrapper = find_custom_gradient(acts["compiled_custom"].obj)
    y, grad = wrapper.__wrapped__(tf.constant(3.0))  # the user's (y, grad_fn) function
    assert float(y) == 6.0 and float(grad(tf.constant(1.0))) == 2.0


def test_layers_needing_arguments_are_ignored(tmp_path):
    assert kinds(
        tmp_path,
        """
        class NeedsAlpha(keras.layers.Layer):
            def __init__(self, alpha, **kwargs):
                super().__init__(**kwargs)

        class NeedsKeyword(keras.layers.Layer):
            def __init__(self, *, alpha, **kwargs):
                super().__init__(**kwargs)

        class Default(keras.layers.Layer):
            def call(self, x):
                return x
        """,
    ) == {"Default": "layer"}


def test_layer_instance_at_module_level_is_a_layer(tmp_path):
    acts = {a.name: a for a in found(
        tmp_path,
        """
        class Leaky(keras.layers.Layer):
            def __init__(self, alpha, **kwargs):
                super().__init__(**kwargs)
                self.alpha = alpha

            def call(self, x):
                return tf.where(x > 0, x, self.alpha * x)

        leaky = Leaky(0.2)
        stock = keras.layers.ReLU()  # Keras's own activation layer, configured here: checked
        dense = keras.layers.Dense(4)  # not an activation layer: ignored
        """,
    )}
    assert set(acts) == {"leaky", "stock"}
    assert acts["leaky"].kind == "layer" and acts["leaky"].obj.alpha == 0.2


def test_all_limits_the_names_considered(tmp_path):
    assert kinds(
        tmp_path,
        """
        __all__ = ["kept"]

        def kept(x):
            return x

        def dropped(x):
            return x
        """,
    ) == {"kept": "function"}


def test_imports_private_names_and_non_activations_are_ignored(tmp_path):
    (tmp_path / "helpers_disc.py").write_text("def sibling_act(x):\n    return x\n")
    assert kinds(
        tmp_path,
        """
        import numpy as np
        from tensorflow.nn import relu
        from keras.activations import gelu
        from helpers_disc import sibling_act

        SCALE = 1.5
        TABLE = {"a": 1}

        def _private(x):
            return x

        def blend(x, y):
            return x + y

        def needs_keyword(x, *, alpha):
            return x * alpha

        def no_args():
            return 0

        class Plain:
            def __call__(self, x):
                return x

        plain_instance = Plain()

        def with_default(x, alpha=0.1):
            return tf.maximum(x, alpha * x)

        def star_args(*args):
            return args[0]
        """,
    ) == {"with_default": "function", "star_args": "function"}


def test_options_marker_is_attached(tmp_path):
    acts = {a.name: a for a in found(
        tmp_path,
        """
        @gradcheck.options(range=(0.0, 4.0), kinks=[0.0])
        def marked(x):
            return tf.sqrt(x)

        @gradcheck.options(samples=16)
        @tf.function
        def marked_compiled(x):
            return x

        @gradcheck.skip("slow")
        class MarkedLayer(keras.layers.Layer):
            def call(self, x):
                return x

        def unmarked(x):
            return x
        """,
    )}
    assert acts["marked"].options == {"range": (0.0, 4.0), "kinks": [0.0]}
    assert acts["marked_compiled"].options == {"samples": 16}
    assert acts["MarkedLayer"].options == {"skip": "slow"}
    assert acts["unmarked"].options == {}


def test_classify_rejects_non_activations():
    assert classify(None) is None
    assert classify(3.0) is None
    assert classify(tf) is None
    assert classify(dict) is None
    assert classify(lambda x, y: x) is None
    assert classify(keras.layers.Dense) is None  # needs `units`
    assert classify(keras.layers.ReLU) == "layer"
    assert classify(tf.function(lambda x: x)) == "function"


def test_activation_is_frozen():
    act = Activation("f", "function", abs, "a.py", {}, "a.py::f")
    with pytest.raises(AttributeError):
        act.name = "g"


def _kinds_without_header(tmp_path, source):
    path = tmp_path / "plain.py"
    path.write_text(textwrap.dedent(source))
    return {a.name: a.kind for a in discover(load_module(str(path)), "plain.py", only_tf_modules=True)}


def test_module_that_never_uses_tensorflow_holds_no_activation(tmp_path):
    # What pre-commit hands over: ordinary Python files with one-argument functions.
    assert _kinds_without_header(tmp_path, """
        import os

        def main(argv=None):
            return 0

        def normalize(path):
            return os.path.normpath(path)
        """) == {}


def test_tensorflow_imported_inside_the_function_still_counts(tmp_path):
    assert _kinds_without_header(tmp_path, """
        def act(x):
            import tensorflow as tf
            return tf.tanh(x)
        """) == {"act": "function"}


def test_without_the_flag_the_contract_rule_applies(tmp_path):
    path = tmp_path / "plain.py"
    path.write_text("def main(argv=None):\n    return 0\n")
    assert [a.name for a in discover(load_module(str(path)), "plain.py")] == ["main"]


def test_survey_lists_what_it_cannot_check_with_reason_and_def_line(tmp_path):
    path = tmp_path / "acts.py"
    path.write_text(HEADER + textwrap.dedent("""
        import dataclasses

        def swish(x):
            return x * tf.sigmoid(x)

        def glu(x, gate):
            return x * tf.sigmoid(gate)

        @gradcheck.options(samples=8)
        @tf.custom_gradient
        def pair(x, y):
            return x * y, lambda dy: (dy * y, dy * x)

        def needs_keyword(x, *, alpha):
            return x * alpha

        def no_args():
            return 0

        @dataclasses.dataclass
        class Config:
            width: int = 3

        class Maxout(keras.layers.Layer):
            def __init__(self, num_units, axis=-1, **kwargs):
                super().__init__(**kwargs)

        class Scaler:
            def __call__(self, x):
                return 2 * x

        scaler = Scaler()
        SCALE = 1.5

        def _private(x, y):
            return x
        """))
    seen = survey(load_module(str(path)), "acts.py")
    assert [a.name for a in seen.activations] == ["swish"]
    lines = path.read_text().splitlines()
    reasons = {n.name: n.reason for n in seen.not_checked}
    assert reasons == {
        "glu": "takes 2 required arguments (x, gate)",
        "pair": "takes 2 required arguments (x, y)",
        "needs_keyword": "takes required keyword-only argument (alpha)",
        "no_args": "takes no arguments",
        "Config": "not a keras Layer",
        "Maxout": "needs constructor arguments (num_units)",
        "Scaler": "not a keras Layer",
        "scaler": "a callable Scaler object, not a function or a keras Layer",
    }
    by_name = {n.name: n for n in seen.not_checked}
    assert by_name["glu"].id == "acts.py::glu" and by_name["glu"].file == "acts.py"
    for name, text in (("glu", "def glu("), ("pair", "def pair("), ("Config", "class Config"),
                       ("Maxout", "class Maxout")):
        assert lines[by_name[name].line - 1].startswith(text), name  # past the decorators
    assert by_name["scaler"].line is None


def test_survey_respects_all_and_ignores_imported_callables(tmp_path):
    path = tmp_path / "acts.py"
    path.write_text(HEADER + textwrap.dedent("""
        from keras.layers import Dense
        from os.path import join

        __all__ = ["kept"]

        def kept(x, y):
            return x

        def hidden(x, y):
            return x
        """))
    assert [(n.name, n.reason) for n in survey(load_module(str(path)), "acts.py").not_checked] == [
        ("kept", "takes 2 required arguments (x, y)")]
