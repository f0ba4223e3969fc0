"""ML014 contextmanager-cleanup-skipped."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Option, Rule
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import block_indents, code_in_block, expression_names
from mllint.semantics.walk import iter_descendants

_DECORATORS = frozenset({"contextlib.contextmanager", "contextlib.asynccontextmanager"})
_DECORATOR_NAMES = frozenset(q.rpartition(".")[2] for q in _DECORATORS)
#: calls that change process-wide state
GLOBAL_STATE_CALLS = frozenset(
    {
        "numpy.random.seed", "random.seed", "torch.manual_seed", "torch.cuda.manual_seed",
        "torch.cuda.manual_seed_all", "torch.set_grad_enabled", "torch.set_default_dtype",
        "tensorflow.random.set_seed", "os.chdir", "warnings.simplefilter",
        "warnings.filterwarnings", "logging.disable", "pandas.set_option", "numpy.seterr",
        "sys.path.insert", "sys.path.append",
    }
)  # fmt: skip
_WARNING_FILTERS = frozenset({"warnings.simplefilter", "warnings.filterwarnings"})
#: clocks read by timing context managers (`elapsed = time.time() - t0`)
_CLOCKS = frozenset(
    {
        "time.time", "time.time_ns", "time.perf_counter", "time.perf_counter_ns",
        "time.monotonic", "time.monotonic_ns", "time.process_time", "timeit.default_timer",
        "datetime.datetime.now", "datetime.datetime.utcnow",
    }
)  # fmt: skip
#: pure formatting helpers allowed in a report-only tail
_FORMATTING = frozenset({"builtins.round", "builtins.str", "builtins.float", "builtins.int"})
_LOG_METHODS = frozenset(
    {"debug", "info", "warning", "warn", "error", "critical", "exception", "log", "write"}
)


@dataclass
class _YieldSite:
    yield_node: cst.Yield
    #: the statement line holding the yield; None for a one-line suite (``if x: yield``)
    line: cst.SimpleStatementLine | None
    #: the blocks containing the statement, innermost first, with the statement's index
    blocks: list[tuple[cst.IndentedBlock, int]]
    protected: bool
    #: in a one-line suite, the small statements after the yield's (``if x: yield; undo()``)
    tail: tuple[cst.BaseSmallStatement, ...] = ()


def _is_trivial(stmt: cst.BaseStatement) -> bool:
    """``pass`` / bare ``return`` / ``return None``: nothing to clean up."""
    if not isinstance(stmt, cst.SimpleStatementLine):
        return False
    for small in stmt.body:
        if isinstance(small, cst.Pass):
            continue
        if isinstance(small, cst.Return) and (
            small.value is None
            or (isinstance(small.value, cst.Name) and small.value.value == "None")
        ):
            continue
        return False
    return True


_EXITS = (cst.Return, cst.Raise, cst.Break, cst.Continue)


def _terminates(stmt: cst.BaseStatement) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and any(
        isinstance(s, _EXITS) for s in stmt.body
    )


def _work_before_exit(stmt: cst.SimpleStatementLine) -> cst.SimpleStatementLine | None:
    """``cleanup(); return``: the line up to its exit when something runs before it."""
    before: list[cst.BaseSmallStatement] = []
    for small in stmt.body:
        if isinstance(small, _EXITS):
            break
        before.append(small)
    if all(isinstance(small, cst.Pass) for small in before):
        return None
    return stmt.with_changes(body=before)


def _reraises(handler: cst.ExceptHandler | cst.ExceptStarHandler) -> bool:
    return any(isinstance(n, cst.Raise) for n in iter_descendants(handler.body, into_scopes=False))


class ContextmanagerCleanupSkipped(Rule):
    """
    ## What it does
    Flags a function decorated with `contextlib.contextmanager` (or `asynccontextmanager`)
    whose `yield`

    * (a) is not inside a `try` that has a `finally` (or an `except` branch that re-raises),
      nor inside a `with` block, and is followed by more statements (the cleanup); or
    * (b) is the last statement, and before it the function changes process-wide state that
      it never restores: `np.random.seed`, `random.seed`, `torch.manual_seed`,
      `torch.set_grad_enabled`, `torch.set_default_dtype`, `torch.backends.cudnn.<flag> = ...`,
      `tf.random.set_seed`, `os.chdir`, `os.environ[...] = ...`, `warnings.simplefilter`/
      `filterwarnings` (outside `catch_warnings`), `logging.disable`, `pd.set_option`,
      `np.seterr`, `sys.path.insert/append`, `<param>.eval()` / `<param>.train(...)`.

    ## Why is this bad?
    In a generator-based context manager an exception raised in the `with` body is re-raised
    at the `yield`; the statements after it are skipped unless they sit in `finally`. GPU
    buffers, file handles, locks and temporary `model.eval()` switches then leak exactly when
    something went wrong. A "reproducible" context that seeds the global RNG and never
    restores it changes the random stream of all the code that runs after it.

    ## Example
    ```python
    @contextmanager
    def evaluation_mode(model):
        was_training = model.training
        model.eval()
        yield model
        model.train(was_training)

    @contextmanager
    def reproducible(seed):
        np.random.seed(seed)
        torch.manual_seed(seed)
        yield
    ```

    ## Use instead
    ```python
    @contextmanager
    def evaluation_mode(model):
        was_training = model.training
        model.eval()
        try:
            yield model
        finally:
            model.train(was_training)

    @contextmanager
    def reproducible(seed):
        state = np.random.get_state()
        np.random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(state)
    ```

    Context managers that register their cleanup on a `contextlib.ExitStack` before the
    `yield` are not flagged, nor timers whose statements after the `yield` only read a clock
    and print or log the result (`print(f"done in {time.time() - t0:.1f}s")`): they release
    nothing, so skipping them on an error loses only a progress message.

    ## Fix safety
    Shape (a) has an unsafe fix: the `yield` statement and the statements following it in the
    same block become `try: <yield> / finally: <following statements>`. Cleanup now also runs
    when the `with` body raises, and a cleanup that raises can mask the original exception.
    There is no fix when the function has several `yield`s, when the cleanup is not in the
    yield's own block, and for shape (b) (how to restore the state is for the author to
    decide).

    ## Options
    - `extend-global-state-calls` (list of qualified names, default `[]`): more calls that
      change global state, e.g. `["mylib.set_backend"]`.
    """

    code = "ML014"
    name = "contextmanager-cleanup-skipped"
    summary = (
        "A `@contextmanager` runs its cleanup only on success, or changes global state and "
        "never restores it"
    )
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    options = (
        Option(
            "extend-global-state-calls",
            "list[str]",
            (),
            "More qualified names of calls that change global state.",
        ),
    )
    requires_text = ("contextmanager",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a def decorated with (an alias of) contextmanager/asynccontextmanager holding a
        # yield that no try/finally (or re-raising handler) and no with-block protects, and
        # that a non-trivial statement follows (cleanup) or a call or an assignment to an
        # attribute/subscript precedes (global state; any call: extend-global-state-calls)
        if not scan.has(ast.Yield, ast.YieldFrom):
            return False
        names = scan.import_aliases(_DECORATOR_NAMES)
        for fn in scan.decorated(*names):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and _ast_may_fire(fn):
                return True
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if not any(self._decorator(d) in _DECORATORS for d in node.decorators):
            return
        if not isinstance(node.body, cst.IndentedBlock):
            return
        sites: list[_YieldSite] = []
        self._collect(node.body, [], False, sites)
        if not sites:
            return
        cm = node.name.value
        for site in sites:
            if site.protected:
                continue
            following = self._following(site)
            if following and not self._report_only(following):
                fix = self._fix(node, site) if len(sites) == 1 else None
                self.report(
                    site.yield_node,
                    f"Cleanup after 'yield' in '{cm}' is skipped when the with-body raises; wrap "
                    "the yield in try/finally",
                    fix,
                )
            elif len(sites) == 1:
                call = self._global_state_change(node, site)
                if call is not None:
                    self.report(
                        site.yield_node,
                        f"'{cm}' changes global state ({self.ctx.snippet(call, 50)}) before "
                        "'yield' and never restores it",
                    )

    def _decorator(self, dec: cst.Decorator) -> str | None:
        expr = dec.decorator
        if isinstance(expr, cst.Call):
            expr = expr.func
        return self.ctx.qualname(expr)

    # -- finding the yields ------------------------------------------------------------------
    def _collect(
        self,
        block: cst.IndentedBlock,
        outer: list[tuple[cst.IndentedBlock, int]],
        protected: bool,
        out: list[_YieldSite],
    ) -> None:
        for i, stmt in enumerate(block.body):
            here = [(block, i), *outer]
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    for n in iter_descendants(small, into_scopes=False):
                        if isinstance(n, cst.Yield):
                            out.append(_YieldSite(n, stmt, here, protected))
                continue
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                continue
            if isinstance(stmt, (cst.Try, cst.TryStar)):
                guarded = stmt.finalbody is not None or any(_reraises(h) for h in stmt.handlers)
                self._suite(stmt.body, here, protected or guarded, out)
                for h in stmt.handlers:
                    self._suite(h.body, here, protected, out)
                if stmt.orelse is not None:
                    self._suite(stmt.orelse.body, here, protected, out)
                if stmt.finalbody is not None:
                    self._suite(stmt.finalbody.body, here, protected, out)
            elif isinstance(stmt, cst.With):
                self._suite(stmt.body, here, True, out)
            elif isinstance(stmt, cst.If):
                self._suite(stmt.body, here, protected, out)
                orelse: cst.If | cst.Else | None = stmt.orelse
                while orelse is not None:
                    self._suite(orelse.body, here, protected, out)
                    orelse = orelse.orelse if isinstance(orelse, cst.If) else None
            elif isinstance(stmt, (cst.For, cst.While)):
                self._suite(stmt.body, here, protected, out)
                if stmt.orelse is not None:
                    self._suite(stmt.orelse.body, here, protected, out)
            elif isinstance(stmt, cst.Match):
                for case in stmt.cases:
                    self._suite(case.body, here, protected, out)

    def _suite(
        self,
        suite: cst.BaseSuite,
        outer: list[tuple[cst.IndentedBlock, int]],
        protected: bool,
        out: list[_YieldSite],
    ) -> None:
        if isinstance(suite, cst.IndentedBlock):
            self._collect(suite, outer, protected, out)
        elif isinstance(suite, cst.SimpleStatementSuite):  # `if x: yield`
            for k, small in enumerate(suite.body):
                for n in iter_descendants(small, into_scopes=False):
                    if isinstance(n, cst.Yield):
                        out.append(
                            _YieldSite(n, None, outer, protected, tuple(suite.body[k + 1 :]))
                        )

    @staticmethod
    def _following(site: _YieldSite) -> list[cst.BaseStatement]:
        """Non-trivial statements that run after the yield statement (its own block first)."""
        out: list[cst.BaseStatement] = []
        if site.tail:
            tail = cst.SimpleStatementLine(body=site.tail)
            if _terminates(tail):
                work = _work_before_exit(tail)
                return [work] if work is not None else []
            if not _is_trivial(tail):
                out.append(tail)
        for block, i in site.blocks:
            for s in block.body[i + 1 :]:
                if _terminates(s):
                    # `yield` then `return`: the outer statements never follow; what runs
                    # before the exit on that line (`undo(); return`) does
                    assert isinstance(s, cst.SimpleStatementLine)
                    work = _work_before_exit(s)
                    if work is not None:
                        out.append(work)
                    return out
                if not _is_trivial(s):
                    out.append(s)
        return out

    # -- report-only tails (timers) ---------------------------------------------------------
    def _report_only(self, stmts: list[cst.BaseStatement]) -> bool:
        """True when everything after the yield only reads a clock and prints or logs the
        result (the Kaggle ``timer`` idiom): nothing is released or restored, so skipping it
        when the body raises loses only a progress message."""
        for stmt in stmts:
            if not isinstance(stmt, cst.SimpleStatementLine):
                return False
            for small in stmt.body:
                if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                    if not self._reporting_call(small.value):
                        return False
                    parts: list[cst.CSTNode] = [a.value for a in small.value.args]
                elif isinstance(small, (cst.Assign, cst.AnnAssign)) and small.value is not None:
                    targets = (
                        [t.target for t in small.targets]
                        if isinstance(small, cst.Assign)
                        else [small.target]
                    )
                    if not all(isinstance(t, cst.Name) for t in targets):
                        return False
                    parts = [small.value]
                else:
                    return False
                for part in parts:
                    for n in (part, *iter_descendants(part, into_scopes=False)):
                        if isinstance(n, cst.Call) and not self._harmless_call(n):
                            return False
        return True

    def _reporting_call(self, call: cst.Call) -> bool:
        func = call.func
        if isinstance(func, cst.Name):
            return func.value == "print" or func.value.endswith("print")
        if isinstance(func, cst.Attribute):
            return func.attr.value in _LOG_METHODS or func.attr.value.endswith("print")
        return False

    def _harmless_call(self, call: cst.Call) -> bool:
        q = self.ctx.qualname(call.func)
        if q in _CLOCKS or q in _FORMATTING:
            return True
        return isinstance(call.func, cst.Attribute) and call.func.attr.value == "format"

    # -- (b) global state --------------------------------------------------------------------
    def _global_state_change(self, func: cst.FunctionDef, site: _YieldSite) -> cst.CSTNode | None:
        extra = set(self.option("extend-global-state-calls"))
        table = GLOBAL_STATE_CALLS | extra
        params = {p.name.value for p in (*func.params.posonly_params, *func.params.params)}
        params |= {p.name.value for p in func.params.kwonly_params}
        scoped_warnings = False
        candidates: list[cst.CSTNode] = []
        for n in iter_descendants(func.body, into_scopes=False):
            if n is site.yield_node:
                break
            if isinstance(n, cst.With) and any(
                isinstance(it.item, cst.Call)
                and self.ctx.qualname(it.item.func) == "warnings.catch_warnings"
                for it in n.items
            ):
                scoped_warnings = True
            if isinstance(n, cst.Call):
                q = self.ctx.qualname(n.func)
                if q == "contextlib.ExitStack" or (
                    isinstance(n.func, cst.Attribute) and n.func.attr.value == "callback"
                ):
                    return None
                if q in table:
                    if q in _WARNING_FILTERS and scoped_warnings:
                        continue
                    candidates.append(n)
                elif (
                    isinstance(n.func, cst.Attribute)
                    and n.func.attr.value in ("eval", "train")
                    and isinstance(n.func.value, cst.Name)
                    and n.func.value.value in params
                ):
                    candidates.append(n)
            elif isinstance(n, (cst.Assign, cst.AugAssign)):
                targets = [t.target for t in n.targets] if isinstance(n, cst.Assign) else [n.target]
                for t in targets:
                    if self._global_target(t):
                        candidates.append(n)
        return candidates[0] if candidates else None

    def _global_target(self, target: cst.BaseExpression) -> bool:
        if isinstance(target, cst.Attribute):
            q = self.ctx.qualname(target.value)
            return q == "torch.backends.cudnn"
        if isinstance(target, cst.Subscript):
            return self.ctx.qualname(target.value) == "os.environ"
        return False

    # -- the fix -------------------------------------------------------------------------------
    def _fix(self, func: cst.FunctionDef, site: _YieldSite) -> Fix | None:
        line = site.line
        if line is None:
            return None  # a one-line suite: no block to wrap
        block, i = site.blocks[0]
        rest = list(block.body[i + 1 :])
        if not rest or any(_returns(s) for s in rest):
            return None
        outer_following = [
            s for b, j in site.blocks[1:] for s in b.body[j + 1 :] if not _is_trivial(s)
        ]
        if outer_following:
            return None  # the cleanup is (also) outside the yield's block
        bound: set[str] = set()
        for small in line.body:
            if isinstance(small, (cst.Assign, cst.AnnAssign)):
                targets = small.targets if isinstance(small, cst.Assign) else [small]
                for t in targets:
                    bound |= expression_names(t.target)
        if any(bound & expression_names(s) for s in rest):
            return None  # `x = yield` then a cleanup reading x: unbound when the body raised
        yield_line = line.with_changes(leading_lines=())
        try_node = cst.Try(
            body=cst.IndentedBlock(body=[yield_line]),
            finalbody=cst.Finally(body=cst.IndentedBlock(body=rest)),
            leading_lines=line.leading_lines,
        )
        new_block = block.with_changes(body=[*block.body[:i], try_node])
        ancestors = self._ancestors_of(func, block)
        if ancestors is None:
            return None
        text = code_in_block(self.ctx.module, new_block, block_indents(self.ctx.module, ancestors))
        return Fix(FixSafety.UNSAFE, [(block, text)])

    def _ancestors_of(
        self, func: cst.FunctionDef, block: cst.IndentedBlock
    ) -> list[cst.CSTNode] | None:
        """The nodes from the module down to (excluding) ``block``."""
        path = _path_to(func, block)
        if path is None:
            return None
        return [*self.ctx.stack[:-1], func, *path]


def _returns(stmt: cst.BaseStatement) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and any(
        isinstance(s, cst.Return) for s in stmt.body
    )


def _path_to(root: cst.CSTNode, target: cst.CSTNode) -> list[cst.CSTNode] | None:
    """The nodes strictly between ``root`` and ``target``."""
    path: list[cst.CSTNode] = []

    def go(node: cst.CSTNode) -> bool:
        for child in node.children:
            if child is target:
                return True
            path.append(child)
            if go(child):
                return True
            path.pop()
        return False

    return path if go(root) else None


# -- the ast pre-scan (ast_gate): _collect on ``ast`` ---------------------------------------
_AST_TRY = tuple(t for t in (getattr(ast, "Try", None), getattr(ast, "TryStar", None)) if t)
_AST_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_AST_YIELDS = (ast.Yield, ast.YieldFrom)


def _ast_has(nodes: list[ast.stmt], types: tuple[type[ast.AST], ...]) -> bool:
    """A node of ``types`` under ``nodes``, not looking into nested defs/classes/lambdas."""
    stack: list[ast.AST] = list(nodes)
    while stack:
        n = stack.pop()
        if isinstance(n, types):
            return True
        if not isinstance(n, _AST_SCOPES):
            stack.extend(ast.iter_child_nodes(n))
    return False


_AST_EXITS = (ast.Return, ast.Raise, ast.Break, ast.Continue)
#: a yield site: (yield, protected, [(block, index of the statement), ...] innermost first)
_Site = tuple[ast.expr, bool, list[tuple[list[ast.stmt], int]]]


def _ast_sites(
    body: list[ast.stmt],
    outer: list[tuple[list[ast.stmt], int]],
    protected: bool,
    out: list[_Site],
) -> None:
    """_collect on ``ast`` (one-line suites included, as in _collect)."""
    for i, stmt in enumerate(body):
        here = [(body, i), *outer]
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        if isinstance(stmt, _AST_TRY):
            handlers: list[ast.ExceptHandler] = stmt.handlers
            guarded = bool(stmt.finalbody) or any(_ast_has(h.body, (ast.Raise,)) for h in handlers)
            _ast_sites(stmt.body, here, protected or guarded, out)
            for h in handlers:
                _ast_sites(h.body, here, protected, out)
            _ast_sites(stmt.orelse, here, protected, out)
            _ast_sites(stmt.finalbody, here, protected, out)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            _ast_sites(stmt.body, here, True, out)
        elif isinstance(stmt, (ast.If, ast.For, ast.AsyncFor, ast.While)):
            _ast_sites(stmt.body, here, protected, out)
            _ast_sites(stmt.orelse, here, protected, out)
        elif isinstance(stmt, ast.Match):
            for case in stmt.cases:
                _ast_sites(case.body, here, protected, out)
        else:
            stack: list[ast.AST] = [stmt]
            while stack:
                n = stack.pop()
                if isinstance(n, _AST_YIELDS):
                    out.append((n, protected, here))
                if not isinstance(n, _AST_SCOPES):
                    stack.extend(ast.iter_child_nodes(n))


def _ast_followed(blocks: list[tuple[list[ast.stmt], int]]) -> bool:
    """_following is not empty: a statement other than ``pass`` runs after the yield's
    statement before a return/raise/break/continue."""
    for block, i in blocks:
        for st in block[i + 1 :]:
            if isinstance(st, _AST_EXITS):
                return False
            if not isinstance(st, ast.Pass):
                return True
    return False


def _ast_may_fire(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    sites: list[_Site] = []
    _ast_sites(fn.body, [], False, sites)
    first_change: tuple[int, int] | None = None
    for node, protected, blocks in sites:
        if protected:
            continue
        if _ast_followed(blocks):
            return True
        if first_change is None:
            first_change = _ast_first_change(fn)
        if first_change < (node.lineno, node.col_offset):
            return True
    return False


def _ast_first_change(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[int, int]:
    """The position of the first call or assignment to an attribute/subscript in the body
    (what _global_state_change looks for before the yield; by position, broader)."""
    first = (1 << 30, 0)
    stack: list[ast.AST] = list(fn.body)
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Call) or (
            isinstance(n, (ast.Assign, ast.AugAssign))
            and any(
                isinstance(t, (ast.Attribute, ast.Subscript))
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
            )
        ):
            first = min(first, (n.lineno, n.col_offset))
        if not isinstance(n, _AST_SCOPES):
            stack.extend(ast.iter_child_nodes(n))
    return first
