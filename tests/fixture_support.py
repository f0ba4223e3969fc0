"""Reading the rule fixtures under ``fixtures/<CODE>/``.

Layout of one rule's folder:

* ``bad*.py`` - code the rule must flag. Every line that must carry a finding ends with a
  marker comment ``# expect: ML101`` (several codes: ``# expect: ML101, ML102``). The rule under
  test runs alone, and the set of (line, code) it reports must equal the markers exactly.
* ``good*.py`` - code the rule must not flag at all.
* ``<bad>.fixed.py`` - the exact result of ``--fix`` (safe fixes) on ``<bad>.py``; when absent,
  ``--fix`` must leave the file byte-for-byte unchanged.
* ``<bad>.unsafe.py`` - the exact result of ``--fix --unsafe-fixes``; when absent, that run must
  give ``<bad>.fixed.py`` (or leave the file unchanged when that is absent too).

Directives in leading comment lines of a bad/good file:

* ``# mllint-fixture: path=pkg/__init__.py`` - lint the file as if it were at this path
  (file roles: package init, test file, script).
* ``# mllint-fixture: config={"python-version": "3.9", "float-equality": {"rel-tol": 1e-6}}`` -
  the ``[tool.mllint]`` table (JSON) for this file.
* ``# mllint-fixture: package=mypkg.sub`` - the dotted package of the file.
* ``# mllint-fixture: select=ML900,ML102`` - run these rules instead of the folder's rule alone
  (for rules such as ML900 that judge other rules' findings).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"

_EXPECT_RE = re.compile(r"#\s*expect:\s*(?P<codes>ML\d{3}(?:\s*[,\s]\s*ML\d{3})*)")
_DIRECTIVE_RE = re.compile(r"^#\s*mllint-fixture:\s*(?P<key>[a-z]+)=(?P<value>.*)$")


@dataclass
class FixtureCase:
    code: str
    path: Path
    source: str
    virtual_path: str
    config: dict[str, Any]
    package: str | None
    select: list[str] | None = None

    @property
    def id(self) -> str:
        return f"{self.code}/{self.path.name}"

    def expected(self) -> set[tuple[int, str]]:
        out: set[tuple[int, str]] = set()
        for lineno, line in enumerate(self.source.splitlines(), start=1):
            m = _EXPECT_RE.search(line)
            if m:
                for c in re.split(r"[,\s]+", m.group("codes")):
                    if c:
                        out.add((lineno, c))
        return out

    def fixed_path(self, mode: str) -> Path:
        suffix = ".fixed.py" if mode == "safe" else ".unsafe.py"
        return self.path.with_name(self.path.name[: -len(".py")] + suffix)


def _read(path: Path) -> str:
    with path.open(encoding="utf-8", newline="") as fh:
        return fh.read()


def load_case(code: str, path: Path) -> FixtureCase:
    source = _read(path)
    virtual = f"src/fixture_pkg/{path.name}"
    config: dict[str, Any] = {}
    package: str | None = None
    select: list[str] | None = None
    for line in source.splitlines():
        if not line.startswith("#"):
            break
        m = _DIRECTIVE_RE.match(line.strip())
        if not m:
            continue
        key, value = m.group("key"), m.group("value").strip()
        if key == "path":
            virtual = value
        elif key == "config":
            config = json.loads(value)
        elif key == "package":
            package = value
        elif key == "select":
            select = [v.strip() for v in value.split(",") if v.strip()]
        else:
            raise ValueError(f"{path}: unknown fixture directive {key!r}")
    return FixtureCase(code, path, source, virtual, config, package, select)


def _is_expectation(path: Path) -> bool:
    return path.name.endswith((".fixed.py", ".unsafe.py"))


def cases(kind: str) -> list[FixtureCase]:
    """All ``bad`` or ``good`` fixture files, for every rule."""
    out: list[FixtureCase] = []
    if not FIXTURES.is_dir():
        return out
    for rule_dir in sorted(p for p in FIXTURES.iterdir() if re.fullmatch(r"ML\d{3}", p.name)):
        for path in sorted(rule_dir.glob(f"{kind}*.py")):
            if not _is_expectation(path):
                out.append(load_case(rule_dir.name, path))
    return out


def settings_for(case: FixtureCase) -> Any:
    from mllint.config import settings_from_toml

    return settings_from_toml(
        {"tool": {"mllint": case.config}}, ROOT / "fixtures" / case.code / "pyproject.toml"
    )
