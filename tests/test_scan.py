"""The static scan that decides which files of a folder (or of the hook) are imported: pure
``ast``, so these tests import no TensorFlow and run no user code."""

from __future__ import annotations

import sys
import textwrap

import pytest

from gradcheck.scan import matching_pattern, normalize, scan_file, scan_source


def scan(source, path="src/model_utils.py", patterns=("*activation*",)):
    return scan_source(textwrap.dedent(source), path, patterns)


@pytest.mark.parametrize("imports", [
    "import tensorflow as tf",
    "import tensorflow",
    "import tensorflow.compat.v1 as tf1",
    "from tensorflow import keras",
    "from tensorflow.keras import layers",
    "import keras",
    "from keras import ops",
    "import tf_keras",
    "def late(x):\n    import tensorflow as tf\n    return tf.tanh(x)",
])
def test_tensorflow_and_keras_imports_count(imports):
    assert scan(imports, "activations.py").imports_tf


@pytest.mark.parametrize("imports", [
    "import numpy as np",
    "import tensorflow_datasets as tfds",
    "from . import tensorflow",  # a relative module of that name is not TensorFlow
    "text = 'import tensorflow'",
    "# import tensorflow",
])
def test_other_imports_do_not(imports):
    result = scan(imports, "activations.py")
    assert not result.imports_tf and not result.admitted
    assert result.reason == "does not import tensorflow/keras"


@pytest.mark.parametrize("path", [
    "sample_activations/good.py", "activations.py", "layers/activation_fns.py", "my_activations/x.py",
    "./src/activations.py", ".\\src\\activations.py",
])
def test_default_pattern_matches_activation_files(path):
    assert matching_pattern(path) == "*activation*"
    assert scan("import tensorflow as tf\n", path).admitted


@pytest.mark.parametrize("path", ["data.py", "train.py", "models/model.py", "actv.py"])
def test_other_paths_need_a_marker(path):
    result = scan("import tensorflow as tf\n\ndef augment(image):\n    return image\n", path)
    assert not result.admitted
    assert result.reason == "no activation file: path does not match *activation*, no marker"


def test_patterns_are_globs_on_the_path_as_found():
    assert normalize("./a/b.py") == "a/b.py" and normalize("a\\b.py") == "a/b.py"
    patterns = ("nets/*.py", "*_act.py")
    assert matching_pattern("nets/deep/x.py", patterns) == "nets/*.py"  # fnmatch's * spans folders
    assert matching_pattern("./mine_act.py", patterns) == "*_act.py"
    assert matching_pattern("other/nets/x.py", patterns) is None
    assert matching_pattern("activations.py", patterns) is None  # the setting replaces the default
    assert matching_pattern("activations.py", ()) is None
    result = scan("import keras\n", "data.py", patterns)
    assert result.reason == "no activation file: path does not match nets/*.py or *_act.py, no marker"


MARKED = {
    "tf.custom_gradient": "import tensorflow as tf\n\n@tf.custom_gradient\ndef act(x):\n    pass\n",
    "tensorflow.custom_gradient": "import tensorflow\n\n@tensorflow.custom_gradient\ndef act(x):\n    pass\n",
    "custom_gradient from tensorflow":
        "from tensorflow import custom_gradient\n\n@custom_gradient\ndef act(x):\n    pass\n",
    "keras.ops.custom_gradient": "import keras\n\n@keras.ops.custom_gradient\ndef act(x):\n    pass\n",
    "ops.custom_gradient": "from keras import ops\n\n@ops.custom_gradient\ndef act(x):\n    pass\n",
    "gradcheck.options(...)":
        "import keras, gradcheck\n\n@gradcheck.options(range=(0, 1))\nclass act(keras.layers.Layer):\n    pass\n",
    "gradcheck.skip(...)": "import keras\nimport gradcheck as gc\n\n@gc.skip('slow')\ndef act(x):\n    pass\n",
    "options from gradcheck":
        "import tensorflow as tf\nfrom gradcheck import options\n\n@options(samples=8)\ndef act(x):\n    pass\n",
    "stacked under tf.function":
        "import tensorflow as tf\n\n@tf.function\n@tf.custom_gradient\ndef act(x):\n    pass\n",
    "inside a top-level if": "import tensorflow as tf\n\nif True:\n    @tf.custom_gradient\n    def act(x):\n        pass\n",
}


@pytest.mark.parametrize("source", MARKED.values(), ids=MARKED.keys())
def test_markers_admit_a_file_for_the_marked_names(source):
    result = scan(source, "src/model_utils.py")
    assert result.admitted and result.marker_only and result.reason is None
    assert result.marked == ("act",)


NOT_MARKED = {
    "custom_gradient of the user's own":
        "import tensorflow as tf\nfrom mylib import custom_gradient\n\n@custom_gradient\ndef act(x):\n    pass\n",
    "tf.function alone": "import tensorflow as tf\n\n@tf.function\ndef act(x):\n    pass\n",
    "a private marked helper": "import tensorflow as tf\n\n@tf.custom_gradient\ndef _impl(x):\n    pass\n",
    "a method": "import tensorflow as tf\n\nclass A:\n    @tf.custom_gradient\n    def act(self, x):\n        pass\n",
    "a nested function":
        "import tensorflow as tf\n\ndef outer(x):\n    @tf.custom_gradient\n    def act(x):\n        pass\n    return act(x)\n",
}


@pytest.mark.parametrize("source", NOT_MARKED.values(), ids=NOT_MARKED.keys())
def test_other_decorators_are_not_markers(source):
    result = scan(source, "src/model_utils.py")
    assert result.marked == () and not result.admitted


def test_marked_names_in_source_order_and_pattern_wins():
    source = """
        import tensorflow as tf
        import gradcheck

        @tf.custom_gradient
        def b(x):
            pass

        def plain(x):
            return x

        @gradcheck.options(samples=8)
        def a(x):
            return x
        """
    assert scan(source, "utils.py").marked == ("b", "a")
    by_path = scan(source, "activations.py")
    assert by_path.admitted and not by_path.marker_only and by_path.pattern == "*activation*"


def test_a_marker_without_a_tensorflow_import_is_not_enough():
    result = scan("import gradcheck\n\n@gradcheck.options()\ndef act(x):\n    return x\n", "utils.py")
    assert result.marked == ("act",) and not result.admitted
    assert result.reason == "does not import tensorflow/keras"


def test_unparsable_files(tmp_path):
    (tmp_path / "broken.py").write_text("import tensorflow as tf\ndef oops(:\n")
    broken = scan_file(str(tmp_path / "broken.py"))
    assert not broken.admitted and broken.reason.startswith("cannot be parsed: SyntaxError: ")
    assert broken.reason.endswith("(line 2)")
    # An activation file that does not parse is imported, so the error is reported where expected.
    (tmp_path / "activations.py").write_text("import tensorflow as tf\ndef oops(:\n")
    assert scan_file(str(tmp_path / "activations.py")).admitted
    (tmp_path / "latin.py").write_bytes(b"# -*- coding: latin-1 -*-\nimport keras\nname = '\xe9'\n")
    assert scan_file(str(tmp_path / "latin.py")).imports_tf
    (tmp_path / "binary.py").write_bytes(b"\xff\xfe\x00garbage")
    assert scan_file(str(tmp_path / "binary.py")).reason.startswith(("cannot be read", "cannot be parsed"))


def test_scanning_imports_nothing(tmp_path):
    (tmp_path / "activations_sentinel.py").write_text("import tensorflow\nraise SystemExit('ran')\n")
    before = set(sys.modules)
    assert scan_file(str(tmp_path / "activations_sentinel.py")).admitted
    assert set(sys.modules) == before
