"""The seed a fix passes as ``random_state=`` (shared by ML506 and ML951)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

if TYPE_CHECKING:
    from mllint.semantics.context import FileContext

#: names that, in scope, hold the seed the code already uses
SEED_NAMES = ("random_state", "seed", "RANDOM_STATE", "SEED")


def seed_expression(ctx: FileContext, default_seed: int) -> str:
    """A parameter of the enclosing function named like a seed, else a module-level constant
    named like one (bound before this statement when at module level), else the default."""
    fscope = ctx.function_scope()
    for name in SEED_NAMES:
        bindings = ctx.bindings(name)
        if not bindings:
            continue
        owner = bindings[0].scope
        if owner is None:
            continue
        if owner.kind == "function":
            if owner is fscope and all(b.kind == "param" for b in bindings):
                return name
            continue
        if (
            owner.kind == "module"
            and all(
                b.kind in ("assign", "annassign", "import") and not b.type_checking
                for b in bindings
            )
            and (fscope is not None or _bound_earlier(ctx, bindings[0].node))
        ):
            return name
    return str(int(default_seed))


def _bound_earlier(ctx: FileContext, node: cst.CSTNode) -> bool:
    """At module level: the binding is in an earlier top-level statement."""
    if len(ctx.stack) < 2:
        return False
    current = ctx.stack[1]
    for stmt in ctx.module.body:
        if stmt is current:
            return False
        if stmt is node or (
            isinstance(stmt, cst.SimpleStatementLine) and any(s is node for s in stmt.body)
        ):
            return True
    return False
