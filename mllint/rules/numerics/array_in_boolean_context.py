"""ML109 array-in-boolean-context."""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, terminal_name, walk
from mllint.prescan import start_pos as _pos
from mllint.rule import Rule
from mllint.rules.numerics.float_equality import (
    _Anchor,
    _Binding,
    _bound_values,
    _Imports,
    _imports_of,
    _local_names,
    _may_resolve_into,
    _Regions,
    _regions_of,
    _target_names,
)
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts

_COMPARE_OPS = (
    cst.Equal,
    cst.NotEqual,
    cst.LessThan,
    cst.LessThanEqual,
    cst.GreaterThan,
    cst.GreaterThanEqual,
)
#: tensors are left out: comparisons of scalar tensors (`torch.rand([]) < p`, a loss) are common
_COMPARED_KINDS = frozenset({K.NDARRAY, K.SERIES, K.DATAFRAME})
#: random samplers that return a scalar when called without a size
_SAMPLERS = frozenset(
    {
        "rand", "randn", "random", "random_sample", "normal", "uniform", "randint", "choice",
        "permutation", "binomial", "poisson", "exponential", "beta", "gamma", "standard_normal",
        "integers", "lognormal", "laplace",
    }
)  # fmt: skip
_BARE_KINDS = frozenset({K.NDARRAY, K.SERIES, K.DATAFRAME})
_WORD = {K.NDARRAY: "array", K.TENSOR: "tensor", K.SERIES: "Series", K.DATAFRAME: "DataFrame"}


class ArrayInBooleanContext(Rule):
    """
    ## What it does
    Flags an element-wise comparison of arrays, tensors, Series or DataFrames (`==`, `!=`,
    `<`, `<=`, `>`, `>=`), or a bare array/Series/DataFrame, used as a truth value: the test
    of `if`/`elif`/`while`/`assert`/a conditional expression, or an operand of `and`/`or`/`not`.

    ## Why is this bad?
    `==` on arrays and frames is element-wise; Python then needs one bool and calls
    `__bool__`, which raises "The truth value of an array with more than one element is
    ambiguous" — always for pandas objects. For one-element arrays it silently returns that
    element's truth, so the behaviour depends on the data.

    ## Example
    ```python
    if predictions == labels:
        print("perfect")
    assert df_out == expected_df
    ```

    ## Use instead
    ```python
    if np.array_equal(predictions, labels):
        print("perfect")
    pd.testing.assert_frame_equal(df_out, expected_df)
    ```

    Comparisons wrapped in `.all()`, `.any()`, `np.all`, `np.any`, `np.array_equal`,
    `torch.equal` or `bool(...)`, comparisons of `.shape`, `.ndim`, `.size`, `.dtype`,
    `len(...)`, `.item()`, `.empty`, bare tensors (scalar tensors are common there) and values
    of unknown type are not flagged.

    ## Fix safety
    No fix: whether `all`, `any` or exact equality is meant is the author's choice.
    """

    code = "ML109"
    name = "array-in-boolean-context"
    summary = "An array/DataFrame comparison or the array itself used as a truth value"
    tier = 3

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a truth-tested comparison operand or bare name/attribute/subscript that can have an
        # ndarray/Series/DataFrame kind: see _ArrayKindGate
        if not _may_resolve_into(scan, facts, _AST_KIND_LIBS):
            return False
        gate = _kinds_of(scan, facts)
        if not _array_source(scan, gate.imports):
            return False
        tested: list[ast.expr] = [
            n.test for n in scan.of(ast.If, ast.While, ast.IfExp) if n.test is not None
        ]
        tested.extend(n.test for n in scan.of(ast.Assert))
        for b in scan.of(ast.BoolOp):
            tested.extend(b.values)
        tested.extend(u.operand for u in scan.of(ast.UnaryOp) if isinstance(u.op, ast.Not))
        candidates: list[ast.expr] = []
        for e in tested:
            if isinstance(e, ast.Compare):
                operands = [e.left, *e.comparators]
                for i, op in enumerate(e.ops):
                    if type(op) in _AST_COMPARE_OPS:
                        candidates.append(operands[i])
                        candidates.append(operands[i + 1])
            elif isinstance(e, (ast.Name, ast.Attribute, ast.Subscript)):
                candidates.append(e)
        return any(gate.candidate(e) for e in candidates)

    def visit_If(self, node: cst.If) -> None:
        self._check(node.test)

    def visit_While(self, node: cst.While) -> None:
        self._check(node.test)

    def visit_Assert(self, node: cst.Assert) -> None:
        self._check(node.test)

    def visit_IfExp(self, node: cst.IfExp) -> None:
        self._check(node.test)

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        self._check(node.left)
        # `a and b` returns `b` itself: it is truth-tested only when the whole operation is
        if self._truth_tested(len(self.ctx.stack) - 1):
            self._check(node.right)

    def _truth_tested(self, idx: int) -> bool:
        """Whether the value of ``ctx.stack[idx]`` is converted to bool."""
        stack = self.ctx.stack
        while idx >= 1:
            node, parent = stack[idx], stack[idx - 1]
            if isinstance(parent, (cst.If, cst.While, cst.Assert, cst.IfExp)):
                return getattr(parent, "test", None) is node
            if isinstance(parent, cst.UnaryOperation):
                return isinstance(parent.operator, cst.Not)
            if isinstance(parent, cst.BooleanOperation):
                if parent.left is node:
                    return True
                idx -= 1
                continue
            return False
        return False

    def visit_UnaryOperation(self, node: cst.UnaryOperation) -> None:
        if isinstance(node.operator, cst.Not):
            self._check(node.expression)

    def _check(self, expr: cst.BaseExpression) -> None:
        ctx = self.ctx
        if isinstance(expr, cst.Comparison):
            kind = self._compared_kind(expr)
            if kind is None:
                return
        elif isinstance(expr, (cst.Name, cst.Attribute, cst.Subscript)):
            kind = ctx.kind(expr)
            if kind not in _BARE_KINDS:
                return
        else:
            return
        message = (
            f"'{ctx.snippet(expr, 50)}' is an element-wise {_WORD[kind]}; its truth value is "
            f"ambiguous (ValueError, or a data-dependent answer for size-1 arrays) — use "
            f".all(), .any(), np.array_equal or pd.testing.assert_frame_equal"
        )
        self.report(expr, message)

    def _compared_kind(self, node: cst.Comparison) -> str | None:
        left = node.left
        for t in node.comparisons:
            right = t.comparator
            if isinstance(t.operator, _COMPARE_OPS):
                for operand in (left, right):
                    k = self.ctx.kind(operand)
                    if k in _COMPARED_KINDS and not self._scalar_sample(operand):
                        return k
            left = right
        return None

    def _scalar_sample(self, expr: cst.BaseExpression) -> bool:
        """A random draw without a size (``rng.uniform(0, 1)``, ``rng.choice(names)``), or a
        name bound only to such draws: a scalar, although its kind says array."""
        values: list[cst.BaseExpression] = [expr]
        if isinstance(expr, cst.Name):
            bindings = self.ctx.bindings(expr.value)
            if not bindings or any(b.value is None or b.unpacked for b in bindings):
                return False
            values = [b.value for b in bindings if b.value is not None]
        for v in values:
            if not isinstance(v, cst.Call) or not isinstance(v.func, (cst.Attribute, cst.Name)):
                return False
            q = self.ctx.qualname(v.func) or ""
            last = v.func.attr.value if isinstance(v.func, cst.Attribute) else v.func.value
            if last not in _SAMPLERS or (q and not q.startswith("numpy.random.")):
                return False
            if any(a.keyword is not None and a.keyword.value == "size" for a in v.args):
                return False
            positional = [a for a in v.args if a.keyword is None]
            if last in ("rand", "randn", "random", "random_sample", "standard_normal"):
                if positional:
                    return False
            elif len(positional) > 2 or (last == "permutation"):
                return False
        return True


# -- the ast pre-scan -------------------------------------------------------------------------

_AST_KIND_LIBS = ("numpy", "pandas", "torch")
_AST_COMPARE_OPS = frozenset({ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE})
_AST_FRAME_METHODS = K.DATAFRAME_METHODS_FRAME
_AST_RECEIVER_METHODS = (
    K.DATAFRAME_METHODS_FRAME
    | K._SERIES_METHODS_SERIES
    | K._NDARRAY_METHODS_ARRAY
    | K._TENSOR_METHODS_TENSOR
    | {"to_numpy", "numpy"}
)
#: methods of a Series or an ndarray that keep the receiver's kind
#: annotations kind.py reads as an ndarray/Series/DataFrame (`of_annotation`)
_AST_ARRAY_ANNOTATIONS = frozenset(
    q for q, k in K._ANNOTATION_KINDS.items() if k in (K.NDARRAY, K.SERIES, K.DATAFRAME)
)
_AST_ARRAY_TYPES = frozenset(q.rpartition(".")[2] for q in _AST_ARRAY_ANNOTATIONS)
_AST_PRODUCER_PREFIXES = ("read_", "from_")
_AST_OPTIONAL = frozenset({"typing.Optional", "typing_extensions.Optional"})
_AST_LIST_ANNOTATIONS = frozenset({"builtins.list", "typing.List"})
_AST_NDARRAY_ANNOTATIONS = frozenset({"numpy.typing.NDArray", "numpy.ndarray"})
_AST_RNG_CONSTRUCTORS = frozenset(
    {"numpy.random.default_rng", "numpy.random.Generator", "numpy.random.RandomState"}
)
_AST_MASK_METHODS = frozenset(
    {"isna", "notna", "isnull", "notnull", "isin", "between", "duplicated", "contains",
     "startswith", "endswith"}
)  # fmt: skip


#: the kinds the gate tracks, as bits
_ND, _SER, _DF, _TENSOR, _LIST = 1, 2, 4, 8, 16
_ALL = _ND | _SER | _DF | _TENSOR | _LIST
_ARRAYS = _ND | _SER | _DF  # what ML109 flags
_BITS = {K.NDARRAY: _ND, K.SERIES: _SER, K.DATAFRAME: _DF, K.TENSOR: _TENSOR, K.LIST: _LIST}
_ANNOTATION_BITS = {q: _BITS[k] for q, k in K._ANNOTATION_KINDS.items() if k in _BITS}


def _producer(q: str) -> int:
    """The kind ``KindInference.of_qualified_call`` gives a call of ``q``, as bits
    (NumPy/pandas constructors and readers, ``numpy.random`` samplers)."""
    mod, _, last = q.rpartition(".")
    if mod == "pandas":
        if last in K._PANDAS_FRAME_FUNCS:
            return _DF
        if last == "Series":
            return _SER
    if q.startswith("pandas.read_") or K._is_pandas_io(q):
        return _DF
    if mod == "numpy":
        return _ND if last in K._NUMPY_ARRAY_FUNCS or last == "where" else 0
    if mod == "torch":
        return _TENSOR if last in K._TORCH_TENSOR_FUNCS else 0
    if q in ("builtins.list", "builtins.sorted"):
        return _LIST
    return _ND if mod == "numpy.random" and last in K._NUMPY_RANDOM_SAMPLERS else 0


#: terminal names of the calls an ndarray/Series/DataFrame kind can start from
_AST_SOURCE_CALLS = (
    K._NUMPY_ARRAY_FUNCS
    | K._NUMPY_RANDOM_SAMPLERS
    | K._PANDAS_FRAME_FUNCS
    | {"where", "Series", "numpy", "to_numpy", "default_rng", "Generator", "RandomState"}
    | {"Series", "DataFrame"}
)


def _array_source(scan: Scan, imports: _Imports) -> bool:
    """Whether anything in the file can start an ndarray/Series/DataFrame kind: a call that
    may resolve to a NumPy/pandas constructor, reader or sampler (or a random generator), a
    ``.numpy()``/``.to_numpy()`` call, a name of an array type (annotations) or a string
    annotation."""
    wanted = _local_names(scan, _AST_SOURCE_CALLS)
    prefixes = _AST_PRODUCER_PREFIXES
    called = scan.called()
    if not called.isdisjoint(wanted) or any(n.startswith(prefixes) for n in called):
        for call in scan.of(ast.Call):
            func = call.func
            name = terminal_name(func)
            if name is None or not (name in wanted or name.startswith(prefixes)):
                continue
            if isinstance(func, ast.Attribute) and name in ("numpy", "to_numpy"):
                return True
            for q in imports.qualnames(func):
                if _producer(q) & _ARRAYS or q in _AST_RNG_CONSTRUCTORS:
                    return True
    types = _local_names(scan, _AST_ARRAY_TYPES)
    if not (scan.names().isdisjoint(types) and scan.attrs().isdisjoint(types)):
        return True
    annotations: list[ast.expr | None] = [a.annotation for a in scan.of(ast.arg)]
    annotations.extend(a.annotation for a in scan.of(ast.AnnAssign))
    return any(
        isinstance(n, ast.Constant) and isinstance(n.value, str)
        for ann in annotations
        if ann is not None and not isinstance(ann, ast.Name)
        for n in walk(ann)
    )


def _kinds_of(scan: Scan, facts: FileFacts) -> _ArrayKindGate:
    """The file's ``_ArrayKindGate`` (shared by ML108 and ML109)."""
    return scan.memo(("numerics.kinds", facts.package), lambda: _ArrayKindGate(scan, facts))


class _ArrayKindGate:
    """Over-approximates ``KindInference``: an expression is *capable* when kind.py may give
    it an ndarray, Series or DataFrame kind. A name is looked up through the regions (see
    ``_Regions``) like the semantic model does; it is not capable when the region that binds
    it also binds it as a parameter without annotation, a loop target or in an unpacking
    (kind.py wants every binding of one scope to agree, and those give no kind), else it
    is capable when ANY of that region's assignments or annotations is. Names declared
    global/nonlocal, and ``self`` attributes, use every binding in the file."""

    def __init__(self, scan: Scan, facts: FileFacts) -> None:
        self.scan = scan
        self.facts = facts
        self.imports = _imports_of(scan, facts)
        self._rngs: set[str] | None = None
        self._regions: _Regions | None = None
        self.names: defaultdict[str, list[_Binding]] = defaultdict(list)
        self.attrs: defaultdict[str, list[_Binding]] = defaultdict(list)
        #: name -> where it is bound in a way that gives it no kind
        self.kills: defaultdict[str, list[_Anchor]] = defaultdict(list)
        self.unscoped: set[str] = set()
        self._indexed = False
        self._placed: dict[str, tuple[set[int], dict[int, list[_Binding]]]] = {}
        self._known: dict[tuple[str, int], int] = {}
        self._busy: set[tuple[str, int]] = set()
        self._hit_busy = False

    def _index(self) -> None:
        """Every binding of the file, by name (built on the first name lookup)."""
        self._indexed = True
        scan = self.scan
        names, attrs, kills = self.names, self.attrs, self.kills
        name_type, attr_type = ast.Name, ast.Attribute
        for a in scan.of(ast.Assign):
            value = a.value
            for t in a.targets:
                if t.__class__ is name_type:
                    names[t.id].append((a, None, value))
                elif t.__class__ is attr_type:
                    attrs[t.attr].append((a, None, value))
                else:
                    self._assign(t, value, a)
        for an in scan.of(ast.AnnAssign):
            t = an.target
            if isinstance(t, ast.Name):
                names[t.id].append((an, an.annotation, an.value))
            elif isinstance(t, ast.Attribute):
                attrs[t.attr].append((an, an.annotation, an.value))
        for w in scan.of(ast.NamedExpr):
            # the semantic model binds `:=` in the enclosing statement's scope (also from a
            # lambda or comprehension): not worth modelling, use every binding of the name
            names[w.target.id].append((w, None, w.value))
            self.unscoped.add(w.target.id)
        for fn in scan.of(ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda):
            inside = fn.body[0] if isinstance(fn.body, list) else fn.body
            args = fn.args
            for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
                if arg is None:
                    continue
                if arg.annotation is not None:
                    names[arg.arg].append((inside, arg.annotation, None))
                else:
                    kills[arg.arg].append(inside)
        for loop in scan.of(ast.For, ast.AsyncFor):
            for name in _target_names(loop.target):
                kills[name].append(loop)
        for decl in scan.of(ast.Global, ast.Nonlocal):
            self.unscoped.update(decl.names)

    def _assign(self, target: ast.expr, value: ast.expr | None, at: _Anchor) -> None:
        """``Builder.assign_target``/``self_attr``: a tuple target takes the elements of a
        tuple value of the same length; other unpacked names get no kind."""
        if isinstance(target, ast.Name):
            self.names[target.id].append((at, None, value))
        elif isinstance(target, ast.Attribute):
            self.attrs[target.attr].append((at, None, value))
        elif isinstance(target, (ast.Tuple, ast.List)):
            elements = target.elts
            values = (
                value.elts
                if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(elements)
                else None
            )
            for i, el in enumerate(elements):
                sub = None
                if values is not None and not isinstance(values[i], ast.Starred):
                    sub = values[i]
                if isinstance(el, ast.Starred) or sub is None:
                    for name in _target_names(el):
                        self.kills[name].append(at)
                else:
                    self._assign(el, sub, at)

    @property
    def regions(self) -> _Regions:
        if self._regions is None:
            self._regions = _regions_of(self.scan, self.facts)
        return self._regions

    def kinds_at(self, e: ast.expr) -> int:
        """The kinds ``e`` may have where it is."""
        return self.kinds(e, self.regions.at(_pos(e)))

    def kinds_in(self, e: ast.expr, stmt: ast.stmt) -> int:
        """The kinds ``e`` may have, read in the statement ``stmt``."""
        return self.kinds(e, self.regions.at(_pos(stmt)))

    def candidate(self, e: ast.expr) -> bool:
        """Whether ``e``, truth-tested or compared, may be an array, Series or DataFrame."""
        if not isinstance(e, (ast.Name, ast.Call, ast.Attribute, ast.Subscript)):
            return False  # the only shapes kind.py gives these kinds
        return bool(self.kinds(e, self.regions.at(_pos(e))) & _ARRAYS)

    def kinds(self, e: ast.expr, region: int) -> int:
        """The kinds (bits) ``e`` may have when read in ``region``."""
        if isinstance(e, ast.Name):
            return self._name(e.id, region)
        if isinstance(e, ast.Call):
            return self._call(e, region)
        if isinstance(e, (ast.List, ast.ListComp)):
            return _LIST
        if isinstance(e, ast.BinOp):
            if (
                isinstance(e.op, (ast.Mult, ast.Add))
                and self.kinds(e.left, region) & _LIST
                and (isinstance(e.op, ast.Mult) or self.kinds(e.right, region) & _LIST)
            ):
                return _LIST  # `[0] * n`, `a + b` of lists
            return 0
        if isinstance(e, ast.Attribute):
            out = 0
            if isinstance(e.value, ast.Name):
                out = self._attr(e.attr)  # `self.frame`
            attr = e.attr
            if attr == "values":
                base = self.kinds(e.value, region)
                if base & (_DF | _SER):
                    out |= _ND
            elif attr in ("T", "data", "grad"):
                base = self.kinds(e.value, region)
                out |= base & (_DF | _ND | _TENSOR) if attr == "T" else base & _TENSOR
            elif attr not in K.DATAFRAME_NON_COLUMNS and self.kinds(e.value, region) & _DF:
                out |= _SER  # a column
            return out
        if isinstance(e, ast.Subscript):
            value, key = e.value, e.slice
            if isinstance(value, ast.Attribute) and value.attr in ("loc", "iloc"):
                if isinstance(key, ast.Tuple) and len(key.elts) == 2:
                    return self.kinds(value.value, region) & _DF
                return 0
            shape = _ast_key_shape(key)
            if not shape:
                return 0
            base = self.kinds(value, region)
            out = 0
            if base & _DF:
                out |= _SER if shape == "string" else _DF
            if base & _ND and shape == "mask":
                out |= _ND
            return out
        return 0

    def _call(self, e: ast.Call, region: int) -> int:
        func = e.func
        out = 0
        if isinstance(func, ast.Attribute):
            method = func.attr
            if method in _AST_RECEIVER_METHODS:
                receiver = self.kinds(func.value, region)
                if receiver & _DF and method in _AST_FRAME_METHODS:
                    out |= _DF
                if receiver & (_DF | _SER) and method == "to_numpy":
                    out |= _ND
                if receiver & _SER and method in K._SERIES_METHODS_SERIES:
                    out |= _SER
                if receiver & _ND and method in K._NDARRAY_METHODS_ARRAY:
                    out |= _ND
                if receiver & _TENSOR:
                    if method == "numpy":
                        out |= _ND
                    elif method in K._TENSOR_METHODS_TENSOR:
                        out |= _TENSOR
            if method in K._LIST_METHODS:
                receiver_node = func.value
                if not (isinstance(receiver_node, ast.Attribute) and receiver_node.attr == "str"):
                    out |= _LIST  # `.tolist()`, `.split()` (not `.str.split()`)
            if (
                method in K._NUMPY_RANDOM_SAMPLERS
                and isinstance(func.value, ast.Name)
                and func.value.id in self.rngs()
            ):
                out |= _ND  # rng.normal(...)
        elif isinstance(func, ast.Name):
            if func.id in ("list", "sorted"):
                out |= _LIST  # builtins, unless rebound
        else:
            return 0
        for q in self.imports.qualnames(func):
            out |= _producer(q)
        return out

    def _name(self, name: str, region: int) -> int:
        """The kinds the name may have when read in ``region``."""
        if not self._indexed:
            self._index()
        bindings = self.names.get(name)
        if not bindings:
            return 0
        if name in self.unscoped:
            return self._union("n" + name, -1, bindings)
        placed = self._placed.get(name)
        if placed is None:
            at = self.regions.at
            by_region: dict[int, list[_Binding]] = {}
            for b in bindings:
                by_region.setdefault(at(_pos(b[0])), []).append(b)
            kills = {at(_pos(k)) for k in self.kills.get(name, ())}
            placed = self._placed[name] = (kills, by_region)
        kills, by_region = placed
        for r in self.regions.chain(region):
            if r in kills:
                return 0
            here = by_region.get(r)
            if here:
                return self._union("n" + name, r, here)
        return 0

    def _attr(self, attr: str) -> int:
        # `self.frame = ...` in a method, or a class-level `frame: pd.DataFrame`
        if not self._indexed:
            self._index()
        bindings = self.attrs.get(attr, []) + self.names.get(attr, [])
        return self._union("a" + attr, -1, bindings) if bindings else 0

    def _union(self, name: str, region: int, bindings: list[_Binding]) -> int:
        key = (name, region)
        known = self._known.get(key)
        if known is not None:
            return known
        if key in self._busy:
            self._hit_busy = True
            return 0
        outer = self._hit_busy
        self._hit_busy = False
        self._busy.add(key)
        result = 0
        for anchor, annotation, value in bindings:
            if annotation is not None:
                result |= self._annotation(annotation)
            if value is not None:
                result |= self.kinds(value, self.regions.at(_pos(anchor)))
            if result == _ALL:
                break
        self._busy.discard(key)
        if result == _ALL or not self._hit_busy:
            self._known[key] = result  # a result that relied on a name in progress may grow
        self._hit_busy = outer or self._hit_busy
        return result

    def rngs(self) -> set[str]:
        """Names assigned a ``numpy.random.default_rng(...)``-like call."""
        if self._rngs is None:
            may_be = self.imports.may_be
            self._rngs = set(
                _bound_values(
                    self.scan,
                    lambda v: isinstance(v, ast.Call) and may_be(v.func, _AST_RNG_CONSTRUCTORS),
                )
            )
        return self._rngs

    def _annotation(self, ann: ast.expr) -> int:
        """``KindInference.of_annotation`` (as bits), names resolved through the imports."""
        if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
            try:
                parsed = ast.parse(ann.value.strip(), mode="eval").body
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                return _ALL  # libcst may parse what this Python cannot
            return self._annotation(parsed)
        if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
            if _is_none(ann.right):
                return self._annotation(ann.left)
            if _is_none(ann.left):
                return self._annotation(ann.right)
            return 0
        if isinstance(ann, ast.Subscript):
            quals = self._annotation_names(ann.value)
            out = 0
            if quals & _AST_OPTIONAL and not isinstance(ann.slice, (ast.Tuple, ast.Slice)):
                out |= self._annotation(ann.slice)
            if quals & _AST_LIST_ANNOTATIONS:
                out |= _LIST
            if quals & _AST_NDARRAY_ANNOTATIONS:
                out |= _ND
            return out
        out = 0
        for q in self._annotation_names(ann):
            out |= _ANNOTATION_BITS.get(q, 0)
        return out

    def _annotation_names(self, expr: ast.expr) -> set[str]:
        """What ``qualname_in`` may give for an annotation's name (builtins included)."""
        quals = self.imports.qualnames(expr)
        if isinstance(expr, ast.Name):
            quals.add(f"builtins.{expr.id}")
        return quals


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _ast_key_shape(key: ast.expr) -> str | None:
    """The single index element ``of_subscript`` reads: "string", "list", "mask" or None."""
    if isinstance(key, ast.Constant):
        return "string" if isinstance(key.value, (str, bytes)) else None
    if isinstance(key, ast.JoinedStr):
        return "string"  # (an implicit concatenation `"a" f"b"` is a libcst string too)
    if isinstance(key, ast.List):
        return "list"
    if isinstance(key, ast.Compare):
        return "mask"
    if isinstance(key, ast.UnaryOp):
        return "mask" if isinstance(key.op, ast.Invert) else None
    if isinstance(key, ast.BinOp):
        return "mask" if isinstance(key.op, (ast.BitAnd, ast.BitOr)) else None
    if isinstance(key, ast.Call) and isinstance(key.func, ast.Attribute):
        return "mask" if key.func.attr in _AST_MASK_METHODS else None
    return None
