"""ML002 lru-cache-on-method."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, scope_statements
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import block_indents, code_in_block, dotted_name, string_value
from mllint.semantics.scopes import ClassInfo

_CACHE_DECORATORS = frozenset({"functools.lru_cache", "functools.cache", "async_lru.alru_cache"})
_STATIC_OR_CLASS = frozenset({"builtins.staticmethod", "builtins.classmethod"})
_ENUM_BASES = frozenset(
    {"enum.Enum", "enum.IntEnum", "enum.StrEnum", "enum.Flag", "enum.IntFlag", "enum.ReprEnum"}
)
#: attrs class decorators that create slotted classes unless ``slots=False``
_ATTRS_SLOTTED = frozenset(
    {
        "attr.define", "attr.mutable", "attr.frozen", "attrs.define", "attrs.mutable",
        "attrs.frozen",
    }
)  # fmt: skip
_SLOTS_KEYWORD_DECORATORS = frozenset({"dataclasses.dataclass", "attr.s", "attr.attrs", "attrs.s"})


class LruCacheOnMethod(Rule):
    """
    ## What it does
    Flags `functools.lru_cache`, `functools.cache` (and `async_lru.alru_cache`) used as a
    decorator on a method: a `def`/`async def` directly in a class body that is not a
    `staticmethod` or `classmethod`, also when stacked with `@property`.

    ## Why is this bad?
    `self` becomes part of the cache key, so the cache (one per class, stored on the function
    object) holds a strong reference to every instance it has seen, and through it the
    instance's tensors, DataFrames and GPU memory, until the entry is evicted. With `@cache`
    or `maxsize=None` that is never; a bounded `lru_cache` keeps instances alive only until
    their entries are evicted (so "the object is never garbage collected" is true only for
    unbounded caches). All instances also compete for the same `maxsize` slots, and
    equal-but-distinct instances (e.g. frozen dataclasses) share entries.

    ## Example
    ```python
    class ImageLoader:
        def __init__(self, root):
            self.root = root

        @functools.lru_cache(maxsize=256)
        def load(self, image_id):
            return np.asarray(Image.open(f"{self.root}/{image_id}.png"))

        @property
        @functools.cache
        def index(self):
            return sorted(os.listdir(self.root))
    ```

    ## Use instead
    ```python
    class ImageLoader:
        def __init__(self, root):
            self.root = root
            self.load = functools.lru_cache(maxsize=256)(self._load)  # per-instance cache

        def _load(self, image_id):
            return np.asarray(Image.open(f"{self.root}/{image_id}.png"))

        @functools.cached_property
        def index(self):
            return sorted(os.listdir(self.root))
    ```

    Or move the cached computation to a module-level function keyed on hashable arguments.
    Methods of `enum.Enum` subclasses are not flagged (members are singletons).

    ## Fix safety
    Unsafe, and only for a `@property` stacked directly on the cache decorator of a method
    whose only parameter is `self`: both decorators become `@functools.cached_property`
    (reusing an existing `functools` alias or a `from functools import` style). The cache
    becomes per-instance (equal instances no longer share results) and can no longer be
    cleared with `cache_clear()`. The fix is skipped when the class (or a same-module base)
    has `__slots__` without `"__dict__"` or is a slotted dataclass/attrs class, when the
    property has a setter or deleter, when `cache_clear`/`cache_info` is used on it, and for
    `async def`. Every other shape has no fix: build a per-instance cache in `__init__`, use
    `cached_property` for zero-argument methods (which changes call sites from `obj.f()` to
    `obj.f`), or use a module-level cache keyed on hashable arguments.
    """

    code = "ML002"
    name = "lru-cache-on-method"
    summary = (
        "`functools.lru_cache`/`cache` on an instance method keeps every `self` alive in one "
        "class-wide cache"
    )
    tier = 1
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("cache",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a function in a class body with a decorator rooted at a name an import binds to
        # functools (or async_lru), its cache functions or a module containing them
        bound = _import_locals(scan, facts, _CACHE_DECORATORS)
        if not bound:
            return False
        for klass in scan.of(ast.ClassDef):
            for fn in _class_functions(klass.body):
                if _decorated_from(fn, bound):
                    return True
        return False

    def _decorator_qualname(self, dec: cst.Decorator) -> str | None:
        expr = dec.decorator
        if isinstance(expr, cst.Call):
            expr = expr.func
        return self.ctx.qualname(expr)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        scope = self.ctx.scope
        if scope.kind != "class" or scope.class_info is None or not node.decorators:
            return
        quals = [self._decorator_qualname(d) for d in node.decorators]
        cache_at = [i for i, q in enumerate(quals) if q in _CACHE_DECORATORS]
        if not cache_at:
            return
        if any(
            q in _STATIC_OR_CLASS or dotted_name(d.decorator) in ("staticmethod", "classmethod")
            for q, d in zip(quals, node.decorators, strict=True)
        ):
            return
        cls = scope.class_info
        if any(q in _ENUM_BASES for q in self.ctx.class_bases(cls)):
            return
        for i in cache_at:
            dec = node.decorators[i]
            fix = None
            if i > 0 and quals[i - 1] == "builtins.property" and len(cache_at) == 1:
                fix = self._fix(node, cls, i)
            shown = self.ctx.snippet(dec.decorator, 50)
            self.report(
                dec,
                f"@{shown} on method '{node.name.value}' caches on self: instances stay alive "
                "until evicted (forever with maxsize=None) and the cache is shared by all "
                "instances",
                fix,
            )

    # -- the fix ---------------------------------------------------------------------------
    def _fix(self, node: cst.FunctionDef, cls: ClassInfo, cache_index: int) -> Fix | None:
        ctx = self.ctx
        name = node.name.value
        if node.asynchronous is not None or not _only_self(node.params):
            return None
        if ctx.facts.min_python is not None and ctx.facts.min_python < (3, 8):
            return None
        if self._has_no_instance_dict(cls, set()):
            return None
        if _has_accessor(cls, name):
            return None
        if re.search(rf"\b{re.escape(name)}\b[^\n]*\bcache_(?:clear|info)\b", ctx.source):
            return None
        plan = ctx.import_name("functools", "cached_property")
        if plan is None:
            return None
        prop = node.decorators[cache_index - 1]
        cache = node.decorators[cache_index]
        leading = [*prop.leading_lines, *cache.leading_lines]
        trailing = prop.trailing_whitespace
        if cache.trailing_whitespace.comment is not None:
            if trailing.comment is not None:
                # keep the @property line's comment on a line of its own above
                leading.append(cst.EmptyLine(indent=True, comment=trailing.comment))
            trailing = cache.trailing_whitespace
        new_dec = prop.with_changes(
            decorator=cst.parse_expression(plan.local),
            leading_lines=leading,
            trailing_whitespace=trailing,
        )
        decorators = [
            *node.decorators[: cache_index - 1],
            new_dec,
            *node.decorators[cache_index + 1 :],
        ]
        new_node = node.with_changes(decorators=decorators)
        text = code_in_block(ctx.module, new_node, block_indents(ctx.module, ctx.stack[:-1]))
        return Fix(FixSafety.UNSAFE, [(node, text)], [plan])

    def _has_no_instance_dict(self, cls: ClassInfo, seen: set[int]) -> bool:
        """``__slots__`` without ``"__dict__"`` (here or in a same-module base), or a slotted
        dataclass/attrs class: ``cached_property`` needs an instance ``__dict__``."""
        if id(cls) in seen:
            return False
        seen.add(id(cls))
        for b in cls.scope.bindings.get("__slots__", []):
            if not _slots_have_dict(b.value):
                return True
        parent = cls.scope.parent or cls.scope
        for dec in cls.node.decorators:
            expr = dec.decorator
            call = expr if isinstance(expr, cst.Call) else None
            q = self.ctx.qualname_in(call.func if call else expr, parent)
            slots_kw = _keyword_bool(call, "slots") if call else None
            if q in _SLOTS_KEYWORD_DECORATORS and slots_kw is True:
                return True
            if q in _ATTRS_SLOTTED and slots_kw is not False:
                return True
        for base in cls.bases:
            if isinstance(base, cst.Name):
                other = self.ctx.kinds.local_class(base.value, parent)
                if other is not None and self._has_no_instance_dict(other, seen):
                    return True
        return False


def _only_self(params: cst.Parameters) -> bool:
    ordered = [*params.posonly_params, *params.params]
    return (
        len(ordered) == 1
        and ordered[0].default is None
        and not params.kwonly_params
        and not isinstance(params.star_arg, cst.Param)
        and params.star_kwarg is None
    )


def _slots_have_dict(value: cst.BaseExpression | None) -> bool:
    if value is None:
        return False
    if isinstance(value, (cst.Tuple, cst.List, cst.Set)):
        return any(string_value(el.value) == "__dict__" for el in value.elements)
    if isinstance(value, cst.Dict):
        return any(
            isinstance(el, cst.DictElement) and string_value(el.key) == "__dict__"
            for el in value.elements
        )
    return string_value(value) == "__dict__"


def _keyword_bool(call: cst.Call, keyword: str) -> bool | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            if isinstance(arg.value, cst.Name) and arg.value.value in ("True", "False"):
                return arg.value.value == "True"
            return True  # not a literal: assume slots
    return None


def _has_accessor(cls: ClassInfo, name: str) -> bool:
    """``@<name>.setter`` / ``.deleter`` in the class body."""
    for b in cls.scope.bindings.get(name, []):
        node = b.node
        if not isinstance(node, cst.FunctionDef):
            continue
        for dec in node.decorators:
            d = dotted_name(dec.decorator)
            if d in (f"{name}.setter", f"{name}.deleter"):
                return True
    return False


# -- ast pre-scan helpers (shared by the general rules' gates) --------------------------------
def _related(qual: str, targets: Iterable[str]) -> bool:
    """``qual`` is one of ``targets``, a module containing one, or something inside one."""
    return any(qual == t or t.startswith(qual + ".") or qual.startswith(t + ".") for t in targets)


def _import_locals(scan: Scan, facts: FileFacts, targets: Iterable[str]) -> set[str]:
    """Local names that an import (anywhere in the file) binds to a qualified name related
    to ``targets`` (see :func:`_related`), as the semantic model binds them: the only names
    through which ``ctx.qualname`` can resolve a Name/Attribute chain to one of ``targets``
    (apart from the builtins, which resolve unbound)."""
    return {
        local
        for local, quals in scan.import_bindings(facts.package).items()
        if any(_related(q, targets) for q in quals)
    }


def _root_name(expr: ast.expr) -> str | None:
    """``a`` for ``a``, ``a.b.c`` (and for the callee of ``a.b(...)``); None otherwise."""
    if isinstance(expr, ast.Call):
        expr = expr.func
    while isinstance(expr, ast.Attribute):
        expr = expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def _decorated_from(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, roots: set[str]
) -> bool:
    """A decorator (bare or called) whose Name/Attribute chain starts at one of ``roots``."""
    return any(_root_name(d) in roots for d in node.decorator_list)


def _class_functions(
    body: list[ast.stmt],
) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Functions whose scope is the class of ``body``: defined in it directly or under
    ``if``/``try``/``with``/``for``/``while``/``match`` (not in nested functions or classes)."""
    for stmt in scope_statements(body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield stmt
