"""Expected verdicts of the labeled corpus, read without importing TensorFlow.

Each corpus module defines ``EXPECTED = {"name": ("status", "check" | None), ...}`` at
module level: ``status`` is the verdict a careful ML engineer expects (pass / warn / fail /
error) and ``check`` the check a good tool should flag first (a guide; tests mainly compare
statuses). This module parses the files with :mod:`ast` and ``ast.literal_eval``s the dict,
so collecting the labels costs nothing and never runs user code.
"""

from __future__ import annotations

import ast
from pathlib import Path

# Not activations: an empty __all__ keeps gradcheck's discovery away from these helpers
# (read_expected takes one argument) when the whole tests/corpus folder is checked.
__all__: list[str] = []

CORPUS_DIR = Path(__file__).resolve().parent
PREFIX = "tests/corpus"
STATUSES = ("pass", "warn", "fail", "error", "skip")
CHECKS = (
    "forward",
    "gradient",
    "determinism",
    "upstream",
    "custom_vs_autodiff",
    "gradient_vs_fd",
    "vjp_vs_fd",
    "weights",
    "two_calls",
    "graph",
    "xla",
    "batch",
    "ranks",
    "second_order",
    "stability",
)


def corpus_modules() -> list[Path]:
    """The corpus module files (every ``*.py`` here except this one and private ``_*.py``), sorted."""
    return sorted(
        p for p in CORPUS_DIR.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_")
    )


def read_expected(path: str | Path) -> dict[str, tuple[str, str | None]]:
    """The module-level ``EXPECTED`` dict of one file, parsed with ast (empty dict if absent)."""
    path = Path(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        if any(isinstance(t, ast.Name) and t.id == "EXPECTED" for t in targets):
            raw = ast.literal_eval(value)
            out = {}
            for name, label in raw.items():
                status, check = label
                if status not in STATUSES:
                    raise ValueError(f"{path.name}::{name}: unknown status {status!r}")
                if check is not None and check not in CHECKS:
                    raise ValueError(f"{path.name}::{name}: unknown check {check!r}")
                out[str(name)] = (str(status), check)
            return out
    return {}


def all_expected() -> dict[str, tuple[str, str | None]]:
    """Every label of the corpus, keyed ``"tests/corpus/<module>.py::<name>"``."""
    labels: dict[str, tuple[str, str | None]] = {}
    for path in corpus_modules():
        for name, label in read_expected(path).items():
            labels[f"{PREFIX}/{path.name}::{name}"] = label
    return labels


if __name__ == "__main__":  # a quick summary: python tests/corpus/labels.py
    from collections import Counter

    labels = all_expected()
    print(f"{len(labels)} labeled activations")
    for module, n in sorted(Counter(k.split("::")[0] for k in labels).items()):
        print(f"  {module}: {n}")
    print("  statuses:", dict(Counter(s for s, _ in labels.values())))
