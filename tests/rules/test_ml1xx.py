"""ML104-ML109: messages, positions, suppression and fix conditions."""

from __future__ import annotations

import textwrap

from mllint.api import check_source
from mllint.diagnostics import FileResult


def _run(source: str, code: str, fix: str | None = None) -> FileResult:
    return check_source(textwrap.dedent(source), "pkg/model.py", select=[code], fix=fix)


# -- ML104 -------------------------------------------------------------------------------------
def test_ml104_message_position_and_safe_fix() -> None:
    src = """\
        import numpy as np

        def f(n):
            return np.zeros(n / 2)
        """
    [v] = _run(src, "ML104").violations
    assert (v.line, v.column) == (4, 21)
    assert v.message == "'n / 2' is a float; a shape dimension requires an int — use '//'"
    fixed = _run(src, "ML104", fix="safe").fixed_source
    assert fixed is not None and "np.zeros(n // 2)" in fixed


def test_ml104_range_message_and_noqa() -> None:
    src = "for i in range(len(xs) / 2):\n    pass\n"
    [v] = _run(src, "ML104").violations
    assert v.message == "'len(xs) / 2' is a float; range() requires an int — use '//'"
    assert _run(src.replace(":\n", ":  # noqa: ML104\n", 1), "ML104").violations == []


def test_ml104_never_flags_wrapped_or_label_based() -> None:
    src = """\
        import pandas as pd

        def f(df: pd.DataFrame, n, d):
            a = range(int(n / 2))
            b = df.loc[n / 2]
            c = d[n / 2]
            return a, b, c
        """
    assert _run(src, "ML104").violations == []


# -- ML105 -------------------------------------------------------------------------------------
def test_ml105_message_and_fix() -> None:
    src = """\
        import numpy as np

        def f(A, b):
            return np.linalg.inv(A) @ b
        """
    [v] = _run(src, "ML105").violations
    assert (v.line, v.column) == (4, 12)
    assert v.message == (
        "inv(A) @ b computes an explicit inverse; np.linalg.solve(A, b) is faster and "
        "numerically more stable"
    )
    assert _run(src, "ML105", fix="safe").fixed_source is None
    fixed = _run(src, "ML105", fix="unsafe").fixed_source
    assert fixed is not None and "return np.linalg.solve(A, b)" in fixed


def test_ml105_stored_inverse_used_twice_is_not_flagged() -> None:
    src = """\
        import numpy as np

        def f(A, b, c):
            A_inv = np.linalg.inv(A)
            return A_inv @ b, A_inv @ c
        """
    assert _run(src, "ML105").violations == []


# -- ML106 -------------------------------------------------------------------------------------
def test_ml106_message_and_fix_skipped_for_positional_use() -> None:
    src = """\
        import numpy as np

        def f(X, k):
            w, V = np.linalg.eig(np.cov(X.T))
            return V[:, :k]
        """
    [v] = _run(src, "ML106").violations
    assert (v.line, v.column) == (4, 12)
    assert v.message.startswith("np.cov(X.T) is symmetric; use np.linalg.eigh/eigvalsh")
    assert _run(src, "ML106", fix="unsafe").fixed_source is None
    sorted_src = src.replace(
        "return V[:, :k]", "order = np.argsort(w)[::-1]\n            return V[:, order[:k]]"
    )
    fixed = _run(sorted_src, "ML106", fix="unsafe").fixed_source
    assert fixed is not None and "np.linalg.eigh(np.cov(X.T))" in fixed


def test_ml106_non_symmetric_is_not_flagged() -> None:
    src = "import numpy as np\nw = np.linalg.eigvals(A @ B)\n"
    assert _run(src, "ML106").violations == []


# -- ML107 -------------------------------------------------------------------------------------
def test_ml107_message_and_name_form_has_no_fix() -> None:
    src = """\
        import numpy as np

        def f(logits):
            e = np.exp(logits)
            return e / e.sum(axis=1, keepdims=True)
        """
    [v] = _run(src, "ML107").violations
    assert (v.line, v.column) == (5, 12)
    assert v.message == (
        "exp(logits) overflows to inf for large logits (inf/inf = nan); subtract the max first "
        "or use scipy.special.softmax"
    )
    assert _run(src, "ML107", fix="unsafe").fixed_source is None


def test_ml107_numpy_logsumexp_fix_needs_scipy() -> None:
    src = "import numpy as np\ny = np.log(np.exp(x).sum())\n"
    [v] = _run(src, "ML107").violations
    assert v.message.endswith("use scipy.special.logsumexp")
    assert _run(src, "ML107", fix="unsafe").fixed_source is None


def test_ml107_denominator_bound_to_a_name() -> None:
    src = """\
        import numpy as np
        import torch

        def softmax(x):
            exp_x = np.exp(x)
            total = np.sum(exp_x)
            return exp_x / total

        def softmax_rows(X):
            X_exp = torch.exp(X)
            partition = X_exp.sum(1, keepdim=True)
            return X_exp / partition

        def stable(x):
            exp_x = np.exp(x - np.max(x))
            total = np.sum(exp_x)
            return exp_x / total

        def ratio(x, weights):
            exp_x = np.exp(x)
            total = np.sum(weights)
            return exp_x / total
        """
    violations = _run(src, "ML107").violations
    assert [v.line for v in violations] == [7, 12]
    assert _run(src, "ML107", fix="unsafe").fixed_source is None


# -- ML108 -------------------------------------------------------------------------------------
def test_ml108_message() -> None:
    src = """\
        import numpy as np

        def f(X: np.ndarray):
            X[X > 2][0] = 99
        """
    [v] = _run(src, "ML108").violations
    assert (v.line, v.column) == (4, 5)
    assert v.message == (
        "X[X > 2] is a copy (advanced indexing); this write never reaches X — assign with "
        "X[X > 2] = ... directly"
    )


def test_ml108_basic_slicing_is_a_view() -> None:
    src = "import numpy as np\nX = np.zeros(5)\nX[1:3][0] = 1\n"
    assert _run(src, "ML108").violations == []


# -- ML109 -------------------------------------------------------------------------------------
def test_ml109_message_and_kind_word() -> None:
    src = """\
        import pandas as pd

        def f(a: pd.DataFrame, b: pd.DataFrame):
            assert a == b
        """
    [v] = _run(src, "ML109").violations
    assert (v.line, v.column) == (4, 12)
    assert v.message == (
        "'a == b' is an element-wise DataFrame; its truth value is ambiguous (ValueError, or a "
        "data-dependent answer for size-1 arrays) — use .all(), .any(), np.array_equal or "
        "pd.testing.assert_frame_equal"
    )


def test_ml109_right_operand_of_and_outside_truth_context() -> None:
    src = """\
        import numpy as np

        def f(flag, x: np.ndarray):
            mask = flag and x > 0
            if flag and x > 0:
                return mask
        """
    [v] = _run(src, "ML109").violations
    assert v.line == 5
