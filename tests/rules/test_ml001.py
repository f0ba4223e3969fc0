"""ML001 mutable-default-argument: what the fixtures cannot express (columns, messages,
options, newline handling, fix shapes)."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path
from typing import Any

from mllint.api import check_source
from mllint.config import settings_from_toml
from mllint.diagnostics import FileResult


def _run(
    source: str,
    fix: str | None = None,
    config: dict[str, Any] | None = None,
    path: str = "pkg/train.py",
) -> FileResult:
    settings = settings_from_toml({"tool": {"mllint": config or {}}}, Path("pyproject.toml"))
    return check_source(textwrap.dedent(source), path, settings=settings, select=["ML001"], fix=fix)


def _findings(source: str, **kw: Any) -> list[tuple[int, int, str]]:
    return [(v.line, v.column, v.message) for v in _run(source, **kw).violations]


def _fixed(source: str, **kw: Any) -> str:
    result = _run(source, fix="unsafe", **kw)
    assert result.fixed_source is not None
    ast.parse(result.fixed_source)
    return result.fixed_source


def test_every_default_reported_at_its_own_column() -> None:
    src = "import numpy as np\ndef f(a, b=[], *, c=np.zeros(3), d={}):\n    return a\n"
    assert [(line, col) for line, col, _ in _findings(src)] == [(2, 12), (2, 21), (2, 36)]


def test_message_text() -> None:
    [(_, _, msg)] = _findings(
        "import numpy as np\ndef smooth(v, window=np.zeros(10)):\n    return v\n"
    )
    assert msg == (
        "Mutable default np.zeros(10) for parameter 'window' is created once and shared by all "
        "calls; default to None and create it in the body"
    )


def test_sklearn_init_message_points_to_fit() -> None:
    src = """\
        from sklearn.base import BaseEstimator
        class Clipper(BaseEstimator):
            def __init__(self, bounds=[0, 1]):
                self.bounds = bounds
        """
    [(_, _, msg)] = _findings(src)
    assert msg.endswith(
        "default to None and create it in fit() (an sklearn __init__ must store its parameters unchanged)"
    )
    assert _run(src, fix="unsafe").fixed_source is None


def test_sklearn_init_through_same_module_base() -> None:
    src = """\
        from sklearn.base import BaseEstimator
        class Base(BaseEstimator):
            pass
        class Clipper(Base):
            def __init__(self, bounds=[0, 1]):
                self.bounds = bounds
            def fit(self, X, y=None, groups=[]):
                return self
        """
    found = _findings(src)
    assert "fit()" in found[0][2] and "in the body" in found[1][2]


def test_noqa_on_first_line_of_multiline_default() -> None:
    src = """\
        def evaluate(
            model,
            metrics=[  # noqa: ML001
                "accuracy",
            ],
        ):
            return metrics
        """
    assert _findings(src) == []


def test_outermost_node_only() -> None:
    src = """\
        def f(a=frozenset({"a", "the"}), b=tuple([1, 2]), c=([]), d=sorted([3, 1]), e=[] or None):
            return a
        """
    assert [(line, col) for line, col, _ in _findings(src)] == [(1, 53)]


def test_lambda_inside_a_default_and_nested_lambda() -> None:
    src = "def f(key=lambda row, seen=set(): row):\n    return key\n"
    assert [(line, col) for line, col, _ in _findings(src)] == [(1, 28)]


def test_shadowed_builtin_is_not_a_list() -> None:
    src = "def list(*a):\n    return a\ndef f(x=list()):\n    return x\n"
    assert _findings(src) == []


def test_module_import_aliases() -> None:
    src = """\
        import collections as col
        import torch as T
        from numpy import random as npr
        from torch.nn import Parameter, Conv2d, MaxPool2d, LSTM, PReLU
        def f(a=col.deque(), b=T.randn(2), c=npr.rand(3), d=Parameter(T.ones(1)), e=Conv2d(1, 1, 3),
              g=MaxPool2d(2), h=LSTM(4, 4), i=PReLU(), j=npr.default_rng(0)):
            return a
        """
    cols = [col for _, col, _ in _findings(src)]
    assert len(cols) == 7  # all but MaxPool2d and default_rng


def test_extend_options() -> None:
    src = """\
        import numpy as np
        from mlkit import Registry
        def f(a=Registry(), b=np.zeros(3), c=[]):
            return a
        """
    cfg = {
        "mutable-default-argument": {
            "extend-mutable-calls": ["mlkit.Registry"],
            "extend-immutable-calls": ["numpy.zeros"],
        }
    }
    assert [col for _, col, _ in _findings(src, config=cfg)] == [9, 38]
    assert [col for _, col, _ in _findings(src)] == [23, 38]


def test_extend_immutable_overrides_estimator_kind() -> None:
    src = "from sklearn.svm import SVC\ndef f(clf=SVC()):\n    return clf\n"
    assert len(_findings(src)) == 1
    cfg = {"mutable-default-argument": {"extend-immutable-calls": ["sklearn.svm.SVC"]}}
    assert _findings(src, config=cfg) == []


def test_fix_inside_nested_class_and_function_keeps_indentation() -> None:
    src = """\
        def build():
            class Head:
                def forward(self, x, cache={}):
                    \"\"\"Run.\"\"\"
                    return cache
            return Head
        """
    assert _fixed(src) == textwrap.dedent(
        """\
        def build():
            class Head:
                def forward(self, x, cache=None):
                    \"\"\"Run.\"\"\"
                    if cache is None:
                        cache = {}
                    return cache
            return Head
        """
    )


def test_one_line_suite_with_docstring() -> None:
    assert _fixed('def f(x=[]): "Doc."; x.append(1); return x\n') == textwrap.dedent(
        """\
        def f(x=None):
            "Doc."
            if x is None:
                x = []
            x.append(1)
            return x
        """
    )


def test_docstring_line_with_more_statements_is_not_fixed() -> None:
    src = 'def f(x=[]):\n    "Doc."; y = x\n    return y\n'
    assert len(_findings(src)) == 1
    assert _run(src, fix="unsafe").fixed_source is None


def test_default_using_a_parameter_name_is_not_fixed() -> None:
    src = "import numpy as np\nn = 3\ndef f(n=4, buf=np.zeros(n)):\n    return buf\n"
    assert _run(src, fix="unsafe").fixed_source is None


def test_crlf_newlines_are_kept() -> None:
    src = "def f(x=[]):\r\n    return x\r\n"
    result = check_source(src, "a.py", select=["ML001"], fix="unsafe")
    assert (
        result.fixed_source
        == "def f(x=None):\r\n    if x is None:\r\n        x = []\r\n    return x\r\n"
    )


def test_tab_indentation() -> None:
    src = "class A:\n\tdef f(self, x=[]):\n\t\treturn x\n"
    result = check_source(src, "a.py", select=["ML001"], fix="unsafe")
    assert (
        result.fixed_source
        == "class A:\n\tdef f(self, x=None):\n\t\tif x is None:\n\t\t\tx = []\n\t\treturn x\n"
    )


def test_optional_name_taken_falls_back_to_typing_module() -> None:
    src = "Optional = 1\ndef f(x: list = []):\n    return x\n"
    fixed = _fixed(src)
    assert "import typing\n" in fixed and "x: typing.Optional[list] = None" in fixed


def test_existing_optional_import_is_reused() -> None:
    src = "from typing import Optional as Opt\ndef f(x: dict = {}):\n    return x\n"
    fixed = _fixed(src)
    assert "x: Opt[dict] = None" in fixed and fixed.count("import") == 1


def test_any_and_object_annotations_are_left_alone() -> None:
    src = "from typing import Any\ndef f(x: Any = [], y: object = {}):\n    return x, y\n"
    fixed = _fixed(src)
    assert "def f(x: Any = None, y: object = None):" in fixed
