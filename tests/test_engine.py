"""The engine: one traversal, positions, fix application (fixpoint, overlaps, verification),
import side-edits, and the semantic model rules rely on."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import libcst as cst

from mllint.engine import EnabledRule, LintRequest, lint_source
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics.context import FileFacts


class RenameLen(Rule):
    """Test rule: every ``len(x)`` call becomes ``size(x)``."""

    code = "ML990"
    name = "rename-len"
    summary = "test"
    fix_safety = (FixSafety.SAFE,)

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "len":
            new = node.with_changes(func=cst.Name("size"))
            self.report(node, "len call", Fix(FixSafety.SAFE, [(node, new)]))


class BreakSyntax(Rule):
    """Test rule whose fix produces invalid code."""

    code = "ML991"
    name = "break-syntax"
    summary = "test"
    fix_safety = (FixSafety.SAFE,)

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == "boom":
            self.report(node, "boom", Fix(FixSafety.SAFE, [(node, "boom(")]))


class NeedsMath(Rule):
    """Test rule that wants ``math.inf`` for every ``INF`` name."""

    code = "ML992"
    name = "needs-math"
    summary = "test"
    fix_safety = (FixSafety.UNSAFE,)

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == "INF":
            plan = self.ctx.import_name("math")
            if plan is not None:
                self.report(
                    node, "inf", Fix(FixSafety.UNSAFE, [(node, f"{plan.local}.inf")], [plan])
                )
            else:
                self.report(node, "inf (no fix)")


def run(
    source: str, *rules: type[Rule], fix: str | None = None, path: str = "m.py"
) -> tuple[str, list[tuple[int, int, str]]]:
    req = LintRequest([EnabledRule(r, {}) for r in rules], FileFacts(path=path), fix=fix)
    result = lint_source(source, req)
    out = result.fixed_source if result.fixed_source is not None else source
    return out, [(v.line, v.column, v.code) for v in result.violations]


def test_positions_are_one_based_and_exact() -> None:
    src = "x = 1\nif True:\n    y = len(a) + len(\n        b)\n"
    _, found = run(src, RenameLen)
    assert found == [(3, 9, "ML990"), (3, 18, "ML990")]


def test_nested_fixes_reach_a_fixpoint() -> None:
    # the inner len() overlaps the outer one: it is deferred to the next pass, not dropped
    out, remaining = run("n = len(len(x))\n", RenameLen, fix="safe")
    assert out == "n = size(size(x))\n"
    assert remaining == []


def test_fix_that_breaks_syntax_is_dropped() -> None:
    src = "value = boom + len(x)\n"
    out, remaining = run(src, RenameLen, BreakSyntax, fix="safe")
    assert out == "value = boom + size(x)\n"
    assert remaining == [(1, 9, "ML991")]


def test_unsafe_fix_needs_unsafe_mode_and_import_is_added_once() -> None:
    src = '"""Doc."""\nfrom __future__ import annotations\n\nimport os\n\nlo, hi = -INF, INF\n'
    out, remaining = run(src, NeedsMath, fix="safe")
    assert out == src and len(remaining) == 2
    out, remaining = run(src, NeedsMath, fix="unsafe")
    assert (
        out
        == '"""Doc."""\nfrom __future__ import annotations\n\nimport os\nimport math\n\nlo, hi = -math.inf, math.inf\n'
    )
    assert remaining == []


def test_import_reuses_alias_and_skips_when_name_taken() -> None:
    out, _ = run("import math as m\nx = INF\n", NeedsMath, fix="unsafe")
    assert out == "import math as m\nx = m.inf\n"
    src = "math = load()\nx = INF\n"
    out, remaining = run(src, NeedsMath, fix="unsafe")
    assert out == src and remaining == [(2, 5, "ML992")]
    # no imports at all: inserted before the first statement, after header comments
    out, _ = run("#!/usr/bin/env python\n# header\nx = INF\n", NeedsMath, fix="unsafe")
    assert out == "#!/usr/bin/env python\n# header\nimport math\n\nx = math.inf\n"


def test_fix_never_deletes_comments() -> None:
    class Collapse(Rule):
        code = "ML993"
        name = "collapse"
        summary = "test"
        fix_safety = (FixSafety.SAFE,)

        def visit_List(self, node: cst.List) -> None:
            self.report(node, "list", Fix(FixSafety.SAFE, [(node, "[]")]))

    src = "x = [\n    1,  # keep me\n]\n"
    out, remaining = run(src, Collapse, fix="safe")
    assert out == src and remaining == [(1, 5, "ML993")]


def test_rules_share_one_traversal_and_scope_context() -> None:
    seen: list[str] = []

    class Probe(Rule):
        code = "ML994"
        name = "probe"
        summary = "test"

        def visit_Comparison(self, node: cst.Comparison) -> None:
            seen.append(
                f"{self.ctx.snippet(node)} loop={self.ctx.in_loop()} "
                f"q={self.ctx.qualname(node.left)} kind={self.ctx.kind(node.left)}"
            )

    src = textwrap.dedent(
        """\
        import numpy as np
        from pandas import read_csv as rc
        frame = rc("x.csv")
        arr = np.zeros(3)
        items = [1, 2]
        a = frame == 1
        for i in items:
            b = arr == 2
        c = [v for v in arr if v == 3]
        d = [w for w in (items == 4)]
        def f(np):
            return np.mean == 5
        """
    )
    run(src, Probe)
    assert seen == [
        "frame == 1 loop=False q=None kind=DataFrame",
        "arr == 2 loop=True q=None kind=ndarray",
        "v == 3 loop=True q=None kind=None",
        "(items == 4) loop=False q=None kind=list",
        "np.mean == 5 loop=False q=None kind=None",
    ]


def test_qualname_resolution() -> None:
    found: dict[str, str | None] = {}

    class Names(Rule):
        code = "ML995"
        name = "names"
        summary = "test"

        def visit_Call(self, node: cst.Call) -> None:
            found[self.ctx.snippet(node.func)] = self.ctx.qualname(node.func)

    src = textwrap.dedent(
        """\
        import numpy as np
        import torch.nn.functional as F
        import os.path
        from numpy import mean as m
        from .utils import helper
        try:
            import ujson as json
        except ImportError:
            import json
        np.linalg.inv(a)
        F.dropout(x)
        m(x)
        os.path.join(a)
        helper()
        json.loads(s)
        len(x)
        def g(np):
            np.zeros(3)
        """
    )
    req = LintRequest([EnabledRule(Names, {})], FileFacts(path="pkg/mod.py", package="pkg"))
    lint_source(src, req)
    assert found == {
        "np.linalg.inv": "numpy.linalg.inv",
        "F.dropout": "torch.nn.functional.dropout",
        "m": "numpy.mean",
        "os.path.join": "os.path.join",
        "helper": "pkg.utils.helper",
        "json.loads": "ujson.loads",
        "len": "builtins.len",
        "np.zeros": None,  # the parameter shadows the import
    }


def test_import_mllint_is_light() -> None:
    code = (
        "import sys, mllint; "
        "heavy = [m for m in ('libcst', 'rich', 'mllint.rules', 'mllint.engine') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    code = "import sys; sys.argv=['mllint','--version']; import mllint.cli as c\ntry:\n    c.main()\nexcept SystemExit:\n    pass\nprint([m for m in ('libcst','rich') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_docs_are_generated_from_rules() -> None:
    from pathlib import Path

    from mllint.docgen import expected_pages

    docs = Path(__file__).resolve().parent.parent / "docs" / "rules"
    stale = [
        name
        for name, text in expected_pages().items()
        if not (docs / name).exists() or (docs / name).read_text(encoding="utf-8") != text
    ]
    assert stale == [], "run `python -m mllint.docgen` to regenerate docs/rules"
    extra = sorted(p.name for p in docs.glob("ML*.md") if p.name not in expected_pages())
    assert extra == []


def test_catalog_is_generated_from_rules() -> None:
    from mllint.catalog import render_catalog_module
    from mllint.docgen import CATALOG_PATH

    assert CATALOG_PATH.read_text(encoding="utf-8") == render_catalog_module(), (
        "run `python -m mllint.docgen` to regenerate mllint/_catalog_data.py"
    )


def test_config_and_selection_do_not_import_rules(tmp_path: object) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from mllint.config import load_settings, effective_codes, settings_from_toml\n"
        "s = settings_from_toml({'tool': {'mllint': {'ignore': ['ML1'], 'nan-equality': {}}}}, Path('p/pyproject.toml'))\n"
        "codes = effective_codes(s)\n"
        "print(sorted(m for m in ('libcst', 'rich', 'mllint.rule', 'mllint.engine') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_stdlib_import_goes_into_the_stdlib_group() -> None:
    out, _ = run("import numpy as np\nimport pandas as pd\n\nx = INF\n", NeedsMath, fix="unsafe")
    assert out == "import math\n\nimport numpy as np\nimport pandas as pd\n\nx = math.inf\n"
    out, _ = run("import os\n\nimport numpy as np\n\nx = INF\n", NeedsMath, fix="unsafe")
    assert out == "import os\nimport math\n\nimport numpy as np\n\nx = math.inf\n"
    out, _ = run('"""Doc."""\n\n# third party\nimport torch\n\nx = INF\n', NeedsMath, fix="unsafe")
    assert out == '"""Doc."""\nimport math\n\n# third party\nimport torch\n\nx = math.inf\n'


def test_fix_at_end_of_file_without_newline() -> None:
    out, _ = run("import math\nx = len(y)", RenameLen, fix="safe")
    assert out == "import math\nx = size(y)"


def test_imports_orphaned_by_a_fix_are_removed() -> None:
    from mllint.engine import remove_orphaned_imports

    before = "import os\nfrom functools import lru_cache, wraps\nimport numpy as np\n\nx = lru_cache(f)\ny = np.nan\n"
    after = "import os\nfrom functools import lru_cache, wraps\nimport numpy as np\n\nx = cached(f)\ny = float('nan')\n"
    assert (
        remove_orphaned_imports(before, after)
        == "import os\nfrom functools import wraps\n\nx = cached(f)\ny = float('nan')\n"
    )
    # names still mentioned (a comment, a string, __all__) and imports with comments are kept
    after2 = "import numpy as np  # keep\nimport math\n\n__all__ = ['math']\nx = 1\n"
    before2 = "import numpy as np  # keep\nimport math\n\n__all__ = ['math']\nx = np.e + math.e\n"
    assert remove_orphaned_imports(before2, after2) == after2
    # an import that was unused before the fix is not the fix's business
    assert (
        remove_orphaned_imports("import sys\nx = 1\n", "import sys\nx = 2\n")
        == "import sys\nx = 2\n"
    )


def test_walrus_bindings_when_the_walrus_is_the_whole_expression() -> None:
    """`if (x := f()):`, `while (chunk := read()):` and `y = (x := v)` bind x: the walrus is
    the statement's whole expression, not only a part of it."""
    import libcst as cst

    from mllint.semantics.scopes import build_model

    src = (
        "if (uniq := set(labels)):\n    pass\n"
        "while (chunk := fh.read(10)):\n    pass\n"
        "y = (z := 5)\n"
        "print(w := 1)\n"
        "def f():\n    return (inner := 3)\n"
    )
    model = build_model(cst.parse_module(src), None, src)
    top = model.module_scope
    for name in ("uniq", "chunk", "z", "w"):
        [b] = top.bindings[name]
        assert b.kind == "walrus", name
    assert "inner" not in top.bindings
    uniq = top.bindings["uniq"][0]
    assert isinstance(uniq.value, cst.Call)
