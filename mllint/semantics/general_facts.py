"""Facts shared by the general-Python rules (ML003-ML008): cache-decorator recognition and
the classification of values that create a mutable (or unhashable) object.

The mutable-constructor tables are ML001's (``mllint.rules.general.mutable_default``); they are
reused here unchanged so that ML001, ML006 and ML007 agree on what "mutable" means.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from mllint.semantics import kinds as K
from mllint.semantics.cstutil import attr_name

if TYPE_CHECKING:
    from mllint.semantics.context import FileContext
    from mllint.semantics.scopes import Scope

#: decorators that memoise on the hashed arguments (ML003, ML004)
CACHE_DECORATORS = frozenset({"functools.lru_cache", "functools.cache"})

DISPLAYS = (cst.List, cst.Dict, cst.Set, cst.ListComp, cst.DictComp, cst.SetComp)

#: ``list``/``dict``/``set`` and their subclasses: rejected by ``dataclasses`` on every Python
BUILTIN_CONTAINER_CALLS = frozenset(
    {
        "builtins.list",
        "builtins.dict",
        "builtins.set",
        "collections.defaultdict",
        "collections.OrderedDict",
        "collections.Counter",
    }
)
#: other containers (unhashable, but not list/dict/set subclasses)
OTHER_CONTAINER_CALLS = frozenset(
    {
        "builtins.bytearray",
        "collections.deque",
        "collections.ChainMap",
        "collections.UserDict",
        "collections.UserList",
        "array.array",
    }
)

#: value categories of :func:`mutable_value_category`
CONTAINER = "container"  # list/dict/set display, comprehension or constructor (or subclass)
UNHASHABLE = "unhashable"  # ndarray, DataFrame, Series, deque, bytearray, ...
HASHABLE = "hashable"  # tensor, nn.Parameter, stateful nn.Module, estimator: hashed by identity

_MODEL_SUFFIXES = ("Model", "Classifier", "Regressor", "Estimator")


def cache_decorator(
    ctx: FileContext, node: cst.FunctionDef, scope: Scope
) -> tuple[cst.Decorator, str] | None:
    """The ``functools.lru_cache``/``cache`` decorator of ``node`` (bare or called, any alias)
    and its qualified name; ``scope`` is the scope the ``def`` statement is in."""
    for dec in node.decorators:
        expr = dec.decorator
        if isinstance(expr, cst.Call):
            expr = expr.func
        q = ctx.qualname_in(expr, scope)
        if q in CACHE_DECORATORS:
            return dec, q
    return None


def mutable_value_category(
    ctx: FileContext, expr: cst.BaseExpression, scope: Scope, *, models: bool = True
) -> str | None:
    """Classify a value expression that creates a fresh mutable object (ML001 items 1-7):
    :data:`CONTAINER`, :data:`UNHASHABLE`, :data:`HASHABLE`, or None (immutable/unknown).
    Only the outermost node is classified. ``models=False`` leaves out items 5-7 (tensors,
    modules, estimators)."""
    from mllint.rules.general.mutable_default import mutable_constructor

    if isinstance(expr, DISPLAYS):
        return CONTAINER
    if not isinstance(expr, cst.Call):
        return None
    q = ctx.qualname_in(expr.func, scope)
    if q is not None:
        if q in BUILTIN_CONTAINER_CALLS:
            return CONTAINER
        if q in OTHER_CONTAINER_CALLS:
            return UNHASHABLE
        mod = q.rpartition(".")[0]
        if mutable_constructor(q):
            if mod in ("numpy", "numpy.random") or q.startswith("pandas."):
                return UNHASHABLE
            return HASHABLE if models else None
    if not models:
        return None
    if ctx.kind(expr, scope) == K.ESTIMATOR:
        return HASHABLE
    if model_like_class(ctx, expr.func, scope):
        return HASHABLE
    return None


def model_like_class(ctx: FileContext, func: cst.BaseExpression, scope: Scope) -> bool:
    """``RandomForestModel()``: a same-module or relatively imported class named like a model
    (ML001 item 7)."""
    last = attr_name(func)
    if last is None or not last[:1].isupper() or not last.endswith(_MODEL_SUFFIXES):
        return False
    root = func
    while isinstance(root, cst.Attribute):
        root = root.value
    if not isinstance(root, cst.Name):
        return False
    if root is func and ctx.kinds.local_class(root.value, scope) is not None:
        return True
    bindings = ctx.bindings(root.value, scope)
    return bool(bindings) and all(
        b.kind == "import" and isinstance(b.node, cst.ImportFrom) and bool(b.node.relative)
        for b in bindings
    )


def annotation_elements(
    ctx: FileContext, ann: cst.BaseExpression, scope: Scope
) -> list[cst.BaseExpression]:
    """The alternatives of an annotation: ``Optional[X]``, ``Union[X, Y]``, ``X | None``,
    ``Annotated[X, ...]`` and string annotations are opened; ``None`` is dropped."""
    if isinstance(ann, cst.SimpleString):
        try:
            text = ann.evaluated_value
            parsed = cst.parse_expression(text) if isinstance(text, str) else None
        except Exception:
            return []
        return annotation_elements(ctx, parsed, scope) if parsed is not None else []
    if isinstance(ann, cst.BinaryOperation) and isinstance(ann.operator, cst.BitOr):
        return annotation_elements(ctx, ann.left, scope) + annotation_elements(
            ctx, ann.right, scope
        )
    if isinstance(ann, cst.Name) and ann.value == "None":
        return []
    if isinstance(ann, cst.Subscript):
        q = ctx.qualname_in(ann.value, scope)
        last = attr_name(ann.value)
        elements = [el.slice.value for el in ann.slice if isinstance(el.slice, cst.Index)]
        if q in ("typing.Optional", "typing_extensions.Optional") or (
            q is None and last == "Optional"
        ):
            return [x for e in elements for x in annotation_elements(ctx, e, scope)]
        if q in ("typing.Union", "typing_extensions.Union") or (q is None and last == "Union"):
            return [x for e in elements for x in annotation_elements(ctx, e, scope)]
        if (
            q in ("typing.Annotated", "typing_extensions.Annotated")
            or (q is None and last == "Annotated")
        ) and elements:
            return annotation_elements(ctx, elements[0], scope)
    return [ann]
