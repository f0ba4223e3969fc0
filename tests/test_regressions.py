"""Minimal reproducers of bugs found by the fuzz tests (tests/test_fuzz.py) and the corpus run
(tests/corpus/fix_corpus.py).

A bug that is not fixed yet is marked ``xfail(strict=True)`` with the rule and what goes
wrong: the test starts to pass when the bug is fixed, and strict mode then fails it so that
whoever fixed it removes the marker (and the matching entry in ``KNOWN_BUGS`` in
tests/test_fuzz.py).
"""

from __future__ import annotations

import ast
import warnings

import pytest

from mllint.api import check_source


def fixed(source: str, path: str = "m.py", mode: str = "unsafe", select: str = "ML") -> str:
    result = check_source(source, path, select=[select], fix=mode)
    return result.fixed_source if result.fixed_source is not None else source


def compiles(source: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "m.py", "exec", dont_inherit=True)
    except SyntaxError:
        return False
    return True


# -- ML701 eager-heavy-import ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "from __future__ import annotations\nfrom transformers import AutoModel\n",
        '"""Doc."""\nfrom __future__ import annotations\nfrom transformers import AutoModel\n',
        "from __future__ import annotations\nfrom transformers import AutoModel\nif a == 0.5:\n    pass\n",
    ],
    ids=["reexport", "docstring", "with-ML101"],
)
def test_ml701_fix_keeps_future_import_first(source: str) -> None:
    out = fixed(source, "pkg/__init__.py")
    assert out != source  # the fix is applied
    ast.parse(out)  # parses (that is why the engine accepted it) ...
    assert compiles(out), out  # ... but must also compile


# -- engine: positions when libcst does not round-trip the source ----------------------------------


@pytest.mark.parametrize(
    ("prefix", "body"),
    [
        (" \x0c", "def f(a, b=[]):\n    return b\n"),
        ("\x0c", "def f(a, b=[]):\n    return b\n"),
        (
            "\x0c",
            "import functools\nclass A:\n    def f(self):\n        return 1\n"
            "    @property\n    @functools.cache\n    def g(self):\n        return 2\n",
        ),
        ("\x0c", "y = a == 0.5\n"),
    ],
    ids=["ML001-space-ff", "ML001-ff", "ML002-ff", "ML101-ff"],
)
def test_leading_form_feed_does_not_shift_fixes(prefix: str, body: str) -> None:
    # a form feed before the first statement changes nothing for Python: the fix and the
    # reported span must be those of the same code without it
    assert fixed(prefix + body) in (prefix + body, prefix + fixed(body))
    before = check_source(body, "m.py", select=["ML"]).violations
    after = check_source(prefix + body, "m.py", select=["ML"]).violations
    assert [(v.code, v.line, v.end_line, v.end_column - v.column) for v in after] == [
        (v.code, v.line, v.end_line, v.end_column - v.column) for v in before
    ]


# -- engine: removal of imports that fixes left unused -------------------------------------------


def test_orphaned_import_removal_counts_lines_like_python() -> None:
    source = (
        "import os\n\x0c\nimport sys\nimport numpy as np\nimport pandas as pd\n"
        "y = u == np.nan\nprint(os, sys)\n"
    )
    out = fixed(source)
    assert "import sys\n" in out
    assert out == source.replace("import numpy as np\n", "").replace("u == np.nan", "pd.isna(u)")


def test_orphaned_import_removal_keeps_comments_with_form_feeds() -> None:
    source = "# page\x0cbreak\nimport numpy as np\nimport pandas as pd\ny = u == np.nan\n"
    assert fixed(source) == "# page\x0cbreak\nimport pandas as pd\ny = pd.isna(u)\n"


# -- ML002 lru-cache-on-method ------------------------------------------------------------------


def test_ml002_fix_keeps_newlines_of_mixed_newline_files() -> None:
    source = (
        "import functools\r\nclass A:\n    @property\n    @functools.cache\n"
        "    def g(self):\n        return 2\n"
    )
    out = fixed(source)
    assert "@functools.cached_property" in out
    assert out.endswith("    def g(self):\n        return 2\n"), repr(out)


# -- ML601 list-membership-in-loop ----------------------------------------------------------------


@pytest.mark.parametrize("definition", ["def g(y):", "class C:"])
def test_ml601_fix_inside_match_case_keeps_indentation(definition: str) -> None:
    source = (
        f"match x:\n    case _:\n        {definition}\n            a = [1, 2]\n"
        "            for v in y:\n                if v in a:\n                    pass\n"
    )
    assert fixed(source, select="ML601") == (
        f"match x:\n    case _:\n        {definition}\n            a = [1, 2]\n"
        "            a_set = set(a)\n"
        "            for v in y:\n                if v in a_set:\n                    pass\n"
    )


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        ("(a + b) * c", "a + b * c", False),  # grouping parentheses count
        ("(a+b)*c", "((a + b)) * c", True),  # redundant ones do not
        ('d["a b"]', 'd["ab"]', False),  # whitespace inside strings counts
        ("f(not a)", "f(nota)", False),
        ("x . y [ 1 ]", "x.y[1]", True),
        ("(\n  x  # note\n  + 1)", "x+1", True),
    ],
)
def test_cst_equal_keeps_grouping_and_strings(a: str, b: str, equal: bool) -> None:
    import libcst as cst

    from mllint.semantics.cstutil import cst_equal

    assert cst_equal(cst.parse_expression(a), cst.parse_expression(b)) is equal


def test_ml209_frames_differing_inside_a_string_are_different() -> None:
    """cst_equal used to drop all whitespace, so frames["a b"] and frames["ab"] were the
    same frame for ML209."""
    src = (
        "import pandas as pd\n"
        "\n"
        'frames = {"a b": pd.DataFrame(), "ab": pd.DataFrame()}\n'
        'frames["a b"]["n"] = frames["ab"].groupby("k")["v"].mean()\n'
        'frames["ab"]["n"] = frames["ab"].groupby("k")["v"].mean()\n'
    )
    result = check_source(src, "pkg/m.py", select=["ML209"])
    assert [(v.line, v.code) for v in result.violations] == [(5, "ML209")]


_TWO_NETS_PLAIN = """
def make_plain():
    class Net:
        def forward(self, x):
            return F.dropout(x, 0.5)

    return Net
"""
_TWO_NETS_MODULE = """
def make_module():
    class Net(torch.nn.Module):
        def forward(self, x):
            return F.dropout(x, 0.5)

    return Net
"""


@pytest.mark.parametrize("module_first", [False, True])
def test_two_classes_with_one_name_are_judged_separately(module_first: bool) -> None:
    """Whether a class is a torch Module was cached by class name: with two local classes
    named Net, the first one judged decided for both (a missed finding or a false one)."""
    head = "import torch\nimport torch.nn.functional as F\n"
    parts = (
        [_TWO_NETS_MODULE, _TWO_NETS_PLAIN] if module_first else [_TWO_NETS_PLAIN, _TWO_NETS_MODULE]
    )
    src = head + "".join(parts)
    module_line = src.splitlines().index("    class Net(torch.nn.Module):") + 3
    result = check_source(src, "pkg/nets.py", select=["ML302"])
    assert [(v.line, v.code) for v in result.violations] == [(module_line, "ML302")]


def test_only_the_body_of_an_equal_main_guard_is_guarded() -> None:
    """`if __name__ != "__main__":` and the `else:` of a main guard run on import."""
    src = (
        'if __name__ != "__main__":\n'
        "    import torch\n"
        "\n"
        'if __name__ == "__main__":\n'
        "    import pandas\n"
        "else:\n"
        "    import sklearn\n"
    )
    result = check_source(src, "pkg/__init__.py", select=["ML701"])
    assert [(v.line, v.code) for v in result.violations] == [(2, "ML701"), (7, "ML701")]
