"""ML205 chained-assignment-warning-silenced."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.pandas.chained_assignment import _imports_pandas
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import call_arg, string_value
from mllint.semantics.pandas_facts import pandas_at_least

_OPTION = "pandas.options.mode.chained_assignment"
_OPTION_KEYS = frozenset({"mode.chained_assignment", "chained_assignment"})
_SET_OPTION = frozenset({"pandas.set_option", "pandas.options.set_option"})
_WARNING_CLASSES = {
    "SettingWithCopyWarning": True,  # value: the warning no longer exists on pandas >= 3
    "ChainedAssignmentError": False,
}
_FILTERS = frozenset({"warnings.filterwarnings", "warnings.simplefilter"})


def _is_none(node: cst.CSTNode | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


class ChainedAssignmentWarningSilenced(Rule):
    """
    ## What it does
    Flags code that silences pandas' chained-assignment warning:
    `pd.options.mode.chained_assignment = None`,
    `pd.set_option("mode.chained_assignment", None)`,
    `pd.option_context("mode.chained_assignment", None)`, and `warnings.filterwarnings` /
    `warnings.simplefilter` calls that ignore `SettingWithCopyWarning` or
    `ChainedAssignmentError`. Setting the option to `"warn"` or `"raise"` and turning the
    warnings into errors are not reported.

    ## Why is this bad?
    The warning is pandas' only signal that a chained assignment did not modify the frame
    (see ML201); turning it off hides silent data bugs. On pandas ≥ 3 the option has no
    effect at all (pandas 3.1 warns that it is deprecated), so the line is dead code there.

    ## Example
    ```python
    pd.options.mode.chained_assignment = None
    ```

    ## Use instead
    Remove the line and fix the flagged assignments:
    ```python
    df.loc[mask, col] = value
    ```

    ## Fix safety
    Safe, and only when the project requires pandas ≥ 3: the
    `pd.options.mode.chained_assignment = None` / `pd.set_option("mode.chained_assignment",
    None)` statement is deleted (it is a no-op there). Otherwise, and for `option_context` and
    warning filters, there is no fix.
    """

    code = "ML205"
    name = "chained-assignment-warning-silenced"
    summary = "`pd.options.mode.chained_assignment = None` or a filter for SettingWithCopyWarning"
    tier = 2
    fix_safety = (FixSafety.SAFE,)
    requires_text = ("chained_assignment", "SettingWithCopyWarning", "ChainedAssignmentError")

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # every form is judged by qualified name, through an import of pandas
        return _imports_pandas(scan)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._gate = self.ctx.imports("pandas")
        self._pandas3 = pandas_at_least(self.ctx, 3)

    def visit_Assign(self, node: cst.Assign) -> None:
        if not self._gate or not _is_none(node.value):
            return
        for target in node.targets:
            if self.ctx.qualname(target.target) == _OPTION:
                self._report(node, dead=True, deletable=len(node.targets) == 1)
                return

    def visit_Call(self, node: cst.Call) -> None:
        if not self._gate:
            return
        q = self.ctx.qualname(node.func)
        if q is None:
            return
        if q in _SET_OPTION or q == "pandas.option_context":
            args = [a for a in node.args if a.keyword is None and not a.star]
            if len(args) < 2 or string_value(args[0].value) not in _OPTION_KEYS:
                return
            if not _is_none(args[1].value):
                return
            deletable = q in _SET_OPTION and len(args) == 2 and len(node.args) == 2
            stmt = self.ctx.parent if deletable else None
            self._report(
                stmt if isinstance(stmt, cst.Expr) else node, dead=True,
                deletable=isinstance(stmt, cst.Expr), at=node,
            )  # fmt: skip
            return
        if q in _FILTERS:
            action = call_arg(node, "action", 0)
            if action is None or string_value(action.value) != "ignore":
                return
            category = call_arg(node, "category", 2 if q == "warnings.filterwarnings" else 1)
            if category is None:
                return
            cq = self.ctx.qualname(category.value)
            if cq is None or not cq.startswith("pandas."):
                return
            last = cq.rsplit(".", 1)[-1]
            if last in _WARNING_CLASSES:
                self._report(node, dead=_WARNING_CLASSES[last], deletable=False)

    def _report(
        self, node: cst.CSTNode, dead: bool, deletable: bool, at: cst.CSTNode | None = None
    ) -> None:
        note = " (dead code on pandas ≥ 3)" if dead else ""
        fix = None
        if deletable and self._pandas3:
            fix = self._delete(node)
        self.report(
            at or node,
            "Silencing pandas' chained-assignment warning hides writes that do not happen; fix "
            f"the assignment instead{note}",
            fix,
        )

    def _delete(self, small: cst.CSTNode) -> Fix | None:
        """Delete the statement line holding the small statement ``small``."""
        stack = self.ctx.stack
        line = next((n for n in reversed(stack) if isinstance(n, cst.SimpleStatementLine)), None)
        if line is None or len(line.body) != 1 or line.body[0] is not small:
            return None
        idx = stack.index(line)
        block = stack[idx - 1] if idx >= 1 else None
        if isinstance(block, cst.IndentedBlock) and len(block.body) == 1:
            return Fix(FixSafety.SAFE, [(small, "pass")])
        if not isinstance(block, (cst.IndentedBlock, cst.Module)):
            return None
        return Fix(FixSafety.SAFE, [(line, "")])
