"""``len(x)`` comparisons in scope: a container whose size the code checks is usually known to
hold one element when it is indexed with ``[0]`` or popped (shared by ML507 and ML508)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from mllint.semantics.walk import iter_descendants

if TYPE_CHECKING:
    from mllint.semantics.context import FileContext


def size_checked(ctx: FileContext, name: str) -> bool:
    """``len(name)`` is compared with something in the enclosing function body (at module
    level: in the tests of the enclosing ``if``/``while``/conditional expressions)."""
    finfo = ctx.enclosing_function()
    roots: list[cst.CSTNode] = []
    if finfo is not None:
        roots.append(finfo.node.body)
    else:
        roots.extend(n.test for n in ctx.stack if isinstance(n, (cst.If, cst.While, cst.IfExp)))
    for root in roots:
        for sub in (root, *iter_descendants(root, into_scopes=False)):
            if not isinstance(sub, cst.Comparison):
                continue
            for side in (sub.left, *(c.comparator for c in sub.comparisons)):
                if (
                    isinstance(side, cst.Call)
                    and len(side.args) == 1
                    and isinstance(side.args[0].value, cst.Name)
                    and side.args[0].value.value == name
                    and ctx.qualname(side.func) == "builtins.len"
                ):
                    return True
    return False
