"""ML801 blocking-io-in-async."""

from __future__ import annotations

import ast
import sys
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import libcst as cst

from mllint.options import Option
from mllint.prescan import Scan, qualified_names, walk
from mllint.prescan import start_pos as _start
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics import kinds as K
from mllint.semantics.concurrency import (
    CONTEXT_FACTORIES,
    POOL_CALLABLE_METHODS,
    POOL_CONSTRUCTORS,
    PROCESS,
    PROCESS_CLASSES,
    THREAD,
    enclosing_async_def,
)
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import string_value
from mllint.semantics.walk import iter_descendants

_PANDAS_READERS = (
    "csv", "parquet", "json", "excel", "pickle", "sql", "feather", "hdf", "table", "fwf", "orc",
    "xml", "html",
)  # fmt: skip
_FRAME_WRITERS = frozenset(
    {"to_csv", "to_parquet", "to_json", "to_excel", "to_pickle", "to_sql", "to_feather", "to_hdf"}
)
_BLOCKING_CALLS = frozenset(
    {
        *(f"pandas.read_{r}" for r in _PANDAS_READERS),
        *(
            f"numpy.{f}"
            for f in (
                "load", "save", "savez", "savez_compressed", "loadtxt", "genfromtxt", "savetxt",
                "fromfile",
            )
        ),
        "torch.load",
        "torch.save",
        "joblib.load",
        "joblib.dump",
        "pickle.load",
        "pickle.dump",
        "safetensors.torch.load_file",
        "safetensors.torch.save_file",
    }
)  # fmt: skip
_PRETRAINED_LIBS = ("transformers.", "diffusers.", "sentence_transformers.")
_FIT_METHODS = frozenset({"fit", "fit_transform"})
_LIFECYCLE_EVENTS = frozenset({"startup", "shutdown"})
_LIFECYCLE_HOOK_LISTS = frozenset({"on_startup", "on_shutdown", "on_cleanup"})
_ASYNC_CONTEXT_MANAGERS = frozenset(
    {"contextlib.asynccontextmanager", "fastapi.concurrency.asynccontextmanager"}
)


class BlockingIoInAsync(Rule):
    """
    ## What it does
    Flags data and model I/O called directly inside an `async def` (not inside a nested
    synchronous `def` or `lambda`): `pandas.read_*` (csv, parquet, json, excel, pickle, sql,
    feather, hdf, table, fwf, orc, xml, html), `to_*` writers on a DataFrame or Series,
    `numpy.load/save/savez/savez_compressed/loadtxt/genfromtxt/savetxt/fromfile`,
    `torch.load/save`, `joblib.load/dump`, `pickle.load/dump`,
    `safetensors.torch.load_file/save_file`, `<Cls>.from_pretrained(...)` of `transformers`,
    `diffusers` or `sentence_transformers`, and `.fit(...)`/`.fit_transform(...)` on a
    scikit-learn-style estimator.

    ## Why is this bad?
    A coroutine runs on the single event-loop thread. A synchronous call that reads a large
    CSV, loads a checkpoint or fits a model stops every other coroutine (health checks, other
    requests) until it returns, so one slow request stalls the whole server.

    ## Example
    ```python
    @app.post("/predict")
    async def predict(request: PredictRequest):
        features = pd.read_parquet(request.path)
        return {"scores": model.predict(features).tolist()}
    ```

    ## Use instead
    ```python
    @app.post("/predict")
    async def predict(request: PredictRequest):
        features = await asyncio.to_thread(pd.read_parquet, request.path)
        return {"scores": model.predict(features).tolist()}
    ```

    The same callables passed uncalled to `asyncio.to_thread`, `loop.run_in_executor` or
    `anyio.to_thread.run_sync`, and calls inside synchronous helpers, are not flagged.
    Server start-up and shutdown hooks are not flagged either: an `async def` decorated with
    `@app.on_event("startup")`/`("shutdown")`, registered with
    `add_event_handler("startup", f)`, `on_startup=[f]`/`on_shutdown=[f]` or aiohttp's
    `app.on_startup.append(f)`, or an `@asynccontextmanager` lifespan (named `lifespan` or
    passed as `lifespan=`). The server runs them before it accepts connections (and after it
    stops), so no request waits on them; loading the model there is the intended pattern.
    `time.sleep`, `requests.*` and `open` are left to ruff (ASYNC251, ASYNC210, ASYNC230).
    More callables can be added with the `extend-blocking-calls` option (qualified names).

    ## Fix safety
    Unsafe, when the call is the whole right-hand side of an assignment, a `return` value or
    an expression statement, and the project's minimum Python is at least 3.9 (or unknown):
    `f(a, k=v)` becomes `await asyncio.to_thread(f, a, k=v)` and `obj.m(a)` becomes
    `await asyncio.to_thread(obj.m, a)`, adding `import asyncio` if needed. The callee now runs
    in a worker thread: objects it shares with other coroutines must be thread-safe, and
    exceptions surface at the `await`.
    """

    code = "ML801"
    name = "blocking-io-in-async"
    summary = (
        "Data/model I/O (pandas, NumPy, torch, joblib, pickle) called directly inside `async def`"
    )
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    options = (
        Option(
            "extend-blocking-calls",
            "list[str]",
            [],
            "extra qualified names of blocking calls (e.g. `mylib.io.load_model`)",
        ),
    )
    requires_text = ("async",)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._hooks: set[str] | None = None

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a call that may resolve to a blocking callable (an option's too), a
        # `<lib>.<Cls>.from_pretrained(...)`, or a `.to_<format>(...)`/`.fit(...)` method call,
        # directly in the body of an `async def`
        if not scan.has(ast.AsyncFunctionDef):
            return False
        extra = options.get("extend-blocking-calls") or ()
        wanted = _BLOCKING_CALLS.union(extra) if extra else _BLOCKING_CALLS
        cands: list[ast.Call] = _qual_calls(scan, wanted)
        for c in scan.calls(*scan.import_aliases(frozenset({"from_pretrained"}))):
            if any(_pretrained_qual(q) for q in _quals(scan, c.func)):
                cands.append(c)
        for c in scan.calls(*_FRAME_WRITERS, *_FIT_METHODS):
            if isinstance(c.func, ast.Attribute):
                cands.append(c)
        return _in_async_body(scan, cands)

    def visit_Call(self, node: cst.Call) -> None:
        ctx = self.ctx
        func = node.func
        if not isinstance(func, (cst.Name, cst.Attribute)):
            return
        if not self._blocking(node):
            return
        fdef = enclosing_async_def(ctx)
        if fdef is None or self._lifecycle_hook(fdef):
            return
        callee = ctx.snippet(func, 50)
        self.report(
            node,
            f"{ctx.snippet(node, 60)} blocks the event loop inside 'async def "
            f"{fdef.name.value}' (every other request waits); run it in a thread: "
            f"await asyncio.to_thread({callee}, …)",
            self._fix(node),
        )

    def _lifecycle_hook(self, fdef: cst.FunctionDef) -> bool:
        """A server start-up/shutdown hook: it runs before connections are accepted."""
        ctx = self.ctx
        name = fdef.name.value
        for dec in fdef.decorators:
            d = dec.decorator
            if (
                isinstance(d, cst.Call)
                and isinstance(d.func, cst.Attribute)
                and d.func.attr.value == "on_event"
                and d.args
                and string_value(d.args[0].value) in _LIFECYCLE_EVENTS
            ):
                return True
            target = d.func if isinstance(d, cst.Call) else d
            if ctx.qualname(target) in _ASYNC_CONTEXT_MANAGERS and name == "lifespan":
                return True
        if self._hooks is None:
            self._hooks = _registered_hooks(ctx.module)
        return name in self._hooks

    def _blocking(self, node: cst.Call) -> bool:
        ctx = self.ctx
        q = ctx.qualname(node.func)
        if q is not None:
            if q in _BLOCKING_CALLS or q in self.option("extend-blocking-calls"):
                return True
            if q.endswith(".from_pretrained") and q.startswith(_PRETRAINED_LIBS):
                return True
        func = node.func
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            if method in _FRAME_WRITERS:
                return ctx.kind(func.value) in (K.DATAFRAME, K.SERIES)
            if method in _FIT_METHODS:
                return ctx.kind(func.value) == K.ESTIMATOR
        return False

    def _fix(self, node: cst.Call) -> Fix | None:
        ctx = self.ctx
        min_python = ctx.facts.min_python
        if min_python is not None and min_python < (3, 9):
            return None
        parent = ctx.parent
        if not isinstance(parent, (cst.Assign, cst.AnnAssign, cst.Return, cst.Expr)):
            return None
        if parent.value is not node:
            return None
        plan = ctx.import_name("asyncio", "to_thread")
        if plan is None:
            return None
        new = cst.Await(
            expression=cst.Call(
                func=cst.parse_expression(plan.local),
                args=[cst.Arg(value=node.func), *node.args],
            )
        )
        return Fix(FixSafety.UNSAFE, [(node, new)], [plan])


def _pretrained_qual(qual: str) -> bool:
    if qual.startswith("."):  # relative import: the package is unknown here
        return qual.endswith(".from_pretrained")
    return qual.endswith(".from_pretrained") and qual.startswith(_PRETRAINED_LIBS)


def _registered_hooks(module: cst.Module) -> set[str]:
    """Names of functions registered as start-up/shutdown hooks or lifespans in ``module``:
    ``lifespan=f``, ``on_startup=[f]``, ``add_event_handler("startup", f)``,
    ``app.on_startup.append(f)``."""
    out: set[str] = set()
    for node in iter_descendants(module):
        if not isinstance(node, cst.Call):
            continue
        for arg in node.args:
            kw = arg.keyword.value if arg.keyword is not None else None
            if kw == "lifespan" and isinstance(arg.value, cst.Name):
                out.add(arg.value.value)
            elif kw in ("on_startup", "on_shutdown") and isinstance(
                arg.value, (cst.List, cst.Tuple)
            ):
                out.update(
                    e.value.value for e in arg.value.elements if isinstance(e.value, cst.Name)
                )
        func = node.func
        if not isinstance(func, cst.Attribute):
            continue
        if (
            func.attr.value == "add_event_handler"
            and len(node.args) == 2
            and string_value(node.args[0].value) in _LIFECYCLE_EVENTS
            and isinstance(node.args[1].value, cst.Name)
        ):
            out.add(node.args[1].value.value)
        elif (
            func.attr.value == "append"
            and isinstance(func.value, cst.Attribute)
            and func.value.attr.value in _LIFECYCLE_HOOK_LISTS
            and len(node.args) == 1
            and isinstance(node.args[0].value, cst.Name)
        ):
            out.add(node.args[0].value.value)
    return out


# -- ast-gate helpers shared by the concurrency rules (mllint.prescan candidates) ------------
#: ``Scan.memo`` keys (the scan is shared by every rule's gate on one file)
_KEY_BODIES = "concurrency.bodies"
_KEY_NOT_IMPORT_TIME = "concurrency.not_import_time"
_KEY_FSTRINGS = "concurrency.fstrings"
_FAR = 1 << 30

_Pos = tuple[int, int]


def _quals(scan: Scan, expr: ast.AST) -> list[str]:
    """The qualified names ``ctx.qualname`` may give a Name/Attribute chain (a superset): its
    root through every import binding it, or as a builtin."""
    # a relative import gives ``.mod.name``: the package is resolved by the rule
    bindings = scan.import_bindings(None, relative="suffix")
    return qualified_names(expr, bindings, builtins=True)


def _qual_match(qual: str, wanted: Iterable[str]) -> bool:
    if qual.startswith("."):  # relative import: the package prefix is unknown here
        return any(w == qual[1:] or w.endswith(qual) for w in wanted)
    return qual in wanted


def _qual_in(scan: Scan, expr: ast.AST, wanted: Collection[str]) -> bool:
    return any(_qual_match(q, wanted) for q in _quals(scan, expr))


_LASTS: dict[frozenset[str], frozenset[str]] = {}


def _qual_calls(scan: Scan, wanted: Collection[str]) -> list[ast.Call]:
    """Calls whose callee may resolve (``ctx.qualname``) to one of ``wanted``."""
    key = frozenset(wanted)
    lasts = _LASTS.get(key)
    if lasts is None:
        lasts = _LASTS[key] = frozenset(w.rsplit(".", 1)[-1] for w in key)
    calls = scan.calls(*scan.import_aliases(lasts))
    return [c for c in calls if _qual_in(scan, c.func, wanted)] if calls else calls


def _end(node: ast.AST) -> _Pos:
    line = getattr(node, "end_lineno", None)
    col = getattr(node, "end_col_offset", None)
    return (_FAR if line is None else line, _FAR if col is None else col)


def _fstring_owners(scan: Scan) -> dict[int, ast.AST]:
    """id(node) -> the f-string holding it. Before Python 3.12 the positions of the nodes
    inside an f-string may be off, so the gates place such a node at its outermost f-string
    (and ignore lambdas inside f-strings: the gate then sees their body as the code around
    them, which only widens what it lets through)."""
    if sys.version_info >= (3, 12) or not scan.has(ast.JoinedStr):
        return {}

    def build() -> dict[int, ast.AST]:
        owners: dict[int, ast.AST] = {}
        for js in scan.of(ast.JoinedStr):
            for sub in walk(js):
                if sub is not js:
                    owners[id(sub)] = js
        return owners

    return scan.memo(_KEY_FSTRINGS, build)


def _span(scan: Scan, node: ast.AST) -> tuple[_Pos, _Pos]:
    """The (start, end) position of ``node``, of its outermost f-string when in one."""
    owners = _fstring_owners(scan)
    while id(node) in owners:
        node = owners[id(node)]
    return _start(node), _end(node)


def _lambdas(scan: Scan) -> list[ast.Lambda]:
    """The lambdas whose positions can be trusted (not inside an f-string before 3.12)."""
    owners = _fstring_owners(scan)
    return [lam for lam in scan.of(ast.Lambda) if id(lam) not in owners]


def _bodies(scan: Scan) -> list[tuple[_Pos, _Pos, ast.AST]]:
    """(start, end, owner) of the body of every def, class and lambda."""

    def build() -> list[tuple[_Pos, _Pos, ast.AST]]:
        out: list[tuple[_Pos, _Pos, ast.AST]] = []
        for owner in scan.of(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            body = owner.body
            out.append((_start(body[0]), _end(body[-1]), owner))
        for lam in _lambdas(scan):
            out.append((_start(lam.body), _end(lam.body), lam))
        return out

    return scan.memo(_KEY_BODIES, build)


def _enclosing_scope(scan: Scan, node: ast.AST) -> ast.AST | None:
    """The innermost def, class or lambda whose *body* contains ``node`` (None: module level),
    like ``mllint.semantics.concurrency.enclosing_def_or_lambda``: a node in a decorator, a
    default or an annotation belongs to the enclosing scope of the def."""
    start, end = _span(scan, node)
    best: ast.AST | None = None
    best_start: _Pos = (-1, -1)
    for s, e, owner in _bodies(scan):
        if s <= start and end <= e and s > best_start:
            best, best_start = owner, s
    return best


def _in_async_body(scan: Scan, nodes: Iterable[ast.AST]) -> bool:
    """Some node is directly in an ``async def`` body (not in a nested def/lambda/class)."""
    return any(isinstance(_enclosing_scope(scan, n), ast.AsyncFunctionDef) for n in nodes)


def _is_main_guard_test(test: ast.AST) -> bool:
    """``__name__ == "__main__"`` written as a single plain string literal (an implicit
    concatenation is no main guard for the rules; it is at least 12 characters wide)."""
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    left, right = test.left, test.comparators[0]
    if isinstance(right, ast.Name):
        left, right = right, left
    if not (isinstance(left, ast.Name) and left.id == "__name__"):
        return False
    return (
        isinstance(right, ast.Constant)
        and right.value == "__main__"
        and isinstance(right.value, str)
        and right.end_lineno == right.lineno
        and right.end_col_offset is not None
        and right.end_col_offset - right.col_offset <= 11
    )


def _not_import_time_spans(scan: Scan) -> list[tuple[_Pos, _Pos]]:
    """Spans whose code does not run at import time for the rules: whole defs and classes
    (decorators included), lambdas, and the bodies of ``if __name__ == "__main__":``."""

    def build() -> list[tuple[_Pos, _Pos]]:
        out: list[tuple[_Pos, _Pos]] = []
        for owner in scan.of(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            first = owner.decorator_list[0] if owner.decorator_list else owner
            out.append((_start(first), _end(owner)))
        for lam in _lambdas(scan):
            out.append((_start(lam), _end(lam)))
        for stmt in scan.of(ast.If):
            if _is_main_guard_test(stmt.test):
                # its body only: the `else:` of a main guard runs on import
                out.append((_start(stmt.body[0]), _end(stmt.body[-1])))
        return out

    return scan.memo(_KEY_NOT_IMPORT_TIME, build)


def _at_import_time(scan: Scan, node: ast.AST) -> bool:
    start, end = _span(scan, node)
    return not any(s <= start and end <= e for s, e in _not_import_time_spans(scan))


def _arg(call: ast.Call, keywords: tuple[str, ...], position: int | None) -> ast.AST | None:
    """``mllint.semantics.cstutil.call_arg`` on an ``ast.Call``."""
    for kw in call.keywords:
        if kw.arg is not None and kw.arg in keywords:
            return kw.value
    if position is not None:
        for i, a in enumerate(call.args):
            if isinstance(a, ast.Starred):
                return None
            if i == position:
                return a
    return None


def _context_attr_calls(scan: Scan, attr: str) -> list[ast.Call]:
    """``<ctx>.Pool(...)``/``<ctx>.Process(...)`` where ``<ctx>`` may be a
    ``multiprocessing.get_context(...)`` call or a name bound from one."""
    out: list[ast.Call] = []
    factories: bool | None = None
    for c in scan.calls(attr):
        func = c.func
        if not isinstance(func, ast.Attribute):
            continue
        recv = func.value
        if isinstance(recv, ast.Call):
            if _qual_in(scan, recv.func, CONTEXT_FACTORIES):
                out.append(c)
        elif isinstance(recv, ast.Name):
            if factories is None:
                factories = bool(_qual_calls(scan, CONTEXT_FACTORIES))
            if factories:
                out.append(c)
    return out


def _pool_calls(scan: Scan, kind: str | None) -> list[ast.Call]:
    """Calls that may construct a worker pool of this kind (None: any kind), like
    ``mllint.semantics.concurrency.pool_kind_of_call``."""
    wanted = [q for q, k in POOL_CONSTRUCTORS.items() if kind is None or k == kind]
    out = _qual_calls(scan, wanted)
    if kind != THREAD:
        out.extend(_context_attr_calls(scan, "Pool"))
    return out


def _process_calls(scan: Scan) -> list[ast.Call]:
    """Calls that may be ``multiprocessing.Process(...)`` (``is_process_call``)."""
    return [*_qual_calls(scan, PROCESS_CLASSES), *_context_attr_calls(scan, "Process")]


def _bound_to(
    scan: Scan, calls: Collection[ast.Call], with_items: bool = True, annotated: bool = True
) -> tuple[set[str], set[str]]:
    """(names, attributes) that assignments (``x = c``, ``x: T = c``, ``a, x = b, c``,
    ``self.x = c``) and ``with c as x`` may bind to one of these calls: the receivers
    ``pool_kind_of_expr`` and ``is_process_call`` accept."""
    names: set[str] = set()
    attrs: set[str] = set()
    if not calls:
        return names, attrs
    ids = {id(c) for c in calls}

    def holds(value: ast.AST | None) -> bool:
        if isinstance(value, (ast.Tuple, ast.List)):
            return any(holds(e) for e in value.elts)
        return id(value) in ids

    def bind(target: ast.AST) -> None:
        for n in walk(target):
            if isinstance(n, ast.Name):
                names.add(n.id)
            elif isinstance(n, ast.Attribute):
                attrs.add(n.attr)

    for a in scan.of(ast.Assign):
        if holds(a.value):
            for t in a.targets:
                bind(t)
    if annotated:
        for ann in scan.of(ast.AnnAssign):
            if holds(ann.value):
                bind(ann.target)
    if with_items:
        for w in scan.of(ast.With, ast.AsyncWith):
            for item in w.items:
                if item.optional_vars is not None and id(item.context_expr) in ids:
                    bind(item.optional_vars)
    return names, attrs


def _receiver_in(recv: ast.AST, calls: set[int], names: set[str], attrs: set[str]) -> bool:
    """``recv`` may be one of the calls, or a name/``self.<attr>`` bound to one."""
    if isinstance(recv, ast.Call):
        return id(recv) in calls
    if isinstance(recv, ast.Name):
        return recv.id in names
    return (
        isinstance(recv, ast.Attribute)
        and isinstance(recv.value, ast.Name)
        and (recv.attr in attrs)
    )


def _pool_method_args(scan: Scan, kind: str) -> list[ast.AST]:
    """The callable argument of ``<pool>.map/submit/...(f, ...)`` calls on a receiver that
    may be a pool of this kind (``pool_kind_of_expr``)."""
    out: list[ast.AST] = []
    calls = scan.calls(*POOL_CALLABLE_METHODS)
    if not calls:
        return out
    pools = _pool_calls(scan, kind)
    if not pools:
        return out
    names, attrs = _bound_to(scan, pools)
    ids = {id(p) for p in pools}
    for c in calls:
        func = c.func
        if isinstance(func, ast.Attribute) and _receiver_in(func.value, ids, names, attrs):
            keyword = "fn" if func.attr == "submit" else "func"
            arg = _arg(c, (keyword,), 0)
            if arg is not None:
                out.append(arg)
    return out


def _process_targets(scan: Scan) -> list[ast.AST]:
    """The callables a file may send to worker processes (``process_callable_arg``)."""
    out = _pool_method_args(scan, PROCESS)
    for c in _process_calls(scan):
        arg = _arg(c, ("target",), 1)
        if arg is not None:
            out.append(arg)
    return out


def _target_functions(scan: Scan, targets: Iterable[ast.AST]) -> set[int]:
    """The ids of the defs ``local_function`` may find for these expressions (by name: ``f``
    for ``f`` and ``self.f``)."""
    names: set[str] = set()
    for t in targets:
        if isinstance(t, ast.Name):
            names.add(t.id)
        elif isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name):
            names.add(t.attr)
    if not names:
        return set()
    return {id(fn) for fn in scan.functions() if fn.name in names}
