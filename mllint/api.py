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
from mllint.rule import Rule, per_file_rules
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
    rules = per_file_rules()
    enabled = set(codes) if codes is not None else set(effective_codes(settings))
    enabled -= per_file_ignored(settings, relpath)
    enabled &= rules.keys()  # project rules run once per project (mllint.project), not here
    enabled_rules = _enabled_rules(settings, frozenset(enabled), rules)
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


#: the enabled rules with their options, per settings object and code set (the same for
#: almost every file of a run: computing them per file cost ~1 ms with ~100 rules)
_ENABLED: dict[tuple[int, frozenset[str]], tuple[Settings, list[EnabledRule]]] = {}


def _enabled_rules(
    settings: Settings, enabled: frozenset[str], rules: dict[str, type[Rule]]
) -> list[EnabledRule]:
    key = (id(settings), enabled)
    hit = _ENABLED.get(key)
    if hit is not None and hit[0] is settings:
        return hit[1]
    out = [EnabledRule(rules[c], rule_option_values(settings, rules[c])) for c in sorted(enabled)]
    if len(_ENABLED) > 64:
        _ENABLED.clear()
    _ENABLED[key] = (settings, out)
    return out


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
