"""One JSON object per line (JSON Lines), with the same keys as the ``json`` format."""

from __future__ import annotations

import json
from typing import TextIO

from mllint.reporters import Report


def render_json_lines(report: Report, out: TextIO, quiet: bool, statistics: bool) -> None:
    for v in report.violations:
        out.write(json.dumps(v.to_json(), ensure_ascii=False) + "\n")
