"""ML507 unsorted-directory-listing."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import libcst as cst

from mllint.prescan import Scan, terminal_name
from mllint.rule import Fix, FixSafety, Rule
from mllint.rules.sklearn.unseeded_split import (
    _may_resolve_into,
    _resolved_calls,
)
from mllint.semantics import kinds as K
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import int_value, positional_args

_LISTING_CALLS = frozenset({"os.listdir", "glob.glob", "glob.iglob", "os.scandir"})
_LISTING_NAMES = frozenset(q.rsplit(".", 1)[-1] for q in _LISTING_CALLS)
_PATH_METHODS = frozenset({"glob", "rglob", "iterdir"})
#: qualified callee -> how the call uses the order of its argument
_ORDER_CALLS = {
    "builtins.enumerate": "enumerating it",
    "builtins.zip": "zipping it with other data",
    "sklearn.model_selection.train_test_split": "splitting it",
    "torch.utils.data.random_split": "splitting it",
    "random.shuffle": "shuffling it",
    "random.sample": "sampling from it",
    "random.choice": "sampling from it",
    "numpy.random.shuffle": "shuffling it",
    "numpy.random.permutation": "permuting it",
    "numpy.random.choice": "sampling from it",
}
#: methods of random generators (``rng.permutation(files)``)
_RNG_METHODS = {
    "shuffle": "shuffling it",
    "permutation": "permuting it",
    "choice": "sampling from it",
    "sample": "sampling from it",
}
_RANDOM_MODULES = ("random", "numpy.random")


@dataclass
class _Tracked:
    listing: cst.Call
    assign: cst.CSTNode
    fix: Fix | None


class UnsortedDirectoryListing(Rule):
    """
    ## What it does
    Flags `os.listdir(...)`, `glob.glob(...)`, `glob.iglob(...)`, `os.scandir(...)` and the
    `.glob()`/`.rglob()`/`.iterdir()` methods of a `pathlib.Path` when their result (directly,
    through `list(...)`, through a list comprehension over it, or through a name bound once
    to one of these) is used in an order-sensitive way: sliced or indexed by a variable
    (`files[:n]`, `files[i]`; a constant `files[0]`/`files[-1]` picks one file, usually the
    only one, and is not flagged), passed to `enumerate`, `zip`, `train_test_split`, `random_split`,
    `random.shuffle`/`random.sample`/`rng.permutation`/`np.random.choice`, or stored as
    `self.<attr>` in a class that defines `__getitem__` (a Dataset).

    Listings passed through `sorted(...)` or sorted in place with `.sort()` before the use
    are not flagged, nor are order-insensitive uses (`for f in os.listdir(d): process(f)`,
    `len(...)`, building a set, `any`/`all`).

    ## Why is this bad?
    Directory order depends on the filesystem and its history, so the same code gives
    different train/validation membership, sample indices and label ids on different
    machines or after the data was copied. Results stop being reproducible even with fixed
    random seeds, because the seed shuffles a different starting order.

    ## Example
    ```python
    files = glob.glob("data/train/*.png")
    train_files, val_files = files[:8000], files[8000:]
    ```

    ## Use instead
    ```python
    files = sorted(glob.glob("data/train/*.png"))
    train_files, val_files = files[:8000], files[8000:]
    ```

    ## Fix safety
    Unsafe, because the order and therefore the split, the indices and the label ids change:
    the fix wraps the listing call in `sorted(...)`, turns `list(<listing>)` into
    `sorted(<listing>)`, and sorts `os.scandir(...)` entries with
    `key=lambda e: e.name` (`DirEntry` objects are not orderable). No fix when `sorted` is
    rebound in the file.
    """

    code = "ML507"
    name = "unsorted-directory-listing"
    summary = "File listings in filesystem order feed ordered data (splits, indices, labels)"
    tier = 3
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("listdir", "glob", "scandir", "iterdir")

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a call that may resolve to os.listdir/glob.glob/glob.iglob/os.scandir, or a
        # .glob()/.rglob()/.iterdir() method call with pathlib imported, whose result (also
        # through list(...), a list comprehension or an assigned name) is subscripted, passed
        # to an order-sensitive call or stored on an attribute in a file defining __getitem__
        listings = [
            c
            for c, quals in _resolved_calls(scan, facts, _LISTING_NAMES)
            if not _LISTING_CALLS.isdisjoint(quals)
        ]
        if not _PATH_METHODS.isdisjoint(scan.called()) and _may_resolve_into(
            scan, facts, "pathlib"
        ):
            listings.extend(
                c for c in scan.calls(*_PATH_METHODS) if isinstance(c.func, ast.Attribute)
            )
        if not listings:
            return False
        return _ListingUses(scan, listings).any_use()

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        #: (id of the binding's Assign node) -> tracked listing
        self._tracked: dict[int, _Tracked] = {}
        self._reported: set[int] = set()

    # -- listings ------------------------------------------------------------------------
    def _is_listing(self, call: cst.Call) -> bool:
        q = self.ctx.qualname(call.func)
        if q in _LISTING_CALLS:
            return True
        func = call.func
        return (
            isinstance(func, cst.Attribute)
            and func.attr.value in _PATH_METHODS
            and self.ctx.kind(func.value) == K.PATH
        )

    def visit_Call(self, node: cst.Call) -> None:
        self._check_use_in_call(node)
        if self._is_listing(node):
            self._listing(node)

    def _listing(self, call: cst.Call) -> None:
        ctx = self.ctx
        stack = ctx.stack
        idx = len(stack) - 1  # stack[idx] is the carrier
        carrier: cst.CSTNode = call
        list_call: cst.Call | None = None
        parent = stack[idx - 1] if idx >= 1 else None
        if isinstance(parent, cst.Arg) and idx >= 2:
            outer = stack[idx - 2]
            if (
                isinstance(outer, cst.Call)
                and len(outer.args) == 1
                and parent.keyword is None
                and not parent.star
                and ctx.qualname(outer.func) == "builtins.list"
            ):
                list_call = outer
                carrier = outer
                idx -= 2
        parent = stack[idx - 1] if idx >= 1 else None
        if (
            isinstance(parent, cst.CompFor)
            and parent.iter is carrier
            and idx >= 2
            and isinstance(stack[idx - 2], cst.ListComp)
            and stack[idx - 2].for_in is parent  # type: ignore[attr-defined]
        ):
            carrier = stack[idx - 2]
            idx -= 2
        parent = stack[idx - 1] if idx >= 1 else None
        fix = self._fix(call, list_call)
        if isinstance(parent, cst.Subscript) and parent.value is carrier:
            if not _single_index(parent):
                self._flag(call, _subscript_use(parent), fix)
            return
        if isinstance(parent, cst.Arg) and idx >= 2:
            outer = stack[idx - 2]
            if isinstance(outer, cst.Call):
                use = self._order_use(outer, parent)
                if use is not None:
                    self._flag(call, use, fix)
                return
        if isinstance(parent, (cst.Assign, cst.AnnAssign)) and parent.value is carrier:
            if isinstance(parent, cst.Assign):
                targets = [t.target for t in parent.targets]
            else:
                targets = [parent.target]
            if len(targets) != 1:
                return
            target = targets[0]
            if isinstance(target, cst.Name):
                bindings = ctx.bindings(target.value)
                if len(bindings) == 1 and bindings[0].node is parent:
                    self._tracked[id(parent)] = _Tracked(call, parent, fix)
            elif self._dataset_attribute(target):
                self._flag(call, "serving it by index from __getitem__", fix)

    def _flag(self, listing: cst.Call, use: str, fix: Fix | None) -> None:
        if id(listing) in self._reported:
            return
        self._reported.add(id(listing))
        shown = self.ctx.snippet(listing, 50)
        self.report(
            listing,
            f"{shown} returns files in arbitrary filesystem order; {use} makes datasets and "
            "splits machine-dependent — wrap it in sorted(...)",
            fix,
        )

    # -- uses of a tracked name ----------------------------------------------------------
    def _tracked_name(self, node: cst.CSTNode) -> _Tracked | None:
        if not isinstance(node, cst.Name) or not self._tracked:
            return None
        bindings = self.ctx.bindings(node.value)
        if len(bindings) != 1:
            return None
        return self._tracked.get(id(bindings[0].node))

    def visit_Subscript(self, node: cst.Subscript) -> None:
        tracked = self._tracked_name(node.value)
        if tracked is not None:
            if _single_index(node):
                return  # `files[0]`: one file picked, usually the only one
            self._flag(tracked.listing, _subscript_use(node), tracked.fix)

    def _check_use_in_call(self, call: cst.Call) -> None:
        if not self._tracked:
            return
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "sort":
            tracked = self._tracked_name(func.value)
            if tracked is not None:
                del self._tracked[id(tracked.assign)]
            return
        for arg in call.args:
            tracked = self._tracked_name(arg.value)
            if tracked is None:
                continue
            use = self._order_use(call, arg)
            if use is not None:
                self._flag(tracked.listing, use, tracked.fix)

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1:
            return
        tracked = self._tracked_name(node.value)
        if tracked is not None and self._dataset_attribute(node.targets[0].target):
            self._flag(tracked.listing, "serving it by index from __getitem__", tracked.fix)

    # -- order-sensitive uses --------------------------------------------------------------
    def _order_use(self, call: cst.Call, arg: cst.Arg) -> str | None:
        if arg.keyword is not None or arg.star:
            return None
        q = self.ctx.qualname(call.func)
        if q is not None:
            use = _ORDER_CALLS.get(q)
            if use is None:
                return None
            if q != "builtins.zip" and q != "sklearn.model_selection.train_test_split":
                pos = positional_args(call)
                if not pos or pos[0] is not arg:
                    return None
            return use
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value in _RNG_METHODS:
            recv = func.value
            recv_q = self.ctx.qualname(recv)
            if recv_q is not None and recv_q not in _RANDOM_MODULES:
                return None
            if self.ctx.kind(recv) is not None:
                return None  # a DataFrame/list/...: not a random generator
            pos = positional_args(call)
            if pos and pos[0] is arg:
                return _RNG_METHODS[func.attr.value]
        return None

    def _dataset_attribute(self, target: cst.BaseExpression) -> bool:
        if not (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)):
            return False
        finfo = self.ctx.enclosing_function()
        if finfo is None or finfo.self_name != target.value.value:
            return False
        cls = self.ctx.enclosing_class()
        return cls is not None and "__getitem__" in cls.methods

    # -- the fix ---------------------------------------------------------------------------
    def _fix(self, listing: cst.Call, list_call: cst.Call | None) -> Fix | None:
        ctx = self.ctx
        if ctx.qualname(cst.Name("sorted")) != "builtins.sorted":
            return None
        code = ctx.code(listing).strip()
        if "\n" in code or "#" in code:
            return None
        key = ""
        if ctx.qualname(listing.func) == "os.scandir":
            key = ", key=lambda e: e.name"
        target: cst.CSTNode = list_call if list_call is not None else listing
        return Fix(FixSafety.UNSAFE, [(target, f"sorted({code}{key})")])


# -- the ast pre-scan ---------------------------------------------------------------------------
_ORDER_NAMES = frozenset({q.rsplit(".", 1)[-1] for q in _ORDER_CALLS} | set(_RNG_METHODS))


class _ListingUses:
    """Order-sensitive uses of listing calls, as :class:`UnsortedDirectoryListing` finds them
    (erring towards "used")."""

    def __init__(self, scan: Scan, listings: list[ast.Call]) -> None:
        self.scan = scan
        self.ids = {id(c) for c in listings}
        self.names: set[str] = set()
        self.list_names = scan.import_aliases(frozenset({"list"}))

    def listish(self, expr: ast.AST | None) -> bool:
        """A listing call, ``list(<listing>)``, ``[... for x in <listing>]`` or a name bound
        to one of these."""
        if isinstance(expr, ast.Name):
            return expr.id in self.names
        if isinstance(expr, ast.Call):
            if id(expr) in self.ids:
                return True
            return (
                terminal_name(expr.func) in self.list_names
                and len(expr.args) == 1
                and not expr.keywords
                and self.listish(expr.args[0])
            )
        if isinstance(expr, ast.ListComp):
            return self.listish(expr.generators[0].iter)
        return False

    def any_use(self) -> bool:
        scan = self.scan
        stores: list[ast.expr] = []
        for assign in scan.of(ast.Assign, ast.AnnAssign):
            targets = assign.targets if isinstance(assign, ast.Assign) else [assign.target]
            if len(targets) != 1 or assign.value is None:
                continue
            if isinstance(targets[0], ast.Name):
                if self.listish(assign.value):
                    self.names.add(targets[0].id)
            elif isinstance(targets[0], ast.Attribute):
                stores.append(assign.value)
        listish = self.listish
        for sub in scan.of(ast.Subscript):
            if listish(sub.value) and not _ast_single_index(sub.slice):
                return True
        order = scan.import_aliases(_ORDER_NAMES)
        for call in scan.calls(*order):
            if any(listish(a) for a in call.args):
                return True
        if any(listish(v) for v in stores):
            return any(f.name == "__getitem__" for f in scan.functions())
        return False


def _ast_single_index(key: ast.expr) -> bool:
    """``0`` or ``-1`` (:func:`_single_index`)."""
    if isinstance(key, ast.UnaryOp) and isinstance(key.op, ast.USub):
        key = key.operand
        want = 1
    else:
        want = 0
    return isinstance(key, ast.Constant) and type(key.value) is int and key.value == want


def _subscript_use(node: cst.Subscript) -> str:
    if any(isinstance(el.slice, cst.Slice) for el in node.slice):
        return "slicing it"
    return "indexing it"


def _single_index(node: cst.Subscript) -> bool:
    """``x[0]`` or ``x[-1]``."""
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return False
    return int_value(node.slice[0].slice.value) in (0, -1)
