"""ML301 module-container-not-registered."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, terminal_name
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.sklearn.unseeded_split import _torch_module_classes, _unstar
from mllint.semantics import kinds as K
from mllint.semantics.calledit import render_here
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import string_value
from mllint.semantics.scopes import ClassInfo, Scope
from mllint.semantics.walk import iter_descendants

#: containers that register what they hold
_REGISTERING = frozenset(
    {
        "torch.nn.Sequential",
        "torch.nn.ModuleList",
        "torch.nn.ModuleDict",
        "torch.nn.ParameterList",
        "torch.nn.ParameterDict",
        "torch.nn.modules.container.Sequential",
        "torch.nn.modules.container.ModuleList",
        "torch.nn.modules.container.ModuleDict",
    }
)
_DEEPCOPY = frozenset({"copy.deepcopy", "copy.copy"})
_COPY_NAMES = frozenset(q.rsplit(".", 1)[-1] for q in _DEEPCOPY)


class _ClassFacts:
    """Per class: ``registered`` = attributes handed to a registering container or referenced
    in a method that calls ``add_module``/``register_module``; ``filled`` = attributes that
    receive new modules through ``.append/.extend/.insert`` or ``self.<attr>[k] = ...``,
    mapped to whether every such key is a string literal without ``.``."""

    def __init__(self) -> None:
        self.registered: set[str] = set()
        self.filled: dict[str, bool] = {}


class ModuleContainerNotRegistered(Rule):
    """
    ## What it does
    In a class whose bases resolve to `torch.nn.Module` (also through same-module
    subclasses), flags `self.<attr> = V` in any method when V is a list or tuple display, a
    list comprehension, `list(...)`/`tuple(...)` or `[...] * n` whose elements are newly built
    modules (`nn.Linear(...)`, `Block(...)` for a same-module `nn.Module` subclass,
    `copy.deepcopy(<module>)`), a dict display or comprehension whose values are such modules,
    or an empty `[]`/`{}` that a method of the class later fills with
    `self.<attr>.append(<module>)`, `.extend([...])`, `.insert(i, <module>)` or
    `self.<attr>[k] = <module>`.

    ## Why is this bad?
    `nn.Module.__setattr__` registers only `Module`, `Parameter` and buffer values. A plain
    Python list, tuple or dict of modules is invisible to it: a module holding three
    `nn.Linear` layers in a list reports 0 parameters, so the optimizer never updates them,
    `state_dict()` does not save them, and `.to("cuda")`, `.train()` and `.eval()` do not
    reach them.

    ## Example
    ```python
    from torch import nn

    class MLP(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.layers = [nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])]
            self.heads = {"cls": nn.Linear(sizes[-1], 10)}
    ```

    ## Use instead
    ```python
    class MLP(nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
            self.heads = nn.ModuleDict({"cls": nn.Linear(sizes[-1], 10)})
    ```

    Not flagged: `nn.ModuleList/ModuleDict/Sequential/ParameterList(...)`; containers that
    are also passed (as `self.<attr>` or `*self.<attr>`) to `nn.Sequential/ModuleList/
    ModuleDict(...)` whose result is stored on `self`; attributes referenced in a method that
    registers modules itself with `self.add_module(...)`/`self.register_module(...)`; lists
    of existing modules (names, `self.<other>`), which are registered elsewhere or hidden on
    purpose; local variables; class-level attributes.

    ## Fix safety
    Unsafe: V is wrapped as `nn.ModuleList(V)` (lists, tuples, comprehensions) or
    `nn.ModuleDict(V)` (dict displays whose keys are all string literals without `.`);
    `[]` becomes `nn.ModuleList()` and `{}` becomes `nn.ModuleDict()` (only when every key
    stored into it is a string literal without `.`). The module's alias of `torch.nn` is
    used. The parameters are then trained, moved and saved, so `state_dict()` keys change and
    existing checkpoints no longer load with `strict=True`.
    """

    code = "ML301"
    name = "module-container-not-registered"
    summary = "`nn.Module` stores sub-modules in a plain list, tuple or dict"
    tier = 3
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("torch",)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._facts: dict[int, _ClassFacts] = {}

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a class that may be an nn.Module; `<name>.<attr> = V` where V is a container of
        # calls that may build modules (_container_shape's shapes), or an empty []/{} for an
        # attr that `<x>.<attr>.append/extend/insert(...)`/`<x>.<attr>[k] = ...` may fill
        classes = _torch_module_classes(scan, facts)
        if not classes:
            return False
        local = _module_makers(scan)
        filled: set[str] | None = None
        for assign in scan.of(ast.Assign):
            if len(assign.targets) != 1:
                continue
            target = assign.targets[0]
            if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)):
                continue
            shape = _ast_shape(assign.value, local)
            if shape is None:
                continue
            if not shape:
                return True
            if filled is None:
                filled = _ast_filled_attrs(scan, local)
            if target.attr in filled:
                return True
        return False

    def visit_Assign(self, node: cst.Assign) -> None:
        ctx = self.ctx
        if len(node.targets) != 1:
            return
        target = node.targets[0].target
        finfo = ctx.enclosing_function()
        cls = ctx.enclosing_class()
        if finfo is None or cls is None or finfo.self_name is None:
            return
        if not (
            isinstance(target, cst.Attribute)
            and isinstance(target.value, cst.Name)
            and target.value.value == finfo.self_name
        ):
            return
        if not ctx.kinds.is_torch_module_class(cls):
            return
        attr = target.attr.value
        value = node.value
        shape = self._container_shape(value, ctx.scope)
        if shape is None:
            return
        facts = self._class_facts(cls)
        if attr in facts.registered:
            return
        container, empty = shape
        if empty:
            if attr not in facts.filled:
                return
            fixable = container != "dict" or facts.filled[attr]
        else:
            fixable = container != "dict" or _str_keys(value)
        wrapper = "ModuleDict" if container == "dict" else "ModuleList"
        message = (
            f"self.{attr} is a plain {container} of modules: their parameters are not "
            "registered (missing from .parameters(), state_dict(), .to(device), "
            f"train()/eval()) — use nn.{wrapper}"
        )
        self.report(node, message, self._fix(value, wrapper, empty) if fixable else None)

    # -- the trigger -----------------------------------------------------------------------
    def _container_shape(self, value: cst.BaseExpression, scope: Scope) -> tuple[str, bool] | None:
        """(``list``/``tuple``/``dict``, is-empty) when ``value`` is a container of new
        modules (or an empty display)."""
        if isinstance(value, (cst.List, cst.Tuple)):
            if not value.elements:
                return ("list", True) if isinstance(value, cst.List) else None
            if all(
                isinstance(el, cst.Element) and self._new_module(el.value, scope)
                for el in value.elements
            ):
                if len(value.elements) == 1 and _is_copy(value.elements[0].value, self):
                    return None  # `[copy.deepcopy(model)]`: hidden from registration on purpose
                return ("list" if isinstance(value, cst.List) else "tuple", False)
            return None
        if isinstance(value, cst.Dict):
            if not value.elements:
                return ("dict", True)
            if all(
                isinstance(el, cst.DictElement) and self._new_module(el.value, scope)
                for el in value.elements
            ):
                return ("dict", False)
            return None
        if isinstance(value, (cst.ListComp, cst.GeneratorExp)):
            if isinstance(value, cst.ListComp) and self._new_module(value.elt, scope):
                return ("list", False)
            return None
        if isinstance(value, cst.DictComp):
            if self._new_module(value.value, scope):
                return ("dict", False)
            return None
        if isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Multiply):
            for side in (value.left, value.right):
                if isinstance(side, cst.List) and side.elements:
                    inner = self._container_shape(side, scope)
                    if inner is not None and not inner[1]:
                        return ("list", False)
            return None
        if isinstance(value, cst.Call) and len(value.args) == 1 and not value.args[0].keyword:
            q = self.ctx.qualname(value.func)
            if q in ("builtins.list", "builtins.tuple") and not value.args[0].star:
                arg = value.args[0].value
                if isinstance(arg, cst.GeneratorExp):
                    if self._new_module(arg.elt, scope):
                        return (q.rsplit(".", 1)[-1], False)
                    return None
                inner = self._container_shape(arg, scope)
                if inner is not None and not inner[1] and inner[0] != "dict":
                    return (q.rsplit(".", 1)[-1], False)
        return None

    def _new_module(self, expr: cst.BaseExpression, scope: Scope) -> bool:
        """A call that builds a new module: ``nn.X(...)``, ``LocalModule(...)``,
        ``copy.deepcopy(<module>)``."""
        if not isinstance(expr, cst.Call):
            return False
        q = self.ctx.qualname_in(expr.func, scope)
        if q in _DEEPCOPY:
            return bool(expr.args) and self.ctx.kind(expr.args[0].value, scope) == K.MODULE
        if q in _REGISTERING:
            return True  # an nn.Sequential(...) inside a plain list is still unregistered
        return self.ctx.kind(expr, scope) == K.MODULE

    # -- class-wide facts ------------------------------------------------------------------
    def _class_facts(self, cls: ClassInfo) -> _ClassFacts:
        facts = self._facts.get(id(cls))
        if facts is not None:
            return facts
        facts = _ClassFacts()
        self._facts[id(cls)] = facts
        ctx = self.ctx
        for method in cls.methods.values():
            mscope = ctx.model.scope_for(method)
            finfo = mscope.function_info if mscope is not None else None
            if mscope is None or finfo is None or finfo.self_name is None:
                continue
            me = finfo.self_name
            referenced: set[str] = set()
            registers = False
            for n in iter_descendants(method.body, into_scopes=False):
                if isinstance(n, cst.Attribute) and _is_self(n.value, me):
                    referenced.add(n.attr.value)
                if isinstance(n, cst.Call):
                    func = n.func
                    if (
                        isinstance(func, cst.Attribute)
                        and _is_self(func.value, me)
                        and func.attr.value in ("add_module", "register_module")
                    ):
                        registers = True
                    # self.<attr>.append(<module>) / .extend([...]) / .insert(i, <module>)
                    if (
                        isinstance(func, cst.Attribute)
                        and func.attr.value in ("append", "extend", "insert")
                        and isinstance(func.value, cst.Attribute)
                        and _is_self(func.value.value, me)
                        and n.args
                    ):
                        item = n.args[-1].value
                        attr = func.value.attr.value
                        if func.attr.value == "extend":
                            shape = self._container_shape(item, mscope)
                            if shape is not None and not shape[1]:
                                facts.filled.setdefault(attr, True)
                        elif self._new_module(item, mscope):
                            facts.filled.setdefault(attr, True)
                elif isinstance(n, cst.Assign):
                    value = n.value
                    if (
                        isinstance(value, cst.Call)
                        and any(
                            isinstance(t.target, cst.Attribute) and _is_self(t.target.value, me)
                            for t in n.targets
                        )
                        and ctx.qualname_in(value.func, mscope) in _REGISTERING
                    ):
                        for a in value.args:
                            for sub in [a.value, *iter_descendants(a.value)]:
                                if isinstance(sub, cst.Attribute) and _is_self(sub.value, me):
                                    facts.registered.add(sub.attr.value)
                    for t in n.targets:
                        tgt = t.target
                        if (
                            isinstance(tgt, cst.Subscript)
                            and isinstance(tgt.value, cst.Attribute)
                            and _is_self(tgt.value.value, me)
                            and self._new_module(n.value, mscope)
                        ):
                            attr = tgt.value.attr.value
                            key = tgt.slice[0].slice if len(tgt.slice) == 1 else None
                            ok = (
                                isinstance(key, cst.Index)
                                and (s := string_value(key.value)) is not None
                                and "." not in s
                            )
                            facts.filled[attr] = facts.filled.get(attr, True) and ok
            if registers:
                facts.registered.update(referenced)
        return facts

    # -- the fix ---------------------------------------------------------------------------
    def _fix(self, value: cst.BaseExpression, wrapper: str, empty: bool) -> Fix | None:
        plan = self.ctx.import_name("torch", "nn")
        if plan is None:
            return None
        func = cst.parse_expression(f"{plan.local}.{wrapper}")
        if empty:
            new: cst.BaseExpression = cst.Call(func=func)
        elif isinstance(value, cst.Call) and isinstance(value.args[0].value, cst.GeneratorExp):
            new = value.with_changes(func=func)
        else:
            new = cst.Call(func=func, args=[cst.Arg(value)])
        return Fix(FixSafety.UNSAFE, [(value, render_here(self.ctx, new))], [plan])


# -- the ast pre-scan ---------------------------------------------------------------------------
def _module_makers(scan: Scan) -> frozenset[str]:
    """Lower-case callee names that may still build a module: same-file classes and import
    aliases of a capitalised class or of ``copy.deepcopy``/``copy.copy``."""
    out = {c.name for c in scan.of(ast.ClassDef)}
    for imp in scan.of(ast.ImportFrom, ast.Import):
        for alias in imp.names:
            last = alias.name.rsplit(".", 1)[-1]
            if alias.asname and (last[:1].isupper() or last in _COPY_NAMES):
                out.add(alias.asname)
    return frozenset(out)


def _ast_new_module(expr: ast.expr, local: frozenset[str]) -> bool:
    """A call that may build a module (:meth:`ModuleContainerNotRegistered._new_module`): of a
    capitalised class (``nn.Linear``, ``nn.Sequential``), ``copy.deepcopy``/``copy.copy``, or
    a name of ``local`` (:func:`_module_makers`)."""
    if not isinstance(expr, ast.Call):
        return False
    name = terminal_name(expr.func)
    return name is not None and (name[:1].isupper() or name in local or name in _COPY_NAMES)


def _ast_shape(value: ast.expr, local: frozenset[str]) -> bool | None:
    """Like :meth:`ModuleContainerNotRegistered._container_shape`: None (no container of
    new modules), False (non-empty) or True (empty)."""
    if isinstance(value, (ast.List, ast.Tuple)):
        if not value.elts:
            return True if isinstance(value, ast.List) else None
        return False if all(_ast_new_module(e, local) for e in value.elts) else None
    if isinstance(value, ast.Dict):
        if not value.keys:
            return True
        ok = all(k is not None for k in value.keys) and all(
            _ast_new_module(v, local) for v in value.values
        )
        return False if ok else None
    if isinstance(value, ast.ListComp):
        return False if _ast_new_module(value.elt, local) else None
    if isinstance(value, ast.DictComp):
        return False if _ast_new_module(value.value, local) else None
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Mult):
        for side in (value.left, value.right):
            if isinstance(side, ast.List) and side.elts and _ast_shape(side, local) is False:
                return False
        return None
    if isinstance(value, ast.Call) and len(value.args) == 1 and not value.keywords:
        arg = value.args[0]
        if isinstance(arg, ast.GeneratorExp):
            return False if _ast_new_module(arg.elt, local) else None
        if isinstance(arg, ast.Dict):
            return None
        return False if _ast_shape(arg, local) is False else None
    return None


def _ast_filled_attrs(scan: Scan, local: frozenset[str]) -> set[str]:
    """Attributes that may be filled with new modules: ``<x>.<attr>.append/insert(<call>)``,
    ``<x>.<attr>.extend(<container of calls>)`` and ``<x>.<attr>[k] = <call>``."""
    out: set[str] = set()
    for call in scan.calls("append", "extend", "insert"):
        func = call.func
        if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Attribute)):
            continue
        values = [*call.args, *(k.value for k in call.keywords)]
        if func.attr == "extend":
            hit = any(_ast_shape(_unstar(v), local) is False for v in values)
        else:
            hit = any(_ast_new_module(_unstar(v), local) for v in values)
        if hit:
            out.add(func.value.attr)
    for assign in scan.of(ast.Assign):
        if not _ast_new_module(assign.value, local):
            continue
        for t in assign.targets:
            if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Attribute):
                out.add(t.value.attr)
    return out


def _is_self(node: cst.BaseExpression, me: str) -> bool:
    return isinstance(node, cst.Name) and node.value == me


def _is_copy(expr: cst.BaseExpression, rule: ModuleContainerNotRegistered) -> bool:
    return isinstance(expr, cst.Call) and rule.ctx.qualname(expr.func) in _DEEPCOPY


def _str_keys(value: cst.BaseExpression) -> bool:
    if not isinstance(value, cst.Dict):
        return False
    for el in value.elements:
        if not isinstance(el, cst.DictElement):
            return False
        s = string_value(el.key)
        if s is None or "." in s:
            return False
    return True
