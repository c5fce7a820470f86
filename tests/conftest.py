import sys

import pytest


@pytest.fixture
def isolate_imports(tmp_path):
    """Modules loaded from ``tmp_path`` (and the folders put on sys.path) must not leak into
    the next test. Other modules stay: re-importing TensorFlow parts is not safe."""
    path = list(sys.path)
    yield
    for name, mod in list(sys.modules.items()):
        if str(getattr(mod, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]
    sys.path[:] = path
