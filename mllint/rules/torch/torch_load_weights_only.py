"""ML304 torch-load-without-weights-only."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Option, Rule
from mllint.rules.sklearn.unseeded_split import (
    _double_star,
    _keyword,
    _resolved_calls,
)
from mllint.semantics.calledit import render_here, with_keyword
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import call_arg

#: the release in which torch.load's default became weights_only=True
_SAFE_DEFAULT_SINCE = (2, 6)


class TorchLoadWithoutWeightsOnly(Rule):
    """
    ## What it does
    Flags calls resolving to `torch.load` without a `weights_only=` keyword (and without
    `**kwargs`), unless the project declares a minimum torch version of 2.6 or newer
    (`[project.dependencies]` or `[tool.mllint] library-versions`). When the torch version is
    unknown the call is flagged. With the option `flag-explicit-false`, an explicit
    `weights_only=False` is flagged too, whatever the torch version.

    ## Why is this bad?
    `torch.load` uses pickle: a malicious or merely untrusted checkpoint can run arbitrary
    code while it is loaded. `weights_only=True` restricts unpickling to tensors and primitive
    containers, which is all a `state_dict` needs. Saving and loading `model.state_dict()`
    instead of whole pickled modules also survives refactoring of the model class. Since
    torch 2.6 `weights_only=True` is the default (loading a pickled `nn.Module` then fails
    with `UnpicklingError: Weights only load failed`), so code that must also run on older
    torch should pass it explicitly. ruff's S301 does not cover `torch.load`; the pickle
    checks of Bandit are B301/B403.

    ## Example
    ```python
    import torch

    model = torch.load(model_path, map_location="cuda")
    ```

    ## Use instead
    ```python
    import torch

    model = Net()
    model.load_state_dict(torch.load(model_path, map_location="cuda", weights_only=True))
    ```

    ## Fix safety
    Unsafe: the fix adds `weights_only=True`. Checkpoints that contain whole pickled modules
    or custom classes no longer load. An explicit `weights_only=False` has no fix.

    ## Options
    - `flag-explicit-false`: also flag `weights_only=False` (default false: an explicit
      opt-out is respected).
    """

    code = "ML304"
    name = "torch-load-without-weights-only"
    summary = "`torch.load` without `weights_only=True` unpickles arbitrary objects"
    tier = 3
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("torch",)
    options = (
        Option(
            "flag-explicit-false",
            "bool",
            False,
            "also flag an explicit weights_only=False",
        ),
    )

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a call that may resolve to torch.load, without **kwargs, with no weights_only=
        # (unless the declared torch version makes it the default) or, with
        # flag-explicit-false, weights_only=False
        calls = [c for c, quals in _resolved_calls(scan, facts, ("load",)) if "torch.load" in quals]
        if not calls:
            return False
        flag_false = bool(options.get("flag-explicit-false", True))
        version = (facts.library_versions or {}).get("torch")
        safe_default = version is not None and tuple(version[:2]) >= _SAFE_DEFAULT_SINCE
        for call in calls:
            if _double_star(call):
                continue
            given = _keyword(call, "weights_only")
            if given is None:
                if not safe_default:
                    return True
            elif (
                flag_false and isinstance(given.value, ast.Constant) and given.value.value is False
            ):
                return True
        return False

    def visit_Call(self, node: cst.Call) -> None:
        if self.ctx.qualname(node.func) != "torch.load":
            return
        if any(a.star == "**" for a in node.args):
            return
        message = (
            "torch.load(...) without weights_only=True can execute code from the checkpoint "
            "(pickle); pass weights_only=True and load a state_dict"
        )
        given = call_arg(node, "weights_only")
        if given is not None:
            value = given.value
            if (
                self.option("flag-explicit-false")
                and isinstance(value, cst.Name)
                and value.value == "False"
            ):
                self.report(node, message)
            return
        version = self.ctx.library_version("torch")
        if version is not None and tuple(version[:2]) >= _SAFE_DEFAULT_SINCE:
            return
        fix = None
        if not any(a.star for a in node.args):
            new = with_keyword(node, "weights_only", "True")
            fix = Fix(FixSafety.UNSAFE, [(node, render_here(self.ctx, new))])
        self.report(node, message, fix)
