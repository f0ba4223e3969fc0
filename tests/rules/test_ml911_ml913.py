"""ML911-ML913 (off by default): messages, positions, options and fix conditions."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from mllint.api import check_source
from mllint.config import settings_from_toml
from mllint.diagnostics import FileResult


def _run(
    source: str, code: str, fix: str | None = None, config: dict[str, Any] | None = None
) -> FileResult:
    settings = settings_from_toml({"tool": {"mllint": config or {}}}, Path("pyproject.toml"))
    return check_source(
        textwrap.dedent(source), "pkg/model.py", settings=settings, select=[code], fix=fix
    )


def test_off_by_default() -> None:
    src = "import numpy as np\nW = np.eye(3)\nh = np.dot(W, W)\n"
    assert check_source(src, "pkg/model.py").violations == []


# -- ML911 ---------------------------------------------------------------------------------

DOT = """\
    import numpy as np

    W = np.random.randn(4, 3)
    x = np.ones(3)
    h = np.dot(W, x)
    """


def test_ml911_message_position_and_fix() -> None:
    [v] = _run(DOT, "ML911").violations
    assert (v.line, v.column) == (5, 5)
    assert v.message == (
        "Use the @ operator (np.matmul) for matrix products; np.dot has different rules for "
        "scalars and N-D inputs"
    )
    fixed = _run(DOT, "ML911", fix="unsafe").fixed_source
    assert fixed is not None and fixed.endswith("h = W @ x\n")
    assert _run(DOT, "ML911", fix="safe").fixed_source is None


def test_ml911_parenthesised_inside_expressions() -> None:
    src = DOT.replace("h = np.dot(W, x)", "h = np.dot(W, x) + 1")
    fixed = _run(src, "ML911", fix="unsafe").fixed_source
    assert fixed is not None and fixed.endswith("h = (W @ x) + 1\n")


def test_ml911_transpose_without_known_dims_has_no_fix() -> None:
    src = """\
        import numpy as np

        def gram(X):
            return np.dot(X.T, X)
        """
    assert len(_run(src, "ML911").violations) == 1
    assert _run(src, "ML911", fix="unsafe").fixed_source is None


def test_ml911_vectors_are_not_flagged() -> None:
    src = "import numpy as np\na = np.arange(3)\nb = np.ones(3)\nc = np.dot(a, b)\n"
    assert _run(src, "ML911").violations == []


# -- ML912 ---------------------------------------------------------------------------------

NORM = """\
    import numpy as np

    def normalise(X: np.ndarray):
        return X / np.linalg.norm(X, axis=1, keepdims=True)
    """


def test_ml912_message_position_and_eps_option() -> None:
    [v] = _run(NORM, "ML912").violations
    assert (v.line, v.column) == (4, 12)
    assert v.message == (
        "Division by norm of 'X' yields NaN/inf for zero vectors or constant features; clamp "
        "it (np.maximum(den, eps)) or use sklearn.preprocessing.normalize / MinMaxScaler"
    )
    config = {"unguarded-normalisation-division": {"eps": 1e-6}}
    fixed = _run(NORM, "ML912", fix="unsafe", config=config).fixed_source
    assert fixed is not None
    assert "X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-06)" in fixed


def test_ml912_numerator_must_use_the_same_array() -> None:
    src = NORM.replace("return X /", "return Y /").replace("(X: np.ndarray)", "(X: np.ndarray, Y)")
    assert _run(src, "ML912").violations == []


def test_ml912_std_of_unknown_object_has_no_fix() -> None:
    src = """\
        import numpy as np

        def z(x):
            return (x - x.mean()) / x.std()
        """
    [v] = _run(src, "ML912").violations
    assert v.message.startswith("Division by std of 'x'")
    assert _run(src, "ML912", fix="unsafe").fixed_source is None


def test_ml912_follows_plain_and_annotated_assignments() -> None:
    src = """\
        import numpy as np

        def normalise(X: np.ndarray):
            norm: np.ndarray = np.linalg.norm(X, axis=1, keepdims=True)
            return X / norm
        """
    [v] = _run(src, "ML912").violations
    assert (v.line, v.column) == (5, 12)
    assert v.message.startswith("Division by norm of 'X'")
    assert [v.line for v in _run(src.replace(": np.ndarray =", " ="), "ML912").violations] == [5]


def test_ml912_ignored_without_numpy_or_torch() -> None:
    src = "def z(x):\n    return (x - x.mean()) / x.std()\n"
    assert _run(src, "ML912").violations == []


# -- ML913 ---------------------------------------------------------------------------------


def test_ml913_sorted_message_and_safe_fix() -> None:
    src = "def best(scores):\n    return sorted(scores, key=len, reverse=True)[:10]\n"
    [v] = _run(src, "ML913").violations
    assert (v.line, v.column) == (2, 12)
    assert v.message == "Sorting all len(scores) items to keep 10: use heapq.nlargest"
    fixed = _run(src, "ML913", fix="safe").fixed_source
    assert (
        fixed
        == "import heapq\n\ndef best(scores):\n    return heapq.nlargest(10, scores, key=len)\n"
    )


def test_ml913_expression_k_is_unsafe() -> None:
    src = "def best(scores, k):\n    return sorted(scores)[:k]\n"
    assert _run(src, "ML913", fix="safe").fixed_source is None
    fixed = _run(src, "ML913", fix="unsafe").fixed_source
    assert fixed is not None and "heapq.nsmallest(k, scores)" in fixed


def test_ml913_heapq_name_taken_skips_fix() -> None:
    src = "heapq = None\n\ndef best(scores):\n    return sorted(scores)[:3]\n"
    assert len(_run(src, "ML913").violations) == 1
    assert _run(src, "ML913", fix="unsafe").fixed_source is None


def test_ml913_numpy_form_has_no_fix() -> None:
    src = "import numpy as np\n\ndef top(p, k):\n    return np.argsort(p)[-k:]\n"
    [v] = _run(src, "ML913").violations
    assert v.message == "Sorting all len(p) items to keep k: use np.argpartition"
    assert _run(src, "ML913", fix="unsafe").fixed_source is None
