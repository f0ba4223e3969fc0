#!/usr/bin/env python3
"""Run ``mllint check --fix --unsafe-fixes`` over a whole corpus of real code and verify the
result file by file.

    python tests/corpus/fix_corpus.py                          # the default wheels from PyPI
    python tests/corpus/fix_corpus.py --packages scikit-learn,transformers
    python tests/corpus/fix_corpus.py --local path/to/tree     # an existing folder (no network)

Steps:

1. The corpus: each package's wheel is downloaded once with
   ``pip download --no-deps --only-binary=:all: PKG -d CACHE/wheels`` (skipped when the cache
   already holds a wheel of that name) and its ``.py``/``.pyi`` files are unpacked once into
   ``CACHE/src/<wheel name>/``. ``--local DIR`` uses DIR instead. The originals are never
   touched: everything runs on a copy in a temporary folder (``shutil.copytree``, which keeps
   modification times).
2. ``mllint check --output-format json`` on the copy, before fixing: the findings and their
   sites. It runs on the copy rather than on the original folder so that configuration
   discovery (``pyproject.toml`` above the tree) and file names are exactly those of the fix
   run.
3. ``mllint check --fix --unsafe-fixes --no-cache --exit-zero --output-format json`` on the
   copy (the real CLI, in a subprocess, with its default process pool).
4. A second identical ``--fix`` run: it must change no byte (idempotence).

Then every ``.py``/``.pyi`` file is verified:

* **broken** (must be 0): a changed file that parsed originally must still ``ast.parse`` and,
  if the original compiled with ``compile()``, compile too (``compile`` also catches what
  ``ast.parse`` accepts but the compiler rejects, such as a misplaced ``from __future__``
  import or ``return`` outside a function). A file that did not parse originally must not
  change at all.
* **non-idempotent** (must be 0): the second ``--fix`` run changed the file's bytes.
* **unchanged files rewritten** (must be 0): a file whose bytes did not change has a new
  modification time (mllint must not rewrite files it did not fix).
* **crashes** (must be 0): an mllint exit code other than 0/1 (``--exit-zero`` is passed, so
  1 only means "a file could not be checked"), ``Traceback`` in its output, ``mllint: error:``
  on standard error, or a per-file "internal error while checking".
* **changed outside finding sites** (reported, not a failure: some rules, such as ML701,
  deliberately edit several places of a module). The original and fixed texts are diffed
  line by line (``difflib.SequenceMatcher``, no autojunk); every changed hunk must be
  explained by a finding of the pre-fix report (see :func:`outside_hunks` for the exact
  tolerance):

  - lines that are *replaced or deleted* must lie on a finding's lines
    (``line..end_line``) or on its enclosing statement: the whole statement for a simple
    statement, the header for a compound one (first decorator through the last line with
    code before the first body statement, e.g. a ``def``'s signature or an ``if``'s
    condition);
  - lines that are *inserted* are accepted (a) right before or right after any statement
    enclosing a finding (innermost to outermost; blank and comment-only lines between the
    insertion point and the statement are skipped), (b) at the top of the body of any
    compound statement enclosing a finding (after its docstring), or (c) anywhere above the
    first module-level statement that follows the leading docstring/import block, when
    the inserted lines are only imports (or ``if TYPE_CHECKING:`` blocks of imports);
  - a hunk that only removes import statements is accepted when the fixed module no longer
    uses any name they bound (the engine removes imports that fixes left unused);
  - a hunk of blank lines only is accepted within one line of an accepted hunk or site.

It prints the counts and exits 1 when any must-be-0 count is not 0.
"""

from __future__ import annotations

import argparse
import ast
import codecs
import difflib
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PACKAGES = ("scikit-learn", "transformers", "keras", "lightgbm", "xgboost")
SUFFIXES = (".py", ".pyi")
#: how many example problems of each kind are printed
SHOW = 10


# -- the corpus ------------------------------------------------------------------------------


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def find_wheel(package: str, wheels: Path) -> Path | None:
    want = _norm(package)
    found = sorted(
        (p for p in wheels.glob("*.whl") if _norm(p.name.split("-", 1)[0]) == want),
        key=lambda p: p.stat().st_mtime,
    )
    return found[-1] if found else None


def download_wheel(package: str, wheels: Path) -> Path:
    wheel = find_wheel(package, wheels)
    if wheel is not None:
        return wheel
    wheels.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
        "--only-binary=:all:", package, "-d", str(wheels),
    ]  # fmt: skip
    print(f"$ {shlex.join(cmd)}", flush=True)
    subprocess.run(cmd, check=True)
    wheel = find_wheel(package, wheels)
    if wheel is None:
        raise SystemExit(f"fix_corpus: pip downloaded no wheel for {package!r}")
    return wheel


def unpack_wheel(wheel: Path, src_root: Path) -> Path:
    """The wheel's .py/.pyi files under ``src_root/<wheel stem>`` (unpacked once)."""
    target = src_root / wheel.name.removesuffix(".whl")
    if (target / ".complete").exists():
        return target
    src_root.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".unpack-", dir=src_root))
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            name = info.filename
            if info.is_dir() or not name.endswith(SUFFIXES):
                continue
            parts = Path(name).parts
            if name.startswith("/") or ".." in parts:
                continue
            dest = partial.joinpath(*parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(zf.read(info))
    (partial / ".complete").write_text(wheel.name + "\n")
    if target.exists():
        shutil.rmtree(target)
    os.replace(partial, target)
    return target


def prepare_packages(packages: Sequence[str], cache: Path) -> list[tuple[str, Path]]:
    out = []
    for pkg in packages:
        wheel = download_wheel(pkg, cache / "wheels")
        dist, version = wheel.name.split("-")[:2]
        out.append((f"{dist}-{version}", unpack_wheel(wheel, cache / "src")))
    return out


# -- files -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stamp:
    digest: str
    mtime_ns: int


def python_files(root: Path) -> list[str]:
    """Relative posix paths of the regular .py/.pyi files below ``root`` (no symlinks)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if not name.endswith(SUFFIXES):
                continue
            p = os.path.join(dirpath, name)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            out.append(Path(os.path.relpath(p, root)).as_posix())
    return out


def snapshot(root: Path, files: Iterable[str]) -> dict[str, Stamp]:
    out = {}
    for rel in files:
        p = root / rel
        try:
            data = p.read_bytes()
            mtime = os.stat(p).st_mtime_ns
        except OSError:
            out[rel] = Stamp("<missing>", 0)
            continue
        out[rel] = Stamp(hashlib.sha256(data).hexdigest(), mtime)
    return out


def decode(data: bytes) -> str | None:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        if data.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        return data.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError):
        return None


_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def split_lines(text: str) -> list[str]:
    """Lines as Python (and mllint) count them: only \\n, \\r\\n and \\r end a line."""
    return _LINE_RE.findall(text)


def parses(data: bytes) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def compiles(data: bytes, filename: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(data, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


# -- finding sites ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    code: str
    line: int
    column: int  # 1-based, characters
    end_line: int
    end_column: int  # 1-based, exclusive


@dataclass
class Allowed:
    """Where a fix may change the original text (1-based original line numbers)."""

    lines: set[int] = field(default_factory=set)  # lines that may be replaced or deleted
    positions: set[int] = field(default_factory=set)  # insert before this line (n+1: at end)
    import_limit: int = 1  # imports may be inserted at any position <= this


_BODY_FIELDS = ("body", "orelse", "finalbody")


def _child_statements(node: ast.stmt) -> list[list[ast.stmt]]:
    blocks: list[list[ast.stmt]] = []
    for name in _BODY_FIELDS:
        value = getattr(node, name, None)
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            blocks.append(value)
    for handler in getattr(node, "handlers", None) or []:
        blocks.append(handler.body)
    for case in getattr(node, "cases", None) or []:
        blocks.append(case.body)
    return blocks


def _is_compound(node: ast.stmt) -> bool:
    return bool(_child_statements(node))


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


class _Lines:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.encoded = [line.encode("utf-8", "surrogatepass") for line in lines]

    def char_col(self, lineno: int, byte_col: int) -> int:
        """ast's UTF-8 byte column -> 0-based character column."""
        if not 1 <= lineno <= len(self.encoded):
            return byte_col
        return len(self.encoded[lineno - 1][:byte_col].decode("utf-8", "ignore"))

    def is_filler(self, lineno: int) -> bool:
        """A blank or comment-only line (or a line outside the file)."""
        if not 1 <= lineno <= len(self.lines):
            return True
        stripped = self.lines[lineno - 1].strip()
        return not stripped or stripped.startswith("#")


def _start(node: ast.stmt) -> tuple[int, int]:
    decorators = getattr(node, "decorator_list", None) or []
    if decorators:
        first = min(decorators, key=lambda d: (d.lineno, d.col_offset))
        return first.lineno, max(0, first.col_offset - 1)
    return node.lineno, node.col_offset


def _header_end(node: ast.stmt, text: _Lines) -> int:
    """The last line of a compound statement's header: the last line with code before its
    first body statement (a signature's ``):`` line; not the comments above the body)."""
    body = _child_statements(node)[0]
    end = body[0].lineno - 1
    while end > node.lineno and text.is_filler(end):
        end -= 1
    return max(node.lineno, end)


def _body_top(node: ast.stmt) -> int:
    """The line a statement inserted at the top of the first body (after a docstring) starts."""
    body = _child_statements(node)[0]
    first = body[0]
    if _is_docstring(first):
        if len(body) > 1:
            return _start(body[1])[0]
        return (first.end_lineno or first.lineno) + 1
    return _start(first)[0]


def enclosing_chain(tree: ast.Module, site: Site, text: _Lines) -> list[ast.stmt]:
    """The statements containing the site, outermost first."""
    chain: list[ast.stmt] = []
    begin = (site.line, site.column - 1)
    end = (site.end_line, max(site.column - 1, site.end_column - 1))
    block: list[ast.stmt] = tree.body
    while True:
        inner = None
        for stmt in block:
            s_line, s_col = _start(stmt)
            e_line = stmt.end_lineno or stmt.lineno
            e_col = stmt.end_col_offset if stmt.end_col_offset is not None else 10**9
            lo = (s_line, text.char_col(s_line, s_col))
            hi = (e_line, text.char_col(e_line, e_col))
            if lo <= begin and end <= hi:
                inner = stmt
                break
        if inner is None:
            return chain
        chain.append(inner)
        block = [s for b in _child_statements(inner) for s in b]


def _leading_block_limit(tree: ast.Module, n_lines: int) -> int:
    """Imports may be inserted at any line <= this: the start of the first module-level
    statement after the docstring / imports / ``if TYPE_CHECKING`` / import-``try`` block."""
    for i, stmt in enumerate(tree.body):
        if i == 0 and _is_docstring(stmt):
            continue
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
            continue
        if isinstance(stmt, ast.Try) and all(
            isinstance(s, (ast.Import, ast.ImportFrom, ast.Pass, ast.Assign))
            for block in _child_statements(stmt)
            for s in block
        ):
            continue
        return _start(stmt)[0]
    return n_lines + 1


def allowed_regions(tree: ast.Module, lines: list[str], sites: Sequence[Site]) -> Allowed:
    text = _Lines(lines)
    out = Allowed(import_limit=_leading_block_limit(tree, len(lines)))
    for site in sites:
        out.lines.update(range(site.line, site.end_line + 1))
        # an insertion may go at the site itself (a fix's reported insertion edit), also
        # after the blank or comment lines that follow it
        out.positions.update(range(site.line, site.end_line + 2))
        p = site.end_line + 1
        while p <= len(lines) and text.is_filler(p):
            p += 1
            out.positions.add(p)
        chain = enclosing_chain(tree, site, text)
        if chain:
            inner = chain[-1]
            first = _start(inner)[0]
            last = (
                _header_end(inner, text)
                if _is_compound(inner)
                else (inner.end_lineno or inner.lineno)
            )
            out.lines.update(range(first, last + 1))
        for stmt in chain:
            first = _start(stmt)[0]
            last = stmt.end_lineno or stmt.lineno
            # right before (skipping blank and comment lines above it)
            p = first
            out.positions.add(p)
            while p > 1 and text.is_filler(p - 1):
                p -= 1
                out.positions.add(p)
            # right after (skipping blank and comment lines below it)
            p = last + 1
            out.positions.add(p)
            while p <= len(lines) and text.is_filler(p):
                p += 1
                out.positions.add(p)
            if _is_compound(stmt):
                out.positions.update(range(_header_end(stmt, text) + 1, _body_top(stmt) + 1))
    return out


def _only_imports(inserted: Sequence[str]) -> bool:
    import textwrap

    code = textwrap.dedent("".join(inserted))
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return False

    def ok(stmts: Sequence[ast.stmt]) -> bool:
        for s in stmts:
            if isinstance(s, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(s, ast.If) and "TYPE_CHECKING" in ast.unparse(s.test) and ok(s.body):
                continue
            return False
        return True

    return bool(tree.body) and ok(tree.body)


def _bound_names(lines: Sequence[str]) -> set[str] | None:
    """The names bound by ``lines`` when they are only import statements, else None."""
    import textwrap

    code = textwrap.dedent("".join(lines))
    if not code.strip():
        return set()
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    names: set[str] = set()
    for stmt in tree.body:
        if not isinstance(stmt, (ast.Import, ast.ImportFrom)):
            return None
        for alias in stmt.names:
            names.add(alias.asname or alias.name.split(".", 1)[0])
    return names


def _orphan_removal(
    removed_lines: Sequence[str], added_lines: Sequence[str], fixed_text: str
) -> bool:
    """Are ``removed_lines`` only imports whose names the fixed module no longer uses (and
    no comment: the engine leaves import statements that carry one alone)? ``added_lines``:
    what replaced them, when that is imports too (a shorter import of the same statement)."""
    if any("#" in line for line in (*removed_lines, *added_lines)):
        return False
    removed, added = _bound_names(removed_lines), _bound_names(added_lines)
    if not removed:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(fixed_text)
    except (SyntaxError, ValueError, RecursionError):
        return False
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return not ((removed - (added or set())) & used)


@dataclass(frozen=True)
class Hunk:
    tag: str
    orig_start: int  # 1-based
    orig_end: int  # 1-based, exclusive
    removed: tuple[str, ...]
    added: tuple[str, ...]

    def describe(self) -> str:
        where = (
            f"line {self.orig_start}"
            if self.orig_end - self.orig_start <= 1
            else (f"lines {self.orig_start}-{self.orig_end - 1}")
        )
        body = [f"-{x.rstrip()}" for x in self.removed[:4]] + [
            f"+{x.rstrip()}" for x in self.added[:6]
        ]
        return f"{self.tag} at {where}: " + " | ".join(body)


def diff_hunks(orig: list[str], fixed: list[str]) -> list[Hunk]:
    sm = difflib.SequenceMatcher(None, orig, fixed, autojunk=False)
    return [
        Hunk(tag, i1 + 1, i2 + 1, tuple(orig[i1:i2]), tuple(fixed[j1:j2]))
        for tag, i1, i2, j1, j2 in sm.get_opcodes()
        if tag != "equal"
    ]


def _blank(lines: Sequence[str]) -> bool:
    return all(not x.strip() for x in lines)


def outside_hunks(orig_text: str, fixed_text: str, sites: Sequence[Site]) -> list[Hunk]:
    """The hunks of the diff that no finding explains (empty: every change is at a site).

    The tolerance, in original line numbers, with ``allowed_regions`` computing the sites:

    * ``replace``/``delete``: every removed line is in ``Allowed.lines``;
    * ``insert`` before line ``p``: ``p`` is in ``Allowed.positions``, or the inserted lines
      are only imports and ``p <= Allowed.import_limit``; a ``replace`` whose removed lines
      are allowed may add any number of lines;
    * ``replace``/``delete`` of import statements only (what remains is imports too): the
      engine's removal of imports that fixes left unused, accepted when no name the removed
      imports bound is still used in the fixed module;
    * hunks that add and remove only blank lines: accepted within one line of an allowed
      line, position or accepted hunk.
    """
    orig = split_lines(orig_text)
    fixed = split_lines(fixed_text)
    hunks = diff_hunks(orig, fixed)
    if not hunks:
        return []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(orig_text)
    except (SyntaxError, ValueError, RecursionError):
        return hunks  # the original did not parse: no change is explained
    allowed = allowed_regions(tree, orig, sites)
    accepted: list[Hunk] = []
    blank: list[Hunk] = []
    bad: list[Hunk] = []
    for h in hunks:
        if _blank(h.removed) and _blank(h.added):
            blank.append(h)
            continue
        if h.tag == "insert":
            p = h.orig_start
            ok = p in allowed.positions or (p <= allowed.import_limit and _only_imports(h.added))
        else:
            # removed lines off the sites must be imports that the fix left unused
            off_site = [
                x
                for i, x in zip(range(h.orig_start, h.orig_end), h.removed, strict=True)
                if x.strip() and i not in allowed.lines
            ]
            on_site = len(off_site) < sum(1 for x in h.removed if x.strip())
            ok = not off_site or _orphan_removal(off_site, () if on_site else h.added, fixed_text)
        (accepted if ok else bad).append(h)
    for h in blank:
        near = range(h.orig_start - 1, h.orig_end + 1)
        ok = any(i in allowed.lines or i in allowed.positions for i in near) or any(
            a.orig_start - 1 <= h.orig_end and h.orig_start <= a.orig_end + 1 for a in accepted
        )
        if not ok:
            bad.append(h)
    return sorted(bad, key=lambda h: h.orig_start)


# -- running mllint ----------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    findings: list[dict[str, object]]
    errors: list[tuple[str, str]]  # (file, message)
    fixed_total: int  # from the summary line ("fixed N findings in M files")
    files_changed: int
    crashes: list[str] = field(default_factory=list)


_ERROR_RE = re.compile(r"^(?P<file>.+?): error: (?P<msg>.+)$")
_FIXED_RE = re.compile(r"fixed (\d+) findings? in (\d+) files?")


def run_mllint(
    mllint: Sequence[str],
    label: str,
    cwd: Path,
    extra: Sequence[str],
    report: Path,
    jobs: int | None,
) -> Run:
    cmd = [
        *mllint, "check", *extra, "--no-cache", "--exit-zero", "--output-format", "json",
        "--output-file", str(report), "--statistics",
    ]  # fmt: skip
    if jobs is not None:
        cmd += ["-j", str(jobs)]
    cmd.append(".")
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    for var in ("MLLINT_OUTPUT_FORMAT", "MLLINT_CACHE_DIR", "MLLINT_NO_CACHE"):
        env.pop(var, None)
    print(f"$ (cd {cwd} && {shlex.join(cmd)})", flush=True)
    t0 = time.monotonic()
    if report.exists():
        report.unlink()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - t0
    crashes: list[str] = []
    if proc.returncode not in (0, 1):
        crashes.append(f"{label}: exit code {proc.returncode}")
    for stream_name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        if "Traceback (most recent call last)" in stream:
            crashes.append(f"{label}: a traceback on {stream_name}:\n{stream[-3000:]}")
    for line in proc.stderr.splitlines():
        if line.startswith("mllint: error:"):
            crashes.append(f"{label}: {line}")
    errors = []
    for line in proc.stdout.splitlines():
        m = _ERROR_RE.match(line)
        if m:
            errors.append((m.group("file"), m.group("msg")))
            if "internal error" in m.group("msg"):
                crashes.append(f"{label}: {line}")
    findings: list[dict[str, object]] = []
    try:
        findings = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        crashes.append(f"{label}: no valid JSON report ({exc})")
    m = _FIXED_RE.search(proc.stdout)
    fixed_total, files_changed = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    return Run(label, proc.returncode, proc.stdout, proc.stderr, seconds, findings, errors,
               fixed_total, files_changed, crashes)  # fmt: skip


def _sites(findings: Iterable[dict[str, object]]) -> dict[str, list[Site]]:
    out: dict[str, list[Site]] = {}
    for f in findings:
        name = str(f["filename"])
        if name.startswith("./"):
            name = name[2:]
        out.setdefault(name, []).append(
            Site(
                str(f["code"]),
                int(f["line"]),
                int(f["column"]),
                int(f["end_line"]),
                int(f["end_column"]),
            )
        )
        # a fix may also edit where it says it does (e.g. ML008 copies at the alias binding
        # of the mutated name): its reported edits are part of the finding
        fix = f.get("fix")
        edits = fix.get("edits", []) if isinstance(fix, dict) else []
        for e in edits:
            assert isinstance(e, dict)
            out[name].append(
                Site(
                    str(f["code"]),
                    int(e["line"]),
                    int(e["column"]),
                    int(e["end_line"]),
                    int(e["end_column"]),
                )
            )
    return out


def _per_rule(findings: Iterable[dict[str, object]]) -> Counter[str]:
    return Counter(str(f["code"]) for f in findings)


def _finding_keys(findings: Iterable[dict[str, object]]) -> Counter[tuple[object, ...]]:
    return Counter(
        (
            f["filename"],
            f["code"],
            f["line"],
            f["column"],
            f["end_line"],
            f["end_column"],
            f["message"],
        )
        for f in findings
    )


# -- the check -----------------------------------------------------------------------------------


@dataclass
class Results:
    files: int = 0
    parse_failures_before: int = 0
    changed: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    non_idempotent: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)
    outside: dict[str, list[Hunk]] = field(default_factory=dict)
    crashes: list[str] = field(default_factory=list)


def verify(
    originals: dict[str, Path],
    work: Path,
    mtimes_before: dict[str, Stamp],
    after_fix: dict[str, Stamp],
    after_second: dict[str, Stamp],
    sites: dict[str, list[Site]],
) -> Results:
    res = Results(files=len(originals))
    for rel, original in originals.items():
        before = mtimes_before[rel]
        after = after_fix[rel]
        orig_data = original.read_bytes()
        orig_ok = parses(orig_data)
        if not orig_ok:
            res.parse_failures_before += 1
        if after.digest == before.digest:
            if after.mtime_ns != before.mtime_ns:
                res.touched.append(f"{rel}: same bytes, modification time changed by the fix run")
        else:
            res.changed.append(rel)
            fixed_data = (work / rel).read_bytes()
            orig_text = fixed_text = None
            if not orig_ok:
                res.broken.append(f"{rel}: did not parse originally but was changed")
            elif not parses(fixed_data):
                res.broken.append(f"{rel}: does not parse after the fix")
            elif compiles(orig_data, rel) and not compiles(fixed_data, rel):
                res.broken.append(f"{rel}: parses but no longer compiles after the fix")
            else:  # a broken file is counted as broken only
                orig_text, fixed_text = decode(orig_data), decode(fixed_data)
            if orig_text is not None and fixed_text is not None:
                bad = outside_hunks(orig_text, fixed_text, sites.get(rel, []))
                if bad:
                    res.outside[rel] = bad
        second = after_second[rel]
        if second.digest != after.digest:
            res.non_idempotent.append(rel)
        elif second.mtime_ns != after.mtime_ns:
            res.touched.append(
                f"{rel}: same bytes, modification time changed by the second fix run"
            )
    return res


def _table(title: str, counts: dict[str, Counter[str]], columns: Sequence[str]) -> list[str]:
    codes = sorted({c for col in columns for c in counts[col]})
    out = [title]
    header = f"  {'rule':<7}" + "".join(f"{col:>12}" for col in columns)
    out.append(header)
    for code in codes:
        out.append(f"  {code:<7}" + "".join(f"{counts[col][code]:>12}" for col in columns))
    out.append(f"  {'total':<7}" + "".join(f"{sum(counts[col].values()):>12}" for col in columns))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--packages",
        default=",".join(DEFAULT_PACKAGES),
        help="comma-separated PyPI packages whose wheels form the corpus (default: %(default)s)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(
            os.environ.get("MLLINT_CORPUS_CACHE", Path.home() / ".cache" / "mllint-corpus")
        ),
        help="where wheels and unpacked sources are kept between runs "
        "(default: $MLLINT_CORPUS_CACHE or ~/.cache/mllint-corpus)",
    )
    parser.add_argument(
        "--local", type=Path, help="check a copy of this folder instead of downloading"
    )
    parser.add_argument(
        "--select",
        default="ALL",
        help="rules to run, passed to mllint --select (default: %(default)s, every rule)",
    )
    parser.add_argument("-j", "--jobs", type=int, help="mllint --jobs (default: mllint's default)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the fixed copy and print where it is"
    )
    parser.add_argument(
        "--mllint",
        default=None,
        help="the mllint command to run (default: the current Python's `-m mllint`; for testing "
        "this script)",
    )
    args = parser.parse_args(argv)
    t_start = time.monotonic()
    mllint = shlex.split(args.mllint) if args.mllint else [sys.executable, "-m", "mllint"]

    if args.local is not None:
        if not args.local.is_dir():
            parser.error(f"--local: {args.local} is not a directory")
        sources = [(".", args.local.resolve())]
        label = str(args.local)
    else:
        packages = [p.strip() for p in args.packages.split(",") if p.strip()]
        sources = prepare_packages(packages, args.cache_dir)
        label = ", ".join(name for name, _ in sources)

    tmp = Path(tempfile.mkdtemp(prefix="mllint-corpus-"))
    work = tmp / "corpus"
    try:
        originals: dict[str, Path] = {}
        for name, src in sources:
            dest = work if name == "." else work / name
            shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True)
            for rel in python_files(src):
                key = rel if name == "." else f"{name}/{rel}"
                originals[key] = src / rel
        files = sorted(originals)
        size = sum(originals[f].stat().st_size for f in files)
        print(f"corpus: {label}: {len(files)} files, {size / 1e6:.1f} MB", flush=True)
        select = ["--select", args.select] if args.select else []
        stamps0 = snapshot(work, files)
        pre = run_mllint(mllint, "check", work, select, tmp / "pre.json", args.jobs)
        # the check run must not have changed anything
        if snapshot(work, files) != stamps0:
            pre.crashes.append("check: a run without --fix changed files")
        fix_args = [*select, "--fix", "--unsafe-fixes"]
        fix = run_mllint(mllint, "fix", work, fix_args, tmp / "fix.json", args.jobs)
        stamps1 = snapshot(work, files)
        after_fix = {
            f: (work / f).read_bytes() for f in files if stamps1[f].digest != stamps0[f].digest
        }
        second = run_mllint(mllint, "second fix", work, fix_args, tmp / "second.json", args.jobs)
        stamps2 = snapshot(work, files)

        res = verify(originals, work, stamps0, stamps1, stamps2, _sites(pre.findings))
        res.crashes = pre.crashes + fix.crashes + second.crashes
        elapsed = time.monotonic() - t_start

        before, after = _per_rule(pre.findings), _per_rule(fix.findings)
        fixable = _per_rule(f for f in pre.findings if f.get("fix"))
        resolved = Counter({c: before[c] - after[c] for c in before | after})
        lines = [""]
        lines += _table(
            "findings per rule (before the fix; fixable; remaining after it; resolved = before - remaining):",
            {"before": before, "fixable": fixable, "remaining": after, "resolved": resolved},
            ["before", "fixable", "remaining", "resolved"],
        )
        lines.append(
            f"fixes applied (mllint's summary): {fix.fixed_total} in {fix.files_changed} files; "
            f"files whose bytes changed: {len(res.changed)}"
        )
        if _finding_keys(fix.findings) != _finding_keys(second.findings):
            lines.append(
                "note: the fix run's report of remaining findings differs from the second run's "
                f"({len(fix.findings)} vs {len(second.findings)} findings)"
            )
        errors = Counter(msg.split(" (")[0].split(";")[0] for _, msg in pre.errors)
        ml000 = Counter(
            "libcst cannot parse" if "libcst" in str(f["message"]) else "SyntaxError"
            for f in pre.findings
            if f["code"] == "ML000"
        )
        lines.append(f"files: {res.files}")
        lines.append(f"files that do not parse (ast) originally: {res.parse_failures_before}")
        lines.append(f"ML000 syntax-error findings: {dict(ml000) or 0}")
        lines.append(f"files mllint could not check: {dict(errors) or 0}")
        lines.append(f"broken files: {len(res.broken)}")
        lines.append(f"non-idempotent files: {len(res.non_idempotent)}")
        lines.append(f"unchanged files rewritten: {len(res.touched)}")
        lines.append(f"crashes: {len(res.crashes)}")
        n_hunks = sum(len(h) for h in res.outside.values())
        lines.append(f"files changed outside finding sites: {len(res.outside)} ({n_hunks} hunks)")
        if res.outside:
            by_rules = Counter(
                "+".join(sorted({s.code for s in _sites(pre.findings).get(rel, [])}))
                or "no finding"
                for rel in res.outside
            )
            lines.append(f"  by the rules that fired in those files: {dict(by_rules)}")
        lines.append(
            f"wall time: {elapsed:.1f} s (check {pre.seconds:.1f} s, fix {fix.seconds:.1f} s, "
            f"second fix {second.seconds:.1f} s)"
        )
        print("\n".join(lines))
        _show("broken", res.broken)
        _show(
            "non-idempotent",
            [
                _second_diff(rel, after_fix.get(rel) or originals[rel].read_bytes(), work / rel)
                for rel in res.non_idempotent
            ],
        )
        _show("unchanged files rewritten", res.touched)
        _show("crashes", res.crashes)
        _show(
            "changed outside finding sites",
            [
                f"{rel}: " + "; ".join(h.describe() for h in hs[:3])
                for rel, hs in res.outside.items()
            ],
        )
        if args.keep:
            print(f"the fixed copy is kept in {work}")
        failed = res.broken or res.non_idempotent or res.touched or res.crashes
        print("RESULT: " + ("FAIL" if failed else "OK"))
        return 1 if failed else 0
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def _second_diff(rel: str, first: bytes, path: Path) -> str:
    """What the second --fix run changed in ``rel`` (a short unified diff)."""
    try:
        second = path.read_bytes()
    except OSError:
        return f"{rel}: vanished"
    a, b = decode(first), decode(second)
    if a is None or b is None:
        return f"{rel}: bytes changed (not decodable)"
    diff = list(
        difflib.unified_diff(
            split_lines(a), split_lines(b), f"{rel} (fix)", f"{rel} (second fix)", n=1
        )
    )
    return rel + "\n" + "".join("    " + line.rstrip("\r\n") + "\n" for line in diff[:30])


def _show(title: str, items: Sequence[str]) -> None:
    if not items:
        return
    print(f"\n{title} ({len(items)}; first {min(len(items), SHOW)}):")
    for item in items[:SHOW]:
        print(f"  {item}")


if __name__ == "__main__":
    sys.exit(main())
