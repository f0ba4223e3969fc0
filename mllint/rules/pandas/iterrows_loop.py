"""ML921 iterrows-loop."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Rule
from mllint.rules.pandas.chained_assignment import _imports_pandas, _maybe_frame
from mllint.semantics.context import FileFacts
from mllint.semantics.pandas_facts import FRAME_NAME_PATTERN, is_frame, method_call


class IterrowsLoop(Rule):
    """
    ## What it does
    Flags `for ... in df.iterrows():` loops over a frame known to be a DataFrame or named
    like one (`df`, `*_df`, `df_*`). Off by default: a loop over a small frame is fine.

    ## Why is this bad?
    Each row becomes a new Series (an object created per row, and numeric columns upcast to
    a common dtype, so integers come back as floats in a mixed frame); vectorised column
    operations, or `itertuples()` when a loop is unavoidable, are orders of magnitude faster.

    ## Example
    ```python
    total = 0
    for _, r in df.iterrows():
        total += r["qty"] * r["price"]
    ```

    ## Use instead
    ```python
    total = (df["qty"] * df["price"]).sum()
    ```

    ## Fix safety
    There is no fix.
    """

    code = "ML921"
    name = "iterrows-loop"
    summary = "Row-wise iteration over a DataFrame with `iterrows()`"
    tier = 3
    default_enabled = False
    requires_text = ("iterrows",)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._gate = self.ctx.imports("pandas")

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # pandas imported, and `for ... in <frame>.iterrows(...)` over a possible DataFrame
        if not _imports_pandas(scan):
            return False
        for loop in scan.of(ast.For, ast.AsyncFor):
            it = loop.iter
            if (
                isinstance(it, ast.Call)
                and isinstance(it.func, ast.Attribute)
                and it.func.attr == "iterrows"
                and _maybe_frame(scan, it.func.value, FRAME_NAME_PATTERN)
            ):
                return True
        return False

    def visit_For(self, node: cst.For) -> None:
        if not self._gate:
            return
        mc = method_call(node.iter)
        if mc is None or mc[1] != "iterrows" or not is_frame(self.ctx, mc[0]):
            return
        self.report(
            node,
            "iterrows() builds a Series per row (slow, and dtypes are upcast); vectorise, or "
            "use itertuples() if a loop is unavoidable",
        )
