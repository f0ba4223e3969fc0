"""ML301 module-container-not-registered."""

from __future__ import annotations

import libcst as cst

from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics import kinds as K
from mllint.semantics.calledit import render_here
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
