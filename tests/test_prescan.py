"""The ast pre-scan (:mod:`mllint.prescan`) and the rules' ``ast_gate``: the gates only ever
skip work, they never hide a finding."""

from __future__ import annotations

import ast
import textwrap

import pytest

from mllint.api import make_request
from mllint.config import Settings
from mllint.engine import lint_source, rules_for
from mllint.prescan import Scan, dotted_name, scan_source, terminal_name, walk
from mllint.rule import per_file_rules
from tests.fixture_support import FixtureCase, cases, settings_for

ALL_CASES = cases("bad") + cases("good")
ALL_CODES = sorted(per_file_rules())


def _scan(src: str) -> Scan:
    scan = scan_source(textwrap.dedent(src))
    assert scan is not None
    return scan


def _findings(case: FixtureCase, source: str, codes: list[str], gate: bool) -> list[str]:
    request = make_request(settings_for(case), case.virtual_path, package=case.package, codes=codes)
    request.ast_gate = gate
    result = lint_source(source, request)
    return [f"{v.line}:{v.column} {v.code} {v.message}" for v in result.violations]


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_gates_hide_nothing_on_fixtures(case: FixtureCase) -> None:
    """Every fixture, with every per-file rule enabled (default-off ones too) and with its own
    rule selection: the findings with the gates equal the findings without them."""
    own = sorted(case.select or [case.code])
    for codes in (ALL_CODES, own):
        ungated = _findings(case, case.source, codes, gate=False)
        assert _findings(case, case.source, codes, gate=True) == ungated


def test_gated_rules_exist_and_skip_files() -> None:
    """The pre-scan is not a no-op: a plain module that only shares common tokens with the
    rules' triggers is not parsed by libcst for any rule."""
    gated = [c for c, r in per_file_rules().items() if r.has_ast_gate()]
    assert len(gated) >= 10, gated
    src = textwrap.dedent(
        """\
        import os


        def total(values, scale=1.0):
            out = 0
            for v in values:
                if v is not None:
                    out += v / scale
            return out == 0
        """
    )
    request = make_request(Settings(), "pkg/util.py")
    assert rules_for(src, request.facts, request.rules, ast_gate=False)
    active = [er.rule.code for er in rules_for(src, request.facts, request.rules)]
    assert active == []


def test_scan_unparsable_source_falls_back() -> None:
    assert scan_source("def f(:\n") is None
    assert scan_source("x = 1\0\n") is None


def test_syntax_error_still_reported_when_gates_reject() -> None:
    request = make_request(Settings(), "pkg/broken.py")
    result = lint_source("def f(:\n    pass\n", request)
    assert [(v.code, v.line) for v in result.violations] == [("ML000", 1)]


def test_scan_indexes_every_node() -> None:
    src = (
        "import a.b as c\nfrom .x import y\nfrom z import *\n\n\ndef f(p=[]):\n    return c.d(p)\n"
    )
    scan = _scan(src)
    assert sorted(type(n).__name__ for n in walk(scan.tree)) == sorted(
        type(n).__name__ for n in ast.walk(ast.parse(src)) if not isinstance(n, ast.expr_context)
    )
    assert len(scan.of(ast.FunctionDef)) == 1
    assert scan.has(ast.List) and not scan.has(ast.While)
    assert scan.imported_modules() == frozenset({"a", "a.b", ".x", ".x.y", "z"})
    assert scan.imports_any("a.b") and not scan.imports_any("b")
    assert scan.called() == frozenset({"d"})
    assert [terminal_name(c.func) for c in scan.calls("d", "e")] == ["d"]
    assert scan.calls("e") == []
    assert "p" in scan.names() and "d" in scan.attrs()


def test_in_loops_covers_bodies_tests_and_inner_comprehension_parts() -> None:
    scan = _scan(
        """
        x in a0
        for i in b1:
            i in a1
        else:
            i in a2
        while j in a3:
            pass
        [k for k in c4 if k in a4]
        [k in a5 for k in c5]
        [m for k in c6 for m in (k in a6,)]
        {k: k in a7 for k in c7}
        """
    )
    found = sorted(dotted_name(c.comparators[0]) or "" for c in scan.in_loops(ast.Compare))
    assert found == ["a1", "a2", "a3", "a4", "a5", "a6", "a7"]
    no_comp = sorted(
        dotted_name(c.comparators[0]) or ""
        for c in scan.in_loops(ast.Compare, comprehensions=False)
    )
    assert no_comp == ["a1", "a2", "a3"]


def test_decorated_and_methods() -> None:
    scan = _scan(
        """
        import functools

        @functools.lru_cache(maxsize=2)
        def f(): ...

        class C:
            @cache
            def g(self): ...

            def h(self):
                def inner(): ...
        """
    )
    assert sorted(n.name for n in scan.decorated("lru_cache", "cache")) == ["f", "g"]
    assert [(c.name, m.name) for c, m in scan.methods()] == [("C", "g"), ("C", "h")]


@pytest.mark.parametrize("case", cases("bad"), ids=[c.id for c in cases("bad")])
def test_statement_local_positions_equal_full_render(
    case: FixtureCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The position pass that renders only the statements holding findings gives exactly
    the positions, edits and fixed source of rendering the whole module."""
    import mllint.engine as engine

    def run(fix: str | None) -> tuple[list[str], str | None]:
        request = make_request(
            settings_for(case),
            case.virtual_path,
            fix=fix,
            package=case.package,
            codes=case.select or [case.code],
        )
        result = lint_source(case.source, request)
        return [
            f"{v.line}:{v.column}-{v.end_line}:{v.end_column} {v.code} {v.fix}"
            for v in result.violations
        ], result.fixed_source

    fast = run(None), run("unsafe")
    monkeypatch.setattr(engine, "statement_offsets", lambda *a, **k: None)
    assert (run(None), run("unsafe")) == fast
