"""ML701 eager-heavy-import."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import libcst as cst

from mllint.positions import LineIndex, node_offsets, trim_range
from mllint.prescan import scope_statements
from mllint.rule import Fix, FixSafety, Option, Rule
from mllint.semantics.cstutil import dotted_name, string_value
from mllint.semantics.scopes import Binding, is_type_checking_test, type_checking_block

if TYPE_CHECKING:
    from mllint.prescan import Scan
    from mllint.semantics.context import FileFacts

DEFAULT_HEAVY_MODULES = (
    "torch", "torchvision", "torchaudio", "torchtext", "lightning", "pytorch_lightning",
    "tensorflow", "keras", "tf_keras", "jax", "jaxlib", "flax", "optax", "haiku",
    "transformers", "datasets", "diffusers", "accelerate", "sentence_transformers", "timm",
    "sklearn", "scipy", "statsmodels", "xgboost", "lightgbm", "catboost", "pandas", "polars",
    "pyarrow", "pyspark", "dask", "ray", "numba", "cv2", "skimage", "matplotlib", "seaborn",
    "plotly", "spacy", "nltk", "gensim", "mlflow", "wandb", "onnxruntime", "tensorrt",
)  # fmt: skip

#: libraries that evaluate annotations at run time (moving an import under TYPE_CHECKING
#: would break them)
_RUNTIME_ANNOTATION_LIBS = ("pydantic", "typer", "fastapi", "attrs", "attr")
_IMPORT_CALLS = frozenset({"importlib.import_module", "builtins.__import__"})
_IMPORT_CALL_NAMES = frozenset(q.rpartition(".")[2] for q in _IMPORT_CALLS)
_CAST_CALLS = frozenset({"typing.cast", "typing_extensions.cast"})
_LINE_LENGTH = 88
_TC_QUALNAMES = frozenset({"typing.TYPE_CHECKING", "typing_extensions.TYPE_CHECKING"})
#: an internal option (never configured by users): in ML971's re-export mode (see
#: :func:`reexport_rewrite`), the 1-based lines of the first-party ``from`` imports to rewrite
_REEXPORT_LINES = "reexport-lines"


#: an import statement to emit, and the ids of the statements it comes from
_Line = tuple[str, tuple[int, ...]]


@dataclass
class _Ref:
    """A reference to a module-level name bound by a heavy import."""

    #: ann_eval (annotation evaluated when its def/class/module statement runs), ann_lazy
    #: (string annotation, local variable annotation), func (inside the body of ``function``),
    #: module (anything executed at import time)
    kind: str
    function: cst.FunctionDef | None = None
    dataclass_field: bool = False


@dataclass
class _Finding:
    node: cst.Import | cst.ImportFrom
    line: cst.SimpleStatementLine | None  # the statement line, when directly in the module body
    message: str


@dataclass
class _Edit:
    node: cst.CSTNode
    prefix: list[str] = field(default_factory=list)
    #: text between the node's leading comment lines and its code
    after_leading: list[str] = field(default_factory=list)
    replacement: str | None = None
    keep_leading: bool = True
    suffix: list[str] = field(default_factory=list)


class _Edits:
    """Several text edits of one fix, composed per node:
    prefix + leading lines + after_leading + code (or replacement) + suffix.

    Only module-level statements and whitespace nodes are edited, whose code renders the
    same on its own as inside the module."""

    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.edits: dict[int, _Edit] = {}

    def _get(self, node: cst.CSTNode) -> _Edit:
        edit = self.edits.get(id(node))
        if edit is None:
            edit = self.edits[id(node)] = _Edit(node)
        return edit

    def before(self, node: cst.CSTNode, text: str) -> None:
        self._get(node).prefix.append(text)

    def before_code(self, node: cst.CSTNode, text: str) -> None:
        self._get(node).after_leading.append(text)

    def after(self, node: cst.CSTNode, text: str) -> None:
        self._get(node).suffix.append(text)

    def replace(self, node: cst.CSTNode, text: str, keep_leading: bool = True) -> None:
        edit = self._get(node)
        edit.replacement = text
        edit.keep_leading = keep_leading

    def fix(self) -> Fix:
        """One replacement of the whole module: comments moved with an import (a trailing
        ``# noqa``, say) stay in the replaced text, and the engine trims the edit to the
        changed span."""
        module = self.module
        code = module.code_for_node
        offsets = node_offsets(module, [e.node for e in self.edits.values()])
        source = code(module)
        # (offset, order, end, text): at one offset, suffixes of the node ending there come
        # first, then prefixes, then text after leading lines, then replacements
        pieces: list[tuple[int, int, int, str]] = []
        for e in self.edits.values():
            start, end = offsets[id(e.node)]
            leading_lines = getattr(e.node, "leading_lines", ())
            leading = "".join(code(el) for el in leading_lines)
            if not source.startswith(leading, start):
                raise _NoFix  # never expected: module-level code renders the same alone
            if e.prefix:
                pieces.append((start, 1, start, "".join(e.prefix)))
            if e.after_leading:
                at = start + len(leading)
                pieces.append((at, 2, at, "".join(e.after_leading)))
            if e.replacement is not None:
                at = start + len(leading) if e.keep_leading else start
                pieces.append((at, 3, end, e.replacement))
            if e.suffix:
                pieces.append((end, 0, end, "".join(e.suffix)))
        newline = module.default_newline
        if newline != "\n":
            pieces = [
                (at, order, end, text.replace("\r\n", "\n").replace("\n", newline))
                for at, order, end, text in pieces
            ]
        pieces.sort(key=lambda p: (p[0], p[1]))
        out: list[str] = []
        pos = 0
        for at, _, end, text in pieces:
            if at < pos:
                raise _NoFix  # overlapping edits: never produced, but never emit them
            out.append(source[pos:at])
            out.append(text)
            pos = end
        out.append(source[pos:])
        return Fix(FixSafety.UNSAFE, [(module, "".join(out))])


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def _first_party(facts: FileFacts) -> frozenset[str]:
    """Top-level names of the package this file belongs to (the heavy library's own
    ``__init__.py`` files import it freely)."""
    names = {p for p in facts.path.replace("\\", "/").split("/")[:-1] if p}
    if facts.package:
        names.add(_top(facts.package))
    return frozenset(names)


def _heavy(
    module: str, heavy: frozenset[str], allowed: frozenset[str], own: frozenset[str]
) -> bool:
    if module.startswith("."):
        return False
    top = _top(module)
    if top in own:
        return False
    for a in allowed:
        if top == a or module == a or module.startswith(a + "."):
            return False
    return top in heavy or any(module.startswith(h + ".") for h in heavy)


def _ast_type_checking(stmt: ast.If) -> bool:
    """scopes.is_type_checking_test on ``ast``."""
    test = stmt.test
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return (
        isinstance(test, ast.Attribute)
        and test.attr == "TYPE_CHECKING"
        and isinstance(test.value, ast.Name)
        and test.value.id in ("typing", "typing_extensions", "t")
    )


def _is_docstring(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _only_imports(suite: cst.BaseSuite) -> bool:
    if not isinstance(suite, cst.IndentedBlock):
        return False
    return all(
        isinstance(s, cst.SimpleStatementLine)
        and all(isinstance(x, (cst.Import, cst.ImportFrom, cst.Pass, cst.Assign)) for x in s.body)
        for s in suite.body
    )


def _leading_block_end(body: Sequence[cst.CSTNode]) -> int:
    """Index of the last statement of the leading docstring/import block (-1: none)."""
    anchor = -1
    for i, stmt in enumerate(body):
        if isinstance(stmt, cst.SimpleStatementLine) and stmt.body:
            if all(isinstance(x, (cst.Import, cst.ImportFrom)) for x in stmt.body):
                anchor = i
                continue
            if i == 0 and _is_docstring(stmt):
                anchor = i
                continue
        elif isinstance(stmt, cst.If) and is_type_checking_test(stmt.test):
            continue
        elif (
            isinstance(stmt, cst.Try)
            and _only_imports(stmt.body)
            and all(_only_imports(h.body) for h in stmt.handlers)
        ):
            anchor = i
            continue
        break
    return anchor


def _names_in_string_annotation(node: cst.CSTNode) -> set[str]:
    text = string_value(node)
    if not text:
        return set()
    try:
        expr = cst.parse_expression(text.strip())
    except Exception:
        return set()
    found: set[str] = set()
    stack: list[cst.CSTNode] = [expr]
    while stack:
        cur = stack.pop()
        if isinstance(cur, cst.Name):
            found.add(cur.value)
        elif isinstance(cur, cst.Attribute):
            stack.append(cur.value)
            continue
        elif isinstance(cur, (cst.SimpleString, cst.ConcatenatedString)):
            found |= _names_in_string_annotation(cur)
            continue
        stack.extend(cur.children)
    return found


class EagerHeavyImport(Rule):
    """
    ## What it does
    Flags absolute imports of heavy ML libraries (torch, tensorflow, transformers, pandas,
    sklearn, ...) that a package `__init__.py` executes at import time: in the module body,
    inside module-level `try`/`if`/`with`/`for` blocks and class bodies, and module-level
    `importlib.import_module("torch")` / `__import__("torch")` calls.

    Not flagged: relative imports (`from .models import Encoder`), imports under
    `if TYPE_CHECKING:` or `if __name__ == "__main__":`, imports inside functions, modules
    other than `__init__.py` (an implementation module is the right lazy boundary), a
    package importing its own top-level package (`sklearn/svm/__init__.py` importing
    `sklearn.svm._classes`), and libraries outside the heavy set (`numpy` is not heavy by
    default).

    ## Why is this bad?
    Importing a package executes its `__init__.py`, so every heavy import there is paid by
    every user of any part of the package: a CLI `--help`, a config helper, a worker that only
    needs a utility. Heavy libraries can take seconds and hundreds of MB to import.

    Lazy loading has costs too: an `ImportError` for a missing optional dependency appears at
    first use instead of at import, and names provided through a module `__getattr__` are
    `Any` to type checkers unless they are re-declared under `TYPE_CHECKING`.

    ## Example
    ```python
    # textkit/__init__.py
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer

    def n_rows(ds: Dataset) -> int:
        return len(ds)

    def encoder(name):
        return SentenceTransformer(name)
    ```

    ## Use instead
    ```python
    # textkit/__init__.py
    from __future__ import annotations
    from typing import TYPE_CHECKING

    if TYPE_CHECKING:
        from datasets import Dataset

    def n_rows(ds: Dataset) -> int:
        return len(ds)

    def encoder(name):
        from sentence_transformers import SentenceTransformer
        return SentenceTransformer(name)
    ```

    ## Fix safety
    Unsafe: import time, import side effects (such as backend registration) and ImportErrors
    move to first use. Each imported name is treated by how the module uses it:

    1. used only in annotations: the import moves into an `if TYPE_CHECKING:` block (adding
       `from typing import TYPE_CHECKING`, and `from __future__ import annotations` when an
       annotation is evaluated at definition time). Skipped when the module imports
       pydantic, typer, fastapi or attrs, or a dataclass field is annotated with the name
       (those evaluate annotations at run time);
    2. used only inside function bodies: the import moves into each outermost function that
       uses it;
    3. only re-exported (not used, or listed in a literal `__all__`): the name is served
       lazily by a module `__getattr__` backed by a `_LAZY_IMPORTS` table, and imported under
       `TYPE_CHECKING` for type checkers. Skipped when the module already has a hand-written
       `__getattr__`;
    4. anything else (class bases, decorators, module-level calls, lookup tables): no fix.

    The fix is offered only when every heavy name of the statement has one of the treatments
    1-3 (otherwise the library would still be imported eagerly).

    ## Options
    - `heavy-modules` (list of top-level packages): replaces the default heavy set.
    - `extend-heavy-modules` (default `[]`): added to the heavy set.
    - `allowed-modules` (default `[]`): never flagged, for packages whose purpose is one
      heavy library.
    """

    code = "ML701"
    name = "eager-heavy-import"
    summary = "A package `__init__.py` imports a heavy ML library at import time"
    tier = 1
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("import",)
    requires_filename = "__init__.py"
    options = (
        Option(
            "heavy-modules",
            "list[str]",
            list(DEFAULT_HEAVY_MODULES),
            "Top-level packages treated as heavy (replaces the default set).",
        ),
        Option("extend-heavy-modules", "list[str]", [], "Packages added to the heavy set."),
        Option("allowed-modules", "list[str]", [], "Packages never flagged."),
    )

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # an absolute import of a heavy module run at import time (module level, class
        # bodies, not under `if TYPE_CHECKING:`), or an import_module/__import__ call (or an
        # import alias of them) whose first argument is a heavy module's name
        if options.get(_REEXPORT_LINES) is not None:
            return True
        heavy = frozenset(options.get("heavy-modules", DEFAULT_HEAVY_MODULES)) | frozenset(
            options.get("extend-heavy-modules", ())
        )
        allowed = frozenset(options.get("allowed-modules", ()))
        own = _first_party(facts)
        for stmt in scope_statements(scan.tree.body, classes=True, skip_body=_ast_type_checking):
            if isinstance(stmt, ast.Import):
                if any(_heavy(a.name, heavy, allowed, own) for a in stmt.names):
                    return True
            elif (
                isinstance(stmt, ast.ImportFrom)
                and not stmt.level
                and stmt.module is not None
                and _heavy(stmt.module, heavy, allowed, own)
            ):
                return True
        names = set(_IMPORT_CALL_NAMES)
        for imp in scan.of(ast.ImportFrom, ast.Import):
            names.update(
                a.asname
                for a in imp.names
                if a.asname is not None and a.name.rpartition(".")[2] in _IMPORT_CALL_NAMES
            )
        for call in scan.calls(*names):
            first = call.args[0] if call.args else None
            if (
                isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and _heavy(first.value, heavy, allowed, own)
            ):
                return True
        return False

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._heavy = frozenset(self.option("heavy-modules")) | frozenset(
            self.option("extend-heavy-modules")
        )
        self._allowed = frozenset(self.option("allowed-modules"))
        self._own = _first_party(self.ctx.facts)
        self._findings: list[_Finding] = []
        self._refs: dict[str, list[_Ref]] = {}
        self._func_indent: dict[int, str] = {}
        self._in_import = 0
        module_bindings = self.ctx.model.module_scope.bindings
        lines = self.opts.get(_REEXPORT_LINES)
        #: re-export mode (ML971): ids of the module-level import statements to rewrite
        self._reexport: frozenset[int] | None = None
        if lines is not None:
            self._reexport = self._imports_at(frozenset(lines))
            self._candidates = frozenset(
                name
                for name, bindings in module_bindings.items()
                if any(b.kind == "import" and id(b.node) in self._reexport for b in bindings)
            )
            return
        self._candidates = frozenset(
            name
            for name, bindings in module_bindings.items()
            if any(
                b.kind == "import" and b.qualname and self._is_heavy(b.qualname) for b in bindings
            )
        )

    def _imports_at(self, lines: frozenset[int]) -> frozenset[int]:
        """Ids of the ``from`` imports alone on a module-level line starting on ``lines``."""
        module = self.ctx.module
        stmts = [
            s
            for s in module.body
            if isinstance(s, cst.SimpleStatementLine)
            and len(s.body) == 1
            and isinstance(s.body[0], cst.ImportFrom)
        ]
        source = self.ctx.source
        offsets = node_offsets(module, stmts)
        index = LineIndex(source)
        out: set[int] = set()
        for s in stmts:
            rng = offsets.get(id(s))
            if rng is not None and index.position(trim_range(source, *rng)[0])[0] in lines:
                out.add(id(s.body[0]))
        return frozenset(out)

    def _is_heavy(self, module: str) -> bool:
        return _heavy(module, self._heavy, self._allowed, self._own)

    # -- where the code runs -------------------------------------------------------------
    def _at_import_time(self) -> bool:
        ctx = self.ctx
        return ctx.is_module_level() and not ctx.in_type_checking() and not ctx.in_main_guard()

    # -- the package named in messages ---------------------------------------------------
    def _package(self) -> tuple[str, str]:
        facts = self.ctx.facts
        if facts.package:
            return facts.package, facts.package.replace(".", "/") + "/__init__.py"
        parts = [p for p in facts.path.replace("\\", "/").split("/") if p]
        if len(parts) >= 2:
            return parts[-2], f"{parts[-2]}/__init__.py"
        return "the package", "__init__.py"

    def _message(self, modules: list[str]) -> str:
        package, path = self._package()
        tops: list[str] = []
        for m in modules:
            if _top(m) not in tops:
                tops.append(_top(m))
        loaded = " and ".join(tops) if len(tops) <= 2 else ", ".join(tops[:-1]) + " and " + tops[-1]
        imported = "import " + ", ".join(modules)
        what = f"'import {package}'" if package != "the package" else "import of the package"
        return (
            f"'{imported}' in {path} loads {loaded} (can take seconds and hundreds of MB) for "
            f"every {what}; import it lazily (inside the functions that use it, under "
            "TYPE_CHECKING, or via a module __getattr__)"
        )

    # -- imports ---------------------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> None:
        self._in_import += 1
        if self._reexport is not None or not self._at_import_time():
            return
        heavy: list[str] = []
        for alias in node.names:
            name = dotted_name(alias.name)
            if name is not None and self._is_heavy(name) and name not in heavy:
                heavy.append(name)
        if heavy:
            self._record(node, heavy)

    def leave_Import(self, original_node: cst.Import) -> None:
        self._in_import -= 1

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self._in_import += 1
        if self._reexport is not None:
            if id(node) in self._reexport and self._at_import_time():
                self._record(node, [])
            return
        if node.relative or node.module is None or not self._at_import_time():
            return
        name = dotted_name(node.module)
        if name is not None and self._is_heavy(name):
            self._record(node, [name])

    def leave_ImportFrom(self, original_node: cst.ImportFrom) -> None:
        self._in_import -= 1

    def _record(self, node: cst.Import | cst.ImportFrom, modules: list[str]) -> None:
        parent = self.ctx.parent
        line = None
        if isinstance(parent, cst.SimpleStatementLine) and any(
            stmt is parent for stmt in self.ctx.module.body
        ):
            line = parent
        self._findings.append(_Finding(node, line, self._message(modules)))

    def visit_Call(self, node: cst.Call) -> None:
        if not node.args or node.args[0].keyword is not None or node.args[0].star:
            return
        q = self.ctx.qualname(node.func)
        if q not in _IMPORT_CALLS:
            if q in _CAST_CALLS:
                self._string_refs(node.args[0].value)
            return
        if self._reexport is not None:
            return
        module = string_value(node.args[0].value)
        if module and self._is_heavy(module) and self._at_import_time():
            self.report(node, self._message([module]))

    # -- references ------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if not isinstance(node.body, cst.IndentedBlock):
            return
        module = self.ctx.module
        indent = ""
        for anc in self.ctx.ancestors():
            if isinstance(anc, cst.IndentedBlock):
                indent += anc.indent if anc.indent is not None else module.default_indent
        body_indent = node.body.indent if node.body.indent is not None else module.default_indent
        self._func_indent[id(node)] = indent + body_indent

    def visit_Name(self, node: cst.Name) -> None:
        name = node.value
        if name not in self._candidates or self._in_import:
            return
        parent = self.ctx.parent
        if (
            (isinstance(parent, cst.Attribute) and parent.attr is node)
            or (isinstance(parent, cst.Arg) and parent.keyword is node)
            or (
                isinstance(parent, (cst.Param, cst.FunctionDef, cst.ClassDef))
                and parent.name is node
            )
            or (isinstance(parent, cst.AsName) and parent.name is node)
            or isinstance(parent, cst.NameItem)
        ):
            return
        bindings = self.ctx.bindings(name)
        if bindings is not self.ctx.model.module_scope.bindings.get(name):
            return  # a local name
        self._refs.setdefault(name, []).append(self._classify())

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if self._in_annotation() is not None:
            self._string_refs(node)

    def visit_ConcatenatedString(self, node: cst.ConcatenatedString) -> None:
        if self._in_annotation() is not None:
            self._string_refs(node)

    def _string_refs(self, node: cst.CSTNode) -> None:
        names = _names_in_string_annotation(node) & self._candidates
        for name in names:
            if self.ctx.bindings(name) is self.ctx.model.module_scope.bindings.get(name):
                self._refs.setdefault(name, []).append(_Ref("ann_lazy"))

    def _in_annotation(self) -> cst.Annotation | None:
        for anc in self.ctx.ancestors():
            if isinstance(anc, cst.Annotation):
                return anc
            if isinstance(anc, (cst.BaseStatement, cst.BaseSmallStatement, cst.Param)):
                return None
        return None

    def _classify(self) -> _Ref:
        ctx = self.ctx
        stack = ctx.stack
        ann = self._in_annotation()
        if ann is not None:
            idx = next(i for i in range(len(stack) - 1, -1, -1) if stack[i] is ann)
            owner = stack[idx - 1] if idx > 0 else None
            if isinstance(owner, cst.AnnAssign):
                if ctx.scope.kind == "function":
                    return _Ref("ann_lazy")
                return _Ref("ann_eval", dataclass_field=self._in_dataclass_body())
            return _Ref("ann_eval")
        for i, node in enumerate(stack[:-1]):
            if isinstance(node, cst.Lambda):
                return _Ref("module")
            if isinstance(node, cst.FunctionDef):
                if stack[i + 1] is node.body:
                    return _Ref("func", node)
                return _Ref("module")  # decorators and default values run at import time
        return _Ref("module")

    def _in_dataclass_body(self) -> bool:
        cls = self.ctx.enclosing_class()
        if cls is None:
            return False
        for dec in cls.node.decorators:
            d = dec.decorator.func if isinstance(dec.decorator, cst.Call) else dec.decorator
            name = dotted_name(d)
            if name is not None and name.rsplit(".", 1)[-1] == "dataclass":
                return True
        return False

    # -- fixes -----------------------------------------------------------------------------
    def finish(self) -> None:
        fix, covered = self._fix()
        for finding in self._findings:
            self.report(finding.node, finding.message, fix if id(finding.node) in covered else None)

    def _fix(self) -> tuple[Fix | None, set[int]]:
        """One fix for every fixable statement: they share the TYPE_CHECKING block, the
        ``from __future__`` import and the lazy-import table. Each covered finding carries
        it; the engine applies it once."""
        builder = _FixBuilder(self, self._findings)
        try:
            fix = builder.build()
        except _NoFix:
            return None, set()
        return fix, builder.covered


class _NoFix(Exception):
    pass


class _FixBuilder:
    def __init__(self, rule: EagerHeavyImport, findings: list[_Finding]) -> None:
        self.rule = rule
        self.ctx = rule.ctx
        self.module = rule.ctx.module
        self.body = list(self.module.body)
        self.findings = findings
        #: statements the fix covers / statement lines it removes
        self.covered: set[int] = set()
        self.removed: set[int] = set()
        self.scope = rule.ctx.model.module_scope
        self.edits = _Edits(self.module)
        self.stdlib_lines: list[str] = []
        #: trailing comments of moved statements, emitted with the first moved line
        self.comments: dict[int, str] = {}
        self.typing_names: list[str] = []
        #: the new ``if TYPE_CHECKING:`` block, added after the new imports
        self.pending_block: str | None = None

    # -- facts ---------------------------------------------------------------------------
    def _module_bindings(self, name: str) -> list[Binding]:
        return self.scope.bindings.get(name, [])

    def _runtime_import(
        self, qualnames: frozenset[str] | set[str], module_import: bool
    ) -> str | None:
        for local, bindings in self.scope.bindings.items():
            for b in bindings:
                if b.kind != "import" or b.type_checking or b.qualname not in qualnames:
                    continue
                if module_import and not isinstance(b.node, cst.Import):
                    continue
                if len(bindings) == 1:
                    return local
        return None

    def _all_names(self) -> set[str] | None:
        """Names in a literal module-level ``__all__`` (empty: no ``__all__``); None when
        ``__all__`` is computed."""
        names: set[str] = set()
        for b in self._module_bindings("__all__"):
            if b.kind not in ("assign", "augassign", "annassign"):
                return None
            node = b.node
            value = getattr(node, "value", None)
            if not isinstance(value, (cst.List, cst.Tuple)):
                return None
            for el in value.elements:
                s = string_value(el.value)
                if s is None:
                    return None
                names.add(s)
        return names

    def _has_future_annotations(self) -> bool:
        for b in self._module_bindings("annotations"):
            if b.kind == "import" and b.qualname == "__future__.annotations":
                return True
        return False

    # -- the plan ----------------------------------------------------------------------------
    def build(self) -> Fix | None:
        if not self.module.has_trailing_newline:
            return None
        all_names = self._all_names()
        if all_names is None:
            return None
        # (statement, local name, import statement text for that name alone, treatment)
        heavy: list[tuple[cst.Import | cst.ImportFrom, str, str, int]] = []
        for finding in self.findings:
            planned = self._plan(finding, all_names)
            if planned is not None:
                heavy.extend((finding.node, local, text, t) for local, text, t in planned)
                self.covered.add(id(finding.node))
        if not heavy:
            return None
        tc_lines = self._merge_from_imports(
            [(text, (id(node),)) for node, _, text, t in heavy if t in (1, 3)]
        )
        needs_future = (
            any(
                t == 1 and any(r.kind == "ann_eval" for r in self.rule._refs.get(local, []))
                for _, local, _, t in heavy
            )
            and not self._has_future_annotations()
        )
        if needs_future:
            self._add_future_import()
        # case 2: into each outermost function
        per_function: dict[int, tuple[cst.FunctionDef, list[_Line]]] = {}
        for node, local, text, t in heavy:
            if t != 2:
                continue
            for r in self.rule._refs.get(local, []):
                assert r.function is not None
                entry = per_function.setdefault(id(r.function), (r.function, []))
                if all(text != x for x, _ in entry[1]):
                    entry[1].append((text, (id(node),)))
        for func, lines in per_function.values():
            self._insert_into_function(func, self._merge_from_imports(lines))
        # case 3: lazy table and module __getattr__
        lazy = [(local, self._lazy_target(node, local)) for node, local, _, t in heavy if t == 3]
        if lazy:
            self._lazy(lazy)
        if tc_lines:
            self._type_checking(tc_lines)
        self._flush_imports()
        self._keep_group_separation()
        if self.pending_block is not None:
            idx = self._import_anchor()
            if idx >= 0:
                self.edits.after(self.body[idx], self.pending_block)
            else:
                self.edits.before(self.body[0], self.pending_block)
        return self.edits.fix()

    def _keep_group_separation(self) -> None:
        """A removed import that started an import group (blank line before it) passes the
        blank line on to the next remaining statement."""
        pending = False
        for stmt in self.body:
            if id(stmt) in self.removed:
                pending = pending or bool(stmt.leading_lines)
                continue
            if pending and not stmt.leading_lines and id(stmt) not in self.edits.edits:
                self.edits.before(stmt, "\n")
            pending = False

    def _plan(self, finding: _Finding, all_names: set[str]) -> list[tuple[str, str, int]] | None:
        """The treatment of each heavy name of one statement (None: not fixable), and the
        edit removing the statement."""
        line = finding.line
        node = finding.node
        if line is None or len(line.body) != 1:
            return None
        comments = []
        rest_of_node: cst.CSTNode = node
        if isinstance(node, cst.ImportFrom) and node.lpar is not None:
            ws = node.lpar.whitespace_after
            if isinstance(ws, cst.ParenthesizedWhitespace) and ws.first_line.comment is not None:
                # `from m import (  # comment` is reported (and suppressed) on its first line
                comments.append(ws.first_line.comment.value)
                rest_of_node = node.with_changes(lpar=cst.LeftParen())
        if "#" in self.module.code_for_node(rest_of_node):
            return None  # comments inside a parenthesised import
        if line.trailing_whitespace.comment is not None:
            comments.append(line.trailing_whitespace.comment.value)
        if comments:
            from mllint.engine import is_suppressed

            if any(is_suppressed(c, self.rule.code, self.rule.name) for c in comments):
                return None
            self.comments[id(node)] = "  ".join(comments)
        heavy: list[tuple[str, str, int]] = []
        keep: list[str] = []
        if isinstance(node, cst.Import):
            for alias in node.names:
                name = dotted_name(alias.name)
                if name is None:
                    return None
                text = name + (f" as {self._asname(alias)}" if alias.asname else "")
                if not self.rule._is_heavy(name):
                    keep.append(text)
                    continue
                local = self._asname(alias) if alias.asname else _top(name)
                heavy.append((local, f"import {text}", self._treatment(node, local, all_names)))
        else:
            if isinstance(node.names, cst.ImportStar):
                return None
            dotted = dotted_name(node.module)
            if dotted is None:
                return None
            module = "." * len(node.relative) + dotted
            for alias in node.names:
                name = dotted_name(alias.name)
                if name is None:
                    return None
                local = self._asname(alias) if alias.asname else name
                text = name + (f" as {local}" if alias.asname else "")
                heavy.append(
                    (local, f"from {module} import {text}", self._treatment(node, local, all_names))
                )
        if not heavy or any(t == 0 for _, _, t in heavy):
            return None
        if self.rule._reexport is not None and any(t != 3 for _, _, t in heavy):
            return None  # ML971 only offers the re-export rewrite
        # remove the statement (keeping its leading comments and any light imports)
        keep_leading = any(el.comment is not None for el in line.leading_lines)
        rest = f"import {', '.join(keep)}\n" if keep else ""
        self.edits.replace(line, rest, keep_leading=keep_leading or bool(keep))
        if not keep:
            self.removed.add(id(line))
        return heavy

    @staticmethod
    def _asname(alias: cst.ImportAlias) -> str:
        assert alias.asname is not None
        name = alias.asname.name
        if not isinstance(name, cst.Name):
            raise _NoFix
        return name.value

    def _lines(self, lines: list[_Line], indent: str) -> str:
        """Import statements at ``indent``; a long ``from`` import is wrapped in parentheses.
        A moved statement's trailing comment goes with its first moved line."""
        out = []
        unit = self.module.default_indent
        for line, origins in lines:
            comments = [self.comments.pop(o) for o in origins if o in self.comments]
            comment = "".join(f"  {c}" for c in comments)
            if len(indent) + len(line) + len(comment) > _LINE_LENGTH and line.startswith("from "):
                head, _, names = line.partition(" import ")
                rows = "".join(f"{indent}{unit}{n.strip()},\n" for n in names.split(","))
                out.append(f"{indent}{head} import ({comment}\n{rows}{indent})\n")
            else:
                out.append(f"{indent}{line}{comment}\n")
        return "".join(out)

    @staticmethod
    def _merge_from_imports(lines: list[_Line]) -> list[_Line]:
        """``from m import a`` + ``from m import b`` -> ``from m import a, b``."""
        out: list[_Line] = []
        merged: dict[str, int] = {}
        for text, origins in lines:
            if text.startswith("from "):
                head, _, names = text.partition(" import ")
                if head in merged:
                    i = merged[head]
                    prev, prev_origins = out[i]
                    extra = tuple(o for o in origins if o not in prev_origins)
                    out[i] = (f"{prev}, {names}", prev_origins + extra)
                    continue
                merged[head] = len(out)
            out.append((text, origins))
        return out

    def _lazy_target(self, node: cst.Import | cst.ImportFrom, local: str) -> tuple[str, str]:
        assert isinstance(node, cst.ImportFrom) and not isinstance(node.names, cst.ImportStar)
        module = dotted_name(node.module)
        assert module is not None
        if node.relative:
            # ML971: the package's own modules, imported by absolute name
            package = self.ctx.facts.package
            levels = len(node.relative)
            if not package or not self.ctx.facts.is_package_init or levels > package.count(".") + 1:
                raise _NoFix
            base = package.rsplit(".", levels - 1)[0] if levels > 1 else package
            module = f"{base}.{module}"
        for alias in node.names:
            name = dotted_name(alias.name)
            bound = self._asname(alias) if alias.asname else name
            if bound == local and name is not None:
                return module, name
        raise _NoFix

    def _treatment(self, node: cst.Import | cst.ImportFrom, local: str, all_names: set[str]) -> int:
        """1 annotation-only, 2 function-only, 3 re-export only, 0 no fix."""
        from_import = isinstance(node, cst.ImportFrom)
        bindings = self._module_bindings(local)
        if len(bindings) != 1 or bindings[0].node is not node:
            return 0
        refs = self.rule._refs.get(local, [])
        kinds = {r.kind for r in refs}
        if not refs:
            if not from_import or not self._lazy_possible():
                return 0
            return 3
        if local in all_names or "module" in kinds:
            return 0
        if kinds <= {"ann_eval", "ann_lazy"}:
            if any(self.ctx.imports(lib) for lib in _RUNTIME_ANNOTATION_LIBS):
                return 0
            if any(r.dataclass_field for r in refs):
                return 0
            return 1
        if kinds == {"func"}:
            for r in refs:
                if r.function is None or id(r.function) not in self.rule._func_indent:
                    return 0
            return 2
        return 0

    # -- edits -------------------------------------------------------------------------------
    def _import_anchor(self) -> int:
        return _leading_block_end(self.body)

    def _after_imports(self, text: str) -> None:
        """Insert ``text`` after the leading import block (or before the first statement)."""
        idx = self._import_anchor()
        if idx >= 0:
            anchor = self.body[idx]
            if _is_docstring(anchor):
                text = "\n" + text
            self.edits.after(anchor, text)
        else:
            self.edits.before(self.body[0], text + "\n")

    def _add_future_import(self) -> None:
        first = self.body[0]
        if _is_docstring(first):
            text = "\nfrom __future__ import annotations\n"
            if len(self.body) > 1 and not self._starts_with_blank_line(self.body[1]):
                text += "\n"
            self.edits.after(first, text)
        else:
            self.edits.before(first, "from __future__ import annotations\n\n")

    def _starts_with_blank_line(self, stmt: cst.CSTNode) -> bool:
        """Whether the (possibly edited) statement still starts with a blank line."""
        leading: Sequence[cst.EmptyLine] = getattr(stmt, "leading_lines", ())
        edit = self.edits.edits.get(id(stmt))
        if edit is not None and not edit.keep_leading:
            return False
        return bool(leading) and leading[0].comment is None

    def _flush_imports(self) -> None:
        """Add the stdlib imports the fix needs: names from typing extend an existing
        ``from typing import ...`` of the leading import block; new statements go after its
        last stdlib import (or before its first import)."""
        lines = list(self.stdlib_lines)
        if self.typing_names:
            # isort order: CONSTANTS, then Classes
            self.typing_names.sort(key=lambda n: (not n.isupper(), n))
            existing = self._typing_from_import()
            if existing is not None:
                stmt, imp = existing
                assert not isinstance(imp.names, cst.ImportStar)
                texts = []
                for a in imp.names:
                    t = self.module.code_for_node(a.name)
                    if a.asname is not None:
                        t += f" as {self._asname(a)}"
                    texts.append(t)
                texts += self.typing_names
                self.edits.replace(stmt, f"from typing import {', '.join(texts)}\n")
            else:
                lines.append(f"from typing import {', '.join(self.typing_names)}")
        plain = [line for line in lines if line.startswith("import ")]
        from_lines = [line for line in lines if not line.startswith("import ")]
        end = self._import_anchor()
        stdlib = [i for i in range(end + 1) if self._is_stdlib_import(self.body[i])]
        stdlib_plain = [
            i for i in stdlib if all(isinstance(x, cst.Import) for x in self._small(self.body[i]))
        ]
        if stdlib and plain:
            # isort order: `import x` lines before `from x import y` lines
            if stdlib_plain:
                self.edits.after(self.body[stdlib_plain[-1]], "".join(f"{x}\n" for x in plain))
            else:
                self.edits.before_code(self.body[stdlib[0]], "".join(f"{x}\n" for x in plain))
            plain = []
        lines = plain + from_lines
        if not lines:
            return
        text = "".join(line + "\n" for line in lines)
        if stdlib:
            self.edits.after(self.body[stdlib[-1]], text)
            return
        # `from __future__` imports must stay first: new imports never go above them
        first_import = next(
            (
                i
                for i in range(end + 1)
                if self._is_import_line(self.body[i]) and not _is_future_import(self.body[i])
            ),
            None,
        )
        if first_import is not None:
            first = self.body[first_import]
            self.edits.before_code(first, text if id(first) in self.removed else text + "\n")
        else:
            self._after_imports(text)

    @staticmethod
    def _small(stmt: cst.CSTNode) -> Sequence[cst.BaseSmallStatement]:
        return stmt.body if isinstance(stmt, cst.SimpleStatementLine) else ()

    def _typing_from_import(self) -> tuple[cst.SimpleStatementLine, cst.ImportFrom] | None:
        for i in range(self._import_anchor() + 1):
            stmt = self.body[i]
            if (
                isinstance(stmt, cst.SimpleStatementLine)
                and id(stmt) not in self.removed
                and len(stmt.body) == 1
                and isinstance(stmt.body[0], cst.ImportFrom)
                and not stmt.body[0].relative
                and dotted_name(stmt.body[0].module) == "typing"
                and not isinstance(stmt.body[0].names, cst.ImportStar)
                and "#" not in self.module.code_for_node(stmt.body[0])
                and stmt.trailing_whitespace.comment is None
            ):
                return stmt, stmt.body[0]
        return None

    @staticmethod
    def _is_import_line(stmt: cst.CSTNode) -> bool:
        return (
            isinstance(stmt, cst.SimpleStatementLine)
            and bool(stmt.body)
            and all(isinstance(x, (cst.Import, cst.ImportFrom)) for x in stmt.body)
        )

    def _is_stdlib_import(self, stmt: cst.CSTNode) -> bool:
        if id(stmt) in self.removed or not self._is_import_line(stmt):
            return False
        assert isinstance(stmt, cst.SimpleStatementLine)
        for x in stmt.body:
            if isinstance(x, cst.ImportFrom):
                if x.relative or x.module is None:
                    return False
                mods = [dotted_name(x.module)]
            else:
                assert isinstance(x, cst.Import)
                mods = [dotted_name(a.name) for a in x.names]
            for m in mods:
                if m is None or _top(m) == "__future__" or _top(m) not in sys.stdlib_module_names:
                    return False
        return True

    def _type_checking(self, lines: list[_Line]) -> None:
        existing = type_checking_block(self.body)
        if existing is not None:
            assert isinstance(existing.body, cst.IndentedBlock)
            indent = existing.body.indent
            if indent is None:
                indent = self.module.default_indent
            self.edits.after(existing.body.header, self._lines(lines, indent))
            return
        tc = self._runtime_import(_TC_QUALNAMES, module_import=False)
        if tc is None:
            typing_mod = self._runtime_import({"typing"}, module_import=True)
            if typing_mod is not None:
                tc = f"{typing_mod}.TYPE_CHECKING"
            elif not self._module_bindings("TYPE_CHECKING"):
                tc = "TYPE_CHECKING"
                self.typing_names.append("TYPE_CHECKING")
            else:
                raise _NoFix
        indent = self.module.default_indent
        block = f"if {tc}:\n" + self._lines(lines, indent)
        idx = self._import_anchor()
        following = self.body[idx + 1] if idx + 1 < len(self.body) else None
        trailer = ""
        if following is not None and not (
            following.leading_lines and following.leading_lines[0].comment is None
        ):
            trailer = "\n"
        self.pending_block = "\n" + block + trailer if idx >= 0 else block + "\n"

    def _insert_into_function(self, func: cst.FunctionDef, lines: list[_Line]) -> None:
        body = func.body
        if not isinstance(body, cst.IndentedBlock) or not body.body:
            raise _NoFix
        indent = self.rule._func_indent[id(func)]
        text = self._lines(lines, indent)
        first = body.body[0]
        if _is_docstring(first):
            assert isinstance(first, cst.SimpleStatementLine)
            self.edits.after(first.trailing_whitespace, text)
        else:
            self.edits.after(body.header, text)

    def _lazy_possible(self) -> bool:
        getattr_bindings = self._module_bindings("__getattr__")
        table = self._module_bindings("_LAZY_IMPORTS")
        if not getattr_bindings and not table:
            return True
        return self._generated_table() is not None

    def _generated_table(self) -> tuple[cst.SimpleStatementLine, cst.Dict] | None:
        """The mllint-generated ``_LAZY_IMPORTS = {...}`` with its ``__getattr__``."""
        getattr_bindings = self._module_bindings("__getattr__")
        table = self._module_bindings("_LAZY_IMPORTS")
        if len(getattr_bindings) != 1 or len(table) != 1:
            return None
        func = getattr_bindings[0].node
        if not isinstance(
            func, cst.FunctionDef
        ) or "_LAZY_IMPORTS" not in self.module.code_for_node(func):
            return None
        assign = table[0].node
        if not isinstance(assign, cst.Assign) or not isinstance(assign.value, cst.Dict):
            return None
        for stmt in self.body:
            if isinstance(stmt, cst.SimpleStatementLine) and stmt.body and stmt.body[0] is assign:
                return stmt, assign.value
        return None

    def _lazy(self, entries: list[tuple[str, tuple[str, str]]]) -> None:
        indent = self.module.default_indent
        generated = self._generated_table()
        table: dict[str, str] = {}
        for local, (module, attr) in entries:
            table[local] = f'("{module}", "{attr}")'
        if generated is not None:
            stmt, value = generated
            if "#" in self.module.code_for_node(stmt.with_changes(leading_lines=())):
                raise _NoFix
            for el in value.elements:
                if not isinstance(el, cst.DictElement):
                    raise _NoFix
                key = string_value(el.key)
                if key is None:
                    raise _NoFix
                table.setdefault(key, self.module.code_for_node(el.value).strip())
            self.edits.replace(stmt, self._table_text(table, indent))
            return
        any_name = self._runtime_import({"typing.Any"}, module_import=False)
        if any_name is None:
            typing_mod = self._runtime_import({"typing"}, module_import=True)
            if typing_mod is not None:
                any_name = f"{typing_mod}.Any"
            elif not self._module_bindings("Any"):
                any_name = "Any"
                self.typing_names.append("Any")
            else:
                raise _NoFix
        importlib = self._runtime_import({"importlib"}, module_import=True)
        if importlib is None:
            if self._module_bindings("importlib"):
                raise _NoFix
            importlib = "importlib"
            self.stdlib_lines.append("import importlib")
        i1, i2 = indent, indent * 2
        func = (
            f"def __getattr__(name: str) -> {any_name}:\n"
            f"{i1}if name in _LAZY_IMPORTS:\n"
            f"{i2}module_name, attr = _LAZY_IMPORTS[name]\n"
            f"{i2}return getattr({importlib}.import_module(module_name), attr)\n"
            f'{i1}raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}")\n'
        )
        self.edits.after(self.body[-1], "\n\n" + self._table_text(table, indent) + "\n\n" + func)

    @staticmethod
    def _table_text(table: dict[str, str], indent: str) -> str:
        rows = "".join(f'{indent}"{k}": {v},\n' for k, v in sorted(table.items()))
        return "_LAZY_IMPORTS = {\n" + rows + "}\n"


def _is_future_import(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and bool(stmt.body)
        and isinstance(stmt.body[0], cst.ImportFrom)
        and not stmt.body[0].relative
        and stmt.body[0].module is not None
        and dotted_name(stmt.body[0].module) == "__future__"
    )


def reexport_rewrite(
    source: str, facts: FileFacts, options: Mapping[str, Any], lines: Iterable[int]
) -> tuple[str, frozenset[int]] | None:
    """ML701's "re-export only" rewrite (treatment 3 of its fix) of the first-party ``from``
    imports starting on ``lines`` of a package ``__init__.py``, for ML971: each statement
    whose names are all unused in the module (a literal ``__all__`` aside) is served by the
    module ``__getattr__`` and imported under ``TYPE_CHECKING``, exactly as ML701 would
    rewrite a heavy import (relative modules are resolved against ``facts.package`` in the
    lazy table). ``options`` are ML701's. Returns the new source, as the per-file engine
    would write it, and the lines of the statements rewritten; None when nothing can be."""
    from mllint.engine import EnabledRule, parse, remove_orphaned_imports, run_rules
    from mllint.semantics.cstutil import comments_in

    if "\x0c" in source or "\x0b" in source:
        return None  # libcst's offsets would not be the source's
    try:
        module = parse(source)
    except Exception:
        return None
    opts = {**options, _REEXPORT_LINES: frozenset(lines)}
    raw = run_rules(module, source, facts, [EnabledRule(EagerHeavyImport, opts)])
    fixed = [r for r in raw if r.fix is not None]
    if not fixed:
        return None
    fix = fixed[0].fix
    assert fix is not None
    replacements = [new for old, new in fix.replacements if old is module]
    if len(replacements) != 1 or not isinstance(replacements[0], str):
        return None
    new = replacements[0]
    new_comments = comments_in(new)
    if any(c not in new_comments for c in comments_in(source)):
        return None  # as the engine: a fix never deletes a comment
    new = remove_orphaned_imports(source, new)
    if new == source:
        return None
    offsets = node_offsets(module, [r.node for r in fixed])
    index = LineIndex(source)
    covered = frozenset(
        index.position(trim_range(source, *offsets[id(r.node)])[0])[0] for r in fixed
    )
    return new, covered
