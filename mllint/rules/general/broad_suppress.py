"""ML016 broad-suppress."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan, terminal_name
from mllint.rule import Rule
from mllint.semantics.context import FileFacts

_BROAD = {"builtins.Exception": "Exception", "builtins.BaseException": "BaseException"}
_BROAD_NAMES = frozenset(_BROAD.values())
_SUPPRESS = frozenset({"suppress"})


class BroadSuppress(Rule):
    """
    ## What it does
    Flags a `with` item calling `contextlib.suppress` with `Exception` or `BaseException`
    among its arguments (also inside a tuple).

    ## Why is this bad?
    Everything from the failing statement to the end of the block is skipped without a trace.
    CUDA out-of-memory errors, shape mismatches, assertion failures and plain bugs during
    training or checkpointing look like success, and the code after the `with` block runs on
    whatever state was left behind.

    ## Example
    ```python
    with contextlib.suppress(Exception):
        trainer.fit(model)
        trainer.save_checkpoint("last.ckpt")
    ```

    ## Use instead
    ```python
    with contextlib.suppress(FileNotFoundError):
        cache_path.unlink()
    ```

    Name the exceptions that are expected and harmless; let everything else propagate (or
    catch it with `except Exception:` and log it). `suppress()` without arguments is ruff's
    B022, not this rule.

    ## Fix safety
    There is no fix: the right exception type is unknown.
    """

    code = "ML016"
    name = "broad-suppress"
    summary = "`contextlib.suppress(Exception)` silently skips the rest of the block on any error"
    tier = 2
    requires_text = ("suppress",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # `with suppress(..., Exception, ...)` (aliases, attribute forms, tuples, async with)
        suppress = scan.import_aliases(_SUPPRESS)
        broad: frozenset[str] | None = None
        for item in scan.of(ast.withitem):
            call = item.context_expr
            if not isinstance(call, ast.Call) or terminal_name(call.func) not in suppress:
                continue
            if broad is None:
                broad = scan.import_aliases(_BROAD_NAMES)
            for arg in call.args:
                values = arg.elts if isinstance(arg, ast.Tuple) else [arg]
                # the rule reads a tuple's `*x` element as x
                values = [v.value if isinstance(v, ast.Starred) else v for v in values]
                if any(terminal_name(v) in broad for v in values):
                    return True
        return False

    def visit_WithItem(self, node: cst.WithItem) -> None:
        call = node.item
        if not isinstance(call, cst.Call) or self.ctx.qualname(call.func) != "contextlib.suppress":
            return
        for arg in call.args:
            if arg.keyword is not None or arg.star:
                continue
            values = (
                [el.value for el in arg.value.elements]
                if isinstance(arg.value, cst.Tuple)
                else [arg.value]
            )
            for v in values:
                broad = _BROAD.get(self.ctx.qualname(v) or "")
                if broad is not None:
                    self.report(
                        node,
                        f"suppress({broad}) hides every error (CUDA OOM, shape errors, bugs) "
                        "and silently skips the rest of the block",
                    )
                    return
