"""Programmatic entry points: lint or fix a source string as if it were at ``path``."""

from __future__ import annotations

from collections.abc import Iterable

from mllint.config import (
    Settings,
    effective_codes,
    fixable_codes,
    per_file_ignored,
    rule_option_values,
)
from mllint.diagnostics import FileResult
from mllint.engine import EnabledRule, LintRequest, lint_source
from mllint.globs import matches_any
from mllint.rule import all_rules
from mllint.semantics.context import FileFacts


def make_request(
    settings: Settings,
    relpath: str,
    fix: str | None = None,
    package: str | None = None,
    want_edits: bool = True,
    codes: Iterable[str] | None = None,
    abspath: str | None = None,
) -> LintRequest:
    rules = all_rules()
    enabled = set(codes) if codes is not None else set(effective_codes(settings))
    enabled -= per_file_ignored(settings, relpath)
    enabled_rules = [
        EnabledRule(rules[c], rule_option_values(settings, rules[c])) for c in sorted(enabled)
    ]
    base = relpath.rsplit("/", 1)[-1]
    facts = FileFacts(
        path=relpath,
        is_test=matches_any(relpath, settings.test_paths),
        is_script=relpath.endswith(".ipynb") or matches_any(relpath, settings.script_paths),
        is_package_init=base == "__init__.py",
        package=package,
        min_python=settings.min_python,
        library_versions=settings.library_versions,
        abspath=abspath,
    )
    return LintRequest(
        enabled_rules,
        facts,
        fix=fix,
        fixable=fixable_codes(settings),
        want_edits=want_edits,
    )


def check_source(
    source: str,
    path: str = "example.py",
    *,
    settings: Settings | None = None,
    select: Iterable[str] | None = None,
    fix: str | None = None,
    package: str | None = None,
) -> FileResult:
    """Lint ``source`` as if it were the file ``path`` (relative to the project root).

    ``select`` limits the run to these codes/prefixes/names; ``fix`` is None, ``"safe"`` or
    ``"unsafe"``.
    """
    from mllint.catalog import resolve_selector

    settings = settings or Settings()
    codes: set[str] | None = None
    if select is not None:
        codes = set()
        for s in select:
            codes.update(resolve_selector(s))
    return lint_source(source, make_request(settings, path, fix, package, codes=codes))


def fix_source(
    source: str, path: str = "example.py", *, unsafe: bool = False, **kwargs: object
) -> str:
    """The source after applying fixes (unchanged when there is nothing to fix)."""
    result = check_source(source, path, fix="unsafe" if unsafe else "safe", **kwargs)  # type: ignore[arg-type]
    return result.fixed_source if result.fixed_source is not None else source
