"""ML801 blocking-io-in-async."""

from __future__ import annotations

import libcst as cst

from mllint.options import Option
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics import kinds as K
from mllint.semantics.concurrency import enclosing_async_def
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
