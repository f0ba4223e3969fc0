"""ML101 float-equality."""

from __future__ import annotations

import builtins
import math
import string

import libcst as cst

from mllint.rule import Fix, FixSafety, Option, Rule
from mllint.semantics import kinds as K
from mllint.semantics.context import FileContext, ImportPlan
from mllint.semantics.cstutil import (
    call_arg,
    cst_equal,
    float_literal,
    identifier_tokens,
    int_value,
    is_capwords,
    is_string_like,
    positional_args,
    string_value,
)
from mllint.semantics.special_floats import is_inf_constant, nan_constant, nan_test_fires
from mllint.semantics.walk import child_nodes

DEFAULT_METRIC_NAMES = (
    "acc", "accuracy", "auc", "auroc", "roc", "f1", "fbeta", "precision", "recall", "loss",
    "mse", "rmse", "mae", "mape", "smape", "r2", "score", "logloss", "nll", "perplexity", "ppl",
    "bleu", "rouge", "iou", "dice", "ndcg", "mrr", "kappa", "mcc", "brier", "entropy", "kl",
    "elbo",
)  # fmt: skip
DEFAULT_NON_METRIC_TOKENS = (
    "n", "num", "number", "count", "cnt", "idx", "index", "id", "step", "epoch", "iter",
    "iteration", "size", "len", "length", "dim", "shape", "ndim", "rank", "name", "type", "kind",
    "mode", "fn", "func", "key", "col", "column", "dtype", "device", "path", "file", "str",
    "flag", "is", "has",
    # hyper-parameters named after a metric are user-set values, not computed ones
    # (`loss_weight`, `cost_dice`, `beta_loss`, `kl_beta`, `loss_scale`, `score_threshold`)
    "weight", "coef", "coeff", "cost", "scale", "factor", "alpha", "beta", "gamma", "lambda",
    "lam", "temperature", "threshold", "thresh", "eps", "epsilon", "tol", "smoothing",
)  # fmt: skip
#: objects holding user-set configuration: ``args.loss_weight``, ``cfg["precision"]``
_CONFIG_NAMES = frozenset(
    {"args", "cfg", "config", "conf", "opt", "opts", "options", "hparams", "hp", "params",
     "settings", "flags", "hyperparams", "hyperparameters", "kwargs"}
)  # fmt: skip

_SPECIAL_METHODS = frozenset({"__eq__", "__ne__", "__hash__"})
_DISPLAYS = (
    cst.List, cst.Tuple, cst.Set, cst.Dict, cst.ListComp, cst.SetComp, cst.DictComp,
    cst.GeneratorExp,
)  # fmt: skip
_EXCLUDED_CALLS = frozenset(
    {
        "builtins.len", "builtins.int", "builtins.str", "builtins.bool", "builtins.id",
        "builtins.hash", "builtins.type", "builtins.isinstance", "pytest.approx", "math.isclose",
        "numpy.isclose", "torch.isclose",
    }
)  # fmt: skip
#: attribute names whose value is never a float (shape/dtype/identity bookkeeping)
_EXCLUDED_ATTRS = frozenset(
    {"shape", "ndim", "size", "dtype", "dtypes", "device", "name", "__class__"}
)
#: tensor methods returning sizes (``x.size(0)``, ``x.dim()``) - integer bookkeeping
_SIZE_METHODS = frozenset({"size", "dim", "ndimension", "numel", "nelement"})
_DTYPE_NAMES = frozenset(
    {
        "float16", "float32", "float64", "float128", "half", "single", "double", "longdouble",
        "bfloat16", "float_", "int_", "intp", "uintp", "int8", "int16", "int32", "int64", "uint8",
        "uint16", "uint32", "uint64", "bool_", "bool", "complex64", "complex128", "complex_",
        "long", "short", "cfloat", "cdouble", "float8_e4m3fn", "float8_e5m2", "object_", "str_",
        "bytes_", "datetime64", "timedelta64", "number", "floating", "integer",
    }
)  # fmt: skip
_DTYPE_MODULES = frozenset({"numpy", "torch", "jax.numpy", "tensorflow", "cupy"})
_BUILTIN_TYPES = frozenset(
    name for name in dir(builtins) if isinstance(getattr(builtins, name), type)
)
_MATH_FLOAT_FUNCS = frozenset(
    {"sqrt", "exp", "log", "log2", "log10", "pow", "fsum", "hypot", "dist", "sin", "cos", "tan",
     "atan2", "fmod", "erf"}
)  # fmt: skip
_STATISTICS_FUNCS = frozenset(
    {"mean", "fmean", "median", "stdev", "pstdev", "variance", "pvariance"}
)
_NUMPY_REDUCTIONS = frozenset(
    {"mean", "average", "median", "std", "var", "nanmean", "nanmedian", "nanstd", "nanvar"}
)
_TORCH_REDUCTIONS = frozenset({"mean", "std", "var"})
_NOARG_FLOAT_METHODS = frozenset({"mean", "std", "var", "median"})
#: methods of a tensor that return a (0-d) tensor
_TENSOR_RESULT_METHODS = frozenset(
    {"mean", "std", "var", "median", "sum", "max", "min", "norm", "prod", "abs", "amax", "amin"}
)
_REDUCING_METHODS = frozenset({"all", "any", "sum", "mean", "nonzero", "float", "astype"})
_ARRAY_KINDS = frozenset({K.NDARRAY, K.SERIES, K.DATAFRAME, K.TENSOR})


class FloatEquality(Rule):
    """
    ## What it does
    Flags `==`/`!=` comparisons between floating-point values: a comparison with a non-integral
    float literal (`0.95`, `1e-6`), with the result of a true division, `float()`, a `math`,
    `statistics` or NumPy/PyTorch reduction, an sklearn metric (`*_score`, `*_error`, `*_loss`),
    `.mean()`/`.std()`/`.score(...)`/`loss.item()`, or with a metric-like variable (`val_loss`,
    `best_f1`, `self.best_auc`, `history["val_acc"][-1]`, `for v in val_losses`).

    Not flagged: integer bookkeeping (`n_failed == 0`, `step % 10 == 0`), string and config
    comparisons, dtype/shape checks, element-wise label comparisons such as
    `targets == outputs.argmax(1)`, comparisons inside `__eq__`/`__ne__`/`__hash__`, NaN tests
    (those are ML102 nan-equality) and `x != x`, comparisons with infinity, comparisons of
    values with their own maximum or minimum (`scores == scores.max()` is exact: the maximum is
    one of the values), pathlib joins (`root / "data.csv"`), and user-set values named after a
    metric (`args.precision == 16`, `cfg.loss_weight == 0`: only a non-integral literal such
    as `args.threshold == 0.5` is flagged there).

    ## Why is this bad?
    Metrics, losses and scheduled learning rates are results of floating-point arithmetic:
    `0.1 + 0.2 == 0.3` is False, so an early-stopping, plateau or "perfect accuracy" branch may
    never (or always) fire depending on rounding. Compare with a tolerance chosen for the
    metric's precision. Exact equality against `0.0` additionally needs an absolute tolerance:
    `math.isclose(1e-17, 0.0)` is False with the default relative tolerance.

    ## Example
    ```python
    epoch_f1 = f1_score(y_val, val_pred, average="macro")
    if epoch_f1 == best_f1:
        patience_left -= 1
    if mean_absolute_error(y_val, val_pred) == 0.0:
        raise RuntimeError("suspiciously perfect fit")
    assert np.mean(errors) == 0.125  # in a test
    ```

    ## Use instead
    ```python
    if math.isclose(epoch_f1, best_f1, rel_tol=1e-6):
        patience_left -= 1
    if math.isclose(mean_absolute_error(y_val, val_pred), 0.0, abs_tol=1e-12):
        raise RuntimeError("suspiciously perfect fit")
    assert np.mean(errors) == pytest.approx(0.125, abs=1e-6)
    ```

    ## Fix safety
    Unsafe: the tolerance is a semantic choice. Only single comparisons (no chains) are fixed:
    in an `assert` of a test file `a == b` becomes `a == pytest.approx(b)`; in scalar context
    (an `if`/`while`/`assert` test, a ternary test, an operand of `and`/`or`/`not`, a `return`
    value, an assignment whose target is never used as an index or mask) `math.isclose(a, b)`
    (`not math.isclose(a, b)` for `!=`), with `abs_tol` when one side is the literal `0`/`0.0`;
    in element-wise context (an index inside `[...]`, an argument of `np.where`, an operand of
    `&`/`|`/`~`) or for arrays, Series and DataFrames `np.isclose(a, b)` (`~np.isclose(a, b)`),
    and `torch.isclose(a, b)` when both sides are tensors. The fix is skipped when a tensor is
    compared in scalar context (call `.item()` first) or the context is ambiguous.

    ## Options
    - `metric-names`: identifier tokens that mark a computed metric or loss.
    - `extend-metric-names`: extra tokens added to `metric-names`.
    - `non-metric-tokens`: tokens that make an identifier not metric-like (`n_samples`,
      `loss_name`, `best_iter`).
    - `rel-tol`: `rel_tol=` added to the `math.isclose` fix (unset: the default 1e-9).
    - `abs-tol`: `abs_tol=` added to the `math.isclose` fix when comparing with zero.
    """

    code = "ML101"
    name = "float-equality"
    summary = "Floating-point metrics, losses or thresholds compared with `==`/`!=`"
    tier = 1
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("==", "!=")
    options = (
        Option(
            "metric-names",
            "list[str]",
            list(DEFAULT_METRIC_NAMES),
            "identifier tokens that mark a computed metric or loss (computed quantities only)",
        ),
        Option("extend-metric-names", "list[str]", [], "extra tokens added to metric-names"),
        Option(
            "non-metric-tokens",
            "list[str]",
            list(DEFAULT_NON_METRIC_TOKENS),
            "identifier tokens that make a name not metric-like (counts, indices, names, flags)",
        ),
        Option("rel-tol", "float", None, "rel_tol= of the math.isclose fix (unset: 1e-9)"),
        Option(
            "abs-tol", "float", 1e-12, "abs_tol= of the math.isclose fix for comparisons with zero"
        ),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        names = tuple(self.option("metric-names")) + tuple(self.option("extend-metric-names"))
        self._metric_names = frozenset(n.lower() for n in names)
        self._non_metric = frozenset(n.lower() for n in self.option("non-metric-tokens"))
        self._ident_cache: dict[str, bool] = {}

    # -- the rule --------------------------------------------------------------------------
    def visit_Comparison(self, node: cst.Comparison) -> None:
        if not any(isinstance(t.operator, (cst.Equal, cst.NotEqual)) for t in node.comparisons):
            return
        fn = self.ctx.enclosing_function()
        if fn is not None and fn.node.name.value in _SPECIAL_METHODS:
            return
        left: cst.BaseExpression = node.left
        triggered = False
        for target in node.comparisons:
            right = target.comparator
            if isinstance(target.operator, (cst.Equal, cst.NotEqual)) and self._pair_triggers(
                left, right
            ):
                triggered = True
                break
            left = right
        if not triggered or nan_test_fires(self.ctx, node):
            return
        use, fix = self._fix(node)
        expr = self.ctx.snippet(node)
        self.report(
            node,
            f"Exact float comparison '{expr}'; use {use} "
            "(floating-point results are rarely exactly equal)",
            fix,
        )

    def _pair_triggers(self, left: cst.BaseExpression, right: cst.BaseExpression) -> bool:
        if self._excluded(left) or self._excluded(right):
            return False
        if self.ctx.equal(left, right):
            return False  # `x != x` / `x == x`: the NaN idiom (ML102 territory)
        if self._extreme_of(left, right) or self._extreme_of(right, left):
            return False  # `scores == scores.max()`: a maximum is one of the values (exact)
        # (a) a non-integral float literal
        if _float_literal_kind(left) == "fraction" or _float_literal_kind(right) == "fraction":
            return True
        # (c) float-evidence, (d) metric-like; (b) (an integral float literal against one of
        # these) is implied by them
        return (
            self._float_evidence(left)
            or self._float_evidence(right)
            or self._metric_like(left)
            or self._metric_like(right)
        )

    # -- excluded operands -----------------------------------------------------------------
    def _excluded(self, node: cst.BaseExpression) -> bool:
        ctx = self.ctx
        if is_string_like(node) or isinstance(node, (cst.Ellipsis, *_DISPLAYS)):
            return True
        if isinstance(node, (cst.Comparison, cst.BooleanOperation)):
            return True
        value = float_literal(node)
        if value is not None and math.isinf(value):
            return True  # `1e309`: an infinity compares exactly
        if isinstance(node, cst.UnaryOperation):
            if isinstance(node.operator, cst.Not):
                return True
            return is_inf_constant(ctx, node)
        if isinstance(node, cst.Name):
            if node.value in ("None", "True", "False"):
                return True
            if ctx.kind(node) in _NON_FLOAT_KINDS:
                return True  # `acc = ""` then `x == acc`: the name token says metric, the value says str
            return self._special_name(node)
        if isinstance(node, cst.Attribute):
            attr = node.attr.value
            if attr in _EXCLUDED_ATTRS:
                return True
            base_last = _last_identifier(node.value)
            if base_last is not None and is_capwords(base_last) and _is_upper_constant(attr):
                return True  # an enum member such as Mode.TRAIN
            return self._special_name(node)
        if isinstance(node, cst.Call):
            q = ctx.qualname(node.func)
            if q in _EXCLUDED_CALLS:
                return True
            if q == "builtins.round" and len(node.args) == 1 and not node.args[0].star:
                return node.args[0].keyword is None
            if isinstance(node.func, cst.Attribute) and node.func.attr.value in _SIZE_METHODS:
                return True
            return nan_constant(ctx, node) is not None or is_inf_constant(ctx, node)
        if isinstance(node, cst.Subscript):
            # x.shape[-1], x.size()[0]
            base = node.value
            if isinstance(base, cst.Attribute) and base.attr.value in ("shape", "dtypes"):
                return True
            if (
                isinstance(base, cst.Call)
                and isinstance(base.func, cst.Attribute)
                and base.func.attr.value in _SIZE_METHODS
            ):
                return True
        return False

    def _special_name(self, node: cst.Name | cst.Attribute) -> bool:
        """NaN/inf constants and names resolving to modules or classes (``np.float32``)."""
        ctx = self.ctx
        if nan_constant(ctx, node) is not None or is_inf_constant(ctx, node):
            return True
        q = ctx.qualname(node)
        if q is None:
            return False
        mod, _, last = q.rpartition(".")
        if mod == "builtins":
            return last in _BUILTIN_TYPES
        if is_capwords(last):
            return True
        if last in _DTYPE_NAMES and mod in _DTYPE_MODULES:
            return True
        if isinstance(node, cst.Name):
            # a module bound by `import x` / `import x as y`
            return any(isinstance(b.node, cst.Import) for b in ctx.bindings(node.value))
        return False

    # -- float-evidence --------------------------------------------------------------------
    def _float_evidence(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.BinaryOperation):
            return isinstance(node.operator, cst.Divide) and not self._path_join(node)
        if not isinstance(node, cst.Call):
            return False
        q = self.ctx.qualname(node.func)
        if q is not None:
            mod, _, last = q.rpartition(".")
            if q == "builtins.float":
                return True
            if mod == "math":
                return last in _MATH_FLOAT_FUNCS
            if mod == "statistics":
                return last in _STATISTICS_FUNCS
            if mod == "numpy" and last in _NUMPY_REDUCTIONS:
                return call_arg(node, "axis", position=1) is None
            if q == "numpy.linalg.norm":
                return call_arg(node, "axis", position=2) is None
            if mod == "torch" and last in _TORCH_REDUCTIONS:
                return call_arg(node, "dim", position=1) is None
            if q.startswith("sklearn.metrics."):
                return last.endswith(("_score", "_error", "_loss")) or last == "matthews_corrcoef"
            return False
        func = node.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in _NOARG_FLOAT_METHODS:
                return not node.args
            if method == "score":
                # `clf.score(X, y)`; not `Matcher.score(...)` on a class
                recv = _last_identifier(func.value)
                return recv is None or not is_capwords(recv)
            if method == "item":
                return not node.args and self._metric_like(func.value)
        return False

    # -- metric-like -----------------------------------------------------------------------
    def _metric_like(self, node: cst.BaseExpression) -> bool:
        if isinstance(node, cst.Name):
            if self.ctx.qualname(node) is not None:
                return False  # an import or a builtin: a library object, not a computed value
            if self._metric_identifier(node.value):
                return True
            return self._metric_loop_target(node)
        if isinstance(node, cst.Attribute):
            if self.ctx.qualname(node) is not None or _is_config(node.value):
                return False
            return self._metric_identifier(node.attr.value)
        if isinstance(node, cst.Subscript):
            key = _string_key(node)
            if key is not None:
                if _is_config(node.value):
                    return False
                return key.isidentifier() and self._metric_identifier(key)
            # a further [...] on a metric-like value: history["val_f1"][-1], val_losses[-1]
            return self._metric_like(node.value)
        return False

    def _extreme_of(self, value: cst.BaseExpression, other: cst.BaseExpression) -> bool:
        """``other`` is a max/min of ``value``, directly or through a name bound once to one
        (``max_0 = scores.max(2, keepdim=True).values`` ... ``scores == max_0``)."""
        if _extreme_of(value, other):
            return True
        if isinstance(other, cst.Name):
            bindings = self.ctx.bindings(other.value)
            if len(bindings) == 1 and bindings[0].kind == "assign" and not bindings[0].unpacked:
                bound = bindings[0].value
                return bound is not None and _extreme_of(value, bound)
        return False

    def _path_join(self, node: cst.BinaryOperation) -> bool:
        """``root / "data.csv"``, ``tmp_path / name``: pathlib joins, not divisions."""
        for operand in (node.left, node.right):
            if isinstance(operand, cst.BinaryOperation) and isinstance(
                operand.operator, cst.Divide
            ):
                if self._path_join(operand):
                    return True
                continue
            if is_string_like(operand) or self.ctx.kind(operand) in (K.PATH, K.STR):
                return True
            ident = _last_identifier(operand)
            if ident is not None and any(t in _PATH_TOKENS for t in identifier_tokens(ident)):
                return True
        return False

    def _metric_identifier(self, identifier: str) -> bool:
        cached = self._ident_cache.get(identifier)
        if cached is None:
            tokens = identifier_tokens(identifier)
            cached = any(_token_in(t, self._metric_names) for t in tokens) and not any(
                _token_in(t, self._non_metric) for t in tokens
            )
            self._ident_cache[identifier] = cached
        return cached

    def _metric_loop_target(self, node: cst.Name) -> bool:
        """A for/comprehension target bound from a metric-like iterable."""
        name = node.value
        if any(_token_in(t, self._non_metric) for t in identifier_tokens(name)):
            return False
        bindings = self.ctx.bindings(name)
        if not bindings:
            return False
        for b in bindings:
            if not isinstance(b.node, (cst.For, cst.CompFor)) or b.kind not in (
                "for",
                "comprehension",
            ):
                return False
            target, iterable = b.node.target, b.node.iter
            if not self._bound_from_metric(target, iterable, name):
                return False
        return True

    def _bound_from_metric(
        self, target: cst.BaseExpression, iterable: cst.BaseExpression, name: str
    ) -> bool:
        """Whether ``name`` in ``target`` receives an element of a metric-like iterable."""
        if isinstance(target, cst.Name):
            return target.value == name and self._metric_like(iterable)
        if not isinstance(target, (cst.Tuple, cst.List)) or not isinstance(iterable, cst.Call):
            return False
        elements = [el.value for el in target.elements]
        if any(isinstance(el, cst.StarredElement) for el in elements):
            return False
        func = iterable.func
        args = positional_args(iterable)
        q = self.ctx.qualname(func)
        if q == "builtins.enumerate" and len(elements) == 2 and args:
            return self._bound_from_metric(elements[1], args[0].value, name)
        if q == "builtins.zip" and len(elements) == len(args) == len(iterable.args):
            return any(
                self._bound_from_metric(el, arg.value, name)
                for el, arg in zip(elements, args, strict=True)
            )
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value == "items"
            and not iterable.args
            and len(elements) == 2
        ):
            return self._bound_from_metric(elements[1], func.value, name)
        return False

    # -- fixes -----------------------------------------------------------------------------
    def _fix(self, node: cst.Comparison) -> tuple[str, Fix | None]:
        """The advice for the message and, when the shape is unambiguous, the fix."""
        ctx = self.ctx
        single = len(node.comparisons) == 1
        left = node.left
        right = node.comparisons[0].comparator
        negated = isinstance(node.comparisons[0].operator, cst.NotEqual)
        if ctx.facts.is_test and self._in_assert():
            if not single:
                return "pytest.approx", None
            return "pytest.approx", self._approx_fix(node, left, right)
        context = self._context()
        kinds = {self._operand_kind(left), self._operand_kind(right)}
        tensor = K.TENSOR in kinds or context == "elementwise-torch"
        if tensor and context == "scalar":
            return "math.isclose(a, b)", None  # call .item() first
        if context.startswith("elementwise") or kinds & _ARRAY_KINDS:
            if tensor:
                use = "torch.isclose(a, b)"
                both = self._operand_kind(left) == self._operand_kind(right) == K.TENSOR
                if not single or not both or not ctx.imports("torch"):
                    return use, None
                return use, self._call_fix(node, "torch", left, right, negated, "~", ())
            use = "np.isclose(a, b)"
            if not single or not ctx.imports("numpy"):
                return use, None
            if not kinds & _ARRAY_KINDS and ctx.imports("torch"):
                return use, None  # unknown operands in a torch module: numpy or torch?
            return use, self._call_fix(node, "numpy", left, right, negated, "~", ())
        use = "math.isclose(a, b)"
        if context != "scalar" or not single:
            return use, None
        assignment = self._assignment_use()
        if assignment == "mask":
            return ("np.isclose(a, b)" if ctx.imports("numpy") else use), None
        if assignment == "ambiguous":
            return use, None
        keywords: list[tuple[str, str]] = []
        rel_tol = self.option("rel-tol")
        if rel_tol is not None:
            keywords.append(("rel_tol", repr(float(rel_tol))))
        if _is_zero(left) or _is_zero(right):
            keywords.append(("abs_tol", repr(float(self.option("abs-tol")))))
        return use, self._call_fix(node, "math", left, right, negated, "not ", tuple(keywords))

    def _context(self) -> str:
        """``ctx.value_context()``, plus element-wise uses RULES.md leaves as "other": an
        argument of a NumPy/PyTorch function (``np.all(x == 0.5)``, ``np.mean(a == b)``) and
        the receiver of ``.all()``/``.any()``/``.sum()``/``.mean()``/``.nonzero()``."""
        context = self.ctx.value_context()
        if context != "other":
            return context
        parent = self.ctx.parent
        if isinstance(parent, cst.Arg) and parent.keyword is None and not parent.star:
            stack = self.ctx.stack
            call = stack[-3] if len(stack) >= 3 else None
            if isinstance(call, cst.Call):
                q = self.ctx.qualname(call.func) or ""
                if q.startswith("numpy.") and q not in _EXCLUDED_CALLS:
                    return "elementwise"
                if q.startswith("torch.") and q not in _EXCLUDED_CALLS:
                    return "elementwise-torch"
        if (
            isinstance(parent, cst.Attribute)
            and parent.value is self.ctx.node
            and parent.attr.value in _REDUCING_METHODS
        ):
            return "elementwise"
        return context

    def _operand_kind(self, node: cst.BaseExpression) -> str | None:
        kind = self.ctx.kind(node)
        if kind is not None or not isinstance(node, cst.Call):
            return kind
        q = self.ctx.qualname(node.func)
        if q is not None:
            if q.startswith("torch.") and not q.startswith("torch.nn.functional."):
                return K.TENSOR if q.rpartition(".")[2] in _TORCH_REDUCTIONS else None
            return None
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in _TENSOR_RESULT_METHODS:
            recv = self.ctx.kind(func.value)
            if recv == K.TENSOR:
                return K.TENSOR
            if recv == K.DATAFRAME and not node.args:
                return K.SERIES
        return None

    def _in_assert(self) -> bool:
        """The comparison is (an and/or/not operand of) the test of an ``assert``."""
        child: cst.CSTNode = self.ctx.node
        for parent in self.ctx.ancestors():
            if isinstance(parent, cst.Assert):
                return parent.test is child
            if isinstance(parent, cst.BooleanOperation) or (
                isinstance(parent, cst.UnaryOperation) and isinstance(parent.operator, cst.Not)
            ):
                child = parent
                continue
            return False
        return False

    def _approx_fix(
        self, node: cst.Comparison, left: cst.BaseExpression, right: cst.BaseExpression
    ) -> Fix | None:
        """``a == pytest.approx(b)``, b being the literal side (else the right side). A literal
        on the left moves to the right: evaluating a literal has no effect, so the swap is
        only cosmetic."""
        found = self._callable("pytest", "approx")
        if found is None:
            return None
        func, plan = found
        if _is_number_literal(left) and not _is_number_literal(right):
            op = node.comparisons[0].operator
            op_text = "==" if isinstance(op, cst.Equal) else "!="
            text = f"{self.ctx.code(right).strip()} {op_text} {func}({self._arg_code(left)})"
            if node.lpar:
                text = f"({text})"
            return Fix(FixSafety.UNSAFE, [(node, text)], [plan])
        return Fix(FixSafety.UNSAFE, [(right, f"{func}({self._arg_code(right)})")], [plan])

    def _call_fix(
        self,
        node: cst.Comparison,
        module: str,
        left: cst.BaseExpression,
        right: cst.BaseExpression,
        negated: bool,
        negation: str,
        keywords: tuple[tuple[str, str], ...],
    ) -> Fix | None:
        found = self._callable(module, "isclose")
        if found is None:
            return None
        func, plan = found
        args = [self._arg_code(left), self._arg_code(right)]
        args.extend(f"{k}={v}" for k, v in keywords)
        text = f"{func}({', '.join(args)})"
        replaced: cst.BaseExpression = node
        parent = self.ctx.parent
        if negated:
            negator = cst.Not if negation == "not " else cst.BitInvert
            if (
                isinstance(parent, cst.UnaryOperation)
                and isinstance(parent.operator, negator)
                and parent.expression is node
            ):
                # `not a != b` -> `isclose(a, b)` rather than `not not isclose(a, b)`
                replaced = parent
            else:
                text = negation + text
                if negation == "not " and isinstance(parent, (cst.BinaryOperation, cst.Comparison)):
                    text = f"({text})"
        if replaced.lpar:
            text = f"({text})"
        return Fix(FixSafety.UNSAFE, [(replaced, text)], [plan])

    def _callable(self, module: str, attr: str) -> tuple[str, ImportPlan] | None:
        """``np.isclose`` / ``isclose`` (an existing ``from m import isclose``) / ``m.isclose``."""
        plan = self.ctx.import_name(module, attr)
        if plan is not None and plan.statement is None:
            return plan.local, plan
        plan = self.ctx.import_name(module)
        if plan is None:
            return None
        return f"{plan.local}.{attr}", plan

    def _arg_code(self, node: cst.BaseExpression) -> str:
        if node.lpar and not isinstance(node, (cst.NamedExpr, cst.Yield)):
            return self.ctx.code(node.with_changes(lpar=(), rpar=())).strip()
        return self.ctx.code(node).strip()

    def _assignment_use(self) -> str:
        """For ``x = a == b``: "ok" when ``x`` is a plain name never used as an index or a
        mask, "mask" when it is, "ambiguous" for other targets or when ``x`` is passed to a
        call; "none" for no assignment."""
        parent = self.ctx.parent
        if isinstance(parent, cst.Assign):
            if len(parent.targets) != 1:
                return "ambiguous"
            target = parent.targets[0].target
        elif isinstance(parent, cst.AnnAssign):
            target = parent.target
        else:
            return "none"
        if not isinstance(target, cst.Name):
            return "ambiguous"
        scope = self.ctx.function_scope()
        root = scope.node if scope is not None else self.ctx.module
        return _mask_use(self.ctx, root, target.value)


# -- helpers ---------------------------------------------------------------------------------


def _float_literal_kind(node: cst.BaseExpression) -> str | None:
    """``"fraction"`` for a non-integral float literal, ``"integral"`` for ``1.0``/``1e3``."""
    value = float_literal(node)
    if value is None:
        return None
    return "integral" if value.is_integer() else "fraction"


def _is_number_literal(node: cst.BaseExpression) -> bool:
    return float_literal(node) is not None or int_value(node) is not None


def _is_zero(node: cst.BaseExpression) -> bool:
    return float_literal(node) == 0.0 or int_value(node) == 0


def _is_upper_constant(identifier: str) -> bool:
    return identifier.isupper()


_PATH_TOKENS = frozenset(
    {"path", "paths", "dir", "dirs", "directory", "folder", "root", "home", "file", "filename",
     "filepath", "tmpdir", "cwd", "url", "uri", "prefix", "suffix"}
)  # fmt: skip
_EXTREME_TOKENS = ("max", "min")


def _is_config(node: cst.BaseExpression) -> bool:
    """``args``, ``cfg``, ``self.config``, ``self.hparams`` ...: user-set configuration."""
    ident = _last_identifier(node)
    return ident is not None and ident.lower() in _CONFIG_NAMES


def _extreme_of(value: cst.BaseExpression, other: cst.BaseExpression) -> bool:
    """``other`` is a max/min (``max_pool``, ``np.amax``, ``.max(...).values``) of ``value``."""
    node: cst.BaseExpression = other
    if (isinstance(node, cst.Attribute) and node.attr.value in ("values", "data")) or (
        isinstance(node, cst.Subscript) and isinstance(node.value, cst.Call)
    ):
        node = node.value
    if not isinstance(node, cst.Call):
        return False
    func = node.func
    name = _last_identifier(func)
    if name is None:
        return False
    extreme = any(t in _EXTREME_TOKENS for t in identifier_tokens(name))
    if not extreme and name.lower() not in ("amax", "amin", "nanmax", "nanmin"):
        return False
    candidates: list[cst.BaseExpression] = [a.value for a in node.args]
    if isinstance(func, cst.Attribute):
        candidates.append(func.value)
    return any(cst_equal(c, value) for c in candidates)


#: kinds whose values are never floats (a metric-like name bound only to these is no metric)
_NON_FLOAT_KINDS = frozenset({K.STR, K.LIST, K.DICT, K.SET, K.PATH, K.TUPLE, K.ITERATOR})


def _last_identifier(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None


def _string_key(node: cst.Subscript) -> str | None:
    if len(node.slice) != 1:
        return None
    el = node.slice[0].slice
    if isinstance(el, cst.Index):
        return string_value(el.value)
    return None


def _token_in(token: str, entries: frozenset[str]) -> bool:
    """``token`` equals an entry as is, without trailing digits, or without a plural s/es."""
    if token in entries:
        return True
    stripped = token.rstrip(string.digits)
    if stripped and stripped in entries:
        return True
    for suffix in ("es", "s"):
        if token.endswith(suffix) and len(token) > len(suffix):
            singular = token[: -len(suffix)]
            if singular in entries or singular.rstrip(string.digits) in entries:
                return True
    return False


def _mask_use(ctx: FileContext, root: cst.CSTNode, name: str) -> str:
    """How ``name`` is used below ``root``: "mask" when it is (part of) an index, an operand of
    ``&``/``|``/``^``/``~``, an argument of a NumPy/PyTorch function or the base of an
    attribute access; "ambiguous" when it is passed to another call; else "ok"."""
    verdict = "ok"
    stack: list[tuple[cst.CSTNode, tuple[cst.CSTNode, ...], bool]] = [(root, (), False)]
    while stack:
        node, parents, in_index = stack.pop()
        if isinstance(node, cst.Name) and node.value == name and parents:
            parent = parents[-1]
            if in_index:
                return "mask"
            if isinstance(parent, cst.Attribute) and parent.value is node:
                return "mask"
            if isinstance(parent, cst.BinaryOperation) and isinstance(
                parent.operator, (cst.BitAnd, cst.BitOr, cst.BitXor)
            ):
                return "mask"
            if isinstance(parent, cst.UnaryOperation) and isinstance(
                parent.operator, cst.BitInvert
            ):
                return "mask"
            if isinstance(parent, cst.Arg):
                call = parents[-2] if len(parents) >= 2 else None
                q = ctx.qualname(call.func) if isinstance(call, cst.Call) else None
                if q is not None and q.startswith(("numpy.", "torch.", "pandas.")):
                    return "mask"
                verdict = "ambiguous"
        child_in_index = in_index or isinstance(node, cst.SubscriptElement)
        chain = (*parents[-1:], node)
        for child in child_nodes(node):
            stack.append((child, chain, child_in_index))
    return verdict
