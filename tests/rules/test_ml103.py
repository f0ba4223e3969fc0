"""ML103 reduction-without-keepdims: messages, positions, keyword choice and skipped fixes."""

from __future__ import annotations

import ast
import textwrap

from mllint.api import check_source
from mllint.diagnostics import FileResult
from mllint.rules.numerics.reduction_keepdims import ReductionWithoutKeepdims


def _run(source: str, fix: str | None = None) -> FileResult:
    return check_source(textwrap.dedent(source), "pkg/features.py", select=["ML103"], fix=fix)


def _findings(source: str) -> list[tuple[int, int, str]]:
    return [(v.line, v.column, v.message) for v in _run(source).violations]


def _fixed(source: str) -> str:
    result = _run(source, fix="unsafe")
    assert result.fixed_source is not None
    ast.parse(result.fixed_source)
    return result.fixed_source


def test_message_and_position_numpy() -> None:
    [(line, col, msg)] = _findings(
        """
        import numpy as np

        def demean_rows(M):
            return M - np.mean(M, axis=1)
        """
    )
    assert (line, col) == (5, 12)
    assert msg == (
        "'np.mean(M, axis=1)' drops axis 1, so broadcasting against 'M' aligns it with the "
        "wrong axis (error, or silently wrong when the axes have equal length); use keepdims=True"
    )


def test_message_tuple_axes_and_torch_keyword() -> None:
    [(_, _, msg)] = _findings(
        """
        import torch

        def centre(images):
            return images - images.mean(dim=(2, 3))
        """
    )
    assert msg.startswith("'images.mean(dim=(2, 3))' drops axes (2, 3), ")
    assert msg.endswith("use keepdim=True")


def test_torch_max_message() -> None:
    [(_, _, msg)] = _findings(
        """
        import torch

        def shift(scores):
            return scores - scores.max(dim=-1)
        """
    )
    assert msg == (
        "'scores.max(dim=-1)' returns a (values, indices) tuple, so combining it with 'scores' "
        "raises TypeError, and its values drop axis -1 anyway; use "
        "'scores.amax(dim=-1, keepdim=True)'"
    )


def test_pandas_messages() -> None:
    found = _findings(
        """
        import pandas as pd

        df = pd.read_csv("x.csv")
        a = df - df.mean(axis=1)
        b = df > df.mean(axis=1)
        """
    )
    assert found[0][2] == (
        "'df.mean(axis=1)' is indexed by row labels, but 'df - df.mean(axis=1)' aligns it with "
        "the columns (an all-NaN frame with the row labels as extra columns, or wrong values when "
        "row and column labels coincide); use 'df.sub(df.mean(axis=1), axis=0)'"
    )
    assert "ValueError 'Operands are not aligned'" in found[1][2]
    assert found[1][2].endswith("use 'df.gt(df.mean(axis=1), axis=0)'")


def test_variable_form_message_and_no_fix() -> None:
    source = """
    import numpy as np

    def centre(X):
        mu = X.mean(axis=1)
        return X - mu
    """
    [(line, col, msg)] = _findings(source)
    assert (line, col) == (6, 12)
    assert msg == (
        "'mu' = 'X.mean(axis=1)' drops axis 1, so broadcasting 'mu' against 'X' aligns it with "
        "the wrong axis (error, or silently wrong when the axes have equal length); compute 'mu' "
        "with keepdims=True"
    )
    assert _run(source, fix="unsafe").fixed_source is None


def test_variable_form_same_statement_rebinding_is_reported() -> None:
    # `X = X / mu` rebinds X only after the division
    source = """
    import numpy as np

    def f(X):
        mu = X.sum(axis=-1)
        X = X / mu
        return X
    """
    assert len(_findings(source)) == 1


def test_multiline_call_reported_at_binary_operation() -> None:
    [(line, col, _)] = _findings(
        """
        import numpy as np

        def f(X):
            return X / np.sum(
                X,
                axis=1,
            )
        """
    )
    assert (line, col) == (5, 12)


def test_unknown_array_in_pandas_module_gets_no_keepdims() -> None:
    source = """
    import numpy as np
    import pandas as pd

    def f(X):
        return X - X.mean(axis=1)
    """
    [(_, _, msg)] = _findings(source)
    assert msg.endswith("use keepdims=True (pandas: 'X.sub(X.mean(axis=1), axis=0)')")
    assert _run(source, fix="unsafe").fixed_source is None


def test_positional_axis_needs_a_library_to_pick_the_keyword() -> None:
    both = "import numpy as np\nimport torch\ndef f(x):\n    return x - x.sum(1)\n"
    assert _run(both, fix="unsafe").fixed_source is None
    only_numpy = "import numpy as np\ndef f(x):\n    return x - x.sum(1)\n"
    assert "x.sum(1, keepdims=True)" in _fixed(only_numpy)
    only_torch = "import torch\ndef f(x):\n    return x - x.sum(1)\n"
    assert "x.sum(1, keepdim=True)" in _fixed(only_torch)


def test_torch_function_forms_rewritten() -> None:
    fixed = _fixed(
        """
        import torch

        def f(x):
            return x - torch.max(x, 1), x - torch.median(x, dim=-1)
        """
    )
    assert "x - torch.amax(x, 1, keepdim=True)" in fixed
    assert "x - torch.median(x, dim=-1, keepdim=True).values" in fixed


def test_pandas_fix_keeps_parentheses() -> None:
    fixed = _fixed(
        """
        import pandas as pd

        df = pd.DataFrame({"a": [1.0], "b": [2.0]})
        pct = (df / df.sum(axis=1)) * 100
        """
    )
    assert "pct = (df.div(df.sum(axis=1), axis=0)) * 100" in fixed


def test_never_flagged() -> None:
    source = """
    import numpy as np
    import torch

    def f(X, T: torch.Tensor, n):
        v = np.arange(n)
        return (
            X - X.mean(axis=0),
            X - X.mean(axis=(0, 1)),
            X - X.mean(axis=(1, 0)),
            X - X.mean(),
            X - X.mean(axis=1, keepdims=True),
            X - X.mean(axis=1)[:, None],
            X / X.sum(axis=1).reshape(-1, 1),
            T - T.mean(dim=1).unsqueeze(1),
            T / T.norm(2),
            X.mean(axis=1) / n,
            v - v.mean(-1),
            X - sum(X, 1),
        )
    """
    assert _findings(source) == []


def test_series_and_non_array_kinds_are_not_flagged() -> None:
    source = """
    import pandas as pd

    s = pd.Series([1.0, 2.0])
    out = s - s.mean(axis=1)
    """
    assert _findings(source) == []


def test_requires_text_is_necessary() -> None:
    names = ReductionWithoutKeepdims.requires_text
    for reduction in ("nanmean", "amax", "logsumexp", "vector_norm", "ptp", "average", "nanprod"):
        assert any(t in reduction for t in names)


def test_augmented_assignment_keeps_the_frame_kind() -> None:
    [(_, _, msg)] = _findings(
        """
        import pandas as pd

        df = pd.read_csv("x.csv")
        df -= df.mean(axis=1)
        """
    )
    assert msg.endswith("use 'df = df.sub(df.mean(axis=1), axis=0)'")
