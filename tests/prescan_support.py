"""Helpers shared by the ``tests/test_prescan_*.py`` tests of the rules' ast gates: which codes
the pre-scan lets run on a source, and which lines a rule then flags.

Every source is dedented first (the tests write them indented in triple-quoted strings).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mllint.api import check_source, make_request
from mllint.config import Settings, settings_from_toml
from mllint.engine import rules_for

PATH = "pkg/mod.py"


def settings_from(config: Mapping[str, Any] | None) -> Settings | None:
    """The settings of a ``[tool.mllint]`` table (None for no or an empty table)."""
    if not config:
        return None
    return settings_from_toml({"tool": {"mllint": dict(config)}}, Path("pyproject.toml"))


def active_codes(
    src: str,
    code: str,
    *,
    path: str = PATH,
    package: str | None = None,
    settings: Settings | None = None,
    gate: bool = True,
) -> list[str]:
    """The codes the pre-scan (the text stage, and the ast gate with ``gate``) lets run on
    ``src`` for a request of ``code`` alone (default-off rules included)."""
    request = make_request(settings or Settings(), path, package=package, codes=[code])
    found = rules_for(textwrap.dedent(src), request.facts, request.rules, ast_gate=gate)
    return [er.rule.code for er in found]


def gated(src: str, code: str, **kw: Any) -> bool:
    """Whether the pre-scan lets ``code`` run on ``src`` (keywords: :func:`active_codes`)."""
    return code in active_codes(src, code, **kw)


def rejected(src: str, code: str, **kw: Any) -> bool:
    """The text stage lets ``code`` through on ``src`` and the ast gate rejects it."""
    return gated(src, code, gate=False, **kw) and not gated(src, code, **kw)


def flagged_lines(
    src: str,
    code: str,
    *,
    path: str = PATH,
    package: str | None = None,
    settings: Settings | None = None,
) -> list[int]:
    """The lines ``code`` reports on ``src``."""
    result = check_source(
        textwrap.dedent(src), path, settings=settings, select=[code], package=package
    )
    return [v.line for v in result.violations if v.code == code]


def gated_lines(src: str, code: str, **kw: Any) -> list[int]:
    """The lines ``code`` reports on ``src`` (keywords: :func:`flagged_lines`), after checking
    that the gate lets it through."""
    assert gated(src, code, **kw)
    return flagged_lines(src, code, **kw)


def check(src: str, code: str, lines: list[int], settings: Settings | None = None) -> None:
    """The gate lets ``code`` through on ``src`` and the rule flags exactly ``lines``."""
    assert gated_lines(src, code, settings=settings) == lines
