"""ML101 float-equality."""

from __future__ import annotations

import ast
import builtins
import math
import string
from bisect import bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, assign_pairs, dotted_name, qualified_names, terminal_name
from mllint.prescan import start_pos as _pos
from mllint.rule import Fix, FixSafety, Option, Rule
from mllint.semantics import kinds as K
from mllint.semantics.context import FileContext, FileFacts, ImportPlan
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

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # an ==/!= pair, neither side certainly excluded (strings, None, displays, len(),
        # pytest.approx, .shape...), one side a non-integral float literal, a division, a
        # call that may be float-valued (np.mean, float, *_score, .std(), .item()...) or a
        # metric-like name/attribute/subscript/loop variable (options honoured)
        compares = [c for c in scan.of(ast.Compare) if any(type(op) in _AST_EQ_OPS for op in c.ops)]
        if not compares:
            return False
        return _FloatEqualityGate(scan, facts, options).any_trigger(compares)

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
            return _float_qualname(
                q, lambda keyword, position: call_arg(node, keyword, position=position) is not None
            )
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


# -- the ast pre-scan ------------------------------------------------------------------------

_AST_EQ_OPS = (ast.Eq, ast.NotEq)
_BUILTIN_NAMES = frozenset(dir(builtins))
_IDENTIFIER_CHECKS: dict[tuple[tuple[str, ...], tuple[str, ...]], Callable[[str], bool]] = {}


def _identifier_check(options: Mapping[str, Any]) -> Callable[[str], bool]:
    """``FloatEquality._metric_identifier`` for these option values (memoised)."""
    metric = tuple(options.get("metric-names", DEFAULT_METRIC_NAMES)) + tuple(
        options.get("extend-metric-names", ())
    )
    non_metric = tuple(options.get("non-metric-tokens", DEFAULT_NON_METRIC_TOKENS))
    key = (metric, non_metric)
    check = _IDENTIFIER_CHECKS.get(key)
    if check is None:
        metric_set = frozenset(n.lower() for n in metric)
        non_metric_set = frozenset(n.lower() for n in non_metric)
        cache: dict[str, bool] = {}

        def check(identifier: str) -> bool:
            hit = cache.get(identifier)
            if hit is None:
                tokens = identifier_tokens(identifier)
                hit = cache[identifier] = any(_token_in(t, metric_set) for t in tokens) and not any(
                    _token_in(t, non_metric_set) for t in tokens
                )
            return hit

        if len(_IDENTIFIER_CHECKS) > 32:
            _IDENTIFIER_CHECKS.clear()
        _IDENTIFIER_CHECKS[key] = check
    return check


class _FloatEqualityGate:
    """``FloatEquality._pair_triggers`` on plain ``ast`` nodes. Names are resolved through
    the file's import table (``_Imports``), so a trigger is assumed wherever a name may
    resolve to a triggering function, and an exclusion only where it certainly applies."""

    def __init__(self, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> None:
        self.scan = scan
        self.imports = _imports_of(scan, facts)
        self.metric = _identifier_check(options)
        self.non_metric = frozenset(
            n.lower() for n in options.get("non-metric-tokens", DEFAULT_NON_METRIC_TOKENS)
        )
        self._loop_names: frozenset[str] | None = None

    def any_trigger(self, compares: Iterable[ast.Compare]) -> bool:
        for c in compares:
            left = c.left
            for op, right in zip(c.ops, c.comparators, strict=True):
                if (
                    type(op) in _AST_EQ_OPS
                    and (self.operand(left) or self.operand(right))
                    and not self.excluded(left)
                    and not self.excluded(right)
                ):
                    return True
                left = right
        return False

    # -- triggers (as broad as the rule's) --------------------------------------------------
    def operand(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Constant):
            return _fraction(node.value)
        if isinstance(node, ast.UnaryOp):
            return (
                isinstance(node.op, (ast.USub, ast.UAdd))
                and isinstance(node.operand, ast.Constant)
                and _fraction(node.operand.value)
            )
        if isinstance(node, ast.BinOp):
            return isinstance(node.op, ast.Div)
        if isinstance(node, ast.Call):
            return self.float_call(node)
        return self.metric_like(node)

    def float_call(self, call: ast.Call) -> bool:
        """``_float_evidence`` of a call: a qualified float-valued function, or a method."""
        func = call.func
        if isinstance(func, ast.Name):
            if func.id == "float":
                return True  # builtins.float, unless rebound
        elif isinstance(func, ast.Attribute):
            method = func.attr
            no_args = not call.args and not call.keywords
            if method in _NOARG_FLOAT_METHODS and no_args:
                return True
            if method == "score":
                receiver = func.value
                last = receiver.id if isinstance(receiver, ast.Name) else None
                if isinstance(receiver, ast.Attribute):
                    last = receiver.attr
                if last is None or not is_capwords(last):
                    return True
            if method == "item" and no_args and self.metric_like(func.value):
                return True
        else:
            return False
        return any(
            _float_qualname(q, lambda keyword, position: _ast_call_arg(call, keyword, position))
            for q in self.imports.qualnames(func)
        )

    def metric_like(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return self.metric(node.id) or self.loop_variable(node.id)
        if isinstance(node, ast.Attribute):
            return self.metric(node.attr)
        if isinstance(node, ast.Subscript):
            key = node.slice
            if (
                isinstance(key, ast.Constant)
                and isinstance(key.value, str)
                and key.value.isidentifier()
                and self.metric(key.value)
            ):
                return True
            return self.metric_like(node.value)
        return False

    def loop_variable(self, name: str) -> bool:
        if self._loop_names is None:
            self._loop_names = self._metric_loop_names()
        return name in self._loop_names and not any(
            _token_in(t, self.non_metric) for t in identifier_tokens(name)
        )

    def _metric_loop_names(self) -> frozenset[str]:
        """Names a ``for``/comprehension target binds from a metric-like iterable
        (``_bound_from_metric``), to a fixpoint: ``for v in val_losses``,
        ``for i, v in enumerate(val_losses)``, nested loops."""
        loops: list[tuple[ast.expr, ast.expr]] = [
            (n.target, n.iter) for n in self.scan.of(ast.For, ast.AsyncFor, ast.comprehension)
        ]
        names: set[str] = set()
        self._loop_names = frozenset()
        changed = True
        while changed and loops:
            changed = False
            rest: list[tuple[ast.expr, ast.expr]] = []
            for target, iterable in loops:
                bound = self._bound_from_metric(target, iterable)
                if bound:
                    names.update(bound)
                    changed = True
                else:
                    rest.append((target, iterable))
            loops = rest
            self._loop_names = frozenset(names)
        return self._loop_names

    def _bound_from_metric(self, target: ast.expr, iterable: ast.expr) -> set[str]:
        if isinstance(target, ast.Name):
            return {target.id} if self.metric_like(iterable) else set()
        if not isinstance(target, (ast.Tuple, ast.List)) or not isinstance(iterable, ast.Call):
            return set()
        elements = target.elts
        if any(isinstance(el, ast.Starred) for el in elements):
            return set()
        func = iterable.func
        args = [a for a in iterable.args if not isinstance(a, ast.Starred)]
        out: set[str] = set()
        name = terminal_name(func)
        if name == "enumerate" and len(elements) == 2 and args:
            out |= self._bound_from_metric(elements[1], args[0])
        if name == "zip" and len(elements) == len(args) == len(iterable.args) + len(
            iterable.keywords
        ):
            for el, arg in zip(elements, args, strict=True):
                out |= self._bound_from_metric(el, arg)
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "items"
            and not iterable.args
            and not iterable.keywords
            and len(elements) == 2
        ):
            out |= self._bound_from_metric(elements[1], func.value)
        return out

    # -- exclusions (only those that certainly apply) ----------------------------------------
    def excluded(self, node: ast.expr) -> bool:
        """``FloatEquality._excluded``, where it holds whatever the names resolve to."""
        if isinstance(node, _AST_EXCLUDED_SHAPES):
            return True
        if isinstance(node, ast.Constant):
            value = node.value
            if value is None or value is Ellipsis or isinstance(value, (str, bytes, bool)):
                return True  # strings, `...`, None/True/False
            return isinstance(value, float) and math.isinf(value)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return True
            operand = node.operand
            return (
                isinstance(node.op, (ast.USub, ast.UAdd))
                and isinstance(operand, ast.Constant)
                and isinstance(operand.value, float)
                and math.isinf(operand.value)
            )
        if isinstance(node, ast.Attribute):
            if node.attr in _EXCLUDED_ATTRS:
                return True
            base = node.value
            base_last = base.id if isinstance(base, ast.Name) else None
            if isinstance(base, ast.Attribute):
                base_last = base.attr
            return base_last is not None and is_capwords(base_last) and node.attr.isupper()
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in _SIZE_METHODS:
                return True
            q = self.imports.certain(func)
            if q in _EXCLUDED_CALLS:
                return True
            return (
                q == "builtins.round"
                and len(node.args) == 1
                and not node.keywords
                and not isinstance(node.args[0], ast.Starred)
            )
        if isinstance(node, ast.Subscript):
            base = node.value
            if isinstance(base, ast.Attribute) and base.attr in ("shape", "dtypes"):
                return True
            return (
                isinstance(base, ast.Call)
                and isinstance(base.func, ast.Attribute)
                and base.func.attr in _SIZE_METHODS
            )
        return False


#: operands ``_excluded`` always excludes: displays, comprehensions, comparisons, boolean
#: operations and f-strings (libcst's FormattedString is string-like)
_AST_EXCLUDED_SHAPES = (
    ast.List, ast.Tuple, ast.Set, ast.Dict, ast.ListComp, ast.SetComp, ast.DictComp,
    ast.GeneratorExp, ast.Compare, ast.BoolOp, ast.JoinedStr,
)  # fmt: skip


def _float_qualname(q: str, has_arg: Callable[[str, int], bool]) -> bool:
    """Whether a call whose callee resolves to ``q`` returns a float (the rule's
    ``_float_evidence`` and its gate): ``has_arg(keyword, position)`` tells whether the call
    passes that argument (a reduction over an axis returns an array, not a float)."""
    mod, _, last = q.rpartition(".")
    if q == "builtins.float":
        return True
    if mod == "math":
        return last in _MATH_FLOAT_FUNCS
    if mod == "statistics":
        return last in _STATISTICS_FUNCS
    if mod == "numpy" and last in _NUMPY_REDUCTIONS:
        return not has_arg("axis", 1)
    if q == "numpy.linalg.norm":
        return not has_arg("axis", 2)
    if mod == "torch" and last in _TORCH_REDUCTIONS:
        return not has_arg("dim", 1)
    if q.startswith("sklearn.metrics."):
        return last.endswith(("_score", "_error", "_loss")) or last == "matthews_corrcoef"
    return False


def _ast_call_arg(call: ast.Call, keyword: str, position: int) -> bool:
    """Whether ``call_arg(call, keyword, position)`` finds an argument."""
    if any(kw.arg == keyword for kw in call.keywords):
        return True
    for i, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred):
            return False  # *args: position unknown
        if i == position:
            return True
    return False


def _fraction(value: object) -> bool:
    """A non-integral float literal (``float_literal`` gives a ``"fraction"``)."""
    return isinstance(value, float) and not value.is_integer()


# -- ast pre-scan helpers shared by the numerics gates ------------------------------------


def _aliases_where(scan: Scan, wanted: Callable[[str], bool]) -> frozenset[str]:
    """The local names that imports bind, with ``as``, to something whose last component
    satisfies ``wanted``: ``avg`` for ``from numpy import mean as avg`` or
    ``import numpy.mean as avg`` when ``wanted("mean")``."""
    out: set[str] = set()
    for imp in scan.of(ast.Import, ast.ImportFrom):
        for alias in imp.names:
            if alias.asname is not None and wanted(alias.name.rpartition(".")[2]):
                out.add(alias.asname)
    return frozenset(out)


def _local_names(scan: Scan, names: Collection[str]) -> frozenset[str]:
    """``names`` and every import alias bound to one of them (see ``_aliases_where``)."""
    aliases = _aliases_where(scan, names.__contains__)
    return frozenset(names) | aliases if aliases else frozenset(names)


def _calls_named(scan: Scan, names: Collection[str]) -> list[ast.Call]:
    """Calls whose callee's terminal name is one of ``names`` or an import alias of one."""
    return scan.calls(*_local_names(scan, names))


def _may_resolve_into(scan: Scan, facts: FileFacts, libs: tuple[str, ...]) -> bool:
    """Whether a qualified name in this file can resolve into one of these top-level
    packages: an (absolute) import of one, or a relative import in a package under one."""
    if scan.imports_any(*libs):
        return True
    package_top = (facts.package or "").split(".", 1)[0]
    for imp in scan.of(ast.ImportFrom):
        if imp.level and (package_top in libs or (imp.module or "").split(".", 1)[0] in libs):
            return True
    return False


def _bound_values(scan: Scan, wanted: Callable[[ast.expr], bool]) -> dict[str, list[ast.expr]]:
    """``{name: [value, ...]}`` for the values ``wanted`` accepts that an assignment binds a
    name to as a whole (the semantic model's "assign"/"annassign" bindings that are not
    ``unpacked``): ``x = v``, ``x: T = v``, and ``a, b = v, w`` element by element."""
    out: dict[str, list[ast.expr]] = {}
    pairs: list[tuple[ast.expr, ast.expr]] = []
    for a in scan.of(ast.Assign):
        for t in a.targets:
            assign_pairs(t, a.value, pairs)
    for an in scan.of(ast.AnnAssign):
        if an.value is not None:
            pairs.append((an.target, an.value))
    for target, value in pairs:
        if isinstance(target, ast.Name) and wanted(value):
            out.setdefault(target.id, []).append(value)
    return out


def _imports_of(scan: Scan, facts: FileFacts) -> _Imports:
    """The file's ``_Imports`` (built once per file, shared by the numerics gates)."""
    return scan.memo(("numerics.imports", facts.package), lambda: _Imports(scan, facts))


def _regions_of(scan: Scan, facts: FileFacts) -> _Regions:
    return scan.memo("numerics.regions", lambda: _Regions(scan))


class _Imports:
    """Every qualified name an import binds to each local name, anywhere in the file (the
    semantic model resolves names per scope; this table holds the union)."""

    def __init__(self, scan: Scan, facts: FileFacts) -> None:
        self.scan = scan
        self.package = facts.package
        self._rebound: frozenset[str] | None = None
        self._module_imports: frozenset[str] | None = None

    @property
    def table(self) -> dict[str, frozenset[str]]:
        """:meth:`Scan.import_bindings` with the file's package."""
        return self.scan.import_bindings(self.package)

    def qualnames(self, expr: ast.expr) -> set[str]:
        """What ``ctx.qualname(expr)`` may be through an import (builtins are left out)."""
        return set(qualified_names(expr, self.table))

    def may_be(self, expr: ast.expr, targets: Collection[str]) -> bool:
        """Whether ``ctx.qualname(expr)`` may be one of ``targets``; a ``builtins.X``
        target also matches a bare, unimported ``X``."""
        if isinstance(expr, ast.Name) and f"builtins.{expr.id}" in targets:
            return True  # unbound in some scope (the table cannot tell)
        return any(q in targets for q in self.qualnames(expr))

    def certain(self, expr: ast.expr) -> str | None:
        """``ctx.qualname(expr)`` when it is the same in every scope: the root name is bound
        by nothing but imports that agree, one of them at module level (or by nothing: a
        builtin)."""
        dotted = dotted_name(expr)
        if dotted is None:
            return None
        root, _, rest = dotted.partition(".")
        if root in self.rebound():
            return None
        quals = self.table.get(root)
        if quals is None:
            if root in self.imported_locals():
                return None  # bound by an import the table drops (unresolvable relative)
            qual = f"builtins.{root}" if root in _BUILTIN_NAMES else None
        elif len(quals) == 1 and root in self.module_imports():
            qual = next(iter(quals))
        else:
            return None
        if qual is None:
            return None
        return f"{qual}.{rest}" if rest else qual

    def module_imports(self) -> frozenset[str]:
        """Local names bound by imports at module level (also under if/try/with...)."""
        if self._module_imports is None:
            out: set[str] = set()
            stack: list[ast.stmt] = list(self.scan.tree.body)
            while stack:
                stmt = stack.pop()
                if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                    for alias in stmt.names:
                        if alias.name != "*":
                            out.add(alias.asname or alias.name.partition(".")[0])
                elif not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                        for sub in getattr(stmt, field, ()):
                            if isinstance(sub, ast.stmt):
                                stack.append(sub)
                            else:  # an except handler or a match case
                                stack.extend(sub.body)
            self._module_imports = frozenset(out)
        return self._module_imports

    def imported_locals(self) -> frozenset[str]:
        """Every local name any import binds (the table leaves out unresolvable ones)."""
        return frozenset(
            alias.asname or alias.name.partition(".")[0]
            for imp in self.scan.of(ast.Import, ast.ImportFrom)
            for alias in imp.names
            if alias.name != "*"
        )

    def rebound(self) -> frozenset[str]:
        """Names bound anywhere other than by an import (or declared global/nonlocal)."""
        if self._rebound is None:
            scan = self.scan
            out = {n.id for n in scan.of(ast.Name) if type(n.ctx) is not ast.Load}
            out.update(a.arg for a in scan.of(ast.arg))
            out.update(d.name for d in scan.of(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            out.update(h.name for h in scan.of(ast.ExceptHandler) if h.name)
            for m in scan.of(ast.MatchAs, ast.MatchStar):
                if m.name:
                    out.add(m.name)
            out.update(m.rest for m in scan.of(ast.MatchMapping) if m.rest)
            for decl in scan.of(ast.Global, ast.Nonlocal):
                out.update(decl.names)
            self._rebound = frozenset(out)
        return self._rebound

    def calls(self, targets: Collection[str]) -> list[ast.Call]:
        """Calls whose callee may resolve to one of ``targets``."""
        last = {t.rpartition(".")[2] for t in targets}
        return [c for c in _calls_named(self.scan, last) if self.may_be(c.func, targets)]


_Pos = tuple[int, int]
#: a node where a binding is (its start says which region binds)
_Anchor = ast.stmt | ast.expr
#: (where the binding is, its annotation, its value)
_Binding = tuple[_Anchor, ast.expr | None, ast.expr | None]


class _Regions:
    """The bodies of functions, lambdas and classes as nested source spans: a stand-in for
    the semantic model's scopes (region 0 is the module). A body starts at its first
    statement, so decorators, defaults and annotations belong to the enclosing region, as
    they do in Python."""

    def __init__(self, scan: Scan) -> None:
        spans: list[tuple[_Pos, _Pos, ast.AST]] = []  # (start, end, owner)
        for fn in scan.functions():
            spans.append((_pos(fn.body[0]), _end(fn.body[-1]), fn))
        for cls in scan.of(ast.ClassDef):
            spans.append((_pos(cls.body[0]), _end(cls.body[-1]), cls))
        for lam in scan.of(ast.Lambda):
            spans.append((_pos(lam.body), _end(lam.body), lam))
        spans.sort(key=lambda sp: (sp[0], (-sp[1][0], -sp[1][1])))
        self.starts: list[_Pos] = [(0, -1)]
        self.ends: list[_Pos] = [(1 << 30, 0)]
        #: the FunctionDef/AsyncFunctionDef/Lambda/ClassDef whose body it is (the module)
        self.owner: list[ast.AST] = [scan.tree]
        self.is_class: list[bool] = [False]
        self.parent: list[int] = [-1]
        stack = [0]
        for start, end, owner in spans:
            while self.ends[stack[-1]] <= start:
                stack.pop()
            self.parent.append(stack[-1])
            stack.append(len(self.starts))
            self.starts.append(start)
            self.ends.append(end)
            self.owner.append(owner)
            self.is_class.append(isinstance(owner, ast.ClassDef))

    def at(self, pos: _Pos) -> int:
        """The innermost region containing ``pos`` (a node's start: a node inside a span
        starts before the span's end)."""
        i = bisect_right(self.starts, pos) - 1
        while i > 0 and self.ends[i] <= pos:
            i = self.parent[i]
        return max(i, 0)

    def chain(self, region: int) -> Iterator[int]:
        """The regions a name lookup from ``region`` visits (LEGB: enclosing class bodies
        are skipped)."""
        yield region
        r = self.parent[region]
        while r >= 0:
            if not self.is_class[r]:
                yield r
            r = self.parent[r]


def _target_names(target: ast.expr) -> Iterator[str]:
    """The names an assignment or loop target binds (not those read in a subscript)."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for el in target.elts:
            yield from _target_names(el)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


def _end(node: ast.expr | ast.stmt) -> _Pos:
    return (node.end_lineno or node.lineno, node.end_col_offset or 0)
