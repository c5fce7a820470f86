"""Loading user files by path: package imports, unique names, readable load errors."""

import pickle
import subprocess
import sys
import textwrap

import pytest

from gradcheck.loader import ModuleLoadError, load_module


@pytest.fixture(autouse=True)
def _isolate_imports(isolate_imports):  # tests/conftest.py
    yield


def write(path, source=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def load_error(path, **kw):
    with pytest.raises(ModuleLoadError) as info:
        load_module(str(path), **kw)
    return info.value.load_error


def test_package_relative_and_sibling_package_imports(tmp_path):
    pkg = f"pkg_{tmp_path.name}"
    write(tmp_path / pkg / "__init__.py")
    write(tmp_path / pkg / "helpers.py", "SCALE = 3\n")
    write(tmp_path / pkg / "sub" / "__init__.py")
    write(tmp_path / "other" / "__init__.py")
    write(tmp_path / "other" / "util.py", "OFFSET = 4\n")
    acts = write(
        tmp_path / pkg / "sub" / "acts.py",
        f"""
        from ..helpers import SCALE
        from other.util import OFFSET
        VALUE = SCALE + OFFSET
        """,
    )
    module = load_module(str(acts))
    assert module.VALUE == 7
    assert module.__name__ == f"{pkg}.sub.acts"


def test_standalone_file_can_import_its_sibling(tmp_path):
    write(tmp_path / "helpers_sib.py", "def double(x):\n    return 2 * x\n")
    acts = write(tmp_path / "activations.py", "import helpers_sib\nVALUE = helpers_sib.double(5)\n")
    assert load_module(str(acts)).VALUE == 10


def test_same_file_name_in_two_folders_keeps_both(tmp_path):
    a = write(tmp_path / "a" / "activations.py", "WHO = 'a'\n")
    b = write(tmp_path / "b" / "activations.py", "WHO = 'b'\n")
    mod_a, mod_b = load_module(str(a)), load_module(str(b))
    assert (mod_a.WHO, mod_b.WHO) == ("a", "b")
    assert mod_a.__name__ != mod_b.__name__


def test_same_dotted_name_in_two_projects_keeps_both(tmp_path):
    for who in ("a", "b"):
        write(tmp_path / who / "shared_pkg" / "__init__.py")
        write(tmp_path / who / "shared_pkg" / "acts.py", f"WHO = {who!r}\n")
    mod_a = load_module(str(tmp_path / "a" / "shared_pkg" / "acts.py"))
    mod_b = load_module(str(tmp_path / "b" / "shared_pkg" / "acts.py"))
    assert (mod_a.WHO, mod_b.WHO) == ("a", "b")


def test_dataclass_in_user_module_works_and_pickles(tmp_path):
    acts = write(
        tmp_path / "with_dataclass.py",
        """
        from dataclasses import dataclass

        @dataclass
        class Point:
            x: int

        ORIGIN = Point(0)
        """,
    )
    module = load_module(str(acts))
    assert module.ORIGIN == module.Point(0)
    assert pickle.loads(pickle.dumps(module.Point(3))) == module.Point(3)


@pytest.mark.parametrize(
    "source, message",
    [
        ("x = 1\ny = 2\nz = = 3\n", "SyntaxError: invalid syntax (line 3)"),
        ("import os\nimport no_such_dependency_xyz\n", "ModuleNotFoundError: No module named 'no_such_dependency_xyz' (line 2)"),
        ("\n" * 6 + "RATIO = 1 / 0\n", "ZeroDivisionError: division by zero (line 7)"),
        ("import sys\nsys.exit(3)\n", "SystemExit: module called sys.exit(3) at import (line 2)"),
        ("import sys\nsys.exit()\n", "SystemExit: module called sys.exit() at import (line 2)"),
        ("raise ValueError('first\\nsecond')\n", "ValueError: first (line 1)"),
    ],
    ids=["syntax", "missing-dependency", "raises", "sys-exit-code", "sys-exit-bare", "multiline"],
)
def test_import_failures_give_one_line_naming_the_line(tmp_path, source, message):
    error = load_error(write(tmp_path / "broken.py", source), display_path="shown/broken.py")
    assert error.message == message
    assert error.file == "shown/broken.py"


def test_error_in_a_package_module_names_its_line(tmp_path):
    pkg = f"pkg_{tmp_path.name}"
    write(tmp_path / pkg / "__init__.py")
    path = write(tmp_path / pkg / "acts.py", "X = 1\nfrom .missing_sibling import Y\n")
    error = load_error(path)
    assert error.message == f"ModuleNotFoundError: No module named '{pkg}.missing_sibling' (line 2)"
    assert "gradcheck" not in error.detail.replace(str(tmp_path), "")


def test_error_file_defaults_to_the_path_given(tmp_path):
    path = write(tmp_path / "broken.py", "1 / 0\n")
    assert load_error(path).file == str(path)


def test_error_raised_in_another_user_file_names_that_file(tmp_path):
    write(tmp_path / "helpers_deep.py", "\n\ndef boom():\n    raise RuntimeError('deep')\n")
    path = write(tmp_path / "uses_helper.py", "import helpers_deep\nhelpers_deep.boom()\n")
    message = load_error(path).message
    assert message.startswith("RuntimeError: deep (")
    assert message.endswith("helpers_deep.py, line 4)")


def test_error_inside_a_library_points_at_the_users_line(tmp_path):
    path = write(tmp_path / "bad_json.py", "import json\n\nCONFIG = json.loads('{')\n")
    message = load_error(path).message
    assert message.startswith("JSONDecodeError: Expecting property name")
    assert message.endswith("(line 3)")


def test_detail_holds_only_the_users_frames(tmp_path):
    write(tmp_path / "helpers_tb.py", "def boom():\n    raise KeyError('k')\n")
    path = write(tmp_path / "tb.py", "import helpers_tb\nhelpers_tb.boom()\n")
    detail = load_error(path).detail
    assert "tb.py" in detail and "helpers_tb.py" in detail and "KeyError" in detail
    assert "gradcheck" not in detail
    assert "importlib" not in detail and "<frozen" not in detail


def test_syntax_error_detail_shows_the_bad_line(tmp_path):
    detail = load_error(write(tmp_path / "syn.py", "def f(:\n    pass\n")).detail
    assert "def f(:" in detail and "gradcheck" not in detail


def test_failed_module_is_not_left_in_sys_modules(tmp_path):
    path = write(tmp_path / "half.py", "DONE = False\n1 / 0\n")
    load_error(path)
    assert not [m for m in sys.modules.values() if getattr(m, "__file__", None) == str(path)]


def test_keyboard_interrupt_is_not_swallowed(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        load_module(str(write(tmp_path / "ki.py", "raise KeyboardInterrupt\n")))


def test_nothing_written_into_the_users_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # as without PYTHONDONTWRITEBYTECODE
    pkg = f"pkg_{tmp_path.name}"
    write(tmp_path / pkg / "__init__.py")
    write(tmp_path / pkg / "helpers.py", "X = 1\n")
    write(tmp_path / pkg / "acts.py", "from .helpers import X\n")
    write(tmp_path / "flat" / "helpers_flat.py", "X = 1\n")
    write(tmp_path / "flat" / "acts.py", "import helpers_flat\n")
    load_module(str(tmp_path / pkg / "acts.py"))
    load_module(str(tmp_path / "flat" / "acts.py"))
    assert list(tmp_path.rglob("__pycache__")) == []
    assert sys.dont_write_bytecode is False  # restored for the rest of the process


def test_loader_does_not_import_tensorflow():
    code = "import sys, gradcheck.loader; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
