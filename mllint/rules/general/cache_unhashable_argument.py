"""ML003 cache-unhashable-argument."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Rule
from mllint.rules.general.lru_cache_method import _decorated_from, _import_locals
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import attr_name
from mllint.semantics.general_facts import (
    CACHE_DECORATORS,
    annotation_elements,
    cache_decorator,
)
from mllint.semantics.scopes import Scope, all_params

#: annotations (qualified names) whose values are unhashable
_UNHASHABLE_ANNOTATIONS: dict[str, str] = {
    "builtins.list": "list",
    "typing.List": "list",
    "builtins.dict": "dict",
    "typing.Dict": "dict",
    "typing.DefaultDict": "dict",
    "collections.defaultdict": "dict",
    "collections.OrderedDict": "dict",
    "builtins.set": "set",
    "typing.Set": "set",
    "builtins.bytearray": "bytearray",
    "numpy.ndarray": "ndarray",
    "numpy.typing.NDArray": "ndarray",
    "pandas.DataFrame": "DataFrame",
    "pandas.core.frame.DataFrame": "DataFrame",
    "pandas.Series": "Series",
    "pandas.core.series.Series": "Series",
    "pandas.Index": "Index",
    "jax.Array": "jax.Array",
    "jax.numpy.ndarray": "jax.Array",
}
_TENSOR_ANNOTATIONS = frozenset({"torch.Tensor"})
#: kinds of call arguments that make the call fail (or, for tensors, go stale)
_UNHASHABLE_KINDS = frozenset({K.NDARRAY, K.DATAFRAME, K.SERIES, K.LIST, K.DICT, K.SET})

_UNHASHABLE_REASON = "unhashable → TypeError at call"
_TENSOR_REASON = "Tensor hashes by identity → stale results after in-place updates"


class CacheUnhashableArgument(Rule):
    """
    ## What it does
    Flags functions decorated with `functools.lru_cache` or `functools.cache` that take
    unhashable arguments: a parameter annotated `list`, `dict`, `set`, `bytearray`,
    `np.ndarray`/`NDArray[...]`, `pd.DataFrame`, `pd.Series`, `pd.Index`, `jax.Array` or
    `torch.Tensor` (also inside `Optional[...]`, `Union[...]`, `X | None` and string
    annotations), and calls of a cached function in the same module that pass a list, dict or
    set display, an array, frame or tensor constructor, or a name holding one.

    ## Why is this bad?
    `lru_cache` hashes every argument. Lists, dicts, ndarrays and DataFrames are unhashable:
    the call raises `TypeError: unhashable type: 'numpy.ndarray'`, typically deep inside a
    training job. `torch.Tensor` *is* hashable, but by identity: after an in-place update
    (`t += 1`) the cached function returns the old result, and the cache keeps the tensor
    alive.

    ## Example
    ```python
    from functools import lru_cache
    import numpy as np

    @lru_cache(maxsize=1024)
    def embed(tokens: list[str]) -> np.ndarray:
        ...

    @lru_cache
    def row_norms(X: np.ndarray) -> np.ndarray:
        return np.linalg.norm(X, axis=1)
    ```

    ## Use instead
    ```python
    @lru_cache(maxsize=1024)
    def embed(tokens: tuple[str, ...]) -> np.ndarray:
        ...

    def row_norms(X: np.ndarray) -> np.ndarray:  # cheap: do not cache
        return np.linalg.norm(X, axis=1)
    ```

    To cache on an array, key on `(arr.shape, arr.dtype.str, arr.tobytes())` (the bytes alone
    ignore shape and dtype, so `zeros((2, 3))` and `zeros((3, 2))` would collide), or use
    `joblib.Memory`.

    ## Fix safety
    There is no fix: the right hashable key depends on the function.
    """

    code = "ML003"
    name = "cache-unhashable-argument"
    summary = "A `lru_cache`/`cache` function takes arrays, frames, lists or tensors"
    tier = 2
    requires_text = ("cache",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a function with a decorator rooted at a name an import binds to functools (or its
        # cache functions) that has an annotated parameter or whose name is called with
        # arguments
        bound = _import_locals(scan, facts, CACHE_DECORATORS)
        if not bound:
            return False
        called: set[str] | None = None
        for fn in scan.functions():
            if not _decorated_from(fn, bound):
                continue
            a = fn.args
            if any(
                p is not None and p.annotation is not None
                for p in (*a.posonlyargs, *a.args, a.vararg, *a.kwonlyargs, a.kwarg)
            ):
                return True
            if called is None:
                called = {
                    c.func.id
                    for c in scan.of(ast.Call)
                    if isinstance(c.func, ast.Name) and (c.args or c.keywords)
                }
            if fn.name in called:
                return True
        return False

    # -- (a) annotated parameters ------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if not node.decorators:
            return
        scope = self.ctx.scope
        if cache_decorator(self.ctx, node, scope) is None:
            return
        skip_first = scope.kind == "class" and not _is_static(node)
        params = all_params(node.params)
        ordered = [*node.params.posonly_params, *node.params.params]
        for p in params:
            if p.annotation is None or p.name.value in ("self", "cls"):
                continue
            if skip_first and ordered and p is ordered[0]:
                continue
            found = self._unhashable_annotation(p.annotation.annotation, scope)
            if found is None:
                continue
            type_name, reason = found
            self.report(p, self._message(node.name.value, p.name.value, type_name, reason))

    def _unhashable_annotation(
        self, ann: cst.BaseExpression, scope: Scope
    ) -> tuple[str, str] | None:
        tensor: tuple[str, str] | None = None
        for el in annotation_elements(self.ctx, ann, scope):
            target = el.value if isinstance(el, cst.Subscript) else el
            q = self.ctx.qualname_in(target, scope)
            if q is None:
                continue
            if q in _UNHASHABLE_ANNOTATIONS:
                return self.ctx.snippet(el, 40), _UNHASHABLE_REASON
            if q in _TENSOR_ANNOTATIONS and tensor is None:
                tensor = (self.ctx.snippet(el, 40), _TENSOR_REASON)
        return tensor

    # -- (b) calls in the same module ---------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Name) or not node.args:
            return
        bindings = self.ctx.bindings(func.value)
        if len(bindings) != 1 or bindings[0].kind != "def":
            return
        target = bindings[0].node
        if not isinstance(target, cst.FunctionDef) or not target.decorators:
            return
        def_scope = bindings[0].scope
        if def_scope is None or cache_decorator(self.ctx, target, def_scope) is None:
            return
        positional = [*target.params.posonly_params, *target.params.params]
        if def_scope.kind == "class":
            return  # methods are called through an instance, not by name
        index = 0
        pname: str | None
        for arg in node.args:
            if arg.star:
                if arg.keyword is None and arg.star == "*":
                    return  # positions of the following arguments are unknown
                continue
            if arg.keyword is not None:
                pname = arg.keyword.value
            else:
                pname = positional[index].name.value if index < len(positional) else None
                index += 1
            kind = self._argument_kind(arg.value)
            if kind is None:
                continue
            shown = pname if pname is not None else self.ctx.snippet(arg.value, 30)
            reason = _TENSOR_REASON if kind == K.TENSOR else _UNHASHABLE_REASON
            self.report(arg.value, self._message(func.value, shown, kind, reason))

    def _argument_kind(self, expr: cst.BaseExpression) -> str | None:
        if isinstance(expr, (cst.Tuple, cst.GeneratorExp)):
            return None
        if isinstance(expr, (cst.Call, cst.Attribute)) and attr_name(
            expr.func if isinstance(expr, cst.Call) else expr
        ) in ("tobytes", "item"):
            return None
        kind = self.ctx.kind(expr)
        if kind == K.SET and self._frozen(expr):
            return None
        if kind in _UNHASHABLE_KINDS or kind == K.TENSOR:
            return kind
        return None

    def _frozen(self, expr: cst.BaseExpression) -> bool:
        """``frozenset(...)`` (kind set, but hashable), or a name only bound to one."""
        if isinstance(expr, cst.Call):
            return self.ctx.qualname(expr.func) == "builtins.frozenset"
        if isinstance(expr, cst.Name):
            found = self.ctx.bindings(expr.value)
            return bool(found) and all(
                isinstance(b.value, cst.Call)
                and self.ctx.qualname_in(b.value.func, b.scope or self.ctx.scope)
                == "builtins.frozenset"
                for b in found
            )
        return False

    @staticmethod
    def _message(func: str, param: str, type_name: str, reason: str) -> str:
        return f"Cached function '{func}' takes '{param}' of type {type_name}: {reason}"


def _is_static(node: cst.FunctionDef) -> bool:
    for dec in node.decorators:
        expr = dec.decorator
        name = attr_name(expr.func if isinstance(expr, cst.Call) else expr)
        if name == "staticmethod":
            return True
    return False
