"""``kind(expr)``: the conservative local type facts of RULES.md §0.3 item 3.

A name has kind K in a scope only if *every* binding of it in that scope yields K; unknown
(``None``) never triggers a rule that requires a kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from mllint.semantics.cstutil import is_capwords, is_string_like
from mllint.semantics.scopes import Binding, ClassInfo, FunctionInfo, Scope

if TYPE_CHECKING:
    from mllint.semantics.context import FileContext

DATAFRAME = "DataFrame"
SERIES = "Series"
NDARRAY = "ndarray"
TENSOR = "Tensor"
MODULE = "Module"
ESTIMATOR = "Estimator"
LIST = "list"
DICT = "dict"
SET = "set"
STR = "str"
PATH = "Path"
ITERATOR = "one-shot-iterator"
TUPLE = "tuple"

ARRAYLIKE = frozenset({DATAFRAME, SERIES, NDARRAY, TENSOR})
#: augmented assignments with an arithmetic operator (`x -= ...`): they keep an array's kind
ARITHMETIC_AUG_OPS = (
    cst.AddAssign,
    cst.SubtractAssign,
    cst.MultiplyAssign,
    cst.DivideAssign,
    cst.FloorDivideAssign,
    cst.ModuloAssign,
    cst.PowerAssign,
)

_PANDAS_FRAME_FUNCS = frozenset(
    {"DataFrame", "concat", "merge", "get_dummies", "pivot_table", "crosstab", "json_normalize"}
)
_NUMPY_ARRAY_FUNCS = frozenset(
    {
        "array", "asarray", "asanyarray", "ascontiguousarray", "zeros", "ones", "empty", "full",
        "zeros_like", "ones_like", "empty_like", "full_like", "arange", "linspace", "logspace",
        "geomspace", "eye", "identity", "concatenate", "stack", "vstack", "hstack", "dstack",
        "column_stack", "load", "loadtxt", "genfromtxt", "fromfile", "frombuffer", "copy", "tile",
        "repeat",
    }
)  # fmt: skip
_NUMPY_RANDOM_SAMPLERS = frozenset(
    {
        "rand", "randn", "random", "random_sample", "normal", "uniform", "randint", "choice",
        "permutation", "binomial", "poisson", "exponential", "beta", "gamma", "standard_normal",
        "integers", "multivariate_normal", "lognormal", "laplace", "dirichlet", "multinomial",
    }
)  # fmt: skip
_TORCH_TENSOR_FUNCS = frozenset(
    {
        "tensor", "as_tensor", "from_numpy", "zeros", "ones", "empty", "full", "zeros_like",
        "ones_like", "empty_like", "full_like", "rand_like", "randn_like", "arange", "linspace",
        "logspace", "eye", "rand", "randn", "randint", "randperm", "cat", "stack", "concat",
    }
)  # fmt: skip
#: DataFrame methods that return a DataFrame
DATAFRAME_METHODS_FRAME = frozenset(
    {
        "copy", "dropna", "fillna", "drop", "drop_duplicates", "rename", "assign", "merge",
        "join", "query", "sort_values", "sort_index", "reset_index", "set_index", "head", "tail",
        "sample", "astype", "replace", "where", "mask", "clip", "select_dtypes", "filter",
        "reindex", "ffill", "bfill", "interpolate", "round", "abs", "transpose", "pivot",
        "pivot_table", "melt", "explode", "nlargest", "nsmallest", "convert_dtypes", "infer_objects",
        "add_prefix", "add_suffix", "rename_axis", "droplevel",
    }
)  # fmt: skip
#: DataFrame attributes/methods/accessors that are NOT columns (``df.<attr>`` is not a Series)
DATAFRAME_NON_COLUMNS = frozenset(
    {
        "columns", "index", "values", "shape", "T", "loc", "iloc", "at", "iat", "str", "dt", "cat",
        "plot", "dtypes", "size", "ndim", "empty", "axes", "attrs", "flags", "style", "sparse",
        "array", "name", "hist", "boxplot",
    }
) | DATAFRAME_METHODS_FRAME  # fmt: skip
_SERIES_METHODS_SERIES = frozenset(
    {
        "copy", "dropna", "fillna", "astype", "replace", "where", "mask", "clip", "abs", "round",
        "sort_values", "sort_index", "reset_index", "head", "tail", "sample", "map", "shift",
        "diff", "cumsum", "cumprod", "rank", "isna", "notna", "isnull", "notnull", "isin",
        "between", "ffill", "bfill", "interpolate", "rolling", "pct_change",
    }
)  # fmt: skip
_LIST_METHODS = frozenset({"tolist", "split", "splitlines", "readlines", "rsplit"})
_STR_METHODS = frozenset({"lower", "upper", "strip", "lstrip", "rstrip", "read", "decode", "join"})
_TENSOR_METHODS_TENSOR = frozenset(
    {"float", "double", "long", "int", "half", "bool", "to", "cpu", "cuda", "detach", "clone",
     "contiguous", "view", "reshape", "unsqueeze", "squeeze", "permute", "flatten"}
)  # fmt: skip
_NDARRAY_METHODS_ARRAY = frozenset(
    {"copy", "astype", "reshape", "ravel", "flatten", "transpose", "clip", "round", "squeeze"}
)
_PATH_METHODS_PATH = frozenset(
    {"resolve", "absolute", "with_suffix", "with_name", "with_stem", "joinpath", "expanduser"}
)
_ITER_BUILTINS = frozenset({"map", "filter", "zip", "iter", "reversed", "enumerate"})
_ITERTOOLS_NON_ITER = frozenset({"tee"})  # returns a tuple of iterators
#: file handles: one-shot line iterators (``with ... as f`` and ``f = ...`` alike)
_FILE_OPENERS = frozenset({"builtins.open", "io.open", "gzip.open", "bz2.open", "lzma.open"})
#: other calls returning a one-shot iterator (builtins are handled apart)
_ITER_CALLS = frozenset({"csv.reader", "csv.DictReader", "os.scandir"}) | (
    _FILE_OPENERS - {"builtins.open"}
)


def _is_pandas_io(qual: str) -> bool:
    return qual.startswith("pandas.read_") or (
        qual.startswith("pandas.DataFrame.from_") and qual.count(".") == 2
    )


class KindInference:
    """Kind inference for one file; results of names are memoised per scope."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self._name_cache: dict[tuple[str, int], str | None] = {}
        self._attr_cache: dict[tuple[int, str], str | None] = {}
        self._in_progress: set[tuple[str, int]] = set()
        self._assumed: dict[tuple[str, int], str] = {}
        self._local_classes: dict[str, ClassInfo] = {
            c.name: c for c in ctx.model.classes if c.scope.parent is ctx.model.module_scope
        }
        #: by ClassInfo identity, not name: two classes may share a name (in two functions)
        self._module_class_cache: dict[int, bool] = {}

    # -- public ----------------------------------------------------------------------------
    def of(self, expr: cst.CSTNode, scope: Scope) -> str | None:
        if isinstance(expr, cst.Name):
            return self.of_name(expr.value, scope)
        if isinstance(expr, (cst.List, cst.ListComp)):
            return LIST
        if isinstance(expr, (cst.Dict, cst.DictComp)):
            return DICT
        if isinstance(expr, (cst.Set, cst.SetComp)):
            return SET
        if isinstance(expr, cst.Tuple):
            return TUPLE
        if is_string_like(expr):
            return STR
        if isinstance(expr, cst.GeneratorExp):
            return ITERATOR
        if isinstance(expr, cst.Call):
            return self.of_call(expr, scope)
        if isinstance(expr, cst.Attribute):
            return self.of_attribute(expr, scope)
        if isinstance(expr, cst.Subscript):
            return self.of_subscript(expr, scope)
        if isinstance(expr, cst.BinaryOperation):
            left = self.of(expr.left, scope)
            if isinstance(expr.operator, cst.Divide) and left == PATH:
                return PATH
            if isinstance(expr.operator, cst.Multiply) and left == LIST:
                return LIST  # [...] * n
            if isinstance(expr.operator, cst.Add) and left == LIST:
                right = self.of(expr.right, scope)
                return LIST if right == LIST else None
            return None
        return None

    def of_name(self, name: str, scope: Scope) -> str | None:
        bindings = self.ctx.model.lookup(name, scope)
        if not bindings:
            return None
        owner = bindings[0].scope
        key = (name, id(owner))
        if key in self._name_cache:
            return self._name_cache[key]
        if key in self._in_progress:
            # a binding refers to the name itself (`df = df.dropna()`): use the kind being
            # verified, if any (see below), else unknown
            return self._assumed.get(key)
        self._in_progress.add(key)
        try:
            result = self._all_same(bindings)
            if result is None and len(bindings) > 1:
                # `df: pd.DataFrame` then `df = df.sort_values(...).copy()`: assume the kind of
                # the first binding and check that every binding yields it under that assumption
                first = self.of_binding(bindings[0])
                if first is not None:
                    self._assumed[key] = first
                    try:
                        result = self._all_same(bindings)
                    finally:
                        del self._assumed[key]
        finally:
            self._in_progress.discard(key)
        if not self._assumed:
            # results computed under an unverified assumption are not cached
            self._name_cache[key] = result
        return result

    def _all_same(self, bindings: list[Binding]) -> str | None:
        result: str | None = None
        augmented: list[Binding] = []
        concatenated = False
        for b in bindings:
            if b.kind == "augassign" and isinstance(b.node, cst.AugAssign):
                augmented.append(b)
                continue
            if _self_concatenation(b):
                concatenated = True  # `acc = acc + part`: keeps a str a str (checked below)
                continue
            k = self.of_binding(b)
            if k is None:
                return None
            if result is None:
                result = k
            elif k != result:
                return None
        # `X -= X.mean()` keeps an array's/frame's/tensor's kind (never a list's: `+=` on a
        # list is a mutation the rules want to see as such)
        if augmented and (
            result not in ARRAYLIKE
            or not all(
                isinstance(getattr(b.node, "operator", None), ARITHMETIC_AUG_OPS) for b in augmented
            )
        ):
            return None
        if concatenated and result != STR:
            return None
        return result

    def of_binding(self, b: Binding) -> str | None:
        scope = b.scope
        assert scope is not None
        if b.kind in ("assign", "walrus"):
            if b.unpacked or b.value is None:
                return None
            return self.of(b.value, scope)
        if b.kind in ("annassign", "param", "attr"):
            if b.annotation is not None:
                k = self.of_annotation(b.annotation, scope)
                if k is not None:
                    return k
                if b.kind == "param":
                    return None
            if b.kind == "param" or b.value is None:
                return None
            return self.of(b.value, scope)
        if b.kind == "with" and not b.unpacked and isinstance(b.value, cst.Call):
            q = self.ctx.qualname_in(b.value.func, scope)
            if q in _FILE_OPENERS:
                return ITERATOR
            return None
        return None

    def of_annotation(self, ann: cst.BaseExpression, scope: Scope) -> str | None:
        if isinstance(ann, cst.SimpleString):
            try:
                text = ann.evaluated_value
                if not isinstance(text, str):
                    return None
                parsed = cst.parse_expression(text)
            except Exception:
                return None
            return self.of_annotation(parsed, scope)
        # X | None
        if isinstance(ann, cst.BinaryOperation) and isinstance(ann.operator, cst.BitOr):
            left, right = ann.left, ann.right
            if isinstance(right, cst.Name) and right.value == "None":
                return self.of_annotation(left, scope)
            if isinstance(left, cst.Name) and left.value == "None":
                return self.of_annotation(right, scope)
            return None
        if isinstance(ann, cst.Subscript):
            q = self.ctx.qualname_in(ann.value, scope)
            if q in ("typing.Optional", "typing_extensions.Optional") and len(ann.slice) == 1:
                inner = ann.slice[0].slice
                if isinstance(inner, cst.Index):
                    return self.of_annotation(inner.value, scope)
            if q in ("builtins.list", "typing.List"):
                return LIST
            if q in ("builtins.dict", "typing.Dict"):
                return DICT
            if q in ("builtins.set", "typing.Set"):
                return SET
            if q in ("numpy.typing.NDArray", "numpy.ndarray"):
                return NDARRAY
            return None
        q = self.ctx.qualname_in(ann, scope)
        return _ANNOTATION_KINDS.get(q) if q else None

    def of_attribute(self, expr: cst.Attribute, scope: Scope) -> str | None:
        attr = expr.attr.value
        base = expr.value
        if isinstance(base, cst.Name):
            cls = self._class_of_self(base.value, scope)
            if cls is not None:
                return self.of_self_attr(cls, attr)
        base_kind = self.of(base, scope)
        if base_kind in (DATAFRAME, SERIES):
            if attr == "values":
                return NDARRAY
            if base_kind == DATAFRAME and attr not in DATAFRAME_NON_COLUMNS:
                return SERIES
            if attr == "T" and base_kind == DATAFRAME:
                return DATAFRAME
            return None
        if base_kind == NDARRAY and attr == "T":
            return NDARRAY
        if base_kind == TENSOR and attr in ("T", "data", "grad"):
            return TENSOR
        return None

    def _class_of_self(self, name: str, scope: Scope) -> ClassInfo | None:
        s: Scope | None = scope
        while s is not None and s.kind in ("lambda", "comprehension"):
            s = s.parent
        if s is None or s.function_info is None or s.function_info.self_name != name:
            return None
        return s.enclosing_class()

    def of_self_attr(self, cls: ClassInfo, attr: str) -> str | None:
        key = (id(cls), attr)
        if key in self._attr_cache:
            return self._attr_cache[key]
        self._attr_cache[key] = None  # recursion guard
        bindings = cls.attr_bindings.get(attr)
        result: str | None = None
        if bindings:
            result = self._all_same(bindings)
        else:
            # a class-level annotation `frame: pd.DataFrame`
            for b in cls.scope.bindings.get(attr, []):
                if b.kind == "annassign" and b.annotation is not None:
                    result = self.of_annotation(b.annotation, cls.scope)
            # a class attribute `EXTS = [".jpg", ".png"]` read through `self.EXTS`
            class_level = cls.scope.bindings.get(attr)
            if result is None and class_level and all(b.kind == "assign" for b in class_level):
                result = self._all_same(class_level)
        self._attr_cache[key] = result
        return result

    def of_subscript(self, expr: cst.Subscript, scope: Scope) -> str | None:
        value = expr.value
        if isinstance(value, cst.Attribute) and value.attr.value in ("loc", "iloc"):
            base_kind = self.of(value.value, scope)
            if base_kind == DATAFRAME and len(expr.slice) == 2:
                second = expr.slice[1].slice
                if isinstance(second, cst.Slice) or (
                    isinstance(second, cst.Index) and isinstance(second.value, cst.List)
                ):
                    return DATAFRAME
            return None
        base_kind = self.of(value, scope)
        if base_kind == DATAFRAME and len(expr.slice) == 1:
            el = expr.slice[0].slice
            if isinstance(el, cst.Index):
                key = el.value
                if is_string_like(key) and not isinstance(key, cst.FormattedString):
                    return SERIES
                if isinstance(key, cst.List):
                    return DATAFRAME
                if is_mask_expression(key):
                    return DATAFRAME
        if base_kind == NDARRAY and len(expr.slice) == 1:
            el = expr.slice[0].slice
            if isinstance(el, cst.Index) and is_mask_expression(el.value):
                return NDARRAY
        return None

    def of_call(self, call: cst.Call, scope: Scope) -> str | None:
        func = call.func
        q = self.ctx.qualname_in(func, scope)
        if q is not None:
            k = self.of_qualified_call(q, call)
            if k is not None:
                return k
        if isinstance(func, cst.Name):
            cls = self.local_class(func.value, scope)
            if cls is not None and self.is_torch_module_class(cls):
                return MODULE
            finfo = self._local_function(func.value, scope)
            if finfo is not None and finfo.is_generator:
                return ITERATOR
            return None
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            recv = func.value
            rk = self.of(recv, scope)
            if rk == DATAFRAME:
                if method in DATAFRAME_METHODS_FRAME:
                    return DATAFRAME
                if method == "to_numpy":
                    return NDARRAY
                if method in ("iterrows", "itertuples"):
                    return ITERATOR
                return LIST if method == "tolist" else None
            if rk == SERIES:
                if method in _SERIES_METHODS_SERIES:
                    return SERIES
                if method == "to_numpy":
                    return NDARRAY
                return LIST if method == "tolist" else None
            if rk == TENSOR:
                if method == "numpy":
                    return NDARRAY
                if method in _TENSOR_METHODS_TENSOR:
                    return TENSOR
                return LIST if method == "tolist" else None
            if rk == NDARRAY:
                if method in _NDARRAY_METHODS_ARRAY:
                    return NDARRAY
                return LIST if method == "tolist" else None
            if rk == PATH:
                if method in ("glob", "rglob", "iterdir"):
                    return ITERATOR
                if method in _PATH_METHODS_PATH:
                    return PATH
                return None
            is_str_accessor = isinstance(recv, cst.Attribute) and recv.attr.value == "str"
            if method in _LIST_METHODS and not is_str_accessor:
                return LIST
            if method in _STR_METHODS and not is_str_accessor:
                return STR
            if method in _NUMPY_RANDOM_SAMPLERS and isinstance(recv, cst.Name):
                # rng.normal(...) on a numpy.random.default_rng() result
                bindings = self.ctx.model.lookup(recv.value, scope)
                if bindings and all(
                    b.kind == "assign"
                    and not b.unpacked
                    and isinstance(b.value, cst.Call)
                    and self.ctx.qualname_in(b.value.func, b.scope or scope)
                    in (
                        "numpy.random.default_rng",
                        "numpy.random.Generator",
                        "numpy.random.RandomState",
                    )
                    for b in bindings
                ):
                    return NDARRAY
        return None

    def of_qualified_call(self, q: str, call: cst.Call) -> str | None:
        mod, _, last = q.rpartition(".")
        if mod == "pandas":
            if last in _PANDAS_FRAME_FUNCS:
                return DATAFRAME
            if last == "Series":
                return SERIES
        if q.startswith("pandas.read_") or _is_pandas_io(q):
            for arg in call.args:
                if arg.keyword is not None and arg.keyword.value == "chunksize":
                    return ITERATOR
                if (
                    arg.keyword is not None
                    and arg.keyword.value == "iterator"
                    and isinstance(arg.value, cst.Name)
                    and arg.value.value == "True"
                ):
                    return ITERATOR
            return DATAFRAME
        if mod == "numpy":
            if last in _NUMPY_ARRAY_FUNCS:
                return NDARRAY
            if last == "where" and len(call.args) == 3:
                return NDARRAY
        if mod == "numpy.random" and last in _NUMPY_RANDOM_SAMPLERS:
            return NDARRAY
        if mod == "torch" and last in _TORCH_TENSOR_FUNCS:
            return TENSOR
        if mod == "builtins":
            if last in ("list", "sorted"):
                return LIST
            if last == "dict":
                return DICT
            if last in ("set", "frozenset"):
                return SET
            if last == "str":
                return STR
            if last == "tuple":
                return TUPLE
            if last in _ITER_BUILTINS or last == "open":
                return ITERATOR
        if q in ("collections.defaultdict", "collections.OrderedDict", "collections.Counter"):
            return DICT
        if q in (
            "pathlib.Path",
            "pathlib.PurePath",
            "pathlib.PosixPath",
            "pathlib.Path.cwd",
            "pathlib.Path.home",
        ):
            return PATH
        if (mod == "itertools" and last not in _ITERTOOLS_NON_ITER) or (
            q == "itertools.chain.from_iterable"
        ):
            return ITERATOR
        if q in _ITER_CALLS:
            return ITERATOR
        if is_capwords(last) or last[:1].isupper():  # also acronyms: SVC, PCA, LSTM, GELU
            if q.startswith("torch.nn.") and not q.startswith("torch.nn.functional."):
                return MODULE
            if is_estimator_class(q):
                return ESTIMATOR
        return None

    def local_class(self, name: str, scope: Scope) -> ClassInfo | None:
        """The module-level class ``name`` refers to in ``scope`` (only binding), if any."""
        cls = self._local_classes.get(name)
        if cls is None:
            return None
        bindings = self.ctx.model.lookup(name, scope)
        if bindings and len(bindings) == 1 and bindings[0].node is cls.node:
            return cls
        return None

    def _local_function(self, name: str, scope: Scope) -> FunctionInfo | None:
        bindings = self.ctx.model.lookup(name, scope)
        if not bindings or len(bindings) != 1 or bindings[0].kind != "def":
            return None
        node = bindings[0].node
        return self.ctx.model.functions.get(id(node))

    def is_torch_module_class(self, cls: ClassInfo) -> bool:
        cached = self._module_class_cache.get(id(cls))
        if cached is not None:
            return cached
        self._module_class_cache[id(cls)] = False  # a cycle of bases is not a Module
        result = False
        for base in cls.bases:
            q = self.ctx.qualname_in(base, cls.scope.parent or cls.scope)
            if q is not None and (q == "torch.nn.Module" or q.startswith("torch.nn.")):
                result = True
                break
            if isinstance(base, cst.Name):
                other = self._local_classes.get(base.value)
                if other is not None and other is not cls and self.is_torch_module_class(other):
                    result = True
                    break
        self._module_class_cache[id(cls)] = result
        return result


def _self_concatenation(b: Binding) -> bool:
    """``name = name + <expr>``: a plain assignment that appends to the bound name itself."""
    value = b.value
    return (
        b.kind == "assign"
        and not b.unpacked
        and isinstance(value, cst.BinaryOperation)
        and isinstance(value.operator, cst.Add)
        and isinstance(value.left, cst.Name)
        and value.left.value == b.name
    )


def is_estimator_class(q: str) -> bool:
    """A CapWords class resolving into sklearn (not splitters/metrics), xgboost, lightgbm or
    catboost."""
    parts = q.split(".")
    if not (is_capwords(parts[-1]) or parts[-1][:1].isupper()):  # acronyms: SVC, PCA, NMF
        return False
    top = parts[0]
    if top == "sklearn":
        if len(parts) > 1 and parts[1] in (
            "model_selection",
            "metrics",
            "utils",
            "exceptions",
            "datasets",
            "base",
        ):
            return False
        # GP kernels (cloned, never fitted in place), plotting Display objects, loss helpers
        if parts[1:3] == ["gaussian_process", "kernels"] or parts[-1].endswith(("Display", "Loss")):
            return False
        return parts[1] != "_loss"
    return top in ("xgboost", "lightgbm", "catboost")


def is_mask_expression(node: cst.CSTNode) -> bool:
    """A boolean mask: a comparison, ``~``/``&``/``|`` expression, or a call ending in one of
    the pandas predicate methods."""
    if isinstance(node, cst.Comparison):
        return True
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.BitInvert):
        return True
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, (cst.BitAnd, cst.BitOr)):
        return True
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        name = node.func.attr.value
        if name in ("isna", "notna", "isnull", "notnull", "isin", "between", "duplicated"):
            return True
        if (
            name in ("contains", "startswith", "endswith")
            and isinstance(node.func.value, cst.Attribute)
            and node.func.value.attr.value == "str"
        ):
            return True
    return False


_ANNOTATION_KINDS: dict[str, str] = {
    "pandas.DataFrame": DATAFRAME,
    "pandas.core.frame.DataFrame": DATAFRAME,
    "pandas.Series": SERIES,
    "pandas.core.series.Series": SERIES,
    "numpy.ndarray": NDARRAY,
    "numpy.typing.NDArray": NDARRAY,
    "torch.Tensor": TENSOR,
    "torch.nn.Module": MODULE,
    "builtins.list": LIST,
    "typing.List": LIST,
    "builtins.dict": DICT,
    "typing.Dict": DICT,
    "builtins.set": SET,
    "typing.Set": SET,
    "builtins.str": STR,
    "pathlib.Path": PATH,
}
