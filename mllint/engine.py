"""Lint and fix ONE source string.

parse -> semantic model (statements only) -> one read-only traversal dispatching each node to
the rules that handle its type -> positions for reported nodes only -> suppression comments ->
(with fixing) apply non-overlapping fixes, re-parse, repeat until nothing changes (bounded).
"""

from __future__ import annotations

import ast
import dataclasses
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from mllint.diagnostics import FileResult, FixInfo, TextEdit, Violation
from mllint.positions import LineIndex, node_offsets, statement_offsets, trim_range
from mllint.prescan import Scan, scan_source
from mllint.rule import Fix, FixSafety, RawViolation, Rule
from mllint.semantics.context import FileContext, FileFacts, ImportPlan
from mllint.semantics.cstutil import comments_in
from mllint.semantics.scopes import build_model
from mllint.semantics.walk import _fields_of

MAX_FIX_PASSES = 10
SYNTAX_ERROR_CODE = "ML000"
SYNTAX_ERROR_NAME = "syntax-error"

_NOQA_RE = re.compile(
    r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?(?![:\w])|#\s*noqa\b",
    re.IGNORECASE,
)
_MLLINT_IGNORE_RE = re.compile(r"#\s*mllint:\s*ignore\[(?P<items>[^\]]*)\]")


@dataclass(frozen=True)
class EnabledRule:
    rule: type[Rule]
    options: Mapping[str, Any]


@dataclass
class LintRequest:
    rules: Sequence[EnabledRule]
    facts: FileFacts
    #: None: report only; "safe" or "unsafe": apply fixes up to that safety
    fix: str | None = None
    #: codes whose fixes may be applied (None = all)
    fixable: frozenset[str] | None = None
    #: compute the edits of every fix for the report (JSON needs them)
    want_edits: bool = True
    #: the file name findings are reported under (default: ``facts.path``)
    display: str | None = None
    #: report files that do not parse as ML000 (the flake8 plugin leaves that to flake8)
    syntax_errors: bool = True
    #: run the rules' ``ast_gate`` pre-scan (off only to test that the gates hide nothing)
    ast_gate: bool = True
    #: honour suppression comments (flake8's --disable-noqa turns this off)
    apply_noqa: bool = True


@dataclass
class _Edit:
    start: int
    end: int
    text: str


@dataclass
class _Finding:
    raw: RawViolation
    start: int
    end: int
    edits: list[_Edit] | None = None
    fix_error: bool = False
    #: edits computed by the engine itself (ML900), not from a rule's Fix
    preset: bool = False


@dataclass
class _PassResult:
    findings: list[_Finding] = field(default_factory=list)
    syntax_error: Violation | None = None


class SourceError(Exception):
    """The source cannot be handled (reported as ML000)."""


def rules_for(
    source: str, facts: FileFacts, rules: Iterable[EnabledRule], ast_gate: bool = True
) -> list[EnabledRule]:
    """The pre-scan: rules that can possibly fire on this source text."""
    return _select_rules(source, facts, rules, ast_gate)[0]


def _select_rules(
    source: str, facts: FileFacts, rules: Iterable[EnabledRule], ast_gate: bool
) -> tuple[list[EnabledRule], Scan | None]:
    """The two pre-scan stages: text (``requires_text``, ``requires_filename``, ``can_match``)
    then, for rules that have one, their ``ast_gate`` on CPython's ``ast`` of the file
    (:mod:`mllint.prescan`). Also returns that scan when there is one: CPython parsed the
    source (a file no rule can match needs no second parse to report syntax errors), and its
    line numbers let the position pass render only the statements with findings."""
    base = facts.path.rsplit("/", 1)[-1]
    out: list[EnabledRule] = []
    gated: list[EnabledRule] = []
    for er in rules:
        r = er.rule
        if r.code == SYNTAX_ERROR_CODE:  # reported by the engine itself; visits nothing
            continue
        if r.requires_filename is not None and base != r.requires_filename:
            continue
        if r.requires_text and not any(t in source for t in r.requires_text):
            continue
        if not r.can_match(source):
            continue
        out.append(er)
        if r.has_ast_gate():
            gated.append(er)
    if not (ast_gate and gated):
        return out, None
    scan = scan_source(source)
    if scan is None:  # libcst may parse what this Python cannot; it reports syntax errors
        return out, None
    rejected = {id(er) for er in gated if not er.rule.ast_gate(scan, facts, er.options)}
    return [er for er in out if id(er) not in rejected], scan


def lint_source(source: str, request: LintRequest) -> FileResult:
    """Check (and with ``request.fix`` fix) one module's source."""
    filename = request.display or request.facts.path
    result = FileResult(filename)
    current = source
    applied: dict[str, int] = {}
    failed_fixes: set[tuple[str, int, str]] = set()
    passes = 0
    while True:
        active, scan = _select_rules(current, request.facts, request.rules, request.ast_gate)
        pr = _lint_pass(
            current,
            request,
            active,
            filename,
            want_edits=request.want_edits or bool(request.fix),
            scan=scan,
        )
        if pr.syntax_error is not None or not request.fix or passes >= MAX_FIX_PASSES:
            break
        candidates = [
            f
            for f in pr.findings
            if f.edits is not None
            and f.raw.fix is not None
            and _allowed(f.raw.fix.safety, request.fix)
            and (request.fixable is None or f.raw.code in request.fixable)
            and (f.raw.code, f.start, f.raw.message) not in failed_fixes
        ]
        if not candidates:
            break
        new_source, used = _apply_fixes(current, candidates, failed_fixes)
        if new_source == current:
            break
        for f in used:
            applied[f.raw.code] = applied.get(f.raw.code, 0) + 1
        current = remove_orphaned_imports(current, new_source)
        passes += 1
    if pr.syntax_error is not None:
        if current != source:  # pragma: no cover - fixes are verified before acceptance
            current = source
        result.violations = [pr.syntax_error]
    elif pr.findings:
        index = LineIndex(current)
        result.violations = [_to_violation(f, index, filename) for f in pr.findings]
        result.violations.sort(key=lambda v: (v.line, v.column, v.code))
    if current != source:
        result.fixed_source = current
        result.changed = True
    result.fixes_applied = applied
    return result


def _allowed(safety: FixSafety, mode: str) -> bool:
    if safety is FixSafety.SAFE:
        return True
    return safety is FixSafety.UNSAFE and mode == "unsafe"


def parse(source: str) -> cst.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cst.parse_module(source)


def syntax_error_violation(source: str, filename: str, exc: Exception) -> Violation:
    line, col, msg = 1, 1, str(exc)
    if isinstance(exc, cst.ParserSyntaxError):
        # CPython's own messages and positions are clearer than the CST parser's
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ast.parse(source)
        except SyntaxError as py_exc:
            exc = py_exc
        except (ValueError, RecursionError, MemoryError):
            pass
        else:
            line, col = exc.raw_line, exc.raw_column + 1
            msg = f"mllint's parser (libcst) cannot parse this file: {exc.message}"
            exc = None  # type: ignore[assignment]
    if isinstance(exc, cst.ParserSyntaxError):  # pragma: no cover - handled above
        line, col = exc.raw_line, exc.raw_column + 1
        msg = exc.message
    elif isinstance(exc, SyntaxError):
        line, col = exc.lineno or 1, (exc.offset or 1)
        msg = exc.msg
    elif isinstance(exc, RecursionError):
        msg = "the file is nested too deeply to analyse"
    msg = " ".join(msg.split())
    index = LineIndex(source)
    return Violation(
        SYNTAX_ERROR_CODE,
        SYNTAX_ERROR_NAME,
        msg if msg.startswith("mllint's parser") else f"SyntaxError: {msg}",
        filename,
        line,
        col,
        line,
        col,
        None,
        index.line_text(line),
    )


def _lint_pass(
    source: str,
    request: LintRequest,
    active: list[EnabledRule],
    filename: str,
    want_edits: bool,
    scan: Scan | None = None,
) -> _PassResult:
    out = _PassResult()
    facts = request.facts
    if not active:
        # Nothing can fire: skip libcst entirely, but still report syntax errors.
        if not request.syntax_errors or scan is not None:
            return out
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ast.parse(source)
        except (SyntaxError, ValueError) as exc:
            out.syntax_error = syntax_error_violation(source, filename, exc)
        except RecursionError as exc:
            out.syntax_error = syntax_error_violation(source, filename, exc)
        return out
    try:
        module = parse(source)
    except (cst.ParserSyntaxError, RecursionError, ValueError) as exc:
        if request.syntax_errors:
            out.syntax_error = syntax_error_violation(source, filename, exc)
        return out
    try:
        raw = run_rules(module, source, facts, active)
    except RecursionError as exc:
        if request.syntax_errors:
            out.syntax_error = syntax_error_violation(source, filename, exc)
        return out
    check_noqa = any(er.rule.code == UNUSED_NOQA_CODE for er in active)
    if not raw and not check_noqa:
        return out
    used: dict[int, set[str]] = {}
    findings: list[_Finding] = []
    if raw:
        # one code-generation pass for the positions of reported nodes and of fix targets
        targets = [r.node for r in raw]
        if want_edits:
            targets.extend(_fix_nodes(module, raw))
        offsets = _offsets(module, source, scan, raw, targets)
        if "\x0c" in source or "\x0b" in source:
            # libcst drops form feeds before a line's first token: its offsets are into
            # module.code, not into the source; map them back (and never fix if we cannot)
            mapped = _remap_offsets(module.code, source, offsets)
            if mapped is None:
                want_edits = False
                mapped = {
                    k: (min(a, len(source)), min(b, len(source))) for k, (a, b) in offsets.items()
                }
            offsets = mapped
        findings = _position_and_suppress(
            offsets, source, raw, used if request.apply_noqa else None, request.apply_noqa
        )
        if want_edits:
            _compute_edits(module, source, findings, offsets)
    if check_noqa:
        index = LineIndex(source)
        for f in _unused_noqa(source, used, request.rules):
            line_text = index.line_text(index.position(f.start)[0])
            if not is_suppressed(line_text, f.raw.code, f.raw.name):
                findings.append(f)
    out.findings = findings
    return out


def _offsets(
    module: cst.Module,
    source: str,
    scan: Scan | None,
    raw: Sequence[RawViolation],
    targets: Sequence[cst.CSTNode],
) -> dict[int, tuple[int, int]]:
    """Offsets of ``targets``: rendering only the module-level statements the rules were in
    when they reported (and module-level fix anchors) when that finds them all, else the
    whole module up to the last target."""
    if scan is not None and "\x0c" not in source and "\x0b" not in source:
        body = {id(stmt) for stmt in module.body}
        statements: dict[int, cst.CSTNode] = {}
        unplaced: set[int] = set()
        reported: set[int] = set()
        for r in raw:
            if r.hint is not None:
                statements[id(r.hint)] = r.hint
                reported.add(id(r.node))
        for node in targets:
            if id(node) in body:
                statements[id(node)] = node
            elif id(node) not in reported:
                # reported after the walk (from ``finish``), or a fix's other node
                unplaced.add(id(node))
        whole = id(module) in unplaced  # a fix rewriting the module spans all of it
        unplaced.discard(id(module))
        if unplaced:
            statements.update(_statements_holding(module, unplaced, list(statements.values())))
        inner = [n for n in targets if n is not module] if whole else targets
        found = statement_offsets(module, source, scan.tree, inner, statements.values())
        if found is not None:
            if whole:  # libcst round-trips the source exactly (no form feeds here)
                found[id(module)] = (0, len(source))
            return found
    return node_offsets(module, targets)


_ALL_FIELDS: dict[type, tuple[str, ...]] = {}


def _all_fields(t: type) -> tuple[str, ...]:
    """Every field of a node class, whitespace and punctuation included (a fix may replace
    an operator or a comma)."""
    names = _ALL_FIELDS.get(t)
    if names is None:
        names = _ALL_FIELDS[t] = tuple(f.name for f in dataclasses.fields(t))
    return names


def _statements_holding(
    module: cst.Module, ids: set[int], likely: Sequence[cst.CSTNode]
) -> dict[int, cst.CSTNode]:
    """The module-level statements whose subtrees hold the nodes with these ids (a read-only
    search, several times cheaper than rendering the code, through the ``likely`` statements
    first; it stops once all are found)."""
    out: dict[int, cst.CSTNode] = {}
    left = set(ids)
    node_types = _NODE_TYPES
    seen = {id(s) for s in likely}
    for stmt in [*likely, *(s for s in module.body if id(s) not in seen)]:
        stack: list[Any] = [stmt]
        hit = False
        while stack:
            node = stack.pop()
            if id(node) in left:
                left.discard(id(node))
                hit = True
                if not left:
                    break
            for name in _all_fields(type(node)):
                value = getattr(node, name)
                if type(value) in node_types:
                    stack.append(value)
                elif type(value) is tuple or type(value) is list:
                    stack.extend(v for v in value if isinstance(v, _CSTNode))
                elif isinstance(value, _CSTNode):
                    stack.append(value)
        if hit:
            out[id(stmt)] = stmt
        if not left:
            break
    return out


def run_rules(
    module: cst.Module, source: str, facts: FileFacts, active: Sequence[EnabledRule]
) -> list[RawViolation]:
    model = build_model(module, facts.package, source)
    ctx = FileContext(module, source, model, facts)
    instances = [er.rule(ctx, er.options) for er in active]
    visit: dict[str, list[Callable[[Any], Any]]] = {}
    leave: dict[str, list[Callable[[Any], Any]]] = {}
    for inst in instances:
        for meth in type(inst).handled_methods():
            kind, _, typename = meth.partition("_")
            table = visit if kind == "visit" else leave
            table.setdefault(typename, []).append(getattr(inst, meth))
    visit_t = {getattr(cst, k): v for k, v in visit.items() if hasattr(cst, k)}
    leave_t = {getattr(cst, k): v for k, v in leave.items() if hasattr(cst, k)}
    _walk(module, ctx, visit_t, leave_t)
    raw: list[RawViolation] = []
    for inst in instances:
        inst.finish()
        raw.extend(inst.violations)
    return raw


_CSTNode = cst.CSTNode
_SCOPE_PARENTS = frozenset({cst.FunctionDef, cst.ClassDef, cst.Lambda})
# (an MRO lookup, not issubclass: CSTNode is an ABC, and ABC subclass checks over libcst's
# ~250 names cost ~9 ms of every run's start-up)
_NODE_TYPES = frozenset(
    c for c in vars(cst).values() if isinstance(c, type) and _CSTNode in c.__mro__
)
_LEAF_TYPES = frozenset({str, type(None), bool, int, type(cst.MaybeSentinel.DEFAULT)})
_COMPREHENSION_TYPES = frozenset({cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp})


def _walk(
    root: cst.CSTNode,
    ctx: FileContext,
    visit: Mapping[type, list[Callable[[Any], Any]]],
    leave: Mapping[type, list[Callable[[Any], Any]]],
) -> None:
    stack = ctx.stack
    push_depths = ctx._scope_push_depth
    enter_scope = ctx.enter_scope
    leave_scope = ctx.leave_scope
    scope_parents = _SCOPE_PARENTS
    comprehensions = _COMPREHENSION_TYPES
    node_types = _NODE_TYPES
    leaf_types = _LEAF_TYPES
    limit = sys.getrecursionlimit()
    if limit < 20000:
        sys.setrecursionlimit(20000)

    # ctx.enter/ctx.leave inlined: this loop runs once per node of every parsed file
    def walk(node: cst.CSTNode, parent_type: type) -> None:
        t = type(node)
        stack.append(node)
        if parent_type in scope_parents or t in comprehensions:
            enter_scope(node)
        fs = visit.get(t)
        if fs is not None:
            for f in fs:
                f(node)
        for name in _fields_of(t):
            value = getattr(node, name)
            tv = type(value)
            # exact-type set lookups: libcst's node classes are ABCs, so isinstance is slow
            if tv in node_types:
                walk(value, t)
            elif tv is tuple or tv is list:
                for item in value:
                    ti = type(item)
                    if ti in node_types or (ti not in leaf_types and isinstance(item, _CSTNode)):
                        walk(item, t)
            elif tv not in leaf_types and isinstance(value, _CSTNode):
                walk(value, t)
        fs = leave.get(t)
        if fs is not None:
            for f in fs:
                f(node)
        if push_depths and push_depths[-1] == len(stack):
            leave_scope()
        stack.pop()

    walk(root, type(None))


# -- positions and suppressions ------------------------------------------------------------


def _position_and_suppress(
    offsets: Mapping[int, tuple[int, int]],
    source: str,
    raw: list[RawViolation],
    used: dict[int, set[str]] | None = None,
    apply_noqa: bool = True,
) -> list[_Finding]:
    index = LineIndex(source)
    seen: set[tuple[str, int, int]] = set()
    findings: list[_Finding] = []
    for r in raw:
        rng = offsets.get(id(r.node))
        if rng is None:  # pragma: no cover - a rule reported a node not in this module
            continue
        start, end = trim_range(source, *rng)
        key = (r.code, start, end)
        if key in seen:
            continue  # one finding per rule per node
        seen.add(key)
        line, _ = index.position(start)
        matched = suppressing_items(index.line_text(line), r.code, r.name) if apply_noqa else None
        if matched is not None:
            if used is not None:
                used.setdefault(line, set()).update(matched)
            continue
        findings.append(_Finding(r, start, end))
    return findings


def parse_noqa(line: str) -> tuple[bool, set[str]] | None:
    """None: no suppression; (True, _): blanket ``# noqa``; (False, items): codes/names."""
    items: set[str] = set()
    blanket = False
    found = False
    if "noqa" in line.lower():
        for m in _NOQA_RE.finditer(line):
            found = True
            codes = m.group("codes") if m.lastindex else None
            if codes:
                items.update(c.upper() for c in re.split(r"[,\s]+", codes) if c)
            else:
                blanket = True
    if "mllint" in line:
        for m in _MLLINT_IGNORE_RE.finditer(line):
            found = True
            items.update(x.strip() for x in m.group("items").split(",") if x.strip())
    if not found:
        return None
    return blanket, items


def _item_matches(item: str, code: str, name: str) -> bool:
    up = item.upper()
    return item == name or up == code or (up.startswith("ML") and code.startswith(up))


def suppressing_items(line: str, code: str, name: str) -> set[str] | None:
    """The noqa items on ``line`` that suppress ``code`` (``{"*"}`` for a blanket noqa), or
    None when the finding is not suppressed."""
    parsed = parse_noqa(line)
    if parsed is None:
        return None
    blanket, items = parsed
    if blanket:
        return {"*"}
    matched = {item for item in items if _item_matches(item, code, name)}
    return matched or None


def is_suppressed(line: str, code: str, name: str) -> bool:
    return suppressing_items(line, code, name) is not None


UNUSED_NOQA_CODE = "ML900"


def _unused_noqa(
    source: str,
    used: dict[int, set[str]],
    enabled: Sequence[EnabledRule],
) -> list[_Finding]:
    """ML900: ``# noqa: ML…`` / ``# mllint: ignore[…]`` items that suppressed nothing."""
    import io
    import tokenize

    from mllint.catalog import catalog

    enabled_codes = {er.rule.code for er in enabled}
    known = catalog()  # every rule's code and name, project rules included, without imports
    names = {r.name: c for c, r in known.items()}
    unused_rule = known.get(UNUSED_NOQA_CODE)
    out: list[_Finding] = []
    index = LineIndex(source)
    try:
        tokens = [
            t
            for t in tokenize.generate_tokens(io.StringIO(source).readline)
            if t.type == tokenize.COMMENT
        ]
    except (tokenize.TokenError, SyntaxError, IndentationError):  # pragma: no cover
        return out

    def judged(item: str) -> bool:
        """Is this item about a rule of this run (or an ML code that does not exist)?"""
        if item in names:
            return names[item] in enabled_codes
        up = item.upper()
        if not up.startswith("ML"):
            return False
        matching = [c for c in known if c.startswith(up)]
        if not matching:
            return True  # unknown ML code
        return any(c in enabled_codes for c in matching)

    for tok in tokens:
        text = tok.string
        line = tok.start[0]
        line_used = used.get(line, set())
        comment_start = index.offset(line, tok.start[1] + 1)
        for regex, kind in ((_NOQA_RE, "noqa"), (_MLLINT_IGNORE_RE, "ignore")):
            for m in regex.finditer(text):
                if kind == "noqa":
                    codes = m.group("codes") if m.lastindex else None
                    if not codes:
                        continue  # a blanket noqa is not ours to judge
                    items = [c for c in re.split(r"[,\s]+", codes) if c]
                else:
                    items = [x.strip() for x in m.group("items").split(",") if x.strip()]
                unused = [
                    it
                    for it in items
                    if judged(it) and it.upper() not in line_used and it not in line_used
                ]
                if not unused:
                    continue
                unused_set = set(unused)
                keep = [it for it in items if it not in unused_set]
                if keep:
                    new = (
                        f"# noqa: {', '.join(keep)}"
                        if kind == "noqa"
                        else f"# mllint: ignore[{', '.join(keep)}]"
                    )
                    start, end = comment_start + m.start(), comment_start + m.end()
                else:
                    new = ""
                    start, end = comment_start + m.start(), comment_start + m.end()
                    # remove the whitespace before a comment that becomes empty
                    rest = text[: m.start()].strip() + text[m.end() :].strip()
                    if not rest:
                        while start > 0 and source[start - 1] in " \t":
                            start -= 1
                        end = comment_start + len(text)
                    else:
                        while end < comment_start + len(text) and source[end] in " \t":
                            end += 1
                label = ", ".join(unused)
                raw = RawViolation(
                    UNUSED_NOQA_CODE,
                    unused_rule.name if unused_rule else "unused-noqa",
                    cst.Module([]),
                    f"Unused suppression (unused: {label})",
                    Fix(FixSafety.SAFE),
                )
                f = _Finding(raw, comment_start + m.start(), comment_start + m.end())
                f.edits = [_Edit(start, end, new)]
                f.preset = True
                out.append(f)
    return out


# -- fixes -----------------------------------------------------------------------------------


def _remap_offsets(
    code: str, source: str, offsets: Mapping[int, tuple[int, int]]
) -> dict[int, tuple[int, int]] | None:
    """Map offsets into ``code`` to offsets into ``source``, when ``code`` is ``source`` with
    some form feeds / vertical tabs removed; None otherwise."""
    if code == source:
        return dict(offsets)
    mapping = [0] * (len(code) + 1)
    j = 0
    for i, ch in enumerate(code):
        while j < len(source) and source[j] != ch:
            if source[j] not in "\x0c\x0b":
                return None
            j += 1
        if j >= len(source):
            return None
        mapping[i] = j
        j += 1
    if any(c not in "\x0c\x0b" for c in source[j:]):
        return None
    mapping[len(code)] = len(source)
    return {
        k: (mapping[min(a, len(code))], mapping[min(b, len(code))]) for k, (a, b) in offsets.items()
    }


def _fix_nodes(module: cst.Module, raw: Sequence[RawViolation]) -> list[cst.CSTNode]:
    """The nodes whose positions the fixes of ``raw`` need."""
    nodes: list[cst.CSTNode] = []
    for r in raw:
        fix = r.fix
        if fix is None:
            continue
        nodes.extend(old for old, _ in fix.replacements)
        nodes.extend(p.anchor for p in fix.imports if p.anchor is not None)
        if any(p.before_first and p.statement for p in fix.imports) and module.body:
            nodes.append(module.body[0])
    return nodes


def _compute_edits(
    module: cst.Module,
    source: str,
    findings: list[_Finding],
    offsets: Mapping[int, tuple[int, int]],
) -> None:
    """Turn each finding's Fix into text edits (skipping fixes that cannot be expressed)."""
    newline = module.default_newline
    for f in findings:
        fix = f.raw.fix
        if fix is None or f.preset:
            continue
        try:
            f.edits = _fix_edits(module, source, fix, offsets, newline)
            if f.edits is None:
                f.fix_error = True
        except Exception:
            f.edits = None
            f.fix_error = True


def _fix_edits(
    module: cst.Module,
    source: str,
    fix: Fix,
    offsets: Mapping[int, tuple[int, int]],
    newline: str,
) -> list[_Edit] | None:
    edits: list[_Edit] = []
    for old, new in fix.replacements:
        rng = offsets.get(id(old))
        if rng is None:
            return None
        start, end = rng
        if isinstance(new, str):
            text = new if "\r" in new or newline == "\n" else new.replace("\n", newline)
        else:
            text = module.code_for_node(new)
        if end > len(source):
            # the file has no final newline: the code generator's last newline is not in it
            end = len(source)
            if text.endswith(newline):
                text = text[: -len(newline)]
        old_text = source[start:end]
        if newline == "\r\n" and "\n" in old_text and "\r\n" not in old_text:
            # a mixed-newline file: the replaced lines used LF, so the new ones do too
            text = text.replace("\r\n", "\n")
        elif newline == "\n" and "\r\n" in old_text and re.search(r"(?<!\r)\n", old_text) is None:
            text = re.sub(r"(?<!\r)\n", "\r\n", text)
        if "#" in old_text:
            new_comments = comments_in(text)
            if any(c not in new_comments for c in comments_in(old_text)):
                return None  # a fix never deletes a comment: leave it to the user
        # minimise the edit: drop the common prefix and suffix
        p = 0
        limit = min(len(old_text), len(text))
        while p < limit and old_text[p] == text[p]:
            p += 1
        s = 0
        while s < limit - p and old_text[len(old_text) - 1 - s] == text[len(text) - 1 - s]:
            s += 1
        edits.append(_Edit(start + p, end - s, text[p : len(text) - s]))
    for plan in fix.imports:
        e = _import_edit(module, source, plan, offsets, newline)
        if e is not None:
            edits.append(e)
    return edits


def _import_edit(
    module: cst.Module,
    source: str,
    plan: ImportPlan,
    offsets: Mapping[int, tuple[int, int]],
    newline: str,
) -> _Edit | None:
    if plan.statement is None:
        return None
    if plan.anchor is not None and plan.before:
        rng = offsets.get(id(plan.anchor))
        if rng is None:
            raise ValueError("import anchor not found")
        code_start = trim_range(source, *rng)[0]
        if code_start == rng[0]:
            # no blank line or comment above the first third-party import: start a group
            return _Edit(rng[0], rng[0], plan.statement + newline + newline)
        return _Edit(rng[0], rng[0], plan.statement + newline)
    if plan.anchor is not None:
        rng = offsets.get(id(plan.anchor))
        if rng is None:
            raise ValueError("import anchor not found")
        at = min(rng[1], len(source))
        # the anchor's code ends with its newline; a file ending without one needs one first
        prefix = "" if source[:at].endswith(("\n", "\r")) else newline
        return _Edit(at, at, prefix + plan.statement + newline)
    if not module.body:
        return _Edit(0, 0, plan.statement + newline)
    rng = offsets.get(id(module.body[0]))
    if rng is None:
        raise ValueError("import anchor not found")
    at = trim_range(source, *rng)[0]
    # keep the first statement's own leading comments below the new import
    return _Edit(at, at, plan.statement + newline + newline)


def _apply_fixes(
    source: str, candidates: list[_Finding], failed: set[tuple[str, int, str]]
) -> tuple[str, list[_Finding]]:
    """Apply every non-overlapping fix; fixes that overlap an accepted one wait for the next
    pass. A combination that does not parse is retried fix by fix."""
    accepted: list[_Finding] = []
    taken: list[tuple[int, int]] = []
    inserts: set[tuple[int, str]] = set()
    for f in sorted(candidates, key=lambda f: (f.start, f.raw.code)):
        edits = f.edits or []
        if not edits:
            continue
        ok = True
        for e in edits:
            if e.start == e.end and (e.start, e.text) in inserts:
                continue  # the same import added by another fix in this pass
            for s, t in taken:
                if e.start < t and s < e.end:
                    ok = False
                if e.start == e.end and s < e.start < t:
                    ok = False
                if s == t and e.start < s < e.end:
                    ok = False
        if not ok:
            continue
        accepted.append(f)
        for e in edits:
            if e.start == e.end:
                inserts.add((e.start, e.text))
            else:
                taken.append((e.start, e.end))
    if not accepted:
        return source, []
    new = _apply_edits(source, accepted)
    if _parses(new):
        return new, accepted
    # find the culprits one by one
    good: list[_Finding] = []
    for f in accepted:
        trial = _apply_edits(source, [*good, f])
        if _parses(trial):
            good.append(f)
        else:
            failed.add((f.raw.code, f.start, f.raw.message))
    if not good:
        return source, []
    return _apply_edits(source, good), good


def _apply_edits(source: str, findings: Sequence[_Finding]) -> str:
    edits: dict[tuple[int, int, str], _Edit] = {}
    for f in findings:
        for e in f.edits or []:
            edits[(e.start, e.end, e.text)] = e
    ordered = sorted(edits.values(), key=lambda e: (e.start, e.end, e.text))
    out: list[str] = []
    pos = 0
    for e in ordered:
        if e.start < pos:  # pragma: no cover - overlap was excluded
            continue
        out.append(source[pos : e.start])
        out.append(e.text)
        pos = e.end
    out.append(source[pos:])
    return "".join(out)


_WORD_CACHE: dict[str, re.Pattern[str]] = {}


def _word(name: str) -> re.Pattern[str]:
    pat = _WORD_CACHE.get(name)
    if pat is None:
        pat = _WORD_CACHE[name] = re.compile(rf"(?<![\w.]){re.escape(name)}\b")
    return pat


_PY_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def _py_lines(source: str, keepends: bool = False) -> list[str]:
    """Lines as Python (and ast's line numbers) count them: only \\n, \\r\\n and \\r end a
    line (str.splitlines also breaks at form feeds and other separators)."""
    lines = _PY_LINE_RE.findall(source)
    return lines if keepends else [ln.rstrip("\r\n") for ln in lines]


def _import_spans(tree: ast.Module) -> list[tuple[ast.Import | ast.ImportFrom, int, int]]:
    out: list[tuple[ast.Import | ast.ImportFrom, int, int]] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append((node, node.lineno, node.end_lineno or node.lineno))
    return out


def _uses_outside_imports(source: str, name: str, spans: list[tuple[int, int]]) -> int:
    """How often ``name`` occurs as a word outside the module's import statements (comments,
    strings and ``__all__`` included: anything that might still need the import counts)."""
    count = 0
    for lineno, line in enumerate(_py_lines(source), start=1):
        if any(a <= lineno <= b for a, b in spans):
            continue
        count += len(_word(name).findall(line))
    return count


def remove_orphaned_imports(before: str, after: str) -> str:
    """Remove module-level imports that fixes left unused (RULES.md §0.2 item 2).

    An imported name is orphaned when it occurred outside import statements before the fixes
    and no longer occurs at all after them (comments, strings and ``__all__`` count as uses,
    so the removal is conservative). Statements carrying a comment are left alone."""
    if before == after:
        return after
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree_after = ast.parse(after)
            tree_before = ast.parse(before)
    except (SyntaxError, ValueError, RecursionError):
        return after
    spans_after = _import_spans(tree_after)
    if not spans_after:
        return after
    before_spans = [(a, b) for _, a, b in _import_spans(tree_before)]
    after_spans = [(a, b) for _, a, b in spans_after]
    lines = _py_lines(after, keepends=True)
    replacements: dict[int, tuple[int, str]] = {}
    for node, start, end in spans_after:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if any("#" in lines[i - 1] for i in range(start, end + 1)):
            continue
        keep: list[ast.alias] = []
        dropped = False
        for alias in node.names:
            local = alias.asname or alias.name.split(".", 1)[0]
            if alias.name == "*":
                keep.append(alias)
                continue
            if (
                _uses_outside_imports(before, local, before_spans) > 0
                and _uses_outside_imports(after, local, after_spans) == 0
            ):
                dropped = True
            else:
                keep.append(alias)
        if not dropped:
            continue
        first = lines[start - 1]
        indent = first[: len(first) - len(first.lstrip())]
        newline = "\r\n" if first.endswith("\r\n") else "\n" if first.endswith("\n") else ""
        if keep:
            clone: ast.Import | ast.ImportFrom
            if isinstance(node, ast.Import):
                clone = ast.Import(names=keep)
            else:
                clone = ast.ImportFrom(module=node.module, names=keep, level=node.level)
            text = indent + ast.unparse(clone) + (newline or "")
            if end != start and not newline:
                continue  # pragma: no cover
        else:
            text = ""
        replacements[start] = (end, text)
    if not replacements:
        return after
    out: list[str] = []
    i = 1
    while i <= len(lines):
        if i in replacements:
            end, text = replacements[i]
            out.append(text)
            i = end + 1
            prev_blank = not out[:-1] or not "".join(out[:-1]).strip() or out[-2].strip() == ""
            if not text and prev_blank and i <= len(lines) and not lines[i - 1].strip():
                i += 1  # do not leave a blank line where the statement stood between blanks
        else:
            out.append(lines[i - 1])
            i += 1
    result = "".join(out)
    return result if _parses(result) else after


def _parses(source: str) -> bool:
    """The fixed source parses with libcst and compiles with CPython (``compile`` also checks
    what ``ast.parse`` lets through, e.g. a ``from __future__`` import that is no longer first)."""
    try:
        parse(source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "<mllint-fix>", "exec", dont_inherit=True)
    except Exception:
        return False
    return True


def _to_violation(f: _Finding, index: LineIndex, filename: str) -> Violation:
    line, col = index.position(f.start)
    end_line, end_col = index.position(f.end)
    fix_info = None
    if f.raw.fix is not None and f.edits is None and not f.fix_error and not f.preset:
        # edits were not asked for (text output): the fix exists, its edits are not listed
        fix_info = FixInfo(f.raw.fix.safety.value, ())
    if f.raw.fix is not None and f.edits:
        fix_info = FixInfo(
            f.raw.fix.safety.value,
            tuple(
                TextEdit(e.text, *index.position(e.start), *index.position(e.end)) for e in f.edits
            ),
        )
    return Violation(
        f.raw.code,
        f.raw.name,
        f.raw.message,
        filename,
        line,
        col,
        end_line,
        end_col,
        fix_info,
        index.line_text(line),
    )
