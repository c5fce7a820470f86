"""``--format json``: the contract's version-1 document, and nothing else, on stdout.

Non-finite floats (NaN, +-inf) become ``null``, like every number that does not apply, so
the output is always strict JSON (``allow_nan=False`` guards it); the check's message says
what was non-finite.
"""

from __future__ import annotations

import json
import math
from typing import Any, TextIO

from .. import __version__
from ..results import Report
from . import total_time

VERSION = 1


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def document(report: Report) -> dict[str, Any]:
    """The JSON document as Python objects."""
    settings = {key: report.settings.get(key) for key in ("samples", "range", "seed")}
    settings.update(report.settings)
    doc = {
        "version": VERSION,
        "tool": {"name": "gradcheck", "version": __version__},
        "settings": settings,
        "results": [r.to_dict() for r in report.results],
        "errors": [e.to_dict() for e in report.errors],
        "not_checked": [n.to_dict() for n in report.not_checked],
        "summary": report.summary,
        "duration": total_time(report),
        "not_imported": [n.to_dict() for n in report.not_imported],
    }
    if report.usage_errors:
        doc["usage_errors"] = list(report.usage_errors)
    if report.interrupted_by:  # the results are partial
        doc["interrupted"] = report.interrupted_by
    return _clean(doc)


class JsonFormatter:
    def write(self, report: Report, stream: TextIO) -> None:
        json.dump(document(report), stream, indent=2, allow_nan=False)
        stream.write("\n")
