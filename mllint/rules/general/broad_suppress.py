"""ML016 broad-suppress."""

from __future__ import annotations

import libcst as cst

from mllint.rule import Rule

_BROAD = {"builtins.Exception": "Exception", "builtins.BaseException": "BaseException"}


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
