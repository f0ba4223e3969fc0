"""ML983 unbounded-queue."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, int_literal
from mllint.rule import Rule
from mllint.rules.concurrency.blocking_io_in_async import _arg, _qual_calls
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import call_arg, has_star_args, int_value

_QUEUES = frozenset(
    {
        "asyncio.Queue",
        "asyncio.PriorityQueue",
        "asyncio.LifoQueue",
        "queue.Queue",
        "queue.PriorityQueue",
        "queue.LifoQueue",
        "multiprocessing.Queue",
    }
)


class UnboundedQueue(Rule):
    """
    ## What it does
    Flags `asyncio.Queue()`, `asyncio.PriorityQueue()`, `asyncio.LifoQueue()`, the same
    classes of `queue`, and `multiprocessing.Queue()` created without a positional argument
    and without `maxsize=`, or with a literal `maxsize` of 0 or less (which means unbounded).

    ## Why is this bad?
    An unbounded queue turns a slow consumer (a GPU worker, a database writer) into
    unbounded memory growth: producers never wait, requests pile up, and the process is
    eventually killed. With `maxsize`, `await queue.put(...)` (or `queue.put(...)`) suspends
    the producer until the consumer catches up: backpressure.

    ## Example
    ```python
    requests_queue = asyncio.Queue()
    ```

    ## Use instead
    ```python
    requests_queue = asyncio.Queue(maxsize=256)
    ```

    This rule is off by default: the right bound is a design decision, and producers that are
    bounded by other means are common.

    ## Fix safety
    No fix: the bound depends on the workload.
    """

    code = "ML983"
    name = "unbounded-queue"
    summary = "`asyncio.Queue()` (or `queue.Queue()`) without `maxsize`"
    tier = 2
    default_enabled = False
    requires_text = ("Queue",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a call that may construct one of the queues, with no `*`/`**` argument and no
        # `maxsize` (first positional or keyword) other than an int literal <= 0
        for c in _qual_calls(scan, _QUEUES):
            if any(isinstance(a, ast.Starred) for a in c.args):
                continue
            if any(kw.arg is None for kw in c.keywords):
                continue
            arg = _arg(c, ("maxsize",), 0)
            if arg is None:
                return True
            value = int_literal(arg)
            if value is not None and value <= 0:
                return True
        return False

    def visit_Call(self, node: cst.Call) -> None:
        q = self.ctx.qualname(node.func)
        if q not in _QUEUES or has_star_args(node):
            return
        arg = call_arg(node, "maxsize", 0)
        if arg is not None:
            value = int_value(arg.value)
            if value is None or value > 0:
                return
        self.report(
            node,
            f"{self.ctx.snippet(node.func, 40)}() without maxsize grows without limit when "
            "producers outpace consumers; set maxsize so that put() applies backpressure",
        )
