"""``--format junit``: JUnit XML for CI dashboards.

One ``<testsuite name="gradcheck">`` (inside ``<testsuites>``, as pytest writes it); one
``<testcase>`` per activation, classname = the file as a dotted path. ``warn`` passes and
carries the warning in ``<system-out>``; a module that failed to load is a testcase named
``load`` with an ``<error>``; a public callable that could not be checked (``not_checked``)
is a ``<skipped>`` testcase with the reason.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TextIO

from ..results import ERROR, FAIL, SKIP, WARN, ActivationResult, Report
from . import total_time

# Characters XML 1.0 forbids (ANSI escapes in tracebacks, NULs): ElementTree writes them
# unescaped, which would make the whole document unreadable.
_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str | None) -> str:
    return _INVALID_XML.sub("?", text or "")


def dotted(file: str) -> str:
    """``sample_activations/bad.py`` -> ``sample_activations.bad``."""
    path = file.replace("\\", "/")
    if path.endswith(".py"):
        path = path[:-3]
    parts = [p for p in path.split("/") if p not in ("", ".")]
    return ".".join(parts) or file


def _details(result: ActivationResult, statuses) -> str:
    lines = [f"{result.id}: {result.message}"]
    for c in result.checks:
        if c.status in statuses:
            dtype = f" [{c.dtype}]" if c.dtype else ""
            lines.append(f"{c.name}{dtype}: {c.status}: {c.message}")
            if c.hint:
                lines.append(f"  hint: {c.hint}")
    return "\n".join(lines)


class JunitFormatter:
    def write(self, report: Report, stream: TextIO) -> None:
        summary = report.summary
        counts = {
            "tests": str(len(report.results) + len(report.errors) + len(report.not_checked)),
            "failures": str(summary["failed"]),
            "errors": str(summary["errors"] + len(report.errors)),
            "skipped": str(summary["skipped"] + len(report.not_checked)),
            "time": f"{total_time(report) or 0.0:.3f}",
        }
        root = ET.Element("testsuites", counts)
        suite = ET.SubElement(root, "testsuite", {"name": "gradcheck", **counts})
        for r in report.results:
            case = ET.SubElement(suite, "testcase", {
                "classname": dotted(r.file), "name": r.name, "file": r.file,
                **({"line": str(r.line)} if r.line is not None else {}), "time": f"{r.duration or 0.0:.3f}",
            })
            message = _xml(r.message)
            if r.status == FAIL:
                ET.SubElement(case, "failure", {"message": message}).text = _xml(_details(r, (FAIL, ERROR)))
            elif r.status == ERROR:
                ET.SubElement(case, "error", {"message": message}).text = _xml(_details(r, (ERROR, FAIL)))
            elif r.status == SKIP:
                ET.SubElement(case, "skipped", {"message": message})
            elif r.status == WARN:
                ET.SubElement(case, "system-out").text = _xml(_details(r, (WARN,)))
        for n in report.not_checked:
            case = ET.SubElement(suite, "testcase", {
                "classname": dotted(n.file), "name": n.name, "file": n.file,
                **({"line": str(n.line)} if n.line is not None else {}), "time": "0.000",
            })
            ET.SubElement(case, "skipped", {"message": _xml(f"not checked: {n.reason}")})
        for e in report.errors:
            case = ET.SubElement(suite, "testcase", {"classname": dotted(e.file), "name": "load", "file": e.file,
                                                     "time": "0.000"})
            ET.SubElement(case, "error", {"message": _xml(e.message)}).text = _xml(e.detail or e.message)
        ET.indent(root)
        stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        stream.write(ET.tostring(root, encoding="unicode"))
        stream.write("\n")
