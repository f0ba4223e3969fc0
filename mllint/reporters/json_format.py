"""A JSON list of findings with exactly the documented keys."""

from __future__ import annotations

import json
from typing import TextIO

from mllint.reporters import Report


def render_json(report: Report, out: TextIO, quiet: bool, statistics: bool) -> None:
    out.write(json.dumps([v.to_json() for v in report.violations], indent=2, ensure_ascii=False))
    out.write("\n")
