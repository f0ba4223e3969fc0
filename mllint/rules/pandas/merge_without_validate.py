"""ML922 merge-without-validate."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Rule
from mllint.rules.pandas.chained_assignment import _imports_pandas, _maybe_frame
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import has_star_args, string_value
from mllint.semantics.pandas_facts import is_true, keyword_arg

_KEY_ARGS = ("on", "left_on", "right_on", "left_index")


class MergeWithoutValidate(Rule):
    """
    ## What it does
    Flags `pd.merge(...)` and `DataFrame.merge(...)` calls that join on keys (`on=`,
    `left_on=`/`right_on=` or `left_index=`) without `validate=`. Off by default: the
    expected cardinality is domain knowledge.

    ## Why is this bad?
    A many-to-many join on non-unique keys returns the cross product of the matching rows:
    row counts grow silently and features get duplicated. `validate="one_to_one"`,
    `"one_to_many"`, `"many_to_one"` or `"many_to_many"` states the expected relationship
    and raises `MergeError` when the data break it.

    ## Example
    ```python
    df = users.merge(orders, on="user_id")
    ```

    ## Use instead
    ```python
    df = users.merge(orders, on="user_id", how="left", validate="one_to_many")
    ```

    ## Fix safety
    There is no fix.
    """

    code = "ML922"
    name = "merge-without-validate"
    summary = "`merge` on keys without `validate=`"
    tier = 2
    default_enabled = False
    requires_text = ("merge",)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._gate = self.ctx.imports("pandas")

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # pandas imported, and a call with a key keyword, no `validate=` and no `*`/`**`
        # arguments of `merge` (or an imported alias of it), `<module>.merge` or
        # `<possible frame>.merge`
        if not _imports_pandas(scan):
            return False
        names = {"merge"}
        modules: set[str] = set()
        for imp in scan.of(ast.ImportFrom, ast.Import):
            for a in imp.names:
                if a.asname is not None and a.name.rpartition(".")[2] == "merge":
                    names.add(a.asname)
                modules.add(a.asname or a.name.partition(".")[0])
        for call in scan.calls(*names):
            kws = {kw.arg for kw in call.keywords}
            if (
                None in kws
                or "validate" in kws
                or kws.isdisjoint(_KEY_ARGS)
                or any(isinstance(a, ast.Starred) for a in call.args)
            ):
                continue
            func = call.func
            if not isinstance(func, ast.Attribute):
                return True
            recv = func.value
            if func.attr == "merge" and (
                (isinstance(recv, ast.Name) and recv.id in modules)
                or _maybe_frame(scan, recv, None)
            ):
                return True
        return False

    def visit_Call(self, node: cst.Call) -> None:
        if not self._gate or has_star_args(node) or keyword_arg(node, "validate") is not None:
            return
        func = node.func
        if self.ctx.qualname(func) != "pandas.merge" and not (
            isinstance(func, cst.Attribute)
            and func.attr.value == "merge"
            and self.ctx.kind(func.value) == K.DATAFRAME
        ):
            return
        keys = self._keys(node)
        if keys is None:
            return
        self.report(
            node,
            f"merge on {keys} without validate=: duplicate keys silently multiply rows; state "
            'the expected relationship (validate="one_to_one" / "many_to_one" / …)',
        )

    def _keys(self, node: cst.Call) -> str | None:
        on = keyword_arg(node, "on")
        if on is not None:
            return self._key_text(on.value)
        left = keyword_arg(node, "left_on")
        right = keyword_arg(node, "right_on")
        if left is not None or right is not None:
            parts = [
                f"{a.keyword.value}={self._key_text(a.value)}"
                for a in (left, right)
                if a is not None and a.keyword is not None
            ]
            return ", ".join(parts)
        left_index = keyword_arg(node, "left_index")
        if left_index is not None and is_true(left_index.value):
            right_index = keyword_arg(node, "right_index")
            return "the index" if right_index is not None else "the left index"
        return None

    def _key_text(self, value: cst.BaseExpression) -> str:
        """``'user_id'`` for a string key, else the key expression's code."""
        text = string_value(value)
        return f"'{text}'" if text is not None else self.ctx.snippet(value, 40)
