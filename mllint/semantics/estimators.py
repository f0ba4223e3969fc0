"""Facts about scikit-learn estimator classes defined in the analysed module (RULES.md §7).

"sklearn estimator class" = a class whose bases resolve (transitively within the module) to
``sklearn.base.BaseEstimator``, a ``sklearn.base.*Mixin``, or a public estimator class of
scikit-learn (``class MyForest(RandomForestClassifier)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from mllint.semantics.kinds import is_estimator_class
from mllint.semantics.scopes import ClassInfo

if TYPE_CHECKING:
    from mllint.semantics.context import FileContext

__all__ = [
    "FRAMEWORK_MODEL_PREFIXES",
    "has_framework_model_base",
    "init_params",
    "is_sklearn_base",
    "is_sklearn_estimator_class",
    "own_init",
    "self_attribute_refs",
]

#: bases whose ``fit`` follows another contract (keras returns a History, Lightning/torch
#: modules are not estimators)
FRAMEWORK_MODEL_PREFIXES = (
    "keras.",
    "tensorflow.",
    "tf_keras.",
    "lightning.",
    "pytorch_lightning.",
    "lightning_fabric.",
    "torch.",
)


def may_subclass_sklearn(source: str) -> bool:
    """The text pre-scan of the estimator-class rules (ML502-ML504): the file names sklearn,
    or imports relatively. Inside scikit-learn (or a package vendoring it) the base classes
    come in as ``from ..base import BaseEstimator``; the ast gates resolve those."""
    return "sklearn" in source or "from ." in source


def is_sklearn_base(q: str) -> bool:
    """``sklearn.base.BaseEstimator``, ``sklearn.base.*Mixin`` or a public estimator class."""
    if q == "sklearn.base.BaseEstimator":
        return True
    if q.startswith("sklearn.base.") and q.endswith("Mixin"):
        return True
    return q.startswith("sklearn.") and is_estimator_class(q)


def is_sklearn_estimator_class(ctx: FileContext, cls: ClassInfo) -> bool:
    return any(is_sklearn_base(q) for q in ctx.class_bases(cls))


def has_framework_model_base(ctx: FileContext, cls: ClassInfo) -> bool:
    """A base resolves into keras/TensorFlow/Lightning/torch (or the class is an nn.Module)."""
    if ctx.kinds.is_torch_module_class(cls):
        return True
    return any(q.startswith(FRAMEWORK_MODEL_PREFIXES) for q in ctx.class_bases(cls))


def own_init(cls: ClassInfo) -> cst.FunctionDef | None:
    """The ``__init__`` defined directly in the class body."""
    node = cls.methods.get("__init__")
    return node if isinstance(node, cst.FunctionDef) else None


def init_params(init: cst.FunctionDef) -> list[cst.Param]:
    """The named parameters of ``__init__`` after ``self`` (positional and keyword-only),
    without ``*args``/``**kwargs``."""
    params = init.params
    ordered = [*params.posonly_params, *params.params]
    return [*ordered[1:], *params.kwonly_params]


def self_attribute_refs(
    ctx: FileContext, cls: ClassInfo, attr: str
) -> list[tuple[str, cst.Attribute, bool]]:
    """Every ``<self>.<attr>`` in the methods of ``cls`` (also inside nested functions and
    lambdas of a method), in source order: (method name, the Attribute node, is-a-write).
    A write is the target of ``=``/annotated assignment (``+=`` counts as a read)."""
    from mllint.semantics.walk import iter_descendants

    out: list[tuple[str, cst.Attribute, bool]] = []
    for name, method in cls.methods.items():
        scope = ctx.model.scope_for(method)
        me = scope.function_info.self_name if scope and scope.function_info else None
        if me is None:
            continue
        writes: set[int] = set()
        for n in iter_descendants(method.body):
            if isinstance(n, cst.Assign):
                for t in n.targets:
                    writes.update(id(x) for x in _target_attributes(t.target))
            elif isinstance(n, cst.AnnAssign):
                writes.add(id(n.target))
            elif (
                isinstance(n, cst.Attribute)
                and n.attr.value == attr
                and isinstance(n.value, cst.Name)
                and n.value.value == me
            ):
                out.append((name, n, id(n) in writes))
    return out


def _target_attributes(target: cst.BaseExpression) -> list[cst.Attribute]:
    """Attributes rebound by an assignment target (recursing into tuple/list unpacking)."""
    if isinstance(target, cst.Attribute):
        return [target]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [a for el in target.elements for a in _target_attributes(el.value)]
    if isinstance(target, cst.StarredElement):
        return _target_attributes(target.value)
    return []


def estimator_init(ctx: FileContext, node: cst.FunctionDef) -> tuple[ClassInfo, str] | None:
    """``(class, self name)`` when ``node`` (the function being visited) is the ``__init__``
    of an sklearn estimator class (ML502, ML503)."""
    if node.name.value != "__init__" or ctx.scope.kind != "class":
        return None
    cls = ctx.scope.class_info
    fscope = ctx.model.scope_for(node)
    finfo = fscope.function_info if fscope is not None else None
    if cls is None or finfo is None or finfo.self_name is None:
        return None
    if not is_sklearn_estimator_class(ctx, cls):
        return None
    return cls, finfo.self_name
