"""GitLab Code Quality report: a JSON array of Code Climate issues.

Save it as ``gl-code-quality-report.json`` and declare it as an ``artifacts: reports:
codequality`` file; GitLab then shows the findings in merge requests. The ``fingerprint`` does
not depend on line numbers, so a finding that only moved is not reported as new.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from mllint.reporters import Report
from mllint.reporters.common import SYNTAX_ERROR_CODE, fingerprints

#: Code Climate categories by code band: ML6xx loops and ML7xx imports are about speed, ML9xx
#: about hygiene (unused noqa...); everything else is a "Bug Risk". By code, so that this
#: reporter never imports the rules (a cached run stays free of libcst).
_BAND_CATEGORIES = {"ML6": "Performance", "ML7": "Performance", "ML9": "Style"}


def category(code: str) -> str:
    return _BAND_CATEGORIES.get(code[:3], "Bug Risk")


def render_gitlab(report: Report, out: TextIO, quiet: bool, statistics: bool) -> None:
    issues: list[dict[str, Any]] = []
    for v, fingerprint in zip(report.violations, fingerprints(report.violations), strict=True):
        issues.append(
            {
                "description": f"{v.code} [{v.name}] {v.cell_prefix()}{v.message}",
                "check_name": v.code,
                "fingerprint": fingerprint,
                "severity": "blocker" if v.code == SYNTAX_ERROR_CODE else "major",
                "categories": [category(v.code)],
                "location": {
                    "path": v.filename,
                    "lines": {"begin": v.annotation_line(), "end": v.annotation_line()}
                    if v.cell is not None
                    else {"begin": v.line, "end": v.end_line},
                },
            }
        )
    out.write(json.dumps(issues, indent=2, ensure_ascii=False))
    out.write("\n")
