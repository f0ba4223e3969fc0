"""ML302 functional-dropout-always-on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.sklearn.unseeded_split import (
    _keyword,
    _resolved_calls,
    _star_args,
    _torch_module_classes,
)
from mllint.semantics.calledit import render_here, with_keyword
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import call_arg, dotted_name

_DROPOUTS = frozenset(
    {
        "torch.nn.functional.dropout",
        "torch.nn.functional.dropout1d",
        "torch.nn.functional.dropout2d",
        "torch.nn.functional.dropout3d",
        "torch.nn.functional.alpha_dropout",
        "torch.nn.functional.feature_alpha_dropout",
    }
)
_STATIC_OR_CLASS = frozenset({"staticmethod", "classmethod"})
_DROPOUT_NAMES = frozenset(q.rsplit(".", 1)[-1] for q in _DROPOUTS)


class FunctionalDropoutAlwaysOn(Rule):
    """
    ## What it does
    Flags `torch.nn.functional.dropout` (and `dropout1d/2d/3d`, `alpha_dropout`,
    `feature_alpha_dropout`) called inside a method of an `nn.Module` subclass without a
    `training=` argument (keyword or third positional argument).

    ## Why is this bad?
    Unlike `nn.Dropout`, the functional form does not look at the module's mode: its
    `training` parameter defaults to `True` (`F.dropout(input, p=0.5, training=True,
    inplace=False)`). After `model.eval()` it still zeroes about half of the activations (500
    of 1000 in a test), so validation and inference outputs are random and metrics are
    wrong.

    ## Example
    ```python
    import torch.nn.functional as F
    from torch import nn

    class Head(nn.Module):
        def forward(self, x):
            return self.out(F.dropout(self.hidden(x), p=0.2))
    ```

    ## Use instead
    ```python
    class Head(nn.Module):
        def forward(self, x):
            return self.out(F.dropout(self.hidden(x), p=0.2, training=self.training))
    ```

    or hold an `nn.Dropout(0.2)` sub-module. Any explicit `training=` value is accepted
    (`training=True` may be deliberate Monte-Carlo dropout). Calls outside `nn.Module`
    methods are not flagged: functional code may take its own flag.

    ## Fix safety
    Unsafe: the fix adds `training=self.training` (using the method's first parameter name),
    so outputs in eval mode change, which is the intent. Calls with `*args`/`**kwargs` are
    not flagged (`training` may be among them).
    """

    code = "ML302"
    name = "functional-dropout-always-on"
    summary = "`F.dropout(x, p)` in a module without `training=self.training`"
    tier = 3
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("dropout",)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a call that may resolve to torch.nn.functional.dropout & co. without *args/
        # **kwargs, training= or a third positional argument, in a file with a class that may
        # be an nn.Module
        calls = [
            c
            for c, quals in _resolved_calls(scan, facts, _DROPOUT_NAMES)
            if not _DROPOUTS.isdisjoint(quals)
            and not _star_args(c)
            and _keyword(c, "training") is None
            and len(c.args) < 3
        ]
        return bool(calls) and bool(_torch_module_classes(scan, facts))

    def visit_Call(self, node: cst.Call) -> None:
        ctx = self.ctx
        if ctx.qualname(node.func) not in _DROPOUTS:
            return
        if any(a.star for a in node.args):
            return  # `training` may be inside *args/**kwargs
        if call_arg(node, "training") is not None or call_arg(node, position=2) is not None:
            return
        cls = ctx.enclosing_class()
        finfo = ctx.enclosing_function()
        if cls is None or finfo is None or finfo.self_name is None:
            return
        if any(dotted_name(d.decorator) in _STATIC_OR_CLASS for d in finfo.node.decorators):
            return
        if ctx.scope.kind == "class" or not ctx.kinds.is_torch_module_class(cls):
            return
        new = with_keyword(node, "training", f"{finfo.self_name}.training")
        fix = Fix(FixSafety.UNSAFE, [(node, render_here(ctx, new))])
        self.report(
            node,
            f"{ctx.snippet(node.func, 40)}(...) defaults to training=True and keeps dropping "
            "activations in eval mode; pass training=self.training (or use nn.Dropout)",
            fix,
        )
