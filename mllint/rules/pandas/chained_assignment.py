"""ML201 chained-assignment."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst

from mllint.prescan import Scan, assign_pairs, walk
from mllint.rule import Fix, FixSafety, Option, Rule
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import dotted_name, identifier_tokens, is_string_like
from mllint.semantics.kinds import is_mask_expression
from mllint.semantics.pandas_facts import FRAME_NAME_PATTERN, INPLACE_METHODS

_ROW_ACCESSORS = frozenset({"loc", "iloc"})
_OUTER_ACCESSORS = frozenset({"loc", "iloc", "at", "iat"})
#: Series/DataFrame attributes that are not columns: ``sel.<attr> = v`` is no value write
_NOT_A_COLUMN = K.DATAFRAME_NON_COLUMNS | frozenset(
    {"name", "dtype", "nbytes", "hasnans", "is_unique", "memory_usage", "apply", "map", "agg"}
)
#: identifier tokens of a variable that probably holds a row mask or row labels
_ROWISH_TOKENS = frozenset(
    {"mask", "masks", "idx", "index", "indices", "rows", "row", "sel", "selected", "filter",
     "cond", "keep", "is", "has", "valid", "bool", "where", "ix", "pos", "subset"}
)  # fmt: skip
#: identifier tokens of a variable that names a column (``df[col][i]``)
_COLUMN_TOKENS = frozenset(
    {"col", "cols", "column", "columns", "colname", "feature", "features", "feat", "feats",
     "field", "fields", "target", "targets", "label", "labels", "name", "names", "key", "attr",
     "c", "var", "variable", "metric", "metrics", "measure", "category", "prop", "property"}
)  # fmt: skip
#: identifier tokens of a name matching the frame pattern that holds several frames
_CONTAINER_TOKENS = frozenset(
    {"dict", "dicts", "map", "mapping", "list", "lists", "dfs", "frames", "by", "per", "cache",
     "store", "registry", "collection", "groups", "parts", "chunks", "splits", "sets", "tuple"}
)  # fmt: skip
#: context managers of tests that deliberately provoke the chained-assignment warning
_WARNING_CONTEXTS = frozenset(
    {"warns", "raises", "assert_produces_warning", "raises_chained_assignment_error",
     "assert_cow_warning"}
)  # fmt: skip


@dataclass
class _Chain:
    """``OUTER`` = ``<inner selection> <outer step>`` of an assignment target."""

    target: cst.BaseAssignTargetExpression
    base: cst.BaseExpression  # B
    inner: str  # "[]", "loc", "iloc" or "attr"
    inner_sub: cst.Subscript | None  # the inner Subscript (None for "attr")
    s1: cst.BaseExpression | cst.Slice | None  # the single inner key (None: tuple key)
    col_attr: str | None  # B.<col>
    outer: str  # "[]", "loc", "iloc", "at", "iat" or "attr"
    outer_sub: cst.Subscript | None
    outer_attr: str | None


def _accessor(sub: cst.Subscript, names: frozenset[str]) -> tuple[str | None, cst.BaseExpression]:
    value = sub.value
    if isinstance(value, cst.Attribute) and value.attr.value in names:
        return value.attr.value, value.value
    return None, value


def _single_key(sub: cst.Subscript) -> cst.BaseExpression | cst.Slice | None:
    """The only key of ``x[key]`` (None for tuple keys, ``x[a, b]`` and starred keys)."""
    if len(sub.slice) != 1:
        return None
    el = sub.slice[0].slice
    if isinstance(el, cst.Index):
        if el.star is not None or isinstance(el.value, cst.Tuple):
            return None
        return el.value
    if isinstance(el, cst.Slice):
        return el
    return None


def _syntactic_shape(key: cst.BaseExpression | cst.Slice | None) -> str:
    """mask | list | slice | scalar | bad (tuple/ellipsis/starred/missing)."""
    if key is None or isinstance(key, (cst.Ellipsis, cst.Tuple, cst.StarredElement)):
        return "bad"
    if isinstance(key, cst.Slice):
        return "slice"
    if is_mask_expression(key):
        return "mask"
    if isinstance(key, cst.List):
        if any(isinstance(el, cst.StarredElement) for el in key.elements):
            return "bad"
        return "list"
    return "scalar"


def _key_name(key: cst.BaseExpression) -> str:
    """The identifier naming a key: ``col`` for ``col``, ``self.target_col``, ``cols[0]``."""
    while isinstance(key, cst.Subscript):
        key = key.value
    if isinstance(key, cst.Name):
        return key.value
    if isinstance(key, cst.Attribute):
        return key.attr.value
    return ""


def _is_full_slice(node: cst.CSTNode | None) -> bool:
    return (
        isinstance(node, cst.Slice)
        and node.lower is None
        and node.upper is None
        and node.step is None
    )


class ChainedAssignment(Rule):
    """
    ## What it does
    Flags assignments through two chained indexing steps on a DataFrame, such as
    `df[mask]["col"] = v`, `df["col"][mask] = v`, `df.loc[i]["col"] = v`,
    `df.iloc[i]["col"] = v` or `df[mask].col = v`. The module must import pandas.

    ## Why is this bad?
    The first indexing step returns a new object (a copy for boolean masks, `.loc[i]` rows
    and column lists; a Series that may be a view for a single column in pandas < 3), and the
    second step writes into that temporary. Under pandas ≥ 3 (Copy-on-Write) none of these
    forms modifies `df`: the only signal is a `ChainedAssignmentError` warning (none at all
    for `df[mask].col = v`). Under pandas 2.2 the mask-first, `.loc[i][c]`, `.iloc[a:b][c]`
    and `df[mask].loc[:, c]` forms never modify `df`, while the column-first
    `df[c][mask] = v` does (with a FutureWarning) — so the same line behaves differently
    across pandas versions. `df.loc[rows, cols] = v` is a single `__setitem__` on `df` and
    works on every version. (Chained assignment is sometimes described as something that "may
    not modify df"; on pandas ≥ 3 it never does.)

    A chain is reported when the first step selects rows with a boolean mask or through
    `.loc`/`.iloc`, when the frame is known to be a DataFrame, or when its name matches
    `frame-name-pattern`. Nested dicts and configs (`cfg["model"]["depth"] = 4`), NumPy
    arrays (`img[0][5] = 255`), `iterrows()` rows, reads and `del` are not reported.

    ## Example
    ```python
    sales = pd.read_parquet(path)
    sales[sales["qty"] < 0]["qty"] = 0
    sales["price"][sales["price"].isna()] = sales["price"].median()
    sales.loc[10]["region"] = "EU"
    sales["returns"][7] += 1
    ```

    ## Use instead
    ```python
    sales = pd.read_parquet(path)
    sales.loc[sales["qty"] < 0, "qty"] = 0
    sales.loc[sales["price"].isna(), "price"] = sales["price"].median()
    sales.loc[10, "region"] = "EU"
    sales.loc[7, "returns"] += 1
    ```

    ## Fix safety
    Unsafe: it turns a no-op into the intended write; on pandas < 3 the column-first form
    already wrote, and `s[0]` on a non-integer index was positional while `.loc[0]` is
    label-based. `B.iloc[R][C]` becomes `B.loc[B.index[R], C]`, which also writes every row
    sharing a duplicated label. The fix is offered only when the frame is a plain name or a
    `self.<attr>` chain known (or named) to be a DataFrame, and the keys are single keys, key
    lists or masks (no `...`, no tuple keys, no positional slices turned into label slices).
    Augmented assignments keep their operator (`df.loc[7, "returns"] += 1`).

    ## Options
    - `frame-name-pattern` (regex, default `^(df|.*_df|df_.*)$`): names of unknown type that
      are treated as DataFrames; set it to `""` to rely on masks, `.loc`/`.iloc` and known
      DataFrames only.
    """

    code = "ML201"
    name = "chained-assignment"
    summary = (
        "Assigning through two chained indexing steps (`df[a][b] = v`) writes into a temporary"
    )
    tier = 1
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("pandas",)
    options = (
        Option(
            "frame-name-pattern",
            "regex",
            r"^(df|.*_df|df_.*)$",
            "Names of unknown type treated as DataFrames (empty string: disabled).",
        ),
    )

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # pandas imported, and an (augmented) assignment to a two-step chain whose first
        # step selects rows (mask, .loc/.iloc) or whose base may be a DataFrame
        if not _imports_pandas(scan):
            return False
        pattern = _frame_pattern(options)
        if pattern is True:
            return True
        assert not isinstance(pattern, bool)
        return any(_chain_may_trigger(scan, t, pattern) for t in _assign_targets(scan))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        pattern = self.option("frame-name-pattern")
        self._pattern: re.Pattern[str] | None = re.compile(pattern) if pattern else None
        self._gate: bool | None = None

    # -- entry points ------------------------------------------------------------------
    def visit_Assign(self, node: cst.Assign) -> None:
        if not self._pandas():
            return
        for target in node.targets:
            self._check_target(target.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if not self._pandas():
            return
        self._check_target(node.target)

    def _pandas(self) -> bool:
        if self._gate is None:
            self._gate = self.ctx.imports("pandas")
        return self._gate

    def _check_target(self, target: cst.BaseExpression) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            for el in target.elements:
                self._check_target(el.value)
            return
        if isinstance(target, cst.StarredElement):
            self._check_target(target.value)
            return
        chain = self._parse(target)
        if chain is None or not self._triggers(chain) or self._in_warning_test():
            return
        self._report(chain)

    # -- recognising the chain -----------------------------------------------------------
    def _parse(self, target: cst.BaseExpression) -> _Chain | None:
        outer_sub: cst.Subscript | None = None
        outer_attr: str | None = None
        if isinstance(target, cst.Subscript):
            acc, inner_expr = _accessor(target, _OUTER_ACCESSORS)
            outer = acc or "[]"
            outer_sub = target
        elif isinstance(target, cst.Attribute):
            outer = "attr"
            outer_attr = target.attr.value
            inner_expr = target.value
            if outer_attr in _NOT_A_COLUMN or outer_attr.startswith("_"):
                return None
        else:
            return None
        if isinstance(inner_expr, cst.Subscript):
            acc, base = _accessor(inner_expr, _ROW_ACCESSORS)
            if acc is None and isinstance(base, cst.Attribute) and base.attr.value in ("at", "iat"):
                return None  # `B.at[i, c]` is a scalar, not a selection
            if (
                acc is not None
                and len(inner_expr.slice) > 1
                and all(
                    isinstance(el.slice, cst.Index) and self._shape(el.slice.value) == "scalar"
                    for el in inner_expr.slice
                )
            ):
                # `B.iloc[i, j].attr = v` / `B.loc[i, c][k] = v`: a cell (an object stored in
                # the frame), not a selection
                return None
            return _Chain(
                target, base, acc or "[]", inner_expr, _single_key(inner_expr), None,
                outer, outer_sub, outer_attr,
            )  # fmt: skip
        if isinstance(inner_expr, cst.Attribute):
            col = inner_expr.attr.value
            if col in _NOT_A_COLUMN or col.startswith("_"):
                return None
            return _Chain(
                target, inner_expr.value, "attr", None, None, col, outer, outer_sub, outer_attr
            )
        return None

    def _shape(self, key: cst.BaseExpression | cst.Slice | None) -> str:
        """:func:`_syntactic_shape`, and "mask" for a name bound only to mask expressions."""
        shape = _syntactic_shape(key)
        if shape == "scalar" and isinstance(key, cst.Name):
            bindings = self.ctx.bindings(key.value)
            if bindings and all(
                b.kind in ("assign", "annassign")
                and not b.unpacked
                and b.value is not None
                and is_mask_expression(b.value)
                for b in bindings
            ):
                return "mask"
        return shape

    def _matches_pattern(self, base: cst.BaseExpression) -> bool:
        if self._pattern is None:
            return False
        if isinstance(base, cst.Name) and self._pattern.search(base.value) is not None:
            # `df_by_split["train"]["label"] = y` writes into a frame held in a container
            return not any(t in _CONTAINER_TOKENS for t in identifier_tokens(base.value))
        return False

    def _triggers(self, chain: _Chain) -> bool:
        base = chain.base
        kind = self.ctx.kind(base)
        if kind not in (None, K.DATAFRAME, K.SERIES):
            return False
        if self._is_iterrows_row(base):
            return False
        h2 = kind == K.DATAFRAME
        h3 = kind is None and self._matches_pattern(base)
        if chain.inner == "attr" and not (h2 or h3):
            return False
        s1_shape = self._shape(chain.s1) if chain.inner != "attr" else "scalar"
        if chain.outer == "attr" and not (
            chain.inner in _ROW_ACCESSORS or s1_shape in ("mask", "slice")
        ):
            # `df[c].attr = v` sets an attribute of a Series, not a column
            return False
        h1 = chain.inner in _ROW_ACCESSORS or (chain.inner == "[]" and s1_shape == "mask")
        if chain.outer in _OUTER_ACCESSORS and (
            chain.inner != "[]" or s1_shape in ("mask", "list", "slice")
        ):
            h1 = True
        return h1 or h2 or h3

    def _is_iterrows_row(self, base: cst.BaseExpression) -> bool:
        if not isinstance(base, cst.Name):
            return False
        for b in self.ctx.bindings(base.value):
            value = b.value
            if (
                b.kind in ("for", "comprehension")
                and isinstance(value, cst.Call)
                and isinstance(value.func, cst.Attribute)
                and value.func.attr.value in ("iterrows", "itertuples")
            ):
                return True
        return False

    def _in_warning_test(self) -> bool:
        for node in self.ctx.ancestors():
            if isinstance(node, cst.With):
                for item in node.items:
                    call = item.item
                    if isinstance(call, cst.Call):
                        name = dotted_name(call.func)
                        if name is not None and name.rsplit(".", 1)[-1] in _WARNING_CONTEXTS:
                            return True
            elif isinstance(node, (cst.FunctionDef, cst.ClassDef)):
                break
        return False

    # -- orientation and fix ---------------------------------------------------------------
    def _s1_orientation(self, key: cst.BaseExpression | cst.Slice | None) -> str:
        """rows | cols | unknown, for the key of an inner ``B[key]``."""
        shape = self._shape(key)
        if shape in ("mask", "slice"):
            return "rows"
        if shape == "list":
            return "cols"
        if shape == "bad" or key is None or isinstance(key, cst.Slice):
            return "unknown"
        if is_string_like(key) or isinstance(key, (cst.Integer, cst.Float)):
            return "cols"
        if isinstance(key, cst.Name):
            if self.ctx.kind(key) == K.STR:
                return "cols"
            bindings = self.ctx.bindings(key.value)
            if bindings and all(
                b.kind in ("assign", "annassign")
                and b.value is not None
                and is_string_like(b.value)
                for b in bindings
            ):
                return "cols"
        # a variable is taken as a column label only when its name says so
        tokens = identifier_tokens(_key_name(key))
        if any(t in _ROWISH_TOKENS for t in tokens):
            return "unknown"
        if any(t in _COLUMN_TOKENS for t in tokens):
            return "cols"
        return "unknown"

    def _fixable_base(self, base: cst.BaseExpression) -> bool:
        if isinstance(base, cst.Name):
            simple = True
        else:
            name = dotted_name(base)
            fn = self.ctx.enclosing_function()
            self_name = fn.self_name if fn is not None else None
            simple = (
                name is not None and self_name is not None and name.split(".", 1)[0] == self_name
            )
        if not simple:
            return False
        kind = self.ctx.kind(base)
        if kind == K.DATAFRAME:
            return True
        if kind is not None or self._pattern is None:
            return False
        last = (
            base.value
            if isinstance(base, cst.Name)
            else (dotted_name(base) or "").rsplit(".", 1)[-1]
        )
        return self._pattern.search(last) is not None

    def _code(self, node: cst.CSTNode) -> str:
        return self.ctx.code(node).strip()

    def _suggestion(self, chain: _Chain) -> str | None:
        """``B.loc[R, C]`` (or ``B.at[R, C]``) text for the fixable shapes, else None."""
        b = self._code(chain.base)
        if self.ctx.kind(chain.base) == K.SERIES:
            return None  # the fixes are DataFrame forms
        outer_key: cst.BaseExpression | cst.Slice | None = None
        if chain.outer_sub is not None:
            outer_key = _single_key(chain.outer_sub)
        if chain.inner in _ROW_ACCESSORS:
            # B.loc[R][C], B.iloc[R][C], B.loc[R].<col>
            if self._shape(chain.s1) == "bad" or chain.s1 is None:
                return None
            cols = self._outer_columns(chain, outer_key)
            if cols is None:
                return None
            rows = self._code(chain.s1)
            if chain.inner == "iloc":
                rows = f"{b}.index[{rows}]"
            return f"{b}.loc[{rows}, {cols}]"
        if chain.inner == "attr":
            # B.<col>[R]
            return self._column_first(b, f'"{chain.col_attr}"', chain, outer_key)
        orientation = self._s1_orientation(chain.s1)
        if orientation == "cols" and chain.s1 is not None:
            # B[C][R]
            return self._column_first(b, self._code(chain.s1), chain, outer_key)
        if orientation != "rows" or chain.s1 is None or self._shape(chain.s1) != "mask":
            return None
        mask = self._code(chain.s1)
        if chain.outer == "loc" and chain.outer_sub is not None:
            # B[M].loc[:, C]
            els = chain.outer_sub.slice
            if len(els) != 2 or not _is_full_slice(els[0].slice):
                return None
            second = els[1].slice
            if not isinstance(second, cst.Index) or second.star is not None:
                return None
            if self._shape(second.value) not in ("scalar", "list"):
                return None
            return f"{b}.loc[{mask}, {self._code(second.value)}]"
        # B[M][C], B[M].<col>
        cols = self._outer_columns(chain, outer_key)
        return None if cols is None else f"{b}.loc[{mask}, {cols}]"

    def _outer_columns(
        self, chain: _Chain, outer_key: cst.BaseExpression | cst.Slice | None
    ) -> str | None:
        """The column part of ``<row selection>[C]`` / ``<row selection>.<col>``."""
        if chain.outer == "attr":
            return f'"{chain.outer_attr}"'
        if chain.outer != "[]" or self._shape(outer_key) not in ("scalar", "list"):
            return None
        assert outer_key is not None
        if isinstance(outer_key, cst.Name) and self._s1_orientation(outer_key) != "cols":
            return None
        return self._code(outer_key)

    def _column_first(
        self,
        b: str,
        cols: str,
        chain: _Chain,
        outer_key: cst.BaseExpression | cst.Slice | None,
    ) -> str | None:
        """``B[C][R]``, ``B[C].loc[R]``, ``B[C].iloc[R]``, ``B[C].at[R]`` (and ``B.<col>``)."""
        shape = self._shape(outer_key)
        if shape == "bad" or outer_key is None:
            return None
        rows = self._code(outer_key)
        if chain.outer == "[]":
            if shape == "slice":
                return None  # a positional slice would become a label slice
            return f"{b}.loc[{rows}, {cols}]"
        if chain.outer == "loc":
            return f"{b}.loc[{rows}, {cols}]"
        if chain.outer == "at" and shape == "scalar":
            return f"{b}.at[{rows}, {cols}]"
        if chain.outer == "iloc":
            return f"{b}.loc[{b}.index[{rows}], {cols}]"
        return None

    def _report(self, chain: _Chain) -> None:
        target = chain.target
        b = self._code(chain.base)
        suggestion = self._suggestion(chain)
        fix = None
        if suggestion is not None and self._fixable_base(chain.base):
            text = suggestion
            if getattr(target, "lpar", None):
                text = f"({text})"
            fix = Fix(FixSafety.UNSAFE, [(target, text)])
        copy = chain.inner in _ROW_ACCESSORS or (
            chain.inner == "[]" and self._shape(chain.s1) in ("mask", "list")
        )
        if suggestion is not None:
            use = suggestion
        elif self.ctx.kind(chain.base) == K.SERIES:
            use = f"one indexing step, {b}.loc[...]"
        else:
            use = f"{b}.loc[rows, cols]"
        t = self.ctx.snippet(target)
        if copy:
            effect = f"writes into a temporary copy; {b} is not modified (never under pandas ≥ 3)"
        else:
            effect = (
                f"writes into a temporary selection; {b} is not modified under pandas ≥ 3 "
                "(older pandas may write through, with a warning)"
            )
        self.report(target, f"Chained assignment '{t}' {effect} — use {use} = ...", fix)


# -- the ast pre-scan (ast_gate), shared by the pandas rules ----------------------------------
# The rules judge receivers by kind (``ctx.kind``); the gates cannot, so they ask whether an
# expression's SHAPE could get the kind at all. kinds.py gives a Name a kind only through a
# binding (an assignment, an annotated assignment, a walrus or an annotated parameter); an
# attribute ``x.a`` is a DataFrame only as a ``self.a`` attribute bound in a class or as
# ``<frame>.T``, and a column (a Series) of a frame otherwise; a subscript is a DataFrame only
# through ``.loc``/``.iloc``, a key list or a mask; a call may be anything.

#: keys of ``F[key]`` that select a column or columns (besides strings and masks)
_AST_COLUMN_KEYS = (ast.List, ast.Name, ast.Attribute, ast.Subscript, ast.JoinedStr)
#: pandas classes an annotation may name
_PANDAS_CLASSES = frozenset({"DataFrame", "Series"})
#: ``pandas.<f>(...)`` calls kinds.py types as a DataFrame or Series (besides ``read_*`` and
#: ``DataFrame.from_*``)
_PANDAS_FUNCTIONS = K._PANDAS_FRAME_FUNCS | _PANDAS_CLASSES
#: methods of a DataFrame or Series that kinds.py types as returning one
_FRAME_METHODS = K.DATAFRAME_METHODS_FRAME | K._SERIES_METHODS_SERIES
_KEY_KINDS = "pandas:kinds"
_NO_CYCLE = 1 << 30
#: how deep :class:`_Kinds` follows names bound to names before answering "may be"
_MAX_DEPTH = 100
_KEY_PANDAS_NAMES = "pandas:import_names"
_KEY_MASK_NAMES = "pandas:mask_names"
_SERIES = frozenset({"Series"})
_AST_MASK_METHODS = frozenset(
    {"isna", "notna", "isnull", "notnull", "isin", "between", "duplicated"}
)
_AST_STR_MASK_METHODS = frozenset({"contains", "startswith", "endswith"})


def _imports_pandas(scan: Scan) -> bool:
    """The rules' ``ctx.imports("pandas")``: an absolute import of pandas or a submodule."""
    return scan.imports_any("pandas")


class _Kinds:
    """Which names and ``self`` attributes kinds.py may type as a DataFrame or Series.

    A name's kind comes only from its bindings (which must all agree), so a name qualifies
    when one of its bindings anywhere in the file may give it one: a parameter or an
    annotated assignment whose annotation may name a pandas class, or a plain (not unpacked)
    ``=``/``:=``/annotated ``=`` of a value that may have a pandas kind (:meth:`value`).
    Loop, ``with``, ``except`` and import targets never have one. A ``self.<a>`` attribute
    qualifies the same way through ``<x>.<a> = ...`` bindings and class-level names.

    The bindings are indexed once; a name is judged only when a gate asks about it."""

    __slots__ = ("_busy", "_index", "_low", "_memo", "pandas_names")

    def __init__(self, scan: Scan) -> None:
        self.pandas_names = _pandas_import_names(scan)
        # (is an attribute, identifier) -> (is an annotation, node) for the annotations
        # (parameters, annotated assignments) and the values bound to it
        index: dict[tuple[bool, str], list[tuple[bool, ast.expr]]] = {}
        for a in scan.of(ast.arg):
            if a.annotation is not None:
                index.setdefault((False, a.arg), []).append((True, a.annotation))
        for ann in scan.of(ast.AnnAssign):
            target = ann.target
            if isinstance(target, ast.Name):
                bucket = index.setdefault((False, target.id), [])
            elif isinstance(target, ast.Attribute):
                bucket = index.setdefault((True, target.attr), [])
            else:
                continue
            bucket.append((True, ann.annotation))
            if ann.value is not None:
                bucket.append((False, ann.value))
        for w in scan.of(ast.NamedExpr):
            index.setdefault((False, w.target.id), []).append((False, w.value))
        pairs: list[tuple[ast.expr, ast.expr]] = []
        for node in scan.of(ast.Assign):
            for t in node.targets:
                assign_pairs(t, node.value, pairs)  # `a, b = x, y` binds element-wise
        for bound, value in pairs:
            if isinstance(bound, ast.Name):
                index.setdefault((False, bound.id), []).append((False, value))
            elif isinstance(bound, ast.Attribute):
                index.setdefault((True, bound.attr), []).append((False, value))
        self._index = index
        self._memo: dict[tuple[bool, str], bool] = {}
        #: keys being judged -> their depth; the lowest depth a judgement ran into
        self._busy: dict[tuple[bool, str], int] = {}
        self._low = _NO_CYCLE

    def name(self, ident: str) -> bool:
        return self._judge((False, ident))

    def attr(self, ident: str) -> bool:
        """``self.<ident>`` may be a frame: an attribute binding or a class-level name."""
        return self._judge((True, ident))

    def _judge(self, key: tuple[bool, str]) -> bool:
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        depth = self._busy.get(key)
        if depth is not None:
            # a binding through the key itself adds nothing to the key's other bindings
            self._low = min(self._low, depth)
            return False
        depth = len(self._busy)
        if depth > _MAX_DEPTH:
            return True  # too deep to follow: it may be
        self._busy[key] = depth
        outer_low, self._low = self._low, _NO_CYCLE
        try:
            result = any(self._bound(*b) for b in self._index.get(key, ()))
            if not result and key[0]:
                result = self._judge((False, key[1]))  # a class-level name
        finally:
            del self._busy[key]
        low = self._low
        # False is final unless it relied on a key judged further up (still undecided)
        if result or low >= depth:
            self._memo[key] = result
            self._low = outer_low
        else:
            self._low = min(outer_low, low)
        return result

    def _bound(self, annotation: bool, node: ast.expr) -> bool:
        if annotation:
            return _pandas_annotation(node, self.pandas_names)
        return self.value(node)

    def value(self, value: ast.AST) -> bool:
        """``KindInference.of`` may type ``value`` as a DataFrame or Series."""
        while True:
            if isinstance(value, ast.Name):
                return self.name(value.id)
            if isinstance(value, ast.Attribute):
                # a `self.<a>` attribute, `<frame>.T` or a column of a frame
                if isinstance(value.value, ast.Name) and self.attr(value.attr):
                    return True
                value = value.value
            elif isinstance(value, ast.Subscript):
                value = value.value  # a selection of a frame (`.loc`/`.iloc` too)
            elif isinstance(value, ast.Call):
                func = value.func
                if isinstance(func, ast.Name):
                    return func.id in self.pandas_names
                if not isinstance(func, ast.Attribute):
                    return False
                attr = func.attr
                if attr in _PANDAS_FUNCTIONS or attr.startswith(("read_", "from_")):
                    return True  # `pd.read_csv(...)`, `pd.DataFrame(...)`, `pd.concat(...)`
                if attr not in _FRAME_METHODS:
                    return False
                value = func.value  # a method of a frame or Series returning one
            else:
                return False


def _kinds(scan: Scan) -> _Kinds:
    return scan.memo(_KEY_KINDS, lambda: _Kinds(scan))


def _pandas_annotation(ann: ast.expr, pandas_names: frozenset[str]) -> bool:
    """An annotation that may resolve to ``pandas.DataFrame``/``pandas.Series``: it names
    ``DataFrame``/``Series`` or a name imported from pandas, or holds a string."""
    for n in walk(ann):
        if isinstance(n, ast.Name):
            if n.id in _PANDAS_CLASSES or n.id in pandas_names:
                return True
        elif isinstance(n, ast.Attribute):
            if n.attr in _PANDAS_CLASSES:
                return True
        elif isinstance(n, ast.Constant) and isinstance(n.value, str):
            return True
    return False


def _pandas_import_names(scan: Scan) -> frozenset[str]:
    """Local names bound by ``from pandas[.x] import y [as z]`` and by relative imports (a
    relative import inside a package named pandas resolves to it)."""

    def build() -> frozenset[str]:
        out: set[str] = set()
        for imp in scan.of(ast.ImportFrom):
            mod = imp.module or ""
            if imp.level or mod == "pandas" or mod.startswith("pandas."):
                out.update(a.asname or a.name for a in imp.names)
        for imp_ in scan.of(ast.Import):
            for a in imp_.names:
                if a.asname is not None and a.name.startswith("pandas."):
                    out.add(a.asname)
        return frozenset(out)

    return scan.memo(_KEY_PANDAS_NAMES, build)


def _ast_is_mask(node: ast.AST) -> bool:
    """:func:`mllint.semantics.kinds.is_mask_expression` on an ``ast`` node."""
    if isinstance(node, ast.Compare):
        return True
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, ast.Invert)
    if isinstance(node, ast.BinOp):
        return isinstance(node.op, (ast.BitAnd, ast.BitOr))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        name = node.func.attr
        if name in _AST_MASK_METHODS:
            return True
        recv = node.func.value
        return (
            name in _AST_STR_MASK_METHODS and isinstance(recv, ast.Attribute) and recv.attr == "str"
        )
    return False


def _mask_names(scan: Scan) -> frozenset[str]:
    """Names with at least one plain (or annotated) assignment of a mask expression."""

    def build() -> frozenset[str]:
        out: set[str] = set()
        pairs: list[tuple[ast.expr, ast.expr]] = []
        for node in scan.of(ast.Assign):
            for target in node.targets:
                assign_pairs(target, node.value, pairs)
        out.update(t.id for t, v in pairs if isinstance(t, ast.Name) and _ast_is_mask(v))
        for ann in scan.of(ast.AnnAssign):
            if (
                ann.value is not None
                and isinstance(ann.target, ast.Name)
                and _ast_is_mask(ann.value)
            ):
                out.add(ann.target.id)
        return frozenset(out)

    return scan.memo(_KEY_MASK_NAMES, build)


def _inplace_calls(scan: Scan) -> list[ast.Call]:
    """``<x>.<m>(..., inplace=True)`` for the pandas ``inplace`` methods (literal True)."""
    out: list[ast.Call] = []
    for call in scan.calls(*INPLACE_METHODS):
        if isinstance(call.func, ast.Attribute) and any(
            kw.arg == "inplace" and isinstance(kw.value, ast.Constant) and kw.value.value is True
            for kw in call.keywords
        ):
            out.append(call)
    return out


def _ast_groupby(expr: ast.AST) -> tuple[ast.Call, ast.Subscript | None] | None:
    """:func:`mllint.semantics.pandas_facts.groupby_of` on an ``ast`` node."""
    sub: ast.Subscript | None = None
    if isinstance(expr, ast.Subscript):
        sub = expr
        expr = expr.value
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr == "groupby"
    ):
        return expr, sub
    return None


def _pattern_match(expr: ast.AST, pattern: re.Pattern[str] | None) -> bool:
    return pattern is not None and isinstance(expr, ast.Name) and bool(pattern.search(expr.id))


def _maybe_frame(scan: Scan, expr: ast.AST, pattern: re.Pattern[str] | None) -> bool:
    """``expr`` may be of kind DataFrame, or is a Name matching ``pattern``."""
    while True:
        if isinstance(expr, ast.Name):
            return _pattern_match(expr, pattern) or _kinds(scan).name(expr.id)
        if isinstance(expr, ast.Attribute):
            # `self.<a>` bound in a class, or `<frame>.T`
            if isinstance(expr.value, ast.Name) and _kinds(scan).attr(expr.attr):
                return True
            if expr.attr != "T":
                return False
            expr = expr.value
        elif isinstance(expr, ast.Subscript):
            # `<frame>.loc|iloc[...]`, `<frame>[[...]]`, `<frame>[<mask>]`
            value = expr.value
            if isinstance(value, ast.Attribute) and value.attr in _ROW_ACCESSORS:
                expr = value.value
            elif isinstance(expr.slice, ast.List) or _ast_is_mask(expr.slice):
                expr = value
            else:
                return False
        else:
            return isinstance(expr, ast.Call) and _kinds(scan).value(expr)
        pattern = None  # the pattern names frames, not their parts


def _maybe_selection(
    scan: Scan, expr: ast.AST, pattern: re.Pattern[str] | None = FRAME_NAME_PATTERN
) -> bool:
    """:func:`mllint.semantics.pandas_facts.selection_of` may accept ``expr``: ``F[...]``,
    ``F.loc/.iloc[...]`` or ``F.<col>`` with ``F`` a possible DataFrame (or a Name matching
    ``pattern``)."""
    if isinstance(expr, ast.Subscript):
        value = expr.value
        if isinstance(value, ast.Attribute):
            if value.attr in _ROW_ACCESSORS:
                return _maybe_frame(scan, value.value, pattern)
            if value.attr in ("at", "iat"):
                return False
        key = expr.slice
        if not (
            isinstance(key, _AST_COLUMN_KEYS)
            or (isinstance(key, ast.Constant) and isinstance(key.value, (str, bytes)))
            or _ast_is_mask(key)
        ):
            return False
        return _maybe_frame(scan, value, pattern)
    if isinstance(expr, ast.Attribute):
        attr = expr.attr
        if attr in K.DATAFRAME_NON_COLUMNS or attr.startswith("_"):
            return False
        return _maybe_frame(scan, expr.value, pattern)
    return False


def _maybe_series(scan: Scan, expr: ast.AST) -> bool:
    """``expr`` may be of kind Series (kinds.py), or is a column ``F["c"]``/``F.c`` of a
    frame (no name pattern)."""
    while isinstance(expr, ast.Call):
        # `pd.Series(...)` (or an imported alias of it), a Series method returning a Series
        func = expr.func
        if isinstance(func, ast.Name):
            return func.id in _series_names(scan)
        if not isinstance(func, ast.Attribute):
            return False
        if func.attr == "Series":
            return True
        if func.attr not in K._SERIES_METHODS_SERIES:
            return False
        expr = func.value
    if isinstance(expr, ast.Name):
        return _kinds(scan).name(expr.id)
    if isinstance(expr, ast.Attribute):
        if isinstance(expr.value, ast.Name) and _kinds(scan).attr(expr.attr):
            return True  # a `self.<a>` attribute
        return expr.attr not in K.DATAFRAME_NON_COLUMNS and _maybe_frame(scan, expr.value, None)
    if isinstance(expr, ast.Subscript):
        key = expr.slice
        string = isinstance(key, ast.JoinedStr) or (
            isinstance(key, ast.Constant) and isinstance(key.value, (str, bytes))
        )
        return string and _maybe_frame(scan, expr.value, None)
    return False


def _series_names(scan: Scan) -> frozenset[str]:
    """``Series`` and the local names bound by ``from pandas import Series as S``."""
    return scan.import_aliases(_SERIES)


def _frame_pattern(options: Mapping[str, Any]) -> re.Pattern[str] | bool | None:
    """The compiled ``frame-name-pattern`` (None: disabled; True: unusable, let through)."""
    raw = options.get("frame-name-pattern", r"^(df|.*_df|df_.*)$")
    if not raw:
        return None
    try:
        return re.compile(raw)
    except (re.error, TypeError):
        return True


def _assign_targets(scan: Scan) -> list[ast.AST]:
    """The targets of every ``=`` and augmented assignment, tuples and starred unpacked."""
    out: list[ast.AST] = []
    stack: list[ast.AST] = []
    for node in scan.of(ast.Assign):
        stack.extend(node.targets)
    stack.extend(n.target for n in scan.of(ast.AugAssign))
    while stack:
        t = stack.pop()
        if isinstance(t, (ast.Tuple, ast.List)):
            stack.extend(t.elts)
        elif isinstance(t, ast.Starred):
            stack.append(t.value)
        else:
            out.append(t)
    return out


def _chain_may_trigger(scan: Scan, target: ast.AST, pattern: re.Pattern[str] | None) -> bool:
    """:meth:`ChainedAssignment._parse` and ``_triggers`` on the shape of ``target``."""
    if isinstance(target, ast.Subscript):
        value = target.value
        if isinstance(value, ast.Attribute) and value.attr in _OUTER_ACCESSORS:
            outer, inner = value.attr, value.value
        else:
            outer, inner = "[]", value
    elif isinstance(target, ast.Attribute):
        if target.attr in _NOT_A_COLUMN or target.attr.startswith("_"):
            return False
        outer, inner = "attr", target.value
    else:
        return False
    if isinstance(inner, ast.Subscript):
        value = inner.value
        if isinstance(value, ast.Attribute):
            if value.attr in _ROW_ACCESSORS:
                return True
            if value.attr in ("at", "iat"):
                return False
        key = inner.slice
        mask = _ast_is_mask(key) or (isinstance(key, ast.Name) and key.id in _mask_names(scan))
        if outer == "attr":
            return mask or isinstance(key, ast.Slice)
        if mask or (outer != "[]" and isinstance(key, (ast.List, ast.Slice))):
            return True
        return _maybe_frame(scan, value, pattern)
    if isinstance(inner, ast.Attribute):
        if inner.attr in _NOT_A_COLUMN or inner.attr.startswith("_"):
            return False
        return _maybe_frame(scan, inner.value, pattern)
    return False
