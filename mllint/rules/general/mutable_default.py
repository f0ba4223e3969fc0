"""ML001 mutable-default-argument."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Option, Rule
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts, ImportPlan
from mllint.semantics.cstutil import attr_name, block_indents, code_in_block
from mllint.semantics.general_facts import model_like_class
from mllint.semantics.scopes import Scope, all_params
from mllint.semantics.walk import iter_descendants

_DISPLAYS = (cst.List, cst.Dict, cst.Set, cst.ListComp, cst.DictComp, cst.SetComp)
_AST_MUTABLE_DEFAULTS = (
    ast.List,
    ast.Dict,
    ast.Set,
    ast.ListComp,
    ast.DictComp,
    ast.SetComp,
    ast.Call,
)

_CONTAINER_CALLS = frozenset(
    {
        "builtins.list",
        "builtins.dict",
        "builtins.set",
        "builtins.bytearray",
        "collections.defaultdict",
        "collections.OrderedDict",
        "collections.Counter",
        "collections.deque",
        "collections.ChainMap",
        "collections.UserDict",
        "collections.UserList",
        "array.array",
    }
)
_NUMPY_CONSTRUCTORS = frozenset(
    {
        "array", "asarray", "asanyarray", "zeros", "ones", "empty", "full", "zeros_like",
        "ones_like", "empty_like", "full_like", "arange", "linspace", "logspace", "geomspace",
        "eye", "identity", "copy", "tile", "concatenate", "stack", "vstack", "hstack",
    }
)  # fmt: skip
#: ``numpy.random`` functions that return samples (not the RNG objects, which are never flagged)
_NUMPY_SAMPLERS = frozenset(
    {
        "rand", "randn", "random", "random_sample", "ranf", "sample", "normal", "uniform",
        "randint", "random_integers", "choice", "permutation", "binomial", "poisson",
        "exponential", "beta", "gamma", "standard_normal", "standard_exponential",
        "standard_gamma", "standard_cauchy", "standard_t", "multivariate_normal", "lognormal",
        "laplace", "logistic", "dirichlet", "multinomial", "chisquare", "geometric", "gumbel",
        "hypergeometric", "logseries", "negative_binomial", "noncentral_chisquare",
        "noncentral_f", "pareto", "power", "rayleigh", "triangular", "vonmises", "wald",
        "weibull", "zipf", "f",
    }
)  # fmt: skip
_PANDAS_CONSTRUCTORS = frozenset(
    {
        "pandas.DataFrame",
        "pandas.Series",
        "pandas.core.frame.DataFrame",
        "pandas.core.series.Series",
    }
)
_TORCH_CONSTRUCTORS = frozenset(
    {
        "tensor", "as_tensor", "zeros", "ones", "empty", "full", "arange", "linspace", "eye",
        "rand", "randn", "randint",
    }
)  # fmt: skip
_TORCH_PARAMETER = frozenset({"torch.nn.Parameter", "torch.nn.parameter.Parameter"})
#: parameter- and buffer-free ``torch.nn`` modules (sharing them between models is harmless)
_STATELESS_MODULES = frozenset(
    {
        "Identity", "Flatten", "Unflatten", "AlphaDropout", "FeatureAlphaDropout", "ReLU",
        "ReLU6", "GELU", "SiLU", "Mish", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "LeakyReLU",
        "ELU", "SELU", "CELU", "GLU", "Softplus", "Hardtanh", "Hardswish", "Hardsigmoid",
        "Hardshrink", "Softshrink", "Tanhshrink", "Softsign", "Softmin", "Softmax2d",
        "LogSigmoid", "Threshold", "RReLU", "Upsample", "UpsamplingNearest2d",
        "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle", "ChannelShuffle", "Fold",
        "Unfold", "CosineSimilarity", "PairwiseDistance",
    }
)  # fmt: skip
_STATELESS_MODULE_PREFIXES = (
    "Dropout", "MaxPool", "AvgPool", "AdaptiveAvgPool", "AdaptiveMaxPool", "MaxUnpool",
    "LPPool", "FractionalMaxPool", "ZeroPad", "ConstantPad", "ReflectionPad",
    "ReplicationPad", "CircularPad",
)  # fmt: skip
_NN_NON_MODULE_PACKAGES = frozenset({"functional", "init", "utils"})

_OPTIONAL_NAMES = frozenset({"typing.Optional", "typing_extensions.Optional"})
_UNION_NAMES = frozenset({"typing.Union", "typing_extensions.Union"})
_ANNOTATED_NAMES = frozenset({"typing.Annotated", "typing_extensions.Annotated"})
_ANY_NAMES = frozenset({"typing.Any", "typing_extensions.Any", "builtins.object"})


def is_stateful_torch_module(qualname: str) -> bool:
    """A ``torch.nn`` class that holds parameters, buffers or sub-modules."""
    parts = qualname.split(".")
    if len(parts) < 3 or parts[:2] != ["torch", "nn"] or parts[2] in _NN_NON_MODULE_PACKAGES:
        return False
    last = parts[-1]
    if not last[:1].isupper() or last.endswith("Loss"):
        return False
    return last not in _STATELESS_MODULES and not last.startswith(_STATELESS_MODULE_PREFIXES)


def mutable_constructor(qualname: str) -> bool:
    """Items 2-6 of ML001: a call of ``qualname`` builds a mutable container, array, frame,
    tensor or stateful module."""
    if (
        qualname in _CONTAINER_CALLS
        or qualname in _PANDAS_CONSTRUCTORS
        or qualname in _TORCH_PARAMETER
    ):
        return True
    mod, _, last = qualname.rpartition(".")
    if mod == "numpy":
        return last in _NUMPY_CONSTRUCTORS
    if mod == "numpy.random":
        return last in _NUMPY_SAMPLERS
    if mod == "torch":
        return last in _TORCH_CONSTRUCTORS or last.endswith("_like")
    return is_stateful_torch_module(qualname)


class MutableDefaultArgument(Rule):
    """
    ## What it does
    Flags parameter defaults (in `def`, `async def` and `lambda`, positional or keyword-only)
    that create a mutable object: list/dict/set displays and comprehensions, `list()`,
    `dict()`, `set()`, `bytearray()`, the `collections` containers and `array.array`, NumPy
    arrays (`np.zeros(10)`, `np.random.rand(3)`), pandas `DataFrame`/`Series`, torch tensors
    and `nn.Parameter`, stateful `torch.nn` modules (`nn.Linear(...)`, `nn.LayerNorm(...)`),
    and scikit-learn, XGBoost, LightGBM or CatBoost estimators (also same-module or relatively
    imported classes named `*Model`, `*Classifier`, `*Regressor`, `*Estimator`).

    ## Why is this bad?
    A default expression is evaluated once, when the `def` runs; every call that omits the
    argument receives the same object. Appending to it, filling a preallocated array in place,
    writing a column into a default DataFrame or fitting a default estimator leaks state
    between calls and between models: two calls of a function whose default is an estimator
    return the *same* fitted object. Stateful `torch.nn` modules as defaults share trained
    parameters between every model built by the function.

    Immutable or stateless defaults are not flagged: `None`, numbers, strings, tuples,
    `frozenset(...)`, `range(...)`, `torch.device(...)`, `pathlib.Path(...)`, RNG objects such
    as `np.random.default_rng(0)`, classes and functions passed as factories (`nn.GELU`,
    `SVC`), and parameter-free modules such as `nn.ReLU()` or `nn.Dropout(0.1)`.

    ## Example
    ```python
    import numpy as np
    from sklearn.isotonic import IsotonicRegression

    def smoothed(value, window=np.zeros(10)):
        window[:-1] = window[1:]
        window[-1] = value
        return window.mean()

    def calibrate(scores, labels, calibrator=IsotonicRegression()):
        return calibrator.fit(scores, labels)
    ```

    ## Use instead
    ```python
    def smoothed(value, window=None):
        if window is None:
            window = np.zeros(10)
        ...

    def calibrate(scores, labels, calibrator=None):
        if calibrator is None:
            calibrator = IsotonicRegression()
        return calibrator.fit(scores, labels)
    ```

    In the `__init__` of a scikit-learn estimator, store the parameter unchanged (default
    `None`) and create the object in `fit`; sklearn's contract forbids logic in `__init__`.

    ## Fix safety
    Unsafe: callers that relied on the accumulated state, or that pass `None` explicitly,
    behave differently. The fix replaces the default with `None`, inserts
    `if <p> is None: <p> = <original expression>` as the first statement of the body (after
    the docstring) and rewrites an annotation that does not admit `None` to `Optional[T]`
    (adding `from typing import Optional`), or to `T | None` when the project's minimum Python
    is 3.10 or the module has `from __future__ import annotations`. No fix for lambdas, stub
    bodies (`...`/`pass`), functions whose body already compares the parameter with `None`,
    defaults that use names the body cannot see (class attributes, names the function rebinds),
    and the `__init__` of an sklearn estimator.

    ## Options
    - `extend-mutable-calls` (list of qualified names, default `[]`): calls also treated as
      creating a mutable default, e.g. `["mylib.Registry"]`.
    - `extend-immutable-calls` (list of qualified names, default `[]`): calls never flagged.
    """

    code = "ML001"
    name = "mutable-default-argument"
    summary = (
        "A mutable object (list/dict/set, array, frame, tensor, fitted-state estimator) as a "
        "parameter default is created once and shared by every call"
    )
    tier = 1
    fix_safety = (FixSafety.UNSAFE,)
    options = (
        Option(
            "extend-mutable-calls",
            "list[str]",
            [],
            "Qualified names of calls that also create a mutable default.",
        ),
        Option(
            "extend-immutable-calls",
            "list[str]",
            [],
            "Qualified names of calls that are never flagged.",
        ),
    )
    requires_text = ("def", "lambda")

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a parameter default that is a display, a comprehension or any call
        for fn in scan.of(ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda):
            args = fn.args
            for d in (*args.defaults, *args.kw_defaults):
                if isinstance(d, _AST_MUTABLE_DEFAULTS):
                    return True
        return False

    # -- detection -------------------------------------------------------------------------
    def is_mutable_default(self, expr: cst.BaseExpression) -> bool:
        if isinstance(expr, _DISPLAYS):
            return True
        if not isinstance(expr, cst.Call):
            return False
        q = self.ctx.qualname(expr.func)
        if q is not None:
            if q in self.option("extend-immutable-calls"):
                return False
            if q in self.option("extend-mutable-calls") or mutable_constructor(q):
                return True
        if self.ctx.kind(expr) == K.ESTIMATOR:
            return True
        return model_like_class(self.ctx, expr.func, self.ctx.scope)

    def visit_Lambda(self, node: cst.Lambda) -> None:
        for param in all_params(node.params):
            if param.default is not None and self.is_mutable_default(param.default):
                self.report(param.default, self._message(param, False))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        flagged = [
            p
            for p in all_params(node.params)
            if p.default is not None and self.is_mutable_default(p.default)
        ]
        if not flagged:
            return
        sklearn_init = self._is_sklearn_init(node)
        fix: Fix | None = None
        fixed: list[cst.Param] = []
        if not sklearn_init and not _is_stub(node.body):
            fixed = [p for p in flagged if self._param_fixable(node, p)]
            if fixed:
                fix, fixed = self._build_fix(node, fixed)
        for p in flagged:
            self.report(
                p.default or p,
                self._message(p, sklearn_init),
                fix if any(p is f for f in fixed) else None,
            )

    def _message(self, param: cst.Param, sklearn_init: bool) -> str:
        assert param.default is not None
        expr = self.ctx.snippet(param.default, 40)
        where = (
            "create it in fit() (an sklearn __init__ must store its parameters unchanged)"
            if sklearn_init
            else "create it in the body"
        )
        return (
            f"Mutable default {expr} for parameter '{param.name.value}' is created once and "
            f"shared by all calls; default to None and {where}"
        )

    def _is_sklearn_init(self, node: cst.FunctionDef) -> bool:
        if node.name.value != "__init__":
            return False
        scope = self.ctx.scope
        if scope.kind != "class" or scope.class_info is None:
            return False
        return any(
            q == "sklearn.base.BaseEstimator" or K.is_estimator_class(q)
            for q in self.ctx.class_bases(scope.class_info)
        )

    # -- the fix ---------------------------------------------------------------------------
    def _param_fixable(self, node: cst.FunctionDef, param: cst.Param) -> bool:
        name = param.name.value
        assert param.default is not None
        if _compares_with_none(node.body, name):
            return False
        fscope = self.ctx.model.scope_for(node)
        if fscope is None or name in fscope.globals or name in fscope.nonlocals:
            return False
        for free in _free_names(param.default):
            if free in fscope.bindings or free in fscope.globals or free in fscope.nonlocals:
                return False  # the body would see a different object (or a SyntaxError)
            found = self.ctx.bindings(free)
            if any(b.scope is not None and b.scope.kind == "class" for b in found):
                return False  # class attributes are not visible from the method body
        return True

    def _build_fix(
        self, node: cst.FunctionDef, params: list[cst.Param]
    ) -> tuple[Fix | None, list[cst.Param]]:
        ctx = self.ctx
        pipe = (
            ctx.facts.min_python is not None and ctx.facts.min_python >= (3, 10)
        ) or _has_future_annotations(ctx.module)
        plans: list[ImportPlan] = []
        optional: ImportPlan | None = None
        new_params: dict[int, cst.Param] = {}
        kept: list[cst.Param] = []
        for p in params:
            changes: dict[str, object] = {"default": cst.Name("None")}
            ann = p.annotation
            if ann is not None and not self._admits_none(ann.annotation, ctx.scope):
                if pipe:
                    new_ann = _pipe_none(ann.annotation)
                else:
                    if optional is None:
                        optional = self._optional_plan()
                        if optional is None:
                            continue
                        plans.append(optional)
                    new_ann = _optional_of(ann.annotation, optional.local)
                changes["annotation"] = ann.with_changes(annotation=new_ann)
            new_params[id(p)] = p.with_changes(**changes)
            kept.append(p)
        if not kept:
            return None, []
        new_body = _insert_defaults(node.body, kept)
        if new_body is None:
            return None, []

        def swap(seq: Sequence[cst.Param]) -> list[cst.Param]:
            return [new_params.get(id(x), x) for x in seq]

        parameters = node.params.with_changes(
            posonly_params=swap(node.params.posonly_params),
            params=swap(node.params.params),
            kwonly_params=swap(node.params.kwonly_params),
        )
        new_node = node.with_changes(params=parameters, body=new_body)
        text = code_in_block(ctx.module, new_node, block_indents(ctx.module, ctx.stack[:-1]))
        return Fix(FixSafety.UNSAFE, [(node, text)], plans), kept

    def _optional_plan(self) -> ImportPlan | None:
        plan = self.ctx.import_name("typing", "Optional")
        if plan is None or plan.statement != "import typing":
            return plan
        # prefer `from typing import Optional` over `import typing` + `typing.Optional`
        if self.ctx.bindings("Optional") or self.ctx.model.module_scope.bindings.get("Optional"):
            return plan
        return ImportPlan("Optional", "from typing import Optional", plan.anchor, plan.before_first)

    def _admits_none(self, ann: cst.BaseExpression, scope: Scope) -> bool:
        if isinstance(ann, cst.Name) and ann.value == "None":
            return True
        if isinstance(ann, cst.SimpleString):
            try:
                text = ann.evaluated_value
                parsed = cst.parse_expression(text) if isinstance(text, str) else None
            except Exception:
                return True  # unreadable: leave it alone
            return parsed is None or self._admits_none(parsed, scope)
        if isinstance(ann, cst.BinaryOperation) and isinstance(ann.operator, cst.BitOr):
            return self._admits_none(ann.left, scope) or self._admits_none(ann.right, scope)
        if isinstance(ann, cst.Subscript):
            q = self.ctx.qualname_in(ann.value, scope)
            last = attr_name(ann.value)
            if q in _OPTIONAL_NAMES or (q is None and last == "Optional"):
                return True
            elements = [el.slice.value for el in ann.slice if isinstance(el.slice, cst.Index)]
            if q in _UNION_NAMES or (q is None and last == "Union"):
                return any(self._admits_none(e, scope) for e in elements)
            if (q in _ANNOTATED_NAMES or (q is None and last == "Annotated")) and elements:
                return self._admits_none(elements[0], scope)
            return False
        q = self.ctx.qualname_in(ann, scope)
        return q in _ANY_NAMES or (q is None and attr_name(ann) == "Any")


# -- helpers -----------------------------------------------------------------------------------


def _is_docstring_line(stmt: cst.BaseStatement) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and bool(stmt.body)
        and _is_docstring(stmt.body[0])
    )


def _is_docstring(small: cst.BaseSmallStatement) -> bool:
    return isinstance(small, cst.Expr) and isinstance(
        small.value, (cst.SimpleString, cst.ConcatenatedString)
    )


def _is_stub_small(small: cst.BaseSmallStatement) -> bool:
    return isinstance(small, cst.Pass) or (
        isinstance(small, cst.Expr) and isinstance(small.value, cst.Ellipsis)
    )


def _is_stub(body: cst.BaseSuite) -> bool:
    """Only a docstring and/or ``...``/``pass``."""
    if isinstance(body, cst.SimpleStatementSuite):
        smalls = list(body.body)
    else:
        assert isinstance(body, cst.IndentedBlock)
        smalls = []
        for stmt in body.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                return False
            smalls.extend(stmt.body)
    if smalls and _is_docstring(smalls[0]):
        smalls = smalls[1:]
    return all(_is_stub_small(s) for s in smalls)


def _compares_with_none(body: cst.BaseSuite, name: str) -> bool:
    def is_name(e: cst.BaseExpression) -> bool:
        return isinstance(e, cst.Name) and e.value == name

    def is_none(e: cst.BaseExpression) -> bool:
        return isinstance(e, cst.Name) and e.value == "None"

    for node in iter_descendants(body):
        if not isinstance(node, cst.Comparison):
            continue
        left = node.left
        for target in node.comparisons:
            right = target.comparator
            if isinstance(target.operator, (cst.Is, cst.IsNot, cst.Equal, cst.NotEqual)) and (
                (is_name(left) and is_none(right)) or (is_none(left) and is_name(right))
            ):
                return True
            left = right
    return False


def _free_names(expr: cst.CSTNode) -> Iterator[str]:
    """Identifiers an expression reads (attribute names and keyword names excluded)."""
    stack: list[cst.CSTNode] = [expr]
    while stack:
        cur = stack.pop()
        if isinstance(cur, cst.Name):
            yield cur.value
        elif isinstance(cur, (cst.Attribute, cst.Arg)):
            stack.append(cur.value)
        else:
            stack.extend(cur.children)


def _has_future_annotations(module: cst.Module) -> bool:
    for i, stmt in enumerate(module.body):
        if not isinstance(stmt, cst.SimpleStatementLine):
            return False  # __future__ imports come first (after the docstring)
        first = stmt.body[0] if stmt.body else None
        if not isinstance(first, cst.ImportFrom) and not (
            i == 0 and isinstance(first, cst.Expr) and isinstance(first.value, cst.SimpleString)
        ):
            return False
        for small in stmt.body:
            if (
                isinstance(small, cst.ImportFrom)
                and isinstance(small.module, cst.Name)
                and small.module.value == "__future__"
                and not isinstance(small.names, cst.ImportStar)
                and any(
                    isinstance(a.name, cst.Name) and a.name.value == "annotations"
                    for a in small.names
                )
            ):
                return True
    return False


def _pipe_none(ann: cst.BaseExpression) -> cst.BaseExpression:
    if isinstance(ann, cst.SimpleString):
        quote = ann.quote
        return ann.with_changes(value=ann.value[: -len(quote)] + " | None" + quote)
    return cst.BinaryOperation(left=ann, operator=cst.BitOr(), right=cst.Name("None"))


def _optional_of(ann: cst.BaseExpression, local: str) -> cst.BaseExpression:
    return cst.Subscript(
        value=cst.parse_expression(local),
        slice=[cst.SubscriptElement(slice=cst.Index(value=ann))],
    )


class _Dedent(cst.CSTTransformer):
    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def leave_ParenthesizedWhitespace(
        self, original_node: cst.ParenthesizedWhitespace, updated_node: cst.ParenthesizedWhitespace
    ) -> cst.ParenthesizedWhitespace:
        line = updated_node.last_line.value
        if updated_node.indent and line.startswith(self.base):
            return updated_node.with_changes(last_line=cst.SimpleWhitespace(line[len(self.base) :]))
        return updated_node


def _moved_default(default: cst.BaseExpression) -> cst.BaseExpression:
    """The default expression re-indented for the body: when its closing bracket is on a
    line of its own, that line's indentation (relative to the ``def``) is removed from every
    continuation line, so the bracket lines up with the assignment."""
    code = cst.Module([]).code_for_node(default)
    lines = code.splitlines()
    if len(lines) < 2:
        return default
    last = lines[-1]
    base = last[: len(last) - len(last.lstrip(" \t"))]
    if not base or last.strip(" \t)]},") != "":
        return default
    moved = default.visit(_Dedent(base))
    assert isinstance(moved, cst.BaseExpression)
    return moved


def _none_check(param: cst.Param) -> cst.If:
    assert param.default is not None
    name = param.name.value
    assign = cst.Assign(
        targets=[cst.AssignTarget(target=cst.Name(name))], value=_moved_default(param.default)
    )
    return cst.If(
        test=cst.Comparison(
            left=cst.Name(name),
            comparisons=[cst.ComparisonTarget(operator=cst.Is(), comparator=cst.Name("None"))],
        ),
        body=cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[assign])]),
    )


def _insert_defaults(body: cst.BaseSuite, params: list[cst.Param]) -> cst.BaseSuite | None:
    """The body with ``if p is None: p = <default>`` after the docstring."""
    checks: list[cst.BaseStatement] = [_none_check(p) for p in params]
    if isinstance(body, cst.IndentedBlock):
        stmts = list(body.body)
        at = 0
        if stmts and _is_docstring_line(stmts[0]):
            first = stmts[0]
            assert isinstance(first, cst.SimpleStatementLine)
            if len(first.body) > 1:
                return None  # `"""doc"""; x = ...`: leave it to the user
            at = 1
        return body.with_changes(body=[*stmts[:at], *checks, *stmts[at:]])
    assert isinstance(body, cst.SimpleStatementSuite)
    smalls = list(body.body)
    lines: list[cst.BaseStatement] = []
    if smalls and _is_docstring(smalls[0]) and len(smalls) > 1:
        lines.append(
            cst.SimpleStatementLine(
                body=[smalls[0].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)]
            )
        )
        smalls = smalls[1:]
    lines.extend(checks)
    lines.extend(
        cst.SimpleStatementLine(body=[small.with_changes(semicolon=cst.MaybeSentinel.DEFAULT)])
        for small in smalls
    )
    return cst.IndentedBlock(header=body.trailing_whitespace, body=lines)
