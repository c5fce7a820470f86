"""TARGET expansion: folders, skipping rules, file.py::name, dedupe, missing paths."""

import pytest

from gradcheck.results import NotImported
from gradcheck.targets import Job, TargetError, apply_scope, expand_targets


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A project folder; the tests run from tmp_path so paths stay relative."""
    files = [
        "proj/b.py",
        "proj/a.py",
        "proj/notes.txt",
        "proj/__init__.py",
        "proj/setup.py",
        "proj/conftest.py",
        "proj/sub/c.py",
        "proj/sub/__pycache__/c.cpython-311.py",
        "proj/.hidden/h.py",
        "proj/venv/lib/v.py",
        "proj/node_modules/n.py",
        "proj/site-packages/s.py",
        "proj/myenv/pyvenv.cfg",
        "proj/myenv/lib/e.py",
        "proj/tests/test_x.py",
        "proj/gen/build_me.py",
    ]
    for f in files:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def files(jobs):
    return [j.file for j in jobs]


def test_folder_expands_to_sorted_python_files_skipping_envs_and_hidden(tree):
    assert files(expand_targets(["proj"])) == [
        "proj/a.py",
        "proj/b.py",
        "proj/gen/build_me.py",
        "proj/sub/c.py",
        "proj/tests/test_x.py",
    ]
    assert all(j.names is None for j in expand_targets(["proj"]))


def test_folder_path_keeps_the_form_given(tree):
    assert files(expand_targets(["proj/sub/"])) == ["proj/sub/c.py"]
    assert files(expand_targets(["./proj/sub"])) == ["./proj/sub/c.py"]


def test_current_folder_gives_plain_relative_paths(tree, monkeypatch):
    monkeypatch.chdir(tree / "proj" / "sub")
    assert files(expand_targets(["."])) == ["c.py"]


def test_exclude_globs_match_relative_path_and_basename(tree):
    jobs = expand_targets(["proj"], exclude=("tests", "gen/*", "b.py"))
    assert files(jobs) == ["proj/a.py", "proj/sub/c.py"]


def test_explicit_files_are_kept_even_if_folders_would_skip_them(tree):
    jobs = expand_targets(["proj/__init__.py", "proj/setup.py"], exclude=("*.py",))
    assert jobs == [Job("proj/__init__.py", None), Job("proj/setup.py", None)]


def test_name_targets_merge_per_file_in_first_seen_order(tree):
    jobs = expand_targets(["proj/a.py::g", "proj/b.py::x", "proj/a.py::f", "proj/a.py::g"])
    assert jobs == [Job("proj/a.py", ("g", "f")), Job("proj/b.py", ("x",))]


def test_whole_file_wins_over_names(tree):
    assert expand_targets(["proj/a.py::f", "proj/a.py"]) == [Job("proj/a.py", None)]
    assert expand_targets(["proj/a.py", "proj/a.py::f"]) == [Job("proj/a.py", None)]


def test_same_file_given_twice_is_checked_once(tree):
    jobs = expand_targets(["proj/a.py", "proj", "./proj/a.py"])
    assert files(jobs) == ["proj/a.py", "proj/b.py", "proj/gen/build_me.py", "proj/sub/c.py", "proj/tests/test_x.py"]


def test_missing_path_is_an_error(tree):
    with pytest.raises(TargetError, match=r"^Path 'nope\.py' does not exist\.$"):
        expand_targets(["proj/a.py", "nope.py"])
    with pytest.raises(TargetError, match="Path 'nope.py' does not exist."):
        expand_targets(["nope.py::f"])


def test_name_on_a_folder_or_bad_name_is_an_error(tree):
    with pytest.raises(TargetError):
        expand_targets(["proj::f"])
    with pytest.raises(TargetError):
        expand_targets(["proj/a.py::"])
    assert issubclass(TargetError, ValueError)


def test_empty_folder_gives_no_jobs(tmp_path):
    (tmp_path / "empty").mkdir()
    assert expand_targets([str(tmp_path / "empty")]) == []


# --- scope: files found in folders (or handed to the hook) are scanned before import -----

def test_folder_files_are_scoped_explicit_files_are_not(tree):
    jobs = {j.file: j for j in expand_targets(["proj", "proj/b.py", "proj/sub/c.py::f"])}
    assert jobs["proj/a.py"] == Job("proj/a.py", None, scoped=True)
    assert jobs["proj/b.py"] == Job("proj/b.py")  # named whole: explicit rules win
    assert jobs["proj/sub/c.py"] == Job("proj/sub/c.py", ("f",), scoped=True)  # asked for f, and found


def test_hook_treats_file_arguments_like_files_found_in_a_folder(tree):
    args = ["proj/a.py", "proj/__init__.py", "proj/setup.py", "proj/notes.txt", "proj/.hidden/h.py",
            "proj/venv/lib/v.py", "proj/tests/test_x.py", "proj/sub/c.py"]
    assert expand_targets(args, exclude=("tests",), hook=True) == [
        Job("proj/a.py", None, scoped=True), Job("proj/sub/c.py", None, scoped=True)]
    assert expand_targets(["proj/a.py"]) == [Job("proj/a.py")]


def _write(tmp_path, rel, text):
    path = tmp_path / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return rel


def test_apply_scope_keeps_admitted_files_and_says_why_others_are_not(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tf_fn = "import tensorflow as tf\n\ndef f(x):\n    return x\n"
    marked = "import tensorflow as tf\n\n@tf.custom_gradient\ndef g(x):\n    pass\n\ndef h(x):\n    pass\n"
    files = [
        _write(tmp_path, "src/activations.py", tf_fn),
        _write(tmp_path, "src/layers.py", marked),
        _write(tmp_path, "src/data.py", tf_fn),
        _write(tmp_path, "src/plain_activation.py", "def f(x):\n    return x\n"),
        _write(tmp_path, "src/asked.py", tf_fn),
    ]
    jobs = expand_targets(["src", "src/asked.py::f"])
    assert [j.file for j in jobs] == sorted(files)
    kept, passed_over = apply_scope(jobs, ("*activation*",))
    assert kept == [
        Job("src/activations.py"),
        Job("src/asked.py", ("f",)),  # not an activation file, but f was asked for by name
        Job("src/layers.py", (), marked=("g",)),
    ]
    assert passed_over == [
        NotImported("src/data.py", "no activation file: path does not match *activation*, no marker"),
        NotImported("src/plain_activation.py", "does not import tensorflow/keras"),
    ]
    explicit = [Job("src/data.py"), Job("src/data.py", ("f",))]
    assert apply_scope(explicit) == (explicit, [])  # named files are never scanned
