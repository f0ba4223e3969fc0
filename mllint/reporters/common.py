"""Helpers shared by the CI reporters: stable fingerprints, rule metadata, artifact URIs.

Standard library only. The rule classes (which import libcst) are loaded lazily, and only by
the SARIF reporter, which embeds their documentation, and only when there are findings.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote

from mllint.diagnostics import Violation

if TYPE_CHECKING:
    from mllint.rule import Rule

#: where the rule pages are published (``helpUri`` in SARIF)
RULE_DOCS_URL = "https://github.com/mllint/mllint/blob/main/docs/rules/{code}.md"
HOMEPAGE = "https://github.com/mllint/mllint"
#: the code whose findings are errors rather than warnings (the file does not parse)
SYNTAX_ERROR_CODE = "ML000"


def _normalise(text: str) -> str:
    """Collapse whitespace, so that re-indenting or re-spacing a line keeps its fingerprint."""
    return " ".join(text.split())


def fingerprints(violations: Sequence[Violation]) -> list[str]:
    """A stable fingerprint for each finding, in the order given.

    The hash covers the rule code, the (relative, posix) path, the normalised text of the
    offending line (the message when the line is unknown) and an occurrence index among the
    findings with that same code, path and text. It does not depend on the line number, so it
    survives unrelated lines being added or removed above the finding, while two identical
    findings in one file (the same line of code written twice) still differ.
    """
    order = sorted(range(len(violations)), key=lambda i: violations[i].sort_key())
    seen: dict[tuple[str, str, str], int] = {}
    out = [""] * len(violations)
    for i in order:
        v = violations[i]
        text = _normalise(v.source_line) or _normalise(v.message)
        path = v.filename.replace("\\", "/")
        key = (v.code, path, text)
        index = seen.get(key, 0)
        seen[key] = index + 1
        payload = "\0".join(("mllint/v1", v.code, path, text, str(index)))
        out[i] = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    return out


def default_level(code: str) -> str:
    """SARIF level: a file that does not parse is an error, every other finding a warning."""
    return "error" if code == SYNTAX_ERROR_CODE else "warning"


def rule_classes() -> dict[str, type[Rule]]:
    """The registered rule classes by code (imports every rule, and so libcst); empty when the
    registry cannot be loaded."""
    from mllint.rule_errors import RegistryError

    try:
        from mllint.rule import all_rules

        return all_rules()
    except (ImportError, RegistryError):  # pragma: no cover - reported by the run already
        return {}


def is_builtin(rule: type[Rule]) -> bool:
    return rule.__module__.startswith("mllint.rules.")


def artifact_uri(filename: str) -> tuple[str, bool]:
    """``(uri, relative)`` for a reported path: a relative path becomes a percent-encoded
    posix URI reference (to be resolved against ``%SRCROOT%``); an absolute one a ``file:``
    URI."""
    native = filename.replace("/", os.sep) if os.sep != "/" else filename
    if os.path.isabs(native):
        return Path(native).as_uri(), False
    posix = PurePosixPath(filename.replace("\\", "/")).as_posix()
    return quote(posix, safe="/"), True
