"""Command line: argument parsing and dispatch only (heavy modules are imported lazily)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from mllint import __version__

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


class UsageError(Exception):
    pass


def _codes(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mllint",
        description="A linter, with autofix, for the pitfalls that silently corrupt ML models "
        "and metrics or make data pipelines slow.",
    )
    parser.add_argument("--version", action="version", version=f"mllint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check", help="check files and directories (default: .)")
    check.add_argument("paths", nargs="*", type=Path, help="files or directories (default: .)")
    check.add_argument("--fix", action="store_true", help="apply safe fixes")
    check.add_argument(
        "--unsafe-fixes",
        action="store_true",
        default=None,
        help="also apply unsafe fixes (with --fix or --diff), or count them as fixable",
    )
    check.add_argument("--no-unsafe-fixes", dest="unsafe_fixes", action="store_false")
    check.add_argument(
        "--diff",
        action="store_true",
        help="print the changes --fix would make as a unified diff; write nothing",
    )
    check.add_argument(
        "--select",
        type=_codes,
        help="codes, prefixes (ML1) or names to enable, replacing the configured set",
    )
    check.add_argument(
        "--extend-select",
        type=_codes,
        default=[],
        help="codes, prefixes or names to enable in addition",
    )
    check.add_argument(
        "--ignore", type=_codes, default=[], help="codes, prefixes or names to disable"
    )
    check.add_argument(
        "--output-format",
        choices=(
            "text",
            "concise",
            "json",
            "json-lines",
            "grouped",
            "github",
            "gitlab",
            "sarif",
            "junit",
        ),
        default=None,
        help="output format (default: text; env MLLINT_OUTPUT_FORMAT); github, gitlab, sarif "
        "and junit are for CI (see docs/integrations.md)",
    )
    check.add_argument("--output-file", type=Path, help="write the report to this file")
    check.add_argument("--config", type=Path, help="a pyproject.toml to read [tool.mllint] from")
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even when findings remain")
    check.add_argument(
        "--exit-non-zero-on-fix",
        action="store_true",
        help="exit 1 when --fix changed files, even if nothing remains",
    )
    check.add_argument(
        "-q", "--quiet", action="store_true", help="print findings only, no source lines or summary"
    )
    check.add_argument(
        "--statistics", action="store_true", help="print the number of findings per rule"
    )
    check.add_argument(
        "-j", "--jobs", type=int, default=None, help="worker processes (default: number of cores)"
    )
    check.add_argument(
        "--baseline",
        type=Path,
        metavar="FILE",
        help="report only findings not recorded in this baseline file",
    )
    check.add_argument(
        "--write-baseline",
        type=Path,
        metavar="FILE",
        help="record the current findings in FILE (for adopting mllint on legacy code); exit 0",
    )
    check.add_argument(
        "--no-cache", action="store_true", help="do not read or write the result cache"
    )
    check.add_argument(
        "--cache-dir",
        type=Path,
        help="where to keep the result cache (default: .mllint_cache in the project root; "
        "env MLLINT_CACHE_DIR)",
    )
    check.add_argument(
        "--force-exclude",
        action="store_true",
        help="apply exclude patterns to files given explicitly too (for pre-commit)",
    )
    check.add_argument(
        "--project-only",
        action="store_true",
        help="run only the rules that read project files (pyproject.toml, "
        ".pre-commit-config.yaml, pytest configuration), once, for the project around the "
        "first path (the mllint-project pre-commit hook)",
    )

    rules = sub.add_parser("rules", help="list every rule")
    rules.add_argument("--output-format", choices=("text", "json"), default="text")
    rules.add_argument(
        "--all", action="store_true", help="(kept for compatibility; all rules are listed)"
    )

    explain = sub.add_parser("explain", help="show a rule's documentation")
    explain.add_argument("rule", help="a code (ML101) or name (float-equality)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from mllint.rule_errors import RegistryError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        if args.command == "check":
            return cmd_check(args)
        if args.command == "rules":
            return cmd_rules(args)
        if args.command == "explain":
            return cmd_explain(args)
    except UsageError as exc:
        print(f"mllint: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except RegistryError as exc:
        print(f"mllint: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("mllint: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # pragma: no cover - e.g. `mllint check | head`
        return EXIT_OK
    return EXIT_ERROR  # pragma: no cover


def _load_settings(args: argparse.Namespace) -> object:
    from mllint.config import ConfigError, load_settings
    from mllint.rule_errors import RegistryError

    try:
        return load_settings(args.paths or [Path(".")], args.config)
    except (ConfigError, RegistryError) as exc:
        raise UsageError(str(exc)) from None


def cmd_check(args: argparse.Namespace) -> int:
    from mllint.catalog import resolve_selector
    from mllint.config import Settings, effective_codes
    from mllint.reporters import Report, get_reporter
    from mllint.runner import RunOptions, discover, run

    settings = _load_settings(args)
    assert isinstance(settings, Settings)
    for option in ("select", "extend_select", "ignore"):
        for sel in getattr(args, option) or []:
            try:
                resolve_selector(sel)
            except KeyError:
                raise UsageError(
                    f"--{option.replace('_', '-')}: unknown rule code or name {sel!r} "
                    "(see `mllint rules`)"
                ) from None
    changes: dict[str, object] = {}
    if args.select is not None:
        changes["select"] = tuple(args.select)
    if args.extend_select:
        changes["extend_select"] = (*settings.extend_select, *args.extend_select)
    if args.ignore:
        changes["ignore"] = (*settings.ignore, *args.ignore)
    unsafe = settings.unsafe_fixes if args.unsafe_fixes is None else args.unsafe_fixes
    settings = settings.with_overrides(**changes)
    if not effective_codes(settings):
        print("mllint: warning: no rules are enabled", file=sys.stderr)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")

    fix_mode: str | None = None
    if args.fix or args.diff:
        fix_mode = "unsafe" if unsafe else "safe"
    paths = args.paths or [Path(".")]
    found = discover(paths, settings, force_exclude=args.force_exclude)
    fmt = args.output_format or os.environ.get("MLLINT_OUTPUT_FORMAT") or "text"
    # fix edits cost a code-generation pass; only the formats that list them need them
    options = RunOptions(
        fix=fix_mode, write=not args.diff, want_edits=fmt in ("json", "json-lines", "sarif")
    )
    cache = None
    if not args.no_cache and not os.environ.get("MLLINT_NO_CACHE"):
        from mllint.cache import ResultCache

        env_dir = os.environ.get("MLLINT_CACHE_DIR")
        cache_dir = args.cache_dir or (
            Path(env_dir) if env_dir else settings.root / settings.cache_dir
        )
        cache = ResultCache(cache_dir)
    outcomes = run(
        [] if args.project_only else found.files, settings, options, jobs=args.jobs, cache=cache
    )
    from mllint.project.check import check_outcomes

    project_outcomes = check_outcomes(
        paths, found, settings, options, args.project_only, cache.root if cache else None
    )
    outcomes = [*outcomes, *project_outcomes]

    if args.diff:
        return _print_diffs(outcomes, found.errors)

    violations = []
    errors = list(found.errors)
    fixed: dict[str, int] = {}
    changed = 0
    for o in outcomes:
        violations.extend(o.result.violations)
        if o.result.error:
            errors.append(o.result)
        if o.written:
            changed += 1
            for code, n in o.result.fixes_applied.items():
                fixed[code] = fixed.get(code, 0) + n
    violations.sort(key=lambda v: v.sort_key())
    relpaths = {f.display: f.relpath for f in found.files}
    if args.write_baseline is not None:
        from mllint.baseline import write_baseline

        try:
            n = write_baseline(args.write_baseline, violations, relpaths)
        except OSError as exc:
            raise UsageError(f"cannot write {args.write_baseline}: {exc.strerror or exc}") from None
        print(f"Recorded {n} finding{'s' if n != 1 else ''} in {args.write_baseline}.")
        return EXIT_OK
    if args.baseline is not None:
        from mllint.baseline import BaselineError, filter_new, read_baseline

        try:
            baseline = read_baseline(args.baseline)
        except BaselineError as exc:
            raise UsageError(str(exc)) from None
        violations = filter_new(violations, baseline, relpaths)
    report = Report(
        violations,
        errors,
        files_checked=len(found.files),
        fixed=fixed,
        files_changed=changed,
        fix_mode=fix_mode,
        unsafe_enabled=bool(unsafe),
    )
    try:
        reporter = get_reporter(fmt)
    except KeyError:
        raise UsageError(f"unknown output format {fmt!r}") from None
    if args.output_file is not None:
        try:
            with open(args.output_file, "w", encoding="utf-8") as fh:
                reporter(report, fh, args.quiet, args.statistics)
        except OSError as exc:
            raise UsageError(f"cannot write {args.output_file}: {exc.strerror or exc}") from None
        if fmt != "text":
            get_reporter("text")(report, sys.stdout, args.quiet, args.statistics)
    else:
        reporter(report, sys.stdout, args.quiet, args.statistics)
        if fmt in ("json", "json-lines", "gitlab") and errors:
            # these formats have no place for them: keep stdout machine-readable
            for e in errors:
                print(f"{e.filename}: error: {e.error}", file=sys.stderr)
    if args.exit_non_zero_on_fix and changed:
        return EXIT_FINDINGS
    if errors:
        return EXIT_FINDINGS
    if violations and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_OK


def _print_diffs(
    outcomes: Sequence[object], errors: Sequence[object], out: TextIO | None = None
) -> int:
    import difflib

    from mllint.runner import FileOutcome

    out = out or sys.stdout
    n = 0
    for o in outcomes:
        assert isinstance(o, FileOutcome)
        r = o.result
        if r.fixed_source is None or o.original is None:
            continue
        n += 1
        diff = difflib.unified_diff(
            o.original.splitlines(keepends=True),
            r.fixed_source.splitlines(keepends=True),
            fromfile=f"a{'' if r.filename.startswith('/') else '/'}{r.filename}",
            tofile=f"b{'' if r.filename.startswith('/') else '/'}{r.filename}",
        )
        for line in diff:
            out.write(
                line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n"
            )
    for e in [
        *errors,
        *(o.result for o in outcomes if isinstance(o, FileOutcome) and o.result.error),
    ]:
        print(f"{getattr(e, 'filename', '?')}: error: {getattr(e, 'error', '')}", file=sys.stderr)
    print(f"{n} file{'s' if n != 1 else ''} would be changed.", file=sys.stderr)
    return EXIT_FINDINGS if n else EXIT_OK


def cmd_rules(args: argparse.Namespace) -> int:
    import json

    from mllint.rule import all_rules

    rules = all_rules()
    if args.output_format == "json":
        data = [
            {
                "code": r.code,
                "name": r.name,
                "default": "on" if r.default_enabled else "off",
                "fix": r.fix_label(),
                "summary": r.summary,
            }
            for r in rules.values()
        ]
        print(json.dumps(data, indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"mllint {__version__}: {len(rules)} rules", title_justify="left")
    for col in ("code", "name", "default", "fix", "summary"):
        table.add_column(col, overflow="fold")
    for r in rules.values():
        table.add_row(
            r.code, r.name, "on" if r.default_enabled else "off", r.fix_label(), r.summary
        )
    Console(highlight=False).print(table)
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from mllint.docgen import render_rule_page
    from mllint.rule import all_rules, rule_by_name

    key = args.rule.strip()
    rule = all_rules().get(key.upper()) or rule_by_name().get(key)
    if rule is None:
        raise UsageError(f"unknown rule {args.rule!r} (see `mllint rules`)")
    sys.stdout.write(render_rule_page(rule))
    return EXIT_OK
