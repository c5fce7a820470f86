"""``--format github``: GitHub Actions workflow commands, one per problem.

``::error file=F,line=L,title=T::message`` for every failing or erroring activation and
every file that could not be loaded, ``::warning ...`` for every warning: GitHub shows them
as annotations on the pull request's diff, at the activation's ``def`` (or at the
hand-written gradient when that is what the check blames). Passing activations print
nothing; a last ``::notice`` line carries the summary.
"""

from __future__ import annotations

import re
from typing import TextIO

from ..results import ERROR, FAIL, WARN, ActivationResult, Report

COMMAND = {FAIL: "error", ERROR: "error", WARN: "warning"}
# "(line 3)" / "(other.py, line 3)" at the end of a load error's message
_LOAD_LINE = re.compile(r"\(line (\d+)\)$")


def _escape_data(text: str) -> str:
    """A workflow command's message: %, CR and LF are escaped (GitHub's toolkit rules)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, message: str, *, file: str, line: int | None = None, title: str | None = None) -> str:
    props = [f"file={_escape_property(file)}"]
    if line is not None:
        props.append(f"line={line}")
    if title:
        props.append(f"title={_escape_property(title)}")
    return f"::{kind} {','.join(props)}::{_escape_data(message)}"


def _annotation(r: ActivationResult) -> str:
    first = r.lead
    line = first.line if first is not None and first.line is not None else r.line
    message = r.message if first is None or not first.hint else f"{r.message}\nhint: {first.hint}"
    return command(COMMAND[r.status], message, file=r.file, line=line,
                   title=f"gradcheck {r.status.upper()}: {r.name}")


class GithubFormatter:
    def write(self, report: Report, stream: TextIO) -> None:
        for r in report.results:
            if r.status in COMMAND:
                stream.write(_annotation(r) + "\n")
        for e in report.errors:
            found = _LOAD_LINE.search(e.message)
            stream.write(command("error", e.message, file=e.file, line=int(found.group(1)) if found else None,
                                 title="gradcheck: could not import") + "\n")
        s = report.summary
        stream.write(f"::notice title=gradcheck::{s['passed']} passed, {s['warned']} warned, {s['failed']} failed, "
                     f"{s['errors']} errors, {s['skipped']} skipped\n")
