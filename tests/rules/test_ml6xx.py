"""ML602-ML605: messages, positions and fix conditions."""

from __future__ import annotations

import textwrap

from mllint.api import check_source
from mllint.diagnostics import FileResult


def _run(source: str, code: str, fix: str | None = None) -> FileResult:
    return check_source(textwrap.dedent(source), "pkg/train.py", select=[code], fix=fix)


def test_ml602_message_and_position() -> None:
    src = """\
        import pandas as pd

        def load(paths):
            out = pd.DataFrame()
            for p in paths:
                out = pd.concat([out, pd.read_csv(p)])
            return out
        """
    [v] = _run(src, "ML602").violations
    assert (v.line, v.column) == (6, 9)
    assert v.message == (
        "'out = pd.concat([out, …])' inside a loop copies all accumulated data on every "
        "iteration (O(n²)); collect the pieces in a list and call pd.concat once after the loop"
    )


def test_ml602_accumulator_read_in_loop_is_not_flagged() -> None:
    src = """\
        import torch

        def decode(model, ids, n):
            for _ in range(n):
                nxt = model(ids).argmax(-1, keepdim=True)
                ids = torch.cat([ids, nxt], dim=-1)
            return ids
        """
    assert _run(src, "ML602").violations == []


def test_ml603_message_and_fix_skipped_when_list_escapes() -> None:
    src = """\
        def walk(seeds, children, sink):
            queue = list(seeds)
            while queue:
                node = queue.pop(0)
                queue.extend(children(node))
            sink(queue)
        """
    [v] = _run(src, "ML603").violations
    assert (v.line, v.column) == (4, 16)
    assert v.message == (
        "queue.pop(0) shifts every element (O(n)); use collections.deque with "
        "popleft()/appendleft()"
    )
    assert _run(src, "ML603", fix="unsafe").fixed_source is None
    ok = src.replace("    sink(queue)\n", "")
    fixed = _run(ok, "ML603", fix="unsafe").fixed_source
    assert fixed is not None
    assert "queue = collections.deque(seeds)" in fixed and "queue.popleft()" in fixed


def test_ml603_reuses_from_collections_import() -> None:
    src = """\
        from collections import deque

        def walk(seeds):
            queue = []
            for s in seeds:
                queue.insert(0, s)
            return len(queue)
        """
    fixed = _run(src, "ML603", fix="unsafe").fixed_source
    assert fixed is not None
    assert "queue = deque()" in fixed and "queue.appendleft(s)" in fixed


def test_ml604_message() -> None:
    src = """\
        import numpy as np

        def f(x: np.ndarray):
            out = np.empty_like(x)
            for i in range(len(x)):
                out[i] = np.sqrt(x[i]) * 2
            return out
        """
    [v] = _run(src, "ML604").violations
    assert (v.line, v.column) == (5, 5)
    assert v.message == (
        "This loop computes 'out[i]' element by element in Python; the vectorised expression "
        "'out[:] = np.sqrt(x) * 2' runs in C (typically ~100× faster)"  # noqa: RUF001
    )


def test_ml604_neighbour_read_is_a_recurrence() -> None:
    src = """\
        import numpy as np

        def f(x: np.ndarray):
            out = np.zeros(len(x))
            for i in range(len(x)):
                out[i] = out[i - 1] + x[i]
            return out
        """
    assert _run(src, "ML604").violations == []


def test_ml605_safe_vs_unsafe_and_pandas_skip() -> None:
    src = "import numpy as np\nX = np.ones((3, 4))\ns = np.apply_along_axis(np.sum, 1, X)\n"
    [v] = _run(src, "ML605").violations
    assert (v.line, v.column) == (3, 5)
    assert v.message == (
        "np.apply_along_axis calls Python once per row; 'np.sum(X, axis=1)' does the same in "
        "one vectorised call"
    )
    assert _run(src, "ML605", fix="safe").fixed_source is None
    assert "s = np.sum(X, axis=1)" in (_run(src, "ML605", fix="unsafe").fixed_source or "")
    pandas_src = "import numpy as np\nimport pandas as pd\ns = np.apply_along_axis(np.max, 1, X)\n"
    assert len(_run(pandas_src, "ML605").violations) == 1
    assert _run(pandas_src, "ML605", fix="unsafe").fixed_source is None
