"""ML008 shared-dict-mutated-via-alias."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, scope_statements
from mllint.rule import Fix, FixSafety, Option, Rule
from mllint.rules.general.lru_cache_method import _import_locals
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import iter_names_in_target
from mllint.semantics.scopes import Binding, Scope
from mllint.semantics.walk import iter_descendants

_ALIAS_MUTATORS = frozenset(
    {
        "update", "setdefault", "pop", "popitem", "clear", "append", "extend", "insert",
        "remove", "add", "discard",
    }
)  # fmt: skip
_DIRECT_MUTATORS = frozenset({"update"})
_CONTAINER_CALLS = {"builtins.dict": "dict", "builtins.list": "list", "builtins.set": "set"}
_AST_DISPLAYS = (ast.Dict, ast.DictComp, ast.List, ast.ListComp, ast.Set, ast.SetComp)


class SharedDictMutatedViaAlias(Rule):
    """
    ## What it does
    Flags a function that binds a local name to a module-level dict/list/set (`cfg =
    DEFAULT_CONFIG`, no copy) and then mutates it through that name (`cfg.update(...)`,
    `cfg[k] = v`, `cfg[k] += v`, `del cfg[k]`, `cfg.setdefault/pop/popitem/clear/append/
    extend/insert/remove(...)`, `cfg |= ...`, `cfg += ...`), where the module-level name is
    bound exactly once to a display or a `dict(...)`/`list(...)`/`set(...)` call. Also flags
    `G.update(...)` and `G[k] = v` inside a function when `G` is such a module-level object
    whose name looks like a default configuration (see the option).

    ## Why is this bad?
    Assignment does not copy. `cfg = DEFAULT_CONFIG; cfg.update(overrides)` changes
    `DEFAULT_CONFIG` itself, so the next experiment silently starts from the previous
    experiment's overrides.

    ## Example
    ```python
    DEFAULT_CONFIG = {"lr": 1e-3, "epochs": 10}

    def make_config(overrides):
        cfg = DEFAULT_CONFIG
        cfg.update(overrides)
        return cfg
    ```

    ## Use instead
    ```python
    def make_config(overrides):
        return DEFAULT_CONFIG | overrides  # or {**DEFAULT_CONFIG, **overrides}
    ```

    Use `copy.deepcopy(DEFAULT_CONFIG)` when the values are nested dicts or lists.
    Copies (`G.copy()`, `dict(G)`, `copy.deepcopy(G)`, `{**G}`), module-level code and
    registries whose name does not look like a default (`MODELS[name] = cls`) are not flagged.

    ## Fix safety
    Unsafe, alias form only: `cfg = DEFAULT_CONFIG` becomes `cfg = copy.deepcopy(DEFAULT_CONFIG)`
    (adding `import copy`). The module-level object is no longer mutated, which is the intent,
    but other code may have relied on the mutation.

    ## Options
    - `default-name-pattern` (regex, default `(?i)(default|config|cfg|params|settings|hparams)`):
      module-level names whose direct mutation inside a function is flagged.
    """

    code = "ML008"
    name = "shared-dict-mutated-via-alias"
    summary = "A module-level default dict/list is mutated inside a function through an alias"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    options = (
        Option(
            "default-name-pattern",
            "regex",
            "(?i)(default|config|cfg|params|settings|hparams)",
            "Module-level names whose direct mutation inside a function is flagged.",
        ),
    )
    requires_text = ("def",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # 1. module-level names assigned a display, a comprehension or a dict/list/set call
        #    (and names declared `global`, which functions can bind at module level)
        module_stmts: set[int] = set()
        containers: set[str] = set()
        bound: set[str] | None = None
        for stmt in scope_statements(scan.tree.body):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            module_stmts.add(id(stmt))
            if isinstance(stmt, ast.Expr):
                module_stmts.add(id(stmt.value))
                continue
            if isinstance(stmt, ast.Assign):
                targets, value = stmt.targets, stmt.value
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                targets, value = [stmt.target], stmt.value
            else:
                continue  # a compound statement: scope_statements yields its blocks
            if isinstance(value, ast.Call):
                func = value.func
                if not (isinstance(func, ast.Name) and func.id in _CONTAINER_NAMES):
                    if bound is None:
                        bound = _import_locals(scan, facts, _CONTAINER_CALLS)
                    while isinstance(func, ast.Attribute):
                        func = func.value
                    if not (isinstance(func, ast.Name) and func.id in bound):
                        continue
            elif not isinstance(value, _AST_DISPLAYS):
                continue
            containers.update(t.id for t in targets if isinstance(t, ast.Name))
        for glob in scan.of(ast.Global):
            containers.update(glob.names)
        # the rule only examines functions naming a container that is not a dunder
        if all(n.startswith("__") and n.endswith("__") for n in containers):
            return False
        # 2. in a function: `G.update(...)` or `G["key"] = v` (G named like a default), or an
        #    alias `L = G` and a mutation of L
        pattern = re.compile(options["default-name-pattern"])
        direct = {n for n in containers if pattern.search(n)}
        aliases: set[str] = set()
        for assign in scan.of(ast.Assign, ast.AnnAssign):
            if id(assign) in module_stmts:
                continue
            assigned = assign.value
            targets = assign.targets if isinstance(assign, ast.Assign) else [assign.target]
            if isinstance(assigned, ast.Name) and assigned.id in containers:
                aliases.update(t.id for t in targets if isinstance(t, ast.Name))
            if (
                direct
                and isinstance(assign, ast.Assign)
                and any(
                    isinstance(t, ast.Subscript) and _ast_name_in(t.value, direct) for t in targets
                )
                and any(
                    isinstance(t, ast.Subscript) and isinstance(t.slice, ast.Constant)
                    for t in targets
                )
            ):
                return True
        for call in scan.calls(*_ALIAS_MUTATORS):
            func = call.func
            if id(call) in module_stmts or not isinstance(func, ast.Attribute):
                continue
            if _ast_name_in(func.value, aliases) or (
                func.attr == "update" and _ast_name_in(func.value, direct)
            ):
                return True
        if not aliases:
            return False
        for node in scan.of(ast.Subscript):
            if not isinstance(node.ctx, ast.Load) and _ast_name_in(node.value, aliases):
                return True
        return any(
            isinstance(aug.op, (ast.BitOr, ast.Add)) and _ast_name_in(aug.target, aliases)
            for aug in scan.of(ast.AugAssign)
        )

    def visit_Name(self, node: cst.Name) -> None:
        # only functions that name a module-level container can alias or mutate one: they
        # are collected during the shared walk and examined in finish()
        if node.value in self._module_containers():
            finfo = self.ctx.enclosing_function()
            if finfo is not None:
                self.__dict__.setdefault("_candidates", {})[id(finfo.node)] = finfo.node

    def finish(self) -> None:
        for fn in self.__dict__.get("_candidates", {}).values():
            if isinstance(fn, cst.FunctionDef):
                self._check_function(fn)

    def _check_function(self, node: cst.FunctionDef) -> None:
        fscope = self.ctx.model.scope_for(node)
        if fscope is None:
            return
        pattern = re.compile(self.option("default-name-pattern"))
        #: local alias name -> (global name, container kind, the Name node of G in `L = G`)
        active: dict[str, tuple[str, str, cst.Name]] = {}
        fixed: set[int] = set()
        for sub in iter_descendants(node.body, into_scopes=False):
            # 1. mutations (checked before the bindings of the same statement)
            hit = _mutation(sub)
            if hit is not None:
                target, op = hit
                if target in active:
                    g, kind, gnode = active[target]
                    fix = None
                    if id(gnode) not in fixed:
                        fix = self._fix(gnode, fscope)
                        fixed.add(id(gnode))
                    self.report(
                        sub,
                        f"'{target}' is the module-level object '{g}' (no copy); {op} mutates "
                        f"it for every later caller — copy it first ({_advice(g, kind)})",
                        fix,
                    )
                elif _direct_ok(sub, op, target) and pattern.search(target):
                    dkind = self._module_container(target, fscope)
                    if dkind is not None:
                        self.report(
                            sub,
                            f"'{op}' mutates the module-level object '{target}' for every later "
                            f"caller — copy it first ({_advice(target, dkind)})",
                        )
            # 2. bindings: start or end an alias
            for name, value in _bindings(sub):
                active.pop(name, None)
                if isinstance(value, cst.Name) and name in fscope.bindings:
                    akind = self._module_container(value.value, fscope)
                    if akind is not None:
                        active[name] = (value.value, akind, value)

    def _module_containers(self) -> frozenset[str]:
        """Module-level names bound once to a container display or constructor (computed once
        per file: the function walk below is skipped in files without any)."""
        cached: frozenset[str] | None = self.__dict__.get("_containers")
        if cached is None:
            names = set()
            for name, bindings in self.ctx.model.module_scope.bindings.items():
                if len(bindings) != 1 or (name.startswith("__") and name.endswith("__")):
                    continue
                v = bindings[0].value
                if isinstance(
                    v, (cst.Dict, cst.DictComp, cst.List, cst.ListComp, cst.Set, cst.SetComp)
                ) or (
                    isinstance(v, cst.Call)
                    and _CONTAINER_CALLS.get(
                        self.ctx.qualname_in(v.func, self.ctx.model.module_scope) or ""
                    )
                ):
                    names.add(name)
            cached = frozenset(names)
            self.__dict__["_containers"] = cached
        return cached

    def _module_container(self, name: str, scope: Scope) -> str | None:
        """The kind of a module-level name bound exactly once to a dict/list/set display or
        constructor call, as seen from ``scope``."""
        found = self.ctx.model.lookup(name, scope)
        if not found or len(found) != 1:
            return None
        b: Binding = found[0]
        if b.scope is None or b.scope.kind != "module" or b.kind not in ("assign", "annassign"):
            return None
        if b.unpacked or b.value is None:
            return None
        v = b.value
        if isinstance(v, (cst.Dict, cst.DictComp)):
            return "dict"
        if isinstance(v, (cst.List, cst.ListComp)):
            return "list"
        if isinstance(v, (cst.Set, cst.SetComp)):
            return "set"
        if isinstance(v, cst.Call):
            return _CONTAINER_CALLS.get(self.ctx.qualname_in(v.func, b.scope) or "")
        return None

    def _fix(self, gnode: cst.Name, fscope: Scope) -> Fix | None:
        plan = self.ctx.import_name("copy", "deepcopy")
        if plan is None:
            return None
        root = plan.local.split(".", 1)[0]
        if root in fscope.bindings:
            return None
        return Fix(FixSafety.UNSAFE, [(gnode, f"{plan.local}({gnode.value})")], [plan])


_CONTAINER_NAMES = frozenset({"dict", "list", "set"})


def _ast_name_in(expr: ast.expr | None, names: set[str]) -> bool:
    return isinstance(expr, ast.Name) and expr.id in names


def _advice(g: str, kind: str) -> str:
    if kind == "dict":
        return f"copy.deepcopy({g}) or {{**{g}, **overrides}}"
    return f"copy.deepcopy({g}) or {kind}({g})"


def _direct_ok(node: cst.CSTNode, op: str, target: str) -> bool:
    """``G.update(...)``, or ``G["key"] = v`` with a literal key (``REGISTRY[name] = cls``
    with a variable key is a registry, deliberately shared)."""
    if op == f"{target}.update(...)":
        return True
    if op != f"{target}[...] = ..." or not isinstance(node, cst.Assign):
        return False
    for t in node.targets:
        sub = t.target
        if isinstance(sub, cst.Subscript) and len(sub.slice) == 1:
            el = sub.slice[0].slice
            if isinstance(el, cst.Index) and isinstance(el.value, (cst.SimpleString, cst.Integer)):
                return True
    return False


def _mutation(node: cst.CSTNode) -> tuple[str, str] | None:
    """(mutated name, rendered operation)."""
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        recv = node.func.value
        method = node.func.attr.value
        if isinstance(recv, cst.Name) and method in _ALIAS_MUTATORS:
            return recv.value, f"{recv.value}.{method}(...)"
    elif isinstance(node, cst.Assign):
        for t in node.targets:
            sub = t.target
            if isinstance(sub, cst.Subscript) and isinstance(sub.value, cst.Name):
                return sub.value.value, f"{sub.value.value}[...] = ..."
    elif isinstance(node, cst.AugAssign):
        target = node.target
        op = cst.Module([]).code_for_node(node.operator).strip()
        if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
            return target.value.value, f"{target.value.value}[...] {op} ..."
        if isinstance(target, cst.Name) and op in ("|=", "+="):
            return target.value, f"{target.value} {op} ..."
    elif isinstance(node, cst.Del):
        deleted = node.target
        if isinstance(deleted, cst.Subscript) and isinstance(deleted.value, cst.Name):
            return deleted.value.value, f"del {deleted.value.value}[...]"
    return None


def _bindings(node: cst.CSTNode) -> list[tuple[str, cst.BaseExpression | None]]:
    """Names (re)bound by ``node`` with the bound value (None when not a plain value)."""
    out: list[tuple[str, cst.BaseExpression | None]] = []
    if isinstance(node, cst.Assign):
        for t in node.targets:
            plain = isinstance(t.target, cst.Name)
            for n in iter_names_in_target(t.target):
                out.append((n.value, node.value if plain else None))
    elif isinstance(node, cst.AnnAssign) and isinstance(node.target, cst.Name):
        out.append((node.target.value, node.value))
    elif isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Name):
        op = cst.Module([]).code_for_node(node.operator).strip()
        if op not in ("|=", "+="):
            out.append((node.target.value, None))
    elif isinstance(node, (cst.For, cst.CompFor)):
        out.extend((n.value, None) for n in iter_names_in_target(node.target))
    elif isinstance(node, cst.NamedExpr) and isinstance(node.target, cst.Name):
        out.append((node.target.value, None))
    elif isinstance(node, cst.AsName) and isinstance(node.name, cst.BaseExpression):
        out.extend((n.value, None) for n in iter_names_in_target(node.name))
    elif isinstance(node, cst.Del):
        out.extend((n.value, None) for n in iter_names_in_target(node.target))
    return out
