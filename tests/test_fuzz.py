"""Property-based tests: for any valid module, checking never raises, and fixing (safe or
unsafe) produces code that parses, compiles when the original did, changes only finding sites,
keeps every comment that is not a suppression, CRLF newlines and `# noqa` lines, and is
idempotent, with a report of what remains that matches a check of the output.

Two sources of modules:

* hypothesmith (``from_grammar`` and ``from_node``): arbitrary valid Python, good at odd
  syntax, which almost never contains an ML pitfall;
* ``ml_modules`` below: random compositions of the pitfall shapes of ``fixtures/`` (float
  and NaN comparisons, chained pandas indexing, reductions with ``axis``, ``in <list>``
  inside loops, mutable and array defaults, ``lru_cache`` methods, heavy imports in a package
  ``__init__``), with random names, nesting, indentation, newlines, comments and
  suppressions, checked as a module, a package ``__init__.py``, a test file or a script.

CI runs a bounded number of examples with a fixed seed (``derandomize``). A longer, random
run (see docs/robustness.md)::

    MLLINT_FUZZ_EXAMPLES=5000 pytest -q tests/test_fuzz.py

Every failure found becomes a minimal reproducer in tests/test_regressions.py.
"""

from __future__ import annotations

import ast
import io
import keyword
import os
import re
import sys
import tokenize
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import hypothesmith
import pytest
from hypothesis import HealthCheck, assume, currently_in_test_context, given, reject, settings
from hypothesis import strategies as st

from mllint.api import check_source
from mllint.config import Settings
from mllint.diagnostics import FileResult
from tests.corpus.fix_corpus import Site, outside_hunks

# hypothesmith writes code such as `1()`, which CPython compiles with a SyntaxWarning
pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")

# The engine raises the recursion limit for deep trees; do it up front so that hypothesis
# does not warn that a test changed it.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))

_LONG = os.environ.get("MLLINT_FUZZ_EXAMPLES")


def _settings(examples: int) -> settings:
    """``examples`` in CI (deterministic); ``MLLINT_FUZZ_EXAMPLES`` examples, random, when set."""
    return settings(
        max_examples=int(_LONG) if _LONG else examples,
        deadline=None,
        derandomize=not _LONG,
        database=None,  # no .hypothesis/ folder in the work tree; failures print a blob
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
        print_blob=True,
    )


# -- the properties ---------------------------------------------------------------------------


def _parses(source: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _compile_error(source: str) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "m.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _compiles(source: str) -> bool:
    return _compile_error(source) is None


#: Bugs already reproduced in tests/test_regressions.py (xfail there). An example that fails
#: only because of one of them is skipped here, so that the bounded CI run stays green and
#: keeps looking for new bugs: (test in test_regressions.py, predicate on (source, path,
#: failure)), the failure being "<kind>: <details>" with kind one of parse, compile, outside,
#: comments, newlines, noqa, idempotence, report. Remove an entry when its bug is fixed.
KNOWN_BUGS: list[tuple[str, Callable[[str, str, str], bool]]] = []


def _fail(source: str, path: str, failure: str, details: str) -> None:
    """Report a broken property, unless a known bug explains it."""
    for name, matches in KNOWN_BUGS:
        if matches(source, path, failure):
            if currently_in_test_context():
                reject()
            pytest.xfail(f"known bug, see tests/test_regressions.py::{name}")
    raise AssertionError(f"{failure}\n{details}")


def _comments(source: str) -> Counter[str]:
    """Comments other than suppressions (ML900 may legitimately remove those)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return Counter()
    return Counter(
        t.string.strip()
        for t in tokens
        if t.type == tokenize.COMMENT
        and "noqa" not in t.string.lower()
        and "mllint" not in t.string
    )


_BLANKET_NOQA = re.compile(r"#\s*noqa\s*$", re.IGNORECASE)


def _report(result: FileResult) -> list[tuple[object, ...]]:
    return [
        (v.code, v.line, v.column, v.end_line, v.end_column, v.message) for v in result.violations
    ]


_MODULE_NAMES = frozenset(
    {"math", "np", "pd", "torch", "functools", "pytest", "typing", "importlib"}
)


def _uses_unbound_module(source: str) -> bool:
    """Does the module use ``math.nan``, ``np.zeros``... without binding the name? A fix that
    imports it (``import math`` for ``math.isclose``) then makes new findings appear on
    unrelated lines (``x is math.nan``): a cascade, not a change away from the findings."""
    tree = ast.parse(source)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    bound = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
    }
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
    return bool((used - bound) & _MODULE_NAMES)


def check_properties(
    source: str, path: str = "m.py", consistent_report: bool = True, config: Settings | None = None
) -> None:
    """The invariants every fix must keep, for any module that parses."""
    plain = check_source(source, path, select=["ML"], settings=config)  # never raises
    assert all(v.code != "ML000" for v in plain.violations) or not _parses(source), _report(plain)
    compiled = _compiles(source)
    for mode in ("safe", "unsafe"):
        result = check_source(source, path, select=["ML"], fix=mode, settings=config)
        if result.fixed_source is None:
            assert not result.fixes_applied, (mode, result.fixes_applied)
            continue
        fixed = result.fixed_source
        shown = f"--- source ({path}, --fix {mode})\n{source!r}\n--- fixed\n{fixed}"
        if not _parses(fixed):
            _fail(source, path, "parse: the fixed output does not parse", shown)
        error = _compile_error(fixed) if compiled else None
        if error is not None:
            _fail(source, path, f"compile: the fixed output does not compile ({error})", shown)
        # every change is at a finding site (the corpus check's tolerance), judged rule by
        # rule: with all rules together, one fix can expose another rule's finding in the next
        # pass (ML201's .loc rewrite makes ML204's subset write visible), whose site the
        # original report cannot know. ML701 moves imports into functions by design.
        if not any(v.code == "ML701" for v in plain.violations) and not _uses_unbound_module(
            source
        ):
            for code in sorted({v.code for v in plain.violations if v.fix is not None}):
                own = [v for v in plain.violations if v.code == code]
                alone = check_source(source, path, select=[code], fix=mode, settings=config)
                if alone.fixed_source is None:
                    continue
                sites = [Site(v.code, v.line, v.column, v.end_line, v.end_column) for v in own]
                # a fix may also change what its reported edits say it changes
                sites += [
                    Site(v.code, e.line, e.column, e.end_line, e.end_column)
                    for v in own
                    if v.fix is not None
                    for e in v.fix.edits
                ]
                outside = outside_hunks(source, alone.fixed_source, sites)
                if outside:
                    what = "; ".join(h.describe() for h in outside)
                    shown_alone = f"--- source ({path}, --fix {mode} --select {code})\n{source!r}\n--- fixed\n{alone.fixed_source}"
                    _fail(
                        source,
                        path,
                        f"outside: a {code} change away from its findings: {what}",
                        shown_alone,
                    )
        lost = _comments(source) - _comments(fixed)
        if lost:
            _fail(source, path, f"comments: the fix deleted comments {dict(lost)}", shown)
        crlf_only = "\r\n" in source and "\n" not in source.replace("\r\n", "")
        if crlf_only and "\n" in fixed.replace("\r\n", ""):
            _fail(source, path, "newlines: a CRLF file got LF newlines", repr(fixed))
        # a line under a blanket noqa comment is not touched (its findings are neither reported
        # nor fixed)
        kept = set(fixed.splitlines())
        for line in source.splitlines():
            if _BLANKET_NOQA.search(line) and line not in kept:
                _fail(source, path, f"noqa: the fix changed the line {line!r}", shown)
        again = check_source(fixed, path, select=["ML"], fix=mode, settings=config)
        if again.fixed_source is not None:
            _fail(
                source,
                path,
                "idempotence: fixing the output changes it",
                f"{shown}\n--- fixed again\n{again.fixed_source}",
            )
        # what the fix run reports as remaining is what a check of its output reports
        if consistent_report and _report(result) != _report(again):
            _fail(source, path, f"report: {_report(result)} != {_report(again)}", shown)


# -- hypothesmith -------------------------------------------------------------------------------


@_settings(60)
@given(source=hypothesmith.from_grammar())
def test_arbitrary_source_from_grammar(source: str) -> None:
    assume(_parses(source))
    check_properties(source)


@_settings(30)
@given(source=hypothesmith.from_node())
def test_arbitrary_source_from_node(source: str) -> None:
    assume(_parses(source))
    check_properties(source)


# -- ML-looking modules ----------------------------------------------------------------------------

_RESERVED = (
    set(keyword.kwlist) | set(keyword.softkwlist) | {"print", "range", "len", "super", "object"}
)
#: now and then a name that shadows a module or a common variable
_SHADOWING = ["np", "pd", "math", "torch", "df", "x", "functools", "set", "list", "frame", "nan"]


@st.composite
def names(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 19)) == 0:
        return draw(st.sampled_from(_SHADOWING))
    name = draw(st.from_regex(r"[a-z_][a-z0-9_]{0,7}", fullmatch=True))
    assume(name not in _RESERVED and not name.startswith("__"))
    return name


FLOATS = ["0.5", "1.0", "0.0", "1e-6", ".1", "-0.001", "0", "1", "100", "float('inf')"]
NANS = ["np.nan", "math.nan", "float('nan')", "float('NaN')", "pd.NA", "np.float64('nan')", "NAN"]
AXES = ["axis=1", "axis=0", "axis=-1", "1", "axis=(0, 1)", "dim=1"]
REDUCTIONS = ["mean", "sum", "std", "max", "var", "min"]


@dataclass
class Snippet:
    lines: list[tuple[int, str]]  # (relative indent, text)
    needs: frozenset[str] = frozenset()


def _s(*lines: tuple[int, str], needs: str = "") -> Snippet:
    return Snippet(list(lines), frozenset(needs.split()))


SNIPPET_KINDS = 52
COLUMNS = ["score", "bmi", "qty", "prix€", "a b", ""]


@st.composite
def snippets(draw: st.DrawFn) -> Snippet:
    a, b, c, f, cls = (draw(names()) for _ in range(5))
    return make_snippet(
        draw(st.integers(0, SNIPPET_KINDS - 1)), a, b, c, f, cls,
        col=draw(st.sampled_from(COLUMNS)),
        num=draw(st.sampled_from(FLOATS)),
        nan=draw(st.sampled_from(NANS)),
        red=draw(st.sampled_from(REDUCTIONS)),
        axis=draw(st.sampled_from(AXES)),
        op=draw(st.sampled_from(["==", "!="])),
    )  # fmt: skip


def make_snippet(
    kind: int, a: str, b: str, c: str, f: str, cls: str, *,
    col: str, num: str, nan: str, red: str, axis: str, op: str,
) -> Snippet:  # fmt: skip
    """One pitfall shape (``kind``) written with the given names and constants."""
    if kind == 0:
        return _s((0, f"if {a} {op} {num}:"), (1, f"{b} = {a}"))
    if kind == 1:
        return _s((0, f"{b} = {a}.item() {op} {num} and {c} > 0"))
    if kind == 2:
        return _s((0, f"{b} = np.mean({a}) == {num} == {c}"), needs="np")
    if kind == 3:
        return _s((0, f"{b} = {num} if not {a} != {num} else {c} == 0.25"))
    if kind == 4:
        return _s((0, f"assert {a} {op} {num}, 'message'"))
    if kind == 5:
        return _s(
            (0, f"{a} = pd.read_csv('{c}.csv')"),
            (0, f"{b} = {a}[{a}[{col!r}] {op} {nan}]"),
            needs="pd np math",
        )
    if kind == 6:
        return _s((0, f"if {a} is {nan} or {b} in (None, {nan}):"), (1, "pass"), needs="np math pd")
    if kind == 7:
        return _s((0, f"{f} = lambda {a}: {a} == {nan}"), needs="np math pd")
    if kind == 8:
        return _s(
            (0, f"{a} = pd.DataFrame({{{col!r}: [1.0]}})"),
            (0, f"{a}[{a}[{col!r}] < 0][{col!r}] = 0"),
            (0, f"{a}[{col!r}][{a}[{col!r}].isna()] = {a}[{col!r}].median()"),
            needs="pd",
        )
    if kind == 9:
        return _s(
            (0, f"{a} = pd.read_parquet('{c}')"),
            (0, f"{a}.loc[{num}][{col!r}] += 1"),
            (0, f"{a}.{b}[{a}.{b}.isna()] = 'x'"),
            needs="pd",
        )
    if kind == 10:
        return _s((0, f"{a} = np.zeros((3, 4))"), (0, f"{b} = {a} - {a}.{red}({axis})"), needs="np")
    if kind == 11:
        return _s(
            (0, f"{a} = np.ones((2, 2))"), (0, f"{b} = {a} / np.{red}({a}, {axis})"), needs="np"
        )
    if kind == 12:
        return _s(
            (0, f"{a} = torch.randn(4, 5)"),
            (0, f"{b} = ({a} - {a}.{red}({axis})) / {a}.std({axis})"),
            needs="torch",
        )
    if kind == 13:
        return _s(
            (0, f"{a} = [{num}, 2, 3]"),
            (0, f"for {b} in {c}:"),
            (1, f"if {b} in {a}:"),
            (2, f"print({b})"),
        )
    if kind == 14:
        return _s((0, f"{a} = [{b} for {b} in {c} if {b} not in ['x', 'y', {num}]]"))
    if kind == 15:
        return _s(
            (0, f"{a} = [str({b}) for {b} in {c}]"),
            (0, "while True:"),
            (1, f"if {f} in {a}: break"),
        )
    if kind == 16:
        return _s(
            (0, f"def {f}({a}, {b}=[], *, {c}={{}}):"),
            (1, '"""Docstring."""'),
            (1, f"{b}.append({a})"),
        )
    if kind == 17:
        return _s(
            (0, f"def {f}({a}, {b}=np.zeros({num if num.isdigit() else 3})): return {b}"),
            needs="np",
        )
    if kind == 18:
        return _s(
            (0, f"def {f}({a}: list[int] = [], {b}: 'dict | None' = {{}}, /, {c}=set()) -> None:"),
            (1, "# keep this comment"),
            (1, f"{c}.add({a})"),
        )
    if kind == 19:
        return _s(
            (0, f"def {f}({a}, {b}=pd.DataFrame(), {c}=torch.ones(3)):"),
            (1, "pass"),
            needs="pd torch",
        )
    if kind == 20:
        return _s(
            (0, f"class {cls.capitalize() or 'C'}:"),
            (1, "@functools.lru_cache(maxsize=None)"),
            (1, f"def {f}(self, {a}):"),
            (2, f"return {a}"),
            (1, "@property"),
            (1, "@functools.cache  # cached"),
            (1, f"def {b}_(self):"),
            (2, "return 1"),
            needs="functools",
        )
    if kind == 21:
        return _s(
            (0, f"class {cls.capitalize() or 'C'}:"),
            (1, "@lru_cache"),
            (1, f"async def {f}(self, {a}=[]):"),
            (2, f"return {a}"),
            needs="lru_cache",
        )
    if kind == 22:
        return _s((0, f"{a} = {b} == {nan}  # noqa: ML102"), needs="np math pd")
    if kind == 23:
        return _s((0, f"{a} = {b} != {num}  # mllint: ignore[float-equality]"))
    if kind == 24:
        return _s((0, f"{a} = {b}  # noqa: ML101, E501"))
    if kind == 25:
        return _s((0, f"def {f}({a}):"), (1, f"return {a}.{red}({axis}) {op} {num}"))
    if kind == 26:
        return _s(
            (0, f"with open({a!r}) as {b}, {c}:"),
            (1, f"{f} = {b} == {num}; {a} = {c} is {nan}"),
            needs="np math pd",
        )
    if kind == 27:
        return _s(
            (0, f"if {a} == {nan}:"),
            (1, f"{b} = [{c} for {c} in {a} if {c} in [1, 2]]"),
            needs="np math pd",
        )
    # layout: continuations, comments inside expressions, semicolons, f-strings
    if kind == 28:
        return _s((0, f"{b} = {a} \\"), (1, f"{op} {num}"))
    if kind == 29:
        return _s((0, f"{b} = ({a}  # why"), (1, f"{op} {nan})"), needs="np math pd")
    if kind == 30:
        return _s((0, f"if ({b} := {a}.mean()) {op} {num}:"), (1, f"print({b})"))
    if kind == 31:
        return _s((0, f"{a} = {b} == {nan}; {c} = {a} {op} {num}"), needs="np math pd")
    if kind == 32:
        return _s((0, f'print(f"{{{a} {op} {num}}} {{{b} == {nan}!r:>10}}")'), needs="np math pd")
    if kind == 33:
        return _s((0, f"{a}: bool = {b} {op} {num}"))
    if kind == 34:
        return _s((0, f'{a} = "# noqa: ML101"; {b} = {c} == {num}  # trailing'))
    # defaults: lambdas, nesting, star arguments, decorators, one-liners
    if kind == 35:
        return _s((0, f"{f} = lambda {a}, {b}=[]: {b}"))
    if kind == 36:
        return _s(
            (0, f"def {f}({a}=[]):"),
            (1, f"def {f}_inner({b}={{}}, *{c}, **kw):"),
            (2, f"return {a}, {b}"),
            (1, f"return {f}_inner"),
        )
    if kind == 37:
        return _s(
            (0, "@staticmethod"), (0, f"def {f}(*{a}, {b}=np.zeros(2), **kw): ..."), needs="np"
        )
    if kind == 38:
        return _s((0, f"def {f}(self, {a}={{}}): self.{a} = {a}; self.{b} = [{a}]"))
    if kind == 39:
        return _s(
            (0, f"def {f}("),
            (1, f"{a},  # the input"),
            (1, f"{b}: 'list[float]' = [],  # the history"),
            (0, "):"),
            (1, f"return {b}"),
        )
    # pandas: tuple targets, multi-line subscripts, augmented assignments
    if kind == 40:
        return _s(
            (0, f"{a} = pd.DataFrame()"),
            (0, f"{a}[{a}.{b} > 0][{col!r}], {c} = 1, 2"),
            needs="pd",
        )
    if kind == 41:
        return _s(
            (0, f"{a} = pd.read_csv('{c}.csv')"),
            (0, f"{a}["),
            (1, f"{a}[{col!r}] > 0  # positive"),
            (0, f"][{col!r}] *= {num}"),
            needs="pd",
        )
    # loops: nested comprehensions, `not in`, dedupe
    if kind == 42:
        return _s(
            (0, f"{a} = list({c})"), (0, f"{b} = [[x for x in {c} if x in {a}] for _ in range(3)]")
        )
    if kind == 43:
        return _s(
            (0, f"{a} = ['x', 'y']"),
            (0, f"for {b} in {c}:"),
            (1, f"if {b} not in {a}:"),
            (2, "continue"),
            (1, f"{f} = {b} in {a} or {b} in [{num}]"),
        )
    if kind == 44:
        return _s((0, f"if {a} not in [np.nan, None]:"), (1, "pass"), needs="np")
    # reductions
    if kind == 45:
        return _s(
            (0, f"{a} = np.random.rand(3, 4)"),
            (0, f"{b} = {a} / {a}.{red}({axis}, keepdims=False) + np.{red}({a}, axis=0)"),
            needs="np",
        )
    # heavy imports (ML701 in a package __init__.py)
    if kind == 46:
        return _s((0, "try:"), (1, "import torch"), (0, "except ImportError:"), (1, "torch = None"))
    if kind == 47:
        return _s(
            (0, "from typing import TYPE_CHECKING"),
            (0, "if TYPE_CHECKING:"),
            (1, "import pandas as pd"),
            (0, f"def {f}({a}: 'pd.DataFrame') -> 'pd.DataFrame':"),
            (1, "from transformers import pipeline"),
            (1, f"return pipeline({a})"),
        )
    if kind == 48:
        return _s(
            (0, "from sklearn.linear_model import LogisticRegression as LR  # the model"),
            (0, f"__all__ = ['LR', {a!r}]"),
        )
    # lru_cache variants
    if kind == 49:
        return _s(
            (0, f"class {cls.capitalize() or 'C'}(Base):"),
            (1, "@classmethod"),
            (1, "@functools.lru_cache"),
            (1, f"def {f}(cls): return 1"),
            (1, "@property  # the size"),
            (1, "@functools.lru_cache(maxsize=None)"),
            (1, f"def {b}_(self): return 2"),
            needs="functools",
        )
    if kind == 50:
        return _s((0, f"assert {a}.{red}() {op} {num}, f'{{{a}}}'"))
    return _s(
        (0, f"{a} = {b} == {nan} or {c} {op} {num}  # noqa"),
        (0, f"def {f}({a}=[]):  # noqa"),
        (1, "pass"),
        needs="np math pd",
    )


@dataclass
class Wrapper:
    """A block around a snippet: its opening lines, the indent of its body (both relative to
    the wrapper), and the lines that close it (``except``...)."""

    opening: list[tuple[int, str]]
    body: int
    closing: list[tuple[int, str]]


@st.composite
def wrappers(draw: st.DrawFn) -> Wrapper:
    a, f, cls = draw(names()), draw(names()), draw(names())
    kind = draw(st.integers(0, 8))
    if kind == 0:
        return Wrapper([(0, f"def {f}({a}):")], 1, [])
    if kind == 1:
        return Wrapper(
            [
                (0, f"class {cls.capitalize() or 'K'}:"),
                (1, f"def {f}(self, {a}=None):"),
                (2, '"""Method."""'),
            ],
            2,
            [],
        )
    if kind == 2:
        return Wrapper([(0, f"for {a} in range(3):")], 1, [(0, "else:"), (1, "pass")])
    if kind == 3:
        return Wrapper([(0, f"if {a}:")], 1, [(0, f"elif {f} == 0.5:  # a float"), (1, "pass")])
    if kind == 4:
        return Wrapper([(0, f"while {a}:")], 1, [])
    if kind == 5:
        return Wrapper([(0, "try:")], 1, [(0, "except Exception:  # why not"), (1, "pass")])
    if kind == 6:
        return Wrapper([(0, f"async def {f}():")], 1, [])
    if kind == 7:
        return Wrapper([(0, f"with {a}:")], 1, [])
    return Wrapper([(0, f"match {a}:"), (1, "case _:")], 2, [])


_IMPORTS = {
    "np": ["import numpy as np"],
    "pd": ["import pandas as pd"],
    "torch": ["import torch"],
    "math": ["import math"],
    "functools": ["import functools"],
    "lru_cache": ["from functools import lru_cache"],
    "NAN": ["NAN = float('nan')"],
}
_HEAVY = [
    "import torch",
    "from transformers import AutoModel",
    "import tensorflow as tf",
    "from sklearn.ensemble import RandomForestClassifier",
    "import pandas as pd",
]


@st.composite
def ml_modules(draw: st.DrawFn) -> tuple[str, str]:
    """``(source, path)``: a module made of random pitfall snippets in random blocks."""
    path = draw(
        st.sampled_from(
            ["m.py", "pkg/__init__.py", "tests/test_m.py", "scripts/run.py", "pkg/sub/model.py"]
        )
    )
    unit = draw(st.sampled_from(["    ", "  ", "\t"]))
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    blocks = draw(st.lists(snippets(), min_size=1, max_size=5))
    lines: list[tuple[int, str]] = []
    needs = set().union(*(b.needs for b in blocks))
    if draw(st.booleans()):
        lines.append((0, '"""A module docstring."""'))
    if draw(st.booleans()):
        lines.append((0, "from __future__ import annotations"))
    # (sampled_from leans towards its first element: imports are usually there)
    header = [
        imp
        for n in sorted(needs)
        if n in _IMPORTS and draw(st.sampled_from([True, True, True, False]))
        for imp in _IMPORTS[n]
    ]
    if path.endswith("__init__.py"):
        header += draw(st.lists(st.sampled_from(_HEAVY), max_size=3, unique=True))
    lines += [(0, h) for h in draw(st.permutations(header))] if header else []
    if draw(st.booleans()):
        lines.append((0, "# a comment before the code"))
    for block in blocks:
        nest = draw(st.lists(wrappers(), max_size=3))
        indent = 0
        closing: list[list[tuple[int, str]]] = []
        for w in nest:
            lines += [(indent + i, text) for i, text in w.opening]
            closing.append([(indent + i, text) for i, text in w.closing])
            indent += w.body
        lines += [(indent + i, text) for i, text in block.lines]
        for close in reversed(closing):
            lines += close
        if draw(st.sampled_from([False] * 9 + [True])):
            lines.append((0, "\x0c"))  # a page break between sections
        if draw(st.booleans()):
            lines.append((0, ""))
    if path.endswith("__init__.py") and draw(st.booleans()):
        lines.append((0, "def use(x):"))
        lines.append((1, "return torch.zeros(x), AutoModel"))
    source = newline.join(unit * i + text if text else "" for i, text in lines)
    if draw(st.booleans()):
        source += newline
    # rarely: a first line with another newline (a file edited on two systems), or something
    # before the code (sampled_from leans towards its first element)
    if newline == "\n" and draw(st.sampled_from([False, False, False, True])):
        source = source.replace("\n", "\r\n", 1)
    source = (
        draw(
            st.sampled_from(
                ["", "", "#!/usr/bin/env python\n", "# -*- coding: utf-8 -*-\n", "\x0c", "\x0c\n"]
            )
        )
        + source
    )
    assume(_parses(source))
    return source, path


#: project facts that change what some fixes write (``Optional[...]`` or ``... | None``,
#: version-dependent pandas/torch/numpy rewrites)
CONFIGS = st.builds(
    Settings,
    min_python=st.sampled_from([None, (3, 8), (3, 9), (3, 10), (3, 12)]),
    library_versions=st.sampled_from(
        [
            {},
            {"pandas": (3, 0)},
            {"pandas": (1, 5), "torch": (2, 6)},
            {"numpy": (2, 0), "scikit-learn": (1, 6)},
        ]
    ),
)


@_settings(150)
@given(module=ml_modules(), config=CONFIGS)
def test_ml_looking_modules(module: tuple[str, str], config: Settings) -> None:
    source, path = module
    check_properties(source, path, config=config)


def test_ml_strategy_reaches_the_rules() -> None:
    """Each snippet shape, written plainly, is a real pitfall: together they are found and
    fixed by every fixable rule (otherwise the properties above would be tested on nothing)."""
    seen: Counter[str] = Counter()
    fixed: Counter[str] = Counter()
    imports = [line for lines in _IMPORTS.values() for line in lines]
    for kind in range(SNIPPET_KINDS):
        snippet = make_snippet(
            kind, "a", "b", "c", "f", "Model", col="score", num="0.5", nan="np.nan", red="mean",
            axis="axis=1", op="==",
        )  # fmt: skip
        source = "\n".join([*imports, *("    " * i + text for i, text in snippet.lines)]) + "\n"
        assert _parses(source), source
        for path in ("m.py", "tests/test_m.py"):
            seen.update(v.code for v in check_source(source, path, select=["ML"]).violations)
            fixed.update(check_source(source, path, select=["ML"], fix="unsafe").fixes_applied)
    init = "\n".join(_HEAVY) + "\n\n\ndef use(x):\n    return torch.zeros(x), AutoModel\n"
    fixed.update(check_source(init, "pkg/__init__.py", select=["ML"], fix="unsafe").fixes_applied)
    for code in ("ML001", "ML002", "ML101", "ML102", "ML103", "ML201", "ML601", "ML701", "ML900"):
        assert fixed[code], (code, fixed, seen)


@pytest.mark.parametrize("path", ["m.py", "pkg/__init__.py", "tests/test_m.py"])
def test_properties_hold_on_the_fixtures(path: str) -> None:
    """The properties themselves on real pitfalls (every bad fixture)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "fixtures"
    for bad in sorted(root.glob("ML*/bad*.py")):
        if not bad.name.endswith((".fixed.py", ".unsafe.py")):
            check_properties(bad.read_text(encoding="utf-8"), path)
