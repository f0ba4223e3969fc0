"""ML017 blanket-warning-filter."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Option, Rule
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import call_arg, string_value

_FILTERS = {"warnings.simplefilter": "simplefilter", "warnings.filterwarnings": "filterwarnings"}
_CALL_NAMES = frozenset({"simplefilter", "filterwarnings", "seterr"})
#: positional index of (category, message, module) per filter function
_POSITIONS = {
    "warnings.simplefilter": {"category": 1},
    "warnings.filterwarnings": {"message": 1, "category": 2, "module": 3},
}


class BlanketWarningFilter(Rule):
    """
    ## What it does
    Flags, at import time (module level, including class bodies) of a library module or a
    package `__init__.py`, `warnings.simplefilter("ignore")` / `warnings.filterwarnings(
    "ignore")` without a specific `category` (other than `Warning`), `message` or `module`,
    and `np.seterr(all="ignore")`. Test files, scripts, `if __name__ == "__main__":` blocks,
    functions and `with warnings.catch_warnings():` blocks are not flagged (unless
    `include-scoped` is set).

    ## Why is this bad?
    Importing the library changes the warning filters of the whole application: pandas
    chained-assignment warnings, scikit-learn `ConvergenceWarning` and
    `DataConversionWarning`, and NumPy's divide-by-zero `RuntimeWarning` disappear for every
    caller, who never asked for it and cannot tell why.

    ## Example
    ```python
    # mypkg/models.py
    import warnings

    warnings.filterwarnings("ignore")
    ```

    ## Use instead
    ```python
    # mypkg/models.py
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning, module="sklearn")
    ```

    Or silence the one noisy call inside `with warnings.catch_warnings():`.

    ## Fix safety
    There is no fix: which warnings are expected is for the author to decide.

    ## Options
    - `include-scoped` (bool, default `false`): also flag blanket filters inside functions
      and `with warnings.catch_warnings():` blocks.
    """

    code = "ML017"
    name = "blanket-warning-filter"
    summary = "An importable module silences all warnings process-wide"
    tier = 3
    options = (
        Option(
            "include-scoped",
            "bool",
            False,
            "Also flag blanket filters inside functions and catch_warnings blocks.",
        ),
    )
    requires_text = ("ignore",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a library module (see _applies) calling (an alias of) simplefilter/filterwarnings/
        # seterr with a plain "ignore" argument; without include-scoped, outside every
        # def/lambda (by position: decorators fall outside a def's span, which is broader)
        if facts.is_test or facts.is_script:
            return False
        if not (facts.is_package_init or facts.package is not None):
            return False
        names = scan.import_aliases(_CALL_NAMES)
        calls = [
            c
            for c in scan.calls(*names)
            if any(
                isinstance(v, ast.Constant) and v.value == "ignore"
                for v in (*c.args, *(k.value for k in c.keywords))
            )
        ]
        if not calls or options.get("include-scoped", True):
            return bool(calls)
        spans = [
            ((f.lineno, f.col_offset), (f.end_lineno or f.lineno, f.end_col_offset or 0))
            for f in scan.of(ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
        ]
        for c in calls:
            at = (c.lineno, c.col_offset)
            if not any(start <= at <= end for start, end in spans):
                return True
        return False

    def _applies(self) -> bool:
        facts = self.ctx.facts
        if facts.is_test or facts.is_script:
            return False
        return facts.is_package_init or facts.package is not None

    def visit_Call(self, node: cst.Call) -> None:
        q = self.ctx.qualname(node.func)
        if q is None or (q not in _FILTERS and q != "numpy.seterr"):
            return
        if not self._applies() or self.ctx.in_main_guard():
            return
        if not self.option("include-scoped") and (
            not self.ctx.is_module_level() or self._in_catch_warnings()
        ):
            return
        if q == "numpy.seterr":
            arg = call_arg(node, "all", 0)
            if arg is None or string_value(arg.value) != "ignore":
                return
            self.report(
                node,
                'np.seterr(all="ignore") at import time hides every floating-point error in '
                "the process (divide by zero, overflow, invalid values that become NaN); use "
                "with np.errstate(...) around the one computation instead",
            )
            return
        action = call_arg(node, "action", 0)
        if action is None or string_value(action.value) != "ignore":
            return
        positions = _POSITIONS[q]
        for what in ("category", "message", "module"):
            if what not in positions and what != "category":
                continue
            arg = call_arg(node, what, positions.get(what))
            if arg is None:
                continue
            if what == "category" and self.ctx.qualname(arg.value) == "builtins.Warning":
                continue
            if what in ("message", "module") and string_value(arg.value) in ("", ".*"):
                continue
            return  # a specific filter
        self.report(
            node,
            f'warnings.{_FILTERS[q]}("ignore") at import time silences every warning in the '
            "process (ConvergenceWarning, SettingWithCopyWarning, RuntimeWarning: divide by "
            "zero…); filter a specific category/module instead",
        )

    def _in_catch_warnings(self) -> bool:
        for anc in self.ctx.stack:
            if isinstance(anc, cst.With):
                for item in anc.items:
                    if (
                        isinstance(item.item, cst.Call)
                        and self.ctx.qualname(item.item.func) == "warnings.catch_warnings"
                    ):
                        return True
        return False
