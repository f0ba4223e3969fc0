"""ruff and ``# noqa: ML…`` comments, with the real ruff (``python -m ruff``).

ruff does not know mllint's codes. With its unused-noqa checks enabled it reports
``# noqa: ML101`` -- older ruff as RUF100 "unused `noqa` directive (unknown: `ML101`)", newer
ruff (where RUF100 skips unknown codes) as RUF102 "invalid rule code" -- and ``ruff check
--fix`` deletes the comment, so mllint's finding comes back. ``external = ["ML"]`` under
``[tool.ruff.lint]`` tells ruff that ML codes belong to another tool: no report, no deletion.
The test enables RUF100 (as the project's issue states it) plus RUF102 when the installed ruff
has it, and asserts the behaviour the documentation promises for both spellings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

SOURCE = "a = 0.1\nx = a == 0.5  # noqa: ML101\n"
NOQA_RULES = {"RUF100", "RUF102"}


def ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUFF_")}
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@cache
def noqa_rules() -> tuple[str, ...]:
    """RUF100, plus RUF102 (invalid-rule-code) when this ruff has it."""
    r = ruff("rule", "RUF102", cwd=Path.cwd())
    return ("RUF100", "RUF102") if r.returncode == 0 else ("RUF100",)


def pyproject(external: bool) -> str:
    selected = ", ".join(f'"{code}"' for code in noqa_rules())
    text = f"[tool.ruff.lint]\nextend-select = [{selected}]\n"
    if external:
        text += 'external = ["ML"]\n'
    return text


def findings(cwd: Path) -> list[tuple[str, int, str]]:
    r = ruff("check", "--no-cache", "--output-format", "json", "m.py", cwd=cwd)
    assert r.returncode in (0, 1), r.stderr
    return [(d["code"], d["location"]["row"], d["message"]) for d in json.loads(r.stdout)]


@pytest.mark.parametrize("external", [False, True], ids=["without-external", "with-external"])
def test_noqa_ml_codes_and_ruff_external(project: Callable[..., Path], external: bool) -> None:
    root = project({"m.py": SOURCE, "pyproject.toml": pyproject(external)})
    found = findings(root)
    if external:
        assert found == []
    else:
        assert len(found) == 1, found
        code, line, message = found[0]
        assert code in NOQA_RULES and line == 2 and "ML101" in message
    # what --fix does to the comment: deleted without `external`, kept with it
    r = ruff("check", "--no-cache", "--fix", "m.py", cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr
    fixed = (root / "m.py").read_text(encoding="utf-8")
    assert fixed == (SOURCE if external else "a = 0.1\nx = a == 0.5\n")
