"""SARIF 2.1.0, as read by GitHub code scanning (``github/codeql-action/upload-sarif``).

One run; ``tool.driver.rules`` describes every rule that has a finding (summary, documentation,
link to its page); each result has a relative ``%SRCROOT%`` location, a line-independent
``partialFingerprints`` entry and, when mllint can fix the finding, a SARIF ``fix``. Columns
are counted in Unicode code points (``columnKind``), 1-based, end exclusive.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, TextIO

from mllint import __version__
from mllint.diagnostics import FixInfo, Violation
from mllint.reporters import Report
from mllint.reporters.common import (
    HOMEPAGE,
    RULE_DOCS_URL,
    artifact_uri,
    default_level,
    fingerprints,
    is_builtin,
    rule_classes,
)

if TYPE_CHECKING:
    from mllint.rule import Rule

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "mllintFingerprint/v1"
SRCROOT = "%SRCROOT%"

_HEADING = re.compile(r"^#{1,6}\s+(.*)$")


def _sections(markdown: str) -> dict[str, str]:
    """``{"What it does": "...", ...}`` from a rule docstring."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in markdown.splitlines():
        m = _HEADING.match(line)
        if m:
            current = sections.setdefault(m.group(1).strip(), [])
        elif current is not None:
            current.append(line)
    return {k: "\n".join(v).strip() for k, v in sections.items()}


def markdown_to_text(markdown: str) -> str:
    """A plain-text rendering: headings lose their ``#``, code blocks are indented."""
    out: list[str] = []
    in_code = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            out.append("    " + line if line.strip() else "")
            continue
        m = _HEADING.match(line)
        out.append(m.group(1).strip() if m else line)
    return "\n".join(out).strip()


def _location(filename: str) -> dict[str, Any]:
    uri, relative = artifact_uri(filename)
    return {"uri": uri, "uriBaseId": SRCROOT} if relative else {"uri": uri}


def _region(line: int, column: int, end_line: int, end_column: int) -> dict[str, int]:
    return {
        "startLine": max(1, line),
        "startColumn": max(1, column),
        "endLine": max(1, end_line),
        "endColumn": max(1, end_column),
    }


def _rule_descriptor(code: str, name: str, rule: type[Rule] | None) -> dict[str, Any]:
    level = default_level(code)
    if rule is None:  # a finding from a rule that is no longer registered (e.g. a cache)
        return {
            "id": code,
            "name": name,
            "shortDescription": {"text": name},
            "defaultConfiguration": {"level": level},
        }
    doc = rule.documentation()
    what = _sections(doc).get("What it does", "")
    descriptor: dict[str, Any] = {
        "id": code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary or rule.name},
        "fullDescription": {
            "text": " ".join(markdown_to_text(what).split()) or rule.summary or rule.name
        },
        "defaultConfiguration": {"level": level},
        "properties": {"fix": rule.fix_label(), "tags": ["mllint"]},
    }
    if doc:
        descriptor["help"] = {"text": markdown_to_text(doc), "markdown": doc}
    if is_builtin(rule):
        descriptor["helpUri"] = RULE_DOCS_URL.format(code=code)
    return descriptor


def _fix(v: Violation, fix: FixInfo) -> dict[str, Any]:
    label = "Safe fix" if fix.applicability == "safe" else "Unsafe fix (may change behaviour)"
    flag = "--fix" if fix.applicability == "safe" else "--fix --unsafe-fixes"
    return {
        "description": {"text": f"{label}: mllint check {flag}"},
        "artifactChanges": [
            {
                "artifactLocation": _location(v.filename),
                "replacements": [
                    {
                        "deletedRegion": _region(e.line, e.column, e.end_line, e.end_column),
                        "insertedContent": {"text": e.content},
                    }
                    for e in fix.edits
                ],
            }
        ],
        "properties": {"applicability": fix.applicability},
    }


def build_sarif(report: Report) -> dict[str, Any]:
    registry = rule_classes() if report.violations else {}
    rule_index: dict[str, int] = {}
    rules: list[dict[str, Any]] = []
    for code, name in sorted({(v.code, v.name) for v in report.violations}):
        if code in rule_index:
            continue
        rule_index[code] = len(rules)
        rules.append(_rule_descriptor(code, name, registry.get(code)))

    results: list[dict[str, Any]] = []
    for v, fingerprint in zip(report.violations, fingerprints(report.violations), strict=True):
        result: dict[str, Any] = {
            "ruleId": v.code,
            "ruleIndex": rule_index[v.code],
            "level": default_level(v.code),
            "message": {"text": v.cell_prefix() + v.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": _location(v.filename),
                        "region": _region(v.line, v.column, v.end_line, v.end_column)
                        if v.cell is None
                        else {"startLine": v.annotation_line()},
                    }
                }
            ],
            "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
        }
        if v.fix is not None and v.fix.edits and v.cell is None:
            result["fixes"] = [_fix(v, v.fix)]
        results.append(result)

    invocation: dict[str, Any] = {"executionSuccessful": not report.file_errors}
    if report.file_errors:
        invocation["toolExecutionNotifications"] = [
            {
                "level": "error",
                "message": {"text": f"{e.filename}: {e.error}"},
                "locations": [{"physicalLocation": {"artifactLocation": _location(e.filename)}}],
            }
            for e in report.file_errors
        ]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "mllint",
                        "version": __version__,
                        "informationUri": HOMEPAGE,
                        "rules": rules,
                    }
                },
                "invocations": [invocation],
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def render_sarif(report: Report, out: TextIO, quiet: bool, statistics: bool) -> None:
    out.write(json.dumps(build_sarif(report), indent=2, ensure_ascii=False))
    out.write("\n")
