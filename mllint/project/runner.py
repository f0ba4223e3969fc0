"""Running the project rules once per run: suppression, fixes (applied in memory, re-parsed,
re-checked, then written atomically) and one :class:`~mllint.runner.FileOutcome` per
project file with findings, changes or errors.

Suppression works as in Python files: ``# noqa: ML792`` (or ``# mllint: ignore[...]``) in a
comment on the reported line of a TOML/YAML/INI file, ``ignore``/``per-file-ignores`` in
``[tool.mllint]`` with the project file's path (``".pre-commit-config.yaml" = ["ML791"]``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mllint.diagnostics import FileResult, FixInfo, TextEdit, Violation
from mllint.project.base import ProjectFinding, ProjectFix, ProjectRule
from mllint.project.files import ParseError, ProjectFile, ProjectIndex
from mllint.rule import FixSafety

MAX_PASSES = 25


def project_rules() -> dict[str, type[ProjectRule]]:
    from mllint.rule import all_rules

    return {
        c: r for c, r in all_rules().items() if isinstance(r, type) and issubclass(r, ProjectRule)
    }


def project_codes() -> frozenset[str]:
    return frozenset(project_rules())


def _allowed(safety: FixSafety, mode: str) -> bool:
    return safety is FixSafety.SAFE or (safety is FixSafety.UNSAFE and mode == "unsafe")


def _suppressed(pf: ProjectFile, f: ProjectFinding) -> bool:
    from mllint.engine import is_suppressed

    line, _ = pf.position(f.start)
    return is_suppressed(pf.index.line_text(line), f.code, f.name)


def collect(
    index: ProjectIndex, rules: Iterable[tuple[type[ProjectRule], dict[str, Any]]]
) -> list[ProjectFinding]:
    """Every finding of ``rules`` on the project as it is in memory (suppressions applied)."""
    from mllint.config import per_file_ignored

    out: list[ProjectFinding] = []
    seen: set[tuple[str, str, int, int]] = set()
    for cls, options in rules:
        rule = cls(index, options)
        try:
            rule.check()
        except Exception as exc:  # one rule's internal error must not stop the run
            index.errors.setdefault(
                f"<{cls.code}>",
                f"internal error in {cls.code} ({type(exc).__name__}: {exc}); please report this "
                "project's configuration to the mllint developers",
            )
            continue
        for f in rule.findings:
            pf = index.files.get(f.relpath)
            if pf is None:
                continue
            key = (f.code, f.relpath, f.start, f.end)
            if key in seen:
                continue
            seen.add(key)
            if _suppressed(pf, f):
                continue
            if f.code in per_file_ignored(index.settings, f.relpath):
                continue
            out.append(f)
    out.sort(key=lambda f: (f.relpath, f.start, f.code))
    return out


def _validates(pf: ProjectFile, text: str) -> bool:
    from mllint.project.files import parse_text

    try:
        parse_text(pf.kind, text)
    except ParseError:
        return False
    return True


def _apply(
    index: ProjectIndex, fixes: list[ProjectFinding], failed: set[tuple[str, str, int]]
) -> list[ProjectFinding]:
    """Apply non-overlapping fixes to the in-memory texts; returns the findings fixed."""
    taken: dict[str, list[tuple[int, int]]] = {}
    chosen: list[ProjectFinding] = []
    for f in fixes:
        assert f.fix is not None
        ok = True
        for e in f.fix.edits:
            if e.relpath not in index.files:
                ok = False
                break
            for s, t in taken.get(e.relpath, []):
                if (e.start < t and s < e.end) or (e.start == e.end == s) or (s == t == e.start):
                    ok = False
        if not ok:
            continue
        for e in f.fix.edits:
            taken.setdefault(e.relpath, []).append((e.start, e.end))
        chosen.append(f)
    if not chosen:
        return []
    by_file: dict[str, list[tuple[int, int, str]]] = {}
    for f in chosen:
        assert f.fix is not None
        for e in f.fix.edits:
            by_file.setdefault(e.relpath, []).append((e.start, e.end, e.text))
    new_texts: dict[str, str] = {}
    for rel, edits in by_file.items():
        text = index.files[rel].text
        for start, end, new in sorted(edits, key=lambda x: (x[0], x[1]), reverse=True):
            text = text[:start] + new + text[end:]
        new_texts[rel] = text
    bad = {rel for rel, text in new_texts.items() if not _validates(index.files[rel], text)}
    if bad:
        # drop every fix touching a file that would no longer parse, and never retry them
        for f in chosen:
            assert f.fix is not None
            if any(e.relpath in bad for e in f.fix.edits):
                failed.add((f.code, f.relpath, f.start))
        return []
    for rel, text in new_texts.items():
        index.files[rel].set_text(text)
    index.cache.clear()  # memoised facts (pytest config, import graph) are stale now
    return chosen


def run_project(
    root: Path,
    settings: Any,
    python_files: Sequence[tuple[Path, str, str]],
    options: Any,
    codes: Iterable[str] | None = None,
) -> list[Any]:
    """Run the enabled project rules; one :class:`~mllint.runner.FileOutcome` per project
    file with findings, errors or changes. ``python_files`` are ``(path, relpath, display)``
    of the checked Python files; ``options`` is a :class:`~mllint.runner.RunOptions`."""
    from mllint.config import effective_codes, fixable_codes, rule_option_values
    from mllint.runner import FileOutcome, write_source

    rules = project_rules()
    enabled = set(effective_codes(settings) if codes is None else codes) & set(rules)
    if not enabled:
        return []
    active = [(rules[c], rule_option_values(settings, rules[c])) for c in sorted(enabled)]
    index = ProjectIndex(root, settings, python_files)
    originals = {rel: pf.text for rel, pf in index.files.items()}
    fixable = fixable_codes(settings)
    applied: dict[str, dict[str, int]] = {}
    failed: set[tuple[str, str, int]] = set()
    findings = collect(index, active)
    passes = 0
    while options.fix and passes < MAX_PASSES:
        candidates = [
            f
            for f in findings
            if f.fix is not None
            and f.fix.edits
            and _allowed(f.fix.safety, options.fix)
            and f.code in fixable
            and (f.code, f.relpath, f.start) not in failed
        ]
        if not candidates:
            break
        n_failed = len(failed)
        done = _apply(index, candidates, failed)
        if not done:
            if len(failed) == n_failed:
                break
            continue
        for f in done:
            per = applied.setdefault(f.relpath, {})
            per[f.code] = per.get(f.code, 0) + 1
        findings = collect(index, active)
        passes += 1

    results: dict[str, FileResult] = {}

    def result_for(pf: ProjectFile) -> FileResult:
        r = results.get(pf.relpath)
        if r is None:
            r = results[pf.relpath] = FileResult(pf.display)
        return r

    for pf, exc in index.parse_errors():
        result_for(pf).error = exc.describe(pf.kind)
    for f in findings:
        pf = index.files[f.relpath]
        result_for(pf).violations.append(_violation(pf, f, options.want_edits))
    outcomes: list[Any] = []
    for rel, pf in sorted(index.files.items()):
        # Python files are loaded lazily (after ``originals``): their text on disk
        original = originals.get(rel, pf.decoded.text if pf.decoded is not None else pf.text)
        changed = pf.text != original
        if not changed and rel not in results:
            continue
        r = result_for(pf)
        r.violations.sort(key=lambda v: (v.line, v.column, v.code))
        outcome = FileOutcome(r)
        if changed:
            r.fixed_source = pf.text
            r.changed = True
            r.fixes_applied = applied.get(rel, {})
            outcome.original = original
            if options.write:
                problem = write_source(pf.path, pf.text, pf.decoded)
                if problem is not None:
                    r.error = problem
                    r.changed = False
                else:
                    outcome.written = True
        outcomes.append(outcome)
    for rel, message in sorted(index.errors.items()):
        outcomes.append(
            FileOutcome(
                FileResult(rel if rel.startswith("<") else _display(root, rel), error=message)
            )
        )
    return outcomes


def _display(root: Path, rel: str) -> str:
    from mllint.project.files import _display as display

    return display(root / rel)


def _violation(pf: ProjectFile, f: ProjectFinding, want_edits: bool) -> Violation:
    line, col = pf.position(f.start)
    end_line, end_col = pf.position(f.end)
    fix_info = None
    if f.fix is not None:
        edits: tuple[TextEdit, ...] = ()
        if want_edits:
            edits = tuple(
                TextEdit(e.text, *pf.position(e.start), *pf.position(e.end))
                for e in f.fix.edits
                if e.relpath == pf.relpath
            )
        fix_info = FixInfo(f.fix.safety.value, edits)
    return Violation(
        f.code,
        f.name,
        f.message,
        pf.display,
        line,
        col,
        end_line,
        end_col,
        fix_info,
        pf.index.line_text(line),
    )


__all__ = ["ProjectFix", "collect", "project_codes", "project_rules", "run_project"]
