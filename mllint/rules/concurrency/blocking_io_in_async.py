"""ML801 blocking-io-in-async."""

from __future__ import annotations

import libcst as cst

from mllint.options import Option
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics import kinds as K
from mllint.semantics.concurrency import enclosing_async_def

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

    def visit_Call(self, node: cst.Call) -> None:
        ctx = self.ctx
        func = node.func
        if not isinstance(func, (cst.Name, cst.Attribute)):
            return
        if not self._blocking(node):
            return
        fdef = enclosing_async_def(ctx)
        if fdef is None:
            return
        callee = ctx.snippet(func, 50)
        self.report(
            node,
            f"{ctx.snippet(node, 60)} blocks the event loop inside 'async def "
            f"{fdef.name.value}' (every other request waits); run it in a thread: "
            f"await asyncio.to_thread({callee}, …)",
            self._fix(node),
        )

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
