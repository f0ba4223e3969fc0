"""Reading the project-rule fixtures under ``fixtures/<CODE>/`` (ML704, ML78x, ML79x, ML971).

A project rule reads a whole project, so each case is a folder holding a small project:

* ``bad*/`` - a project the rule must flag. Every line that must carry a finding, in any
  file of the case (``.pre-commit-config.yaml``, ``pyproject.toml``, ``pytest.ini``, a
  ``.py`` file...), ends with a marker comment ``# expect: ML792`` (several codes:
  ``# expect: ML791, ML792``). The rule under test runs alone (``--project-only
  --select <CODE>``), and the set of (file, line, code) it reports must equal the markers.
  Markers are comments in every supported format (in INI files put them after a
  ``[section]`` header or on a line of their own... a marker must sit on the reported line).
* ``good*/`` - a project the rule must not flag at all.
* ``<bad>.fixed/`` - for each file that ``--fix`` (safe fixes) changes, its exact expected
  content, at the same relative path; files not listed must stay byte-for-byte unchanged
  (when the folder is absent, ``--fix`` must change nothing).
* ``<bad>.unsafe/`` - the same for ``--fix --unsafe-fixes``; when absent, that run must give
  the ``.fixed/`` result (or change nothing when that is absent too).

A second fix run on the fixed project must change nothing more. ``[tool.mllint]`` in a
case's own ``pyproject.toml`` configures the run, as in a real project.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.fixture_support import FIXTURES

_EXPECT_RE = re.compile(r"#\s*expect:\s*(?P<codes>ML\d{3}(?:\s*[,\s]\s*ML\d{3})*)")


@dataclass
class ProjectCase:
    code: str
    path: Path

    @property
    def id(self) -> str:
        return f"{self.code}/{self.path.name}"

    def files(self) -> dict[str, str]:
        out = {}
        for p in sorted(self.path.rglob("*")):
            if p.is_file():
                out[p.relative_to(self.path).as_posix()] = p.read_text(encoding="utf-8")
        return out

    def expected(self) -> set[tuple[str, int, str]]:
        out: set[tuple[str, int, str]] = set()
        for rel, text in self.files().items():
            for lineno, line in enumerate(text.splitlines(), start=1):
                m = _EXPECT_RE.search(line)
                if m:
                    for c in re.split(r"[,\s]+", m.group("codes")):
                        if c:
                            out.add((rel, lineno, c))
        return out

    def expectation_dir(self, mode: str) -> Path | None:
        fixed = self.path.with_name(self.path.name + ".fixed")
        unsafe = self.path.with_name(self.path.name + ".unsafe")
        if mode == "unsafe" and unsafe.is_dir():
            return unsafe
        return fixed if fixed.is_dir() else None

    def copy_to(self, target: Path) -> Path:
        shutil.copytree(self.path, target)
        return target


def project_cases(kind: str) -> list[ProjectCase]:
    out: list[ProjectCase] = []
    if not FIXTURES.is_dir():
        return out
    for rule_dir in sorted(p for p in FIXTURES.iterdir() if re.fullmatch(r"ML\d{3}", p.name)):
        for p in sorted(rule_dir.glob(f"{kind}*")):
            if p.is_dir() and not p.name.endswith((".fixed", ".unsafe")):
                out.append(ProjectCase(rule_dir.name, p))
    return out
