"""ML703 lazy-export-untyped."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.imports.module_getattr_fallthrough import (
    has_module_getattr,
    module_getattr_param,
)
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import code_in_block, dotted_name, string_value
from mllint.semantics.scopes import type_checking_block
from mllint.semantics.walk import iter_descendants

_DEPRECATIONS = frozenset({"DeprecationWarning", "FutureWarning", "PendingDeprecationWarning"})


class LazyExportUntyped(Rule):
    """
    ## What it does
    In a module with a module-level `__getattr__` (PEP 562 lazy loading), collects the names
    it can return: string literals compared with its parameter (`if name == "X"`,
    `name in {"X", "Y"}`, `match name: case "X"`) and the keys of a module-level dict literal
    it looks up with the parameter (`_LAZY[name]`, `_LAZY.get(name)`). Flags every such name
    that is neither imported under `if TYPE_CHECKING:` nor defined otherwise in the module.
    The finding is reported at the string literal that names it. Names served only with a
    `DeprecationWarning`/`FutureWarning` (old aliases), dunder metadata such as a
    `__version__` computed on demand, and branches that only raise are left out.

    ## Why is this bad?
    A type checker cannot see what a module `__getattr__` returns: with only the lazy loader,
    mypy types `from pkg import Trainer` as `Any` and does not report `from pkg import Typo`.
    Importing the same names under `if TYPE_CHECKING:` restores precise types and typo
    detection at zero run-time cost. (Lazy loading still moves import errors and import
    latency to first use.)

    ## Example
    ```python
    from typing import Any


    def __getattr__(name: str) -> Any:
        if name == "Trainer":
            from .trainer import Trainer
            return Trainer
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    ```

    ## Use instead
    ```python
    from typing import TYPE_CHECKING, Any

    if TYPE_CHECKING:
        from .trainer import Trainer


    def __getattr__(name: str) -> Any:
        if name == "Trainer":
            from .trainer import Trainer
            return Trainer
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    ```

    No `# type: ignore[misc]` is needed on the lazy `__getattr__`; annotate it `-> Any`.

    ## Fix safety
    Safe: the fix adds `from <module> import <Name>` lines to the module's existing
    `if TYPE_CHECKING:` block, or creates one right before the `def __getattr__` (adding
    `from typing import TYPE_CHECKING`), for each name whose source module is a literal: an
    `from <module> import <Name>` inside the branch that serves the name, or a
    `("<module>", "<attr>")` value of the dispatch dict. `TYPE_CHECKING` is False at run
    time, so behaviour is unchanged. `__all__` and `__dir__` are left alone (changing them
    would change `from pkg import *`). Names whose module cannot be read have no fix.
    """

    code = "ML703"
    name = "lazy-export-untyped"
    summary = "Names served by a module `__getattr__` are invisible to type checkers"
    tier = 2
    fix_safety = (FixSafety.SAFE,)
    requires_text = ("__getattr__",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a module-level `def __getattr__(name)` (what it serves is judged by the rule)
        return has_module_getattr(scan)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        ctx = self.ctx
        if node.name.value != "__getattr__" or ctx.scope.kind != "module":
            return
        param = module_getattr_param(node)
        if param is None:
            return
        # name -> (literal node, import line or None)
        served: dict[str, tuple[cst.CSTNode, str | None]] = {}
        self._collect(node, param, served)
        module_bindings = ctx.model.module_scope.bindings
        # dunder metadata (`__version__` computed from importlib.metadata) is not an import
        missing = {
            n: v
            for n, v in served.items()
            if n.isidentifier() and not _is_dunder(n) and n not in module_bindings
        }
        if not missing:
            return
        fix = self._fix(node, {n: line for n, (_, line) in missing.items() if line})
        for name, (literal, line) in missing.items():
            self.report(
                literal,
                f"'{name}' is provided lazily by __getattr__ but not imported under "
                "'if TYPE_CHECKING:'; type checkers see it as Any and cannot catch typos",
                fix if line else None,
            )

    # -- what __getattr__ serves ---------------------------------------------------------
    def _collect(
        self, func: cst.FunctionDef, param: str, served: dict[str, tuple[cst.CSTNode, str | None]]
    ) -> None:
        # names served only with a deprecation warning are old aliases: declaring them for
        # type checkers would advertise them
        deprecated: set[str] = set()
        deprecated_dicts: set[str] = set()
        for sub in iter_descendants(func.body, into_scopes=False):
            if isinstance(sub, cst.If) and self._warns_deprecation(sub.body):
                deprecated.update(name for name, _ in self._compared(sub.test, param))
                test = sub.test
                if isinstance(test, cst.Comparison) and _is_param(test.left, param):
                    for target in test.comparisons:
                        if isinstance(target.operator, cst.In) and isinstance(
                            target.comparator, cst.Name
                        ):
                            deprecated_dicts.add(target.comparator.value)
        self._collect_names(func, param, served, deprecated_dicts)
        for name in deprecated:
            served.pop(name, None)

    def _warns_deprecation(self, body: cst.BaseSuite) -> bool:
        for n in iter_descendants(body, into_scopes=False):
            if isinstance(n, cst.Call) and self.ctx.qualname(n.func) == "warnings.warn":
                for arg in n.args:
                    q = self.ctx.qualname(arg.value) or ""
                    if q.rsplit(".", 1)[-1] in _DEPRECATIONS:
                        return True
        return False

    def _collect_names(
        self,
        func: cst.FunctionDef,
        param: str,
        served: dict[str, tuple[cst.CSTNode, str | None]],
        skip_dicts: set[str],
    ) -> None:
        for sub in iter_descendants(func.body, into_scopes=False):
            if isinstance(sub, cst.If):
                if not _returns(sub.body):
                    continue  # e.g. a removed name that raises with an explanation
                for name, literal in self._compared(sub.test, param):
                    served.setdefault(name, (literal, self._import_in(sub.body, name)))
            elif isinstance(sub, cst.Match) and _is_param(sub.subject, param):
                for case in sub.cases:
                    if not _returns(case.body):
                        continue
                    for name, literal in _case_strings(case.pattern):
                        served.setdefault(name, (literal, self._import_in(case.body, name)))
            elif isinstance(sub, cst.Subscript) and len(sub.slice) == 1:
                el = sub.slice[0].slice
                if isinstance(el, cst.Index) and _is_param(el.value, param):
                    self._dict_keys(sub.value, served, skip_dicts)
            elif (
                isinstance(sub, cst.Call)
                and isinstance(sub.func, cst.Attribute)
                and sub.func.attr.value == "get"
                and sub.args
                and _is_param(sub.args[0].value, param)
            ):
                self._dict_keys(sub.func.value, served, skip_dicts)
            elif isinstance(sub, cst.Comparison):
                # `if name in _LAZY:` -> the dict's keys
                for target in sub.comparisons:
                    if (
                        isinstance(target.operator, cst.In)
                        and _is_param(sub.left, param)
                        and isinstance(target.comparator, cst.Name)
                    ):
                        self._dict_keys(target.comparator, served, skip_dicts)

    def _compared(self, test: cst.BaseExpression, param: str) -> list[tuple[str, cst.CSTNode]]:
        out: list[tuple[str, cst.CSTNode]] = []
        if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.Or):
            return self._compared(test.left, param) + self._compared(test.right, param)
        if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
            return out
        op = test.comparisons[0].operator
        right = test.comparisons[0].comparator
        if isinstance(op, cst.Equal):
            if _is_param(test.left, param) and string_value(right) is not None:
                out.append((string_value(right) or "", right))
            elif _is_param(right, param) and string_value(test.left) is not None:
                out.append((string_value(test.left) or "", test.left))
        elif (
            isinstance(op, cst.In)
            and _is_param(test.left, param)
            and isinstance(right, (cst.Set, cst.Tuple, cst.List))
        ):
            for el in right.elements:
                value = string_value(el.value)
                if value is not None:
                    out.append((value, el.value))
        return out

    def _dict_keys(
        self,
        expr: cst.BaseExpression,
        served: dict[str, tuple[cst.CSTNode, str | None]],
        skip_dicts: set[str],
    ) -> None:
        if not isinstance(expr, cst.Name) or expr.value in skip_dicts:
            return
        bindings = self.ctx.model.module_scope.bindings.get(expr.value, [])
        if len(bindings) != 1 or bindings[0].kind not in ("assign", "annassign"):
            return
        value = bindings[0].value
        if not isinstance(value, cst.Dict):
            return
        for el in value.elements:
            if not isinstance(el, cst.DictElement):
                continue
            key = string_value(el.key)
            if key is None:
                continue
            served.setdefault(key, (el.key, self._import_from_tuple(key, el.value)))

    # -- where each name comes from ------------------------------------------------------
    def _import_in(self, body: cst.BaseSuite, name: str) -> str | None:
        """``from <module> import <Name>`` as written in the branch serving ``name``."""
        for sub in iter_descendants(body, into_scopes=False):
            if not isinstance(sub, cst.ImportFrom) or isinstance(sub.names, cst.ImportStar):
                continue
            module = dotted_name(sub.module) if sub.module is not None else ""
            if module is None:
                continue
            prefix = "." * len(sub.relative)
            for alias in sub.names:
                imported = dotted_name(alias.name)
                bound = imported
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    bound = alias.asname.name.value
                if bound == name and imported is not None:
                    text = f"from {prefix}{module} import {imported}"
                    if imported != name:
                        text += f" as {name}"
                    if not module and not prefix:
                        return None
                    return text
        return None

    def _import_from_tuple(self, name: str, value: cst.BaseExpression) -> str | None:
        """``("<module>", "<attr>")`` -> ``from <module> import <attr> [as <name>]``."""
        if not isinstance(value, cst.Tuple) or len(value.elements) != 2:
            return None
        module = string_value(value.elements[0].value)
        attr = string_value(value.elements[1].value)
        if not module or not attr or not attr.isidentifier():
            return None
        stripped = module.lstrip(".")
        if stripped and not all(p.isidentifier() for p in stripped.split(".")):
            return None
        if module.startswith(".") and not self.ctx.facts.is_package_init:
            return None
        if not stripped and not module.startswith("."):
            return None
        text = f"from {module} import {attr}"
        return text + (f" as {name}" if attr != name else "")

    # -- the fix ---------------------------------------------------------------------------
    def _fix(self, func: cst.FunctionDef, lines: dict[str, str]) -> Fix | None:
        ctx = self.ctx
        if not lines or not isinstance(ctx.parent, cst.Module):
            return None
        new_lines = sorted(set(lines.values()))
        block = type_checking_block(self.ctx.module.body)
        if block is not None:
            assert isinstance(block.body, cst.IndentedBlock)
            stmts = [cst.parse_statement(line + "\n") for line in new_lines]
            new_block = block.with_changes(
                body=block.body.with_changes(body=[*block.body.body, *stmts])
            )
            return Fix(FixSafety.SAFE, [(block, code_in_block(ctx.module, new_block, []))])
        plan = ctx.import_name("typing", "TYPE_CHECKING")
        if plan is None:
            return None
        if plan.statement == "import typing" and not ctx.bindings("TYPE_CHECKING"):
            # the usual spelling: from typing import TYPE_CHECKING
            plan = dataclasses.replace(
                plan, local="TYPE_CHECKING", statement="from typing import TYPE_CHECKING"
            )
        indent = ctx.module.default_indent
        newline = "\n"
        leading = "".join(ctx.module.code_for_node(el) for el in func.leading_lines)
        text = (
            leading
            + f"if {plan.local}:{newline}"
            + "".join(f"{indent}{line}{newline}" for line in new_lines)
            + newline
            + newline
            + code_in_block(ctx.module, func.with_changes(leading_lines=[]), [])
        )
        return Fix(FixSafety.SAFE, [(func, text)], [plan])


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _is_param(expr: cst.CSTNode, param: str) -> bool:
    return isinstance(expr, cst.Name) and expr.value == param


def _case_strings(pattern: cst.MatchPattern) -> list[tuple[str, cst.CSTNode]]:
    if isinstance(pattern, cst.MatchValue):
        value = string_value(pattern.value)
        return [(value, pattern.value)] if value is not None else []
    if isinstance(pattern, cst.MatchOr):
        out: list[tuple[str, cst.CSTNode]] = []
        for el in pattern.patterns:
            out.extend(_case_strings(el.pattern))
        return out
    if isinstance(pattern, cst.MatchAs) and pattern.pattern is not None:
        return _case_strings(pattern.pattern)
    return []


def _returns(body: cst.BaseSuite) -> bool:
    """The branch can hand back a value (it contains ``return <value>``)."""
    return any(
        isinstance(n, cst.Return) and n.value is not None
        for n in iter_descendants(body, into_scopes=False)
    )
