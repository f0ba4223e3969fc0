"""The second pre-scan stage: CPython's ``ast`` decides which rules can fire on a file.

The first stage (``Rule.requires_text``) looks at the raw text. Many rules need only a common
token (``def``, ``for``, `` in ``, ``==``), so on real ML code almost every file passes it and
libcst -- which costs ~10x what ``ast.parse`` costs -- parses every file. This stage parses the
file with ``ast`` (C code), indexes its nodes by type in one loop, and asks each text-matched
rule's :meth:`mllint.rule.Rule.ast_gate` whether its trigger can be present. A file that no
gate lets through is never parsed by libcst.

A gate is a *necessary* condition: it may let a file through that the rule then does not flag,
but it must never reject a file the rule would flag. ``tests/test_prescan.py`` runs every
fixture with and without the gates and requires identical findings;
``tests/corpus/gate_equivalence.py`` does the same on real libraries.

Gates see plain ``ast`` nodes, with no parents, scopes or aliases: a gate that needs them is
too precise; it should check the shape (a call named ``x``, a compare inside a loop, an
import of ``y``) and leave the judgement to the rule.

This module imports neither libcst nor any rule.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar, overload

__all__ = [
    "Scan",
    "absolute_module",
    "assign_pairs",
    "int_literal",
    "qualified_names",
    "scan_source",
    "scope_statements",
    "start_pos",
    "terminal_name",
]

_A = TypeVar("_A", bound=ast.AST)
_B = TypeVar("_B", bound=ast.AST)
_C = TypeVar("_C", bound=ast.AST)
_T = TypeVar("_T")
_AST = ast.AST

#: fields never holding child nodes worth visiting (expression contexts are singletons)
_SKIP_FIELDS = frozenset({"ctx", "type_comment", "kind"})
_FIELDS: dict[type, tuple[str, ...]] = {}

LOOP_TYPES: tuple[type[ast.AST], ...] = (ast.For, ast.AsyncFor, ast.While)
COMPREHENSION_TYPES: tuple[type[ast.AST], ...] = (
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


def _fields(t: type) -> tuple[str, ...]:
    fs = _FIELDS.get(t)
    if fs is None:
        fs = _FIELDS[t] = tuple(f for f in t._fields if f not in _SKIP_FIELDS)  # type: ignore[attr-defined]
    return fs


def _children(node: ast.AST) -> Iterator[ast.AST]:
    for name in _fields(type(node)):
        v = getattr(node, name, None)
        if v.__class__ is list:
            for x in v:
                if isinstance(x, _AST):
                    yield x
        elif isinstance(v, _AST):
            yield v


def walk(node: ast.AST) -> Iterator[ast.AST]:
    """Every node under ``node`` (itself included), depth first; cheaper than ``ast.walk``."""
    stack = [node]
    pop = stack.pop
    extend = stack.extend
    while stack:
        n = pop()
        yield n
        extend(_children(n))


def scope_statements(
    body: Sequence[ast.stmt],
    *,
    classes: bool = False,
    skip_body: Callable[[ast.If], bool] | None = None,
) -> Iterator[ast.stmt]:
    """The statements of a scope's ``body`` and of the blocks of its compound statements
    (if/try/with/loops/match, which open no scope). Defs and classes are yielded but not
    entered; with ``classes``, class bodies are entered too. The body (not the ``else``) of
    an ``if`` for which ``skip_body`` says True is left out."""
    stack = list(body)
    while stack:
        stmt = stack.pop()
        yield stmt
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if isinstance(stmt, ast.ClassDef):
            if classes:
                stack.extend(stmt.body)
            continue
        if isinstance(stmt, ast.If) and skip_body is not None and skip_body(stmt):
            stack.extend(stmt.orelse)
            continue
        for field in ("body", "orelse", "finalbody"):
            block = getattr(stmt, field, None)
            if isinstance(block, list):
                stack.extend(block)
        # try/try* handlers, match cases (ast.TryStar is Python 3.11+)
        for part in (*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())):
            stack.extend(part.body)


def start_pos(node: ast.AST) -> tuple[int, int]:
    """``(line, column)`` where a node starts; ``(0, 0)`` for a node without a position."""
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


def terminal_name(expr: ast.AST) -> str | None:
    """``foo`` for ``foo`` and ``a.b.foo``; the callee's name for a call's ``func``."""
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return None


def assign_pairs(
    target: ast.expr, value: ast.expr, out: list[tuple[ast.expr, ast.expr]]
) -> list[tuple[ast.expr, ast.expr]]:
    """The (target, value) pairs an assignment binds with a value, as
    ``scopes._Builder.assign_target`` sees them: ``a, b = x, y`` binds a to x and b to y;
    starred elements and other unpackings bind no value. Appends to ``out`` and returns it."""
    if isinstance(target, (ast.Tuple, ast.List)):
        elts = target.elts
        if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(elts):
            for t, v in zip(elts, value.elts, strict=True):
                if not isinstance(t, ast.Starred) and not isinstance(v, ast.Starred):
                    assign_pairs(t, v, out)
    else:
        out.append((target, value))
    return out


def int_literal(node: ast.AST | None) -> int | None:
    """The value of an int literal with an optional unary minus/plus (``cstutil.int_value``
    on ``ast``), else None; bools are not ints here."""
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1 if isinstance(node.op, ast.USub) else 1
        node = node.operand
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return sign * node.value
    return None


def dotted_name(expr: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else None."""
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return None
    parts.append(expr.id)
    return ".".join(reversed(parts))


def absolute_module(module: str | None, level: int, package: str | None) -> str | None:
    """The absolute module of ``from <level dots><module> import ...`` in a file of package
    ``package`` (``""``: a top-level module; None: unknown, so relative imports resolve to
    nothing). None when it cannot be resolved. :func:`mllint.semantics.scopes.resolve_from_module`
    (libcst) and the ``ast`` gates both use this."""
    base = module or ""
    if level == 0:
        return base
    if package is None:
        return None
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    prefix = ".".join(parts)
    if base:
        return f"{prefix}.{base}" if prefix else base
    return prefix or None


def qualified_names(
    expr: ast.AST, bindings: Mapping[str, Iterable[str]], *, builtins: bool = False
) -> list[str]:
    """The qualified names ``ctx.qualname`` may give a Name/Attribute chain, its root name
    looked up in ``bindings`` (see :meth:`Scan.import_bindings`); with ``builtins``, also
    ``builtins.<root>...`` (an unbound name). ``[]`` for any other expression."""
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name):
        return []
    bases = list(bindings.get(expr.id, ()))
    if builtins:
        bases.append(f"builtins.{expr.id}")
    if not parts:
        return bases
    tail = "".join(f".{p}" for p in reversed(parts))
    return [b + tail for b in bases]


class Scan:
    """One file's ``ast``, its nodes indexed by type, and a few cached facts for the gates."""

    __slots__ = ("_by_type", "_cache", "source", "tree")

    def __init__(self, tree: ast.Module, source: str) -> None:
        self.tree = tree
        self.source = source
        self._cache: dict[Hashable, object] = {}
        by: dict[type, list[ast.AST]] = {}
        stack: list[ast.AST] = [tree]
        pop = stack.pop
        append = stack.append
        fields = _FIELDS
        while stack:
            node = pop()
            t = type(node)
            bucket = by.get(t)
            if bucket is None:
                by[t] = [node]
            else:
                bucket.append(node)
            fs = fields.get(t)
            if fs is None:
                fs = _fields(t)
            for name in fs:
                v = getattr(node, name, None)
                if v.__class__ is list:
                    for x in v:
                        if isinstance(x, _AST):
                            append(x)
                elif isinstance(v, _AST):
                    append(v)
        self._by_type = by

    def memo(self, key: Hashable, build: Callable[[], _T]) -> _T:
        """``build()``, computed once per file: facts several gates share (an import table,
        def/class spans) live as long as this scan and no longer."""
        try:
            return self._cache[key]  # type: ignore[return-value]
        except KeyError:
            value = self._cache[key] = build()
            return value

    # -- nodes by type -----------------------------------------------------------------
    @overload
    def of(self, t1: type[_A], /) -> list[_A]: ...
    @overload
    def of(self, t1: type[_A], t2: type[_B], /) -> list[_A | _B]: ...
    @overload
    def of(self, t1: type[_A], t2: type[_B], t3: type[_C], /) -> list[_A | _B | _C]: ...
    @overload
    def of(self, *types: type[ast.AST]) -> list[ast.AST]: ...

    def of(self, *types: type[ast.AST]) -> list[Any]:
        """Every node of these exact types (not subclasses), in no particular order."""
        if len(types) == 1:
            return self._by_type.get(types[0], [])
        out: list[ast.AST] = []
        for t in types:
            out.extend(self._by_type.get(t, ()))
        return out

    def has(self, *types: type[ast.AST]) -> bool:
        return any(t in self._by_type for t in types)

    def functions(self) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
        return self.of(ast.FunctionDef, ast.AsyncFunctionDef)

    # -- cached name facts -------------------------------------------------------------
    def imported_modules(self) -> frozenset[str]:
        """Every module named by an import anywhere in the file, with all its prefixes:
        ``import a.b.c`` and ``from a.b.c import d`` give ``a``, ``a.b`` and ``a.b.c``
        (``from a.b import c`` also gives ``a.b.c``: ``c`` may be a module). Relative
        imports keep their leading dots (``.x``)."""
        return self.memo("imported", self._imported_modules)

    def _imported_modules(self) -> frozenset[str]:
        mods: set[str] = set()

        def add(dotted: str) -> None:
            lead = len(dotted) - len(dotted.lstrip("."))
            parts = dotted[lead:].split(".")
            for i in range(1, len(parts) + 1):
                mods.add(dotted[:lead] + ".".join(parts[:i]))

        for imp in self.of(ast.Import):
            for alias in imp.names:
                add(alias.name)
        for imp_from in self.of(ast.ImportFrom):
            base = "." * imp_from.level + (imp_from.module or "")
            if base and base.strip("."):
                add(base)
            for alias in imp_from.names:
                if alias.name != "*":
                    sep = "" if base.endswith(".") or not base else "."
                    add(base + sep + alias.name)
        return frozenset(mods)

    def import_bindings(
        self, package: str | None, *, relative: Literal["package", "suffix"] = "package"
    ) -> dict[str, frozenset[str]]:
        """Local name -> every qualified name an import anywhere in the file binds it to (the
        semantic model resolves names per scope; this is the union over scopes).

        ``import a.b`` binds ``a`` to ``a``; ``import a.b as c`` binds ``c`` to ``a.b``;
        ``from m import x as y`` binds ``y`` to ``m.x``; star imports bind nothing. A relative
        ``from`` import, with ``relative="package"``, is resolved with ``package`` as
        :mod:`mllint.semantics.scopes` does (one that does not resolve binds nothing); with
        ``relative="suffix"`` it gives ``.m.x`` whatever its level (a leading dot: "any
        qualified name equal to ``m.x`` or ending in ``.m.x``"), and ``package`` is unused.
        Do not mutate the result: it is shared by every gate on the file."""
        if relative == "suffix":
            return self.memo(
                ("import-bindings", "suffix"), lambda: self._import_bindings(None, True)
            )
        return self.memo(
            ("import-bindings", "package", package), lambda: self._import_bindings(package, False)
        )

    def _import_bindings(self, package: str | None, suffix: bool) -> dict[str, frozenset[str]]:
        table: dict[str, set[str]] = {}
        for imp in self.of(ast.Import):
            for alias in imp.names:
                if alias.asname:
                    table.setdefault(alias.asname, set()).add(alias.name)
                else:
                    top = alias.name.split(".", 1)[0]
                    table.setdefault(top, set()).add(top)
        for imp_from in self.of(ast.ImportFrom):
            if suffix:
                mod: str | None = imp_from.module or ""
                if imp_from.level:
                    mod = "." + mod if mod else ""
            else:
                mod = absolute_module(imp_from.module, imp_from.level or 0, package)
                if not mod:
                    continue  # the binding has no qualified name: nothing resolves through it
            for alias in imp_from.names:
                if alias.name != "*":
                    qual = f"{mod}.{alias.name}" if mod else f".{alias.name}"
                    table.setdefault(alias.asname or alias.name, set()).add(qual)
        return {k: frozenset(v) for k, v in table.items()}

    def as_names(self) -> dict[str, frozenset[str]]:
        """``{local: terminal names}`` for every ``as`` import: ``from m import name as
        local`` and ``import m.name as local`` give ``local -> {name}``."""
        return self.memo("as-names", self._as_names)

    def _as_names(self) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        for imp in self.of(ast.ImportFrom):
            for a in imp.names:
                if a.asname is not None:
                    out.setdefault(a.asname, set()).add(a.name)
        for imp_ in self.of(ast.Import):
            for a in imp_.names:
                if a.asname is not None:
                    out.setdefault(a.asname, set()).add(a.name.rpartition(".")[2])
        return {k: frozenset(v) for k, v in out.items()}

    def import_aliases(self, names: frozenset[str]) -> frozenset[str]:
        """The local names that may refer to one of ``names`` (terminal names, scopes and
        modules ignored): the names themselves and the ``as`` names of ``from m import name
        as x`` / ``import m.name as x``."""
        extra = [local for local, terms in self.as_names().items() if not terms.isdisjoint(names)]
        return names.union(extra) if extra else names

    def imports_any(self, *modules: str) -> bool:
        """True when one of these (dotted) modules, or a submodule of one, is imported."""
        mods = self.imported_modules()
        return any(m in mods for m in modules)

    def names(self) -> frozenset[str]:
        """The ``id`` of every ``Name`` node."""
        return self.memo("names", lambda: frozenset(n.id for n in self.of(ast.Name)))

    def attrs(self) -> frozenset[str]:
        """The ``attr`` of every ``Attribute`` node."""
        return self.memo("attrs", lambda: frozenset(n.attr for n in self.of(ast.Attribute)))

    def called(self) -> frozenset[str]:
        """The terminal name of every call's callee: ``f`` for ``f(x)`` and ``a.b.f(x)``."""
        return self.memo("called", lambda: frozenset(self._calls_by_name_memo()))

    def calls(self, *names: str) -> list[ast.Call]:
        """Calls whose callee's terminal name is one of ``names`` (from an index built once)."""
        index = self._calls_by_name_memo()
        if len(names) == 1:
            return index.get(names[0], [])
        out: list[ast.Call] = []
        for name in set(names):
            out.extend(index.get(name, ()))
        return out

    def _calls_by_name_memo(self) -> dict[str, list[ast.Call]]:
        return self.memo("calls-by-name", self._calls_by_name)

    def _calls_by_name(self) -> dict[str, list[ast.Call]]:
        index: dict[str, list[ast.Call]] = {}
        for call in self.of(ast.Call):
            name = terminal_name(call.func)
            if name is not None:
                bucket = index.get(name)
                if bucket is None:
                    index[name] = [call]
                else:
                    bucket.append(call)
        return index

    def decorated(self, *names: str) -> list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
        """Functions and classes with a decorator whose terminal name (``cache`` for
        ``@functools.cache`` and ``@cache(maxsize=2)``) is one of ``names``."""
        wanted = set(names)
        out: list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef] = []
        for node in self.of(ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            for dec in node.decorator_list:
                if terminal_name(dec.func if isinstance(dec, ast.Call) else dec) in wanted:
                    out.append(node)
                    break
        return out

    def methods(self) -> list[tuple[ast.ClassDef, ast.FunctionDef | ast.AsyncFunctionDef]]:
        """``(class, function)`` for every function defined directly in a class body."""
        out: list[tuple[ast.ClassDef, ast.FunctionDef | ast.AsyncFunctionDef]] = []
        for cls in self.of(ast.ClassDef):
            for stmt in cls.body:
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    out.append((cls, stmt))
        return out

    # -- loops ---------------------------------------------------------------------------
    def loop_bodies(self, comprehensions: bool = True) -> list[ast.AST]:
        """Every node inside a loop's body (``for``/``while`` body and ``else``, a ``while``
        test, and with ``comprehensions`` the element, key/value and ``if`` parts of a
        comprehension and its inner ``for`` iterables), each once."""
        return self.memo(
            "loops+c" if comprehensions else "loops", lambda: self._loop_bodies(comprehensions)
        )

    def _loop_bodies(self, comprehensions: bool) -> list[ast.AST]:
        roots: list[ast.AST] = []
        for loop in self.of(ast.For, ast.AsyncFor):
            roots.extend(loop.body)
            roots.extend(loop.orelse)
        for wloop in self.of(ast.While):
            roots.append(wloop.test)
            roots.extend(wloop.body)
            roots.extend(wloop.orelse)
        if comprehensions:
            for comp in self.of(*COMPREHENSION_TYPES):
                for part in ("elt", "key", "value"):
                    sub = getattr(comp, part, None)
                    if sub is not None:
                        roots.append(sub)
                gens = comp.generators  # type: ignore[attr-defined]
                for i, gen in enumerate(gens):
                    roots.extend(gen.ifs)
                    if i:
                        roots.append(gen.iter)
        seen: set[int] = set()
        out: list[ast.AST] = []
        for root in roots:
            for n in walk(root):
                k = id(n)
                if k in seen:
                    continue
                seen.add(k)
                out.append(n)
        return out

    def in_loops(self, *types: type[_A], comprehensions: bool = True) -> list[_A]:
        """Nodes of these types inside a loop body (see :meth:`loop_bodies`)."""
        if not self.has(*types) or not self.has(*LOOP_TYPES, *COMPREHENSION_TYPES):
            return []
        return [n for n in self.loop_bodies(comprehensions) if type(n) in types]  # type: ignore[misc]


def scan_source(source: str) -> Scan | None:
    """The scan of ``source``, or None when CPython cannot parse it (the caller then falls
    back to libcst, which reports the syntax error or parses syntax newer than this Python)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    try:
        return Scan(tree, source)
    except RecursionError:  # pragma: no cover - the index is iterative
        return None
