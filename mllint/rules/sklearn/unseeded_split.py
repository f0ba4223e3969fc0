"""ML506 unseeded-split."""

from __future__ import annotations

import libcst as cst

from mllint.rule import Fix, FixSafety, Option, Rule
from mllint.semantics.cstutil import call_arg
from mllint.semantics.seeds import seed_expression

_MODEL_SELECTION = "sklearn.model_selection"
#: splitters that always shuffle (random_state is their only seed)
_ALWAYS_SHUFFLE = frozenset(
    {
        "ShuffleSplit", "StratifiedShuffleSplit", "GroupShuffleSplit", "RepeatedKFold",
        "RepeatedStratifiedKFold",
    }
)  # fmt: skip
#: splitters that shuffle only with shuffle=True
_SHUFFLE_OPTION = frozenset({"KFold", "StratifiedKFold", "GroupKFold"})
#: names a fix may pass as random_state=, in order of preference


def split_callee(qualname: str | None) -> str | None:
    """The sklearn.model_selection function/class a qualified name refers to (also through
    the private ``sklearn.model_selection._split`` module), else None."""
    if qualname is None or not qualname.startswith(_MODEL_SELECTION + "."):
        return None
    parts = qualname.split(".")
    if len(parts) == 3 or (len(parts) == 4 and parts[2].startswith("_")):
        return parts[-1]
    return None


def _literal_bool(node: cst.BaseExpression) -> bool | None:
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return node.value == "True"
    return None


class UnseededSplit(Rule):
    """
    ## What it does
    Flags `sklearn.model_selection.train_test_split(...)` without `random_state=` (unless it
    is called with `shuffle=False`), the always-shuffling splitters `ShuffleSplit`,
    `StratifiedShuffleSplit`, `GroupShuffleSplit`, `RepeatedKFold` and
    `RepeatedStratifiedKFold` without `random_state=`, and `KFold`, `StratifiedKFold` or
    `GroupKFold` with `shuffle=True` but without `random_state=`. Calls with `**kwargs` are
    skipped (the seed may be in them).

    ## Why is this bad?
    With `random_state=None` these functions draw from NumPy's global random state, so two
    runs produce different splits. Metric differences between experiments then mix model
    changes with split noise, results cannot be reproduced, and tests built on such splits
    are flaky.

    ## Example
    ```python
    from sklearn.model_selection import KFold, train_test_split

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
    cv = KFold(n_splits=5, shuffle=True)
    ```

    ## Use instead
    ```python
    SEED = 13
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=SEED)
    cv = KFold(n_splits=5, shuffle=True, random_state=SEED)
    ```

    ## Fix safety
    Unsafe: the fix adds `random_state=<name>`, where `<name>` is a parameter of the
    enclosing function or a module-level constant named `random_state`, `seed`,
    `RANDOM_STATE` or `SEED`, and otherwise `random_state=<default-seed>` (option
    `default-seed`, 42). The split becomes fixed, and it is a different split than any
    previous run produced.
    """

    code = "ML506"
    name = "unseeded-split"
    summary = "`train_test_split`/shuffling CV splitters without `random_state`"
    tier = 3
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("sklearn",)
    options = (
        Option(
            "default-seed",
            "int",
            42,
            "the random_state= the fix adds when no seed name is in scope",
        ),
    )

    def visit_Call(self, node: cst.Call) -> None:
        callee = split_callee(self.ctx.qualname(node.func))
        if callee is None:
            return
        if any(a.star == "**" for a in node.args):
            return
        if call_arg(node, "random_state") is not None:
            return
        shuffle = call_arg(node, "shuffle")
        if callee == "train_test_split":
            if shuffle is not None and _literal_bool(shuffle.value) is not True:
                return  # shuffle=False, or a value we cannot read
        elif callee in _SHUFFLE_OPTION:
            if shuffle is None or _literal_bool(shuffle.value) is not True:
                return
        elif callee not in _ALWAYS_SHUFFLE:
            return
        shown = self.ctx.snippet(node.func, 40)
        self.report(
            node,
            f"{shown}(...) shuffles without random_state: every run evaluates on a different "
            "split, so results are not reproducible or comparable",
            self._fix(node),
        )

    # -- the fix ---------------------------------------------------------------------------
    def _seed_expression(self) -> str:
        return seed_expression(self.ctx, int(self.option("default-seed")))

    def _fix(self, call: cst.Call) -> Fix | None:
        if any(a.star for a in call.args):
            return None
        value = self._seed_expression()
        new_arg = cst.Arg(
            value=cst.parse_expression(value),
            keyword=cst.Name("random_state"),
            equal=cst.AssignEqual(
                whitespace_before=cst.SimpleWhitespace(""),
                whitespace_after=cst.SimpleWhitespace(""),
            ),
        )
        args = list(call.args)
        if not args:
            return Fix(FixSafety.UNSAFE, [(call, call.with_changes(args=[new_arg]))])
        last = args[-1]
        if isinstance(last.comma, cst.Comma):
            # a trailing comma (one argument per line): lay the new argument out like the
            # previous ones
            between = args[-2].comma if len(args) >= 2 else cst.MaybeSentinel.DEFAULT
            if not isinstance(between, cst.Comma):
                between = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            args[-1] = last.with_changes(comma=between)
            new_arg = new_arg.with_changes(comma=last.comma)
        else:
            args[-1] = last.with_changes(
                comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")),
                whitespace_after_arg=cst.SimpleWhitespace(""),
            )
            new_arg = new_arg.with_changes(whitespace_after_arg=last.whitespace_after_arg)
        args.append(new_arg)
        return Fix(FixSafety.UNSAFE, [(call, call.with_changes(args=args))])
