"""Fixture-driven tests of every rule: findings at exact lines, silence on good code, exact
fix output for ``--fix`` and ``--unsafe-fixes``, and idempotent fixes."""

from __future__ import annotations

import pytest

from mllint.api import check_source
from mllint.rule import all_rules
from tests.fixture_support import FIXTURES, FixtureCase, cases, settings_for

BAD = cases("bad")
GOOD = cases("good")


def _run(case: FixtureCase, source: str, fix: str | None = None):  # type: ignore[no-untyped-def]
    return check_source(
        source,
        case.virtual_path,
        settings=settings_for(case),
        select=case.select or [case.code],
        fix=fix,
        package=case.package,
    )


@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_bad_fixture_findings(case: FixtureCase) -> None:
    expected = case.expected()
    assert expected, f"{case.id} has no '# expect: {case.code}' markers"
    result = _run(case, case.source)
    found = {(v.line, v.code) for v in result.violations if v.code == case.code}
    assert found == expected, "\n".join(
        f"{v.line}:{v.column} {v.code} {v.message}" for v in result.violations
    )


@pytest.mark.parametrize("case", GOOD, ids=[c.id for c in GOOD])
def test_good_fixture_is_silent(case: FixtureCase) -> None:
    result = _run(case, case.source)
    found = [
        f"{v.line}:{v.column} {v.code} {v.message}"
        for v in result.violations
        if v.code == case.code
    ]
    assert found == []


@pytest.mark.parametrize("mode", ["safe", "unsafe"])
@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_fix_output(case: FixtureCase, mode: str) -> None:
    result = _run(case, case.source, fix=mode)
    fixed = result.fixed_source if result.fixed_source is not None else case.source
    expected_path = case.fixed_path(mode)
    if mode == "unsafe" and not expected_path.exists():
        # --unsafe-fixes applies the safe fixes too: with no unsafe-only expectation the
        # result is the safe one
        expected_path = case.fixed_path("safe")
    if expected_path.exists():
        expected = expected_path.read_text(encoding="utf-8")
        assert fixed == expected
        # fixing the fixed output changes nothing more
        again = _run(case, fixed, fix=mode)
        assert again.fixed_source is None
    else:
        assert fixed == case.source, (
            f"{mode} fixes changed {case.id} but {expected_path.name} is missing"
        )


#: rules whose fix depends on other files on disk, so a single-file fixture cannot show it;
#: the named test runs the fix on a real tree
FIX_TESTED_ON_A_TREE = {
    "ML704": "tests/test_import_project_rules.py::test_ml704_fix_only_with_a_package_folder",
}


def test_every_rule_has_fixtures() -> None:
    missing = []
    for code, rule in all_rules().items():
        if code == "ML000":
            continue
        if getattr(rule, "requires_filename", None) == "\0project-rule":
            continue  # project rules: folder fixtures, tests/test_project_rules.py
        folder = FIXTURES / code
        bad = [
            p for p in folder.glob("bad*.py") if not p.name.endswith((".fixed.py", ".unsafe.py"))
        ]
        good = list(folder.glob("good*.py"))
        if not bad or not good:
            missing.append(code)
            continue
        if (
            rule.fix_safety
            and code not in FIX_TESTED_ON_A_TREE
            and not any(
                p.with_name(p.name[:-3] + ".unsafe.py").exists()
                or p.with_name(p.name[:-3] + ".fixed.py").exists()
                for p in bad
            )
        ):
            missing.append(f"{code} (fix output)")
    assert missing == []
