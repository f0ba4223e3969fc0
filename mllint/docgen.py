"""Generate ``docs/rules/<CODE>.md`` (and the index) from the rule classes.

``python -m mllint.docgen`` rewrites the pages; ``python -m mllint.docgen --check`` exits 1
when a page is out of date (the test suite runs the same comparison).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mllint.rule import Rule, all_rules


def _format_default(value: object) -> str:
    if isinstance(value, (list, tuple)):
        if not value:
            return "`[]`"
        return "`[" + ", ".join(f'"{v}"' for v in value) + "]`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value is None:
        return "unset"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


def render_rule_page(rule: type[Rule]) -> str:
    lines = [
        f"# {rule.code} {rule.name}",
        "",
        f"> {rule.summary}",
        "",
        "| code | name | default | fix | tier |",
        "|---|---|---|---|---|",
        f"| `{rule.code}` | `{rule.name}` | {'on' if rule.default_enabled else 'off'} "
        f"| {rule.fix_label()} | {rule.tier} |",
        "",
        rule.documentation().strip(),
        "",
    ]
    if rule.options:
        lines += [
            "## Options",
            "",
            f"Set under `[tool.mllint.{rule.name}]` in `pyproject.toml`.",
            "",
            "| option | type | default | meaning |",
            "|---|---|---|---|",
        ]
        for opt in rule.options:
            lines.append(
                f"| `{opt.name}` | {opt.kind} | {_format_default(opt.default)} | {opt.help} |"
            )
        lines.append("")
    if rule.code != "ML000":
        lines += [
            "## Suppressing",
            "",
            f"`# noqa: {rule.code}` or `# mllint: ignore[{rule.name}]` on the reported line; "
            f'`ignore = ["{rule.code}"]` or `per-file-ignores` in `[tool.mllint]`.',
            "",
        ]
    return "\n".join(lines)


def render_index() -> str:
    rules = all_rules()
    lines = [
        "# Rules",
        "",
        "Generated from the rule classes by `python -m mllint.docgen`; do not edit by hand.",
        "",
        "| code | name | default | fix | summary |",
        "|---|---|---|---|---|",
    ]
    for r in rules.values():
        summary = r.summary.replace("|", "\\|")
        lines.append(
            f"| [{r.code}]({r.code}.md) | `{r.name}` | {'on' if r.default_enabled else 'off'} "
            f"| {r.fix_label()} | {summary} |"
        )
    lines.append("")
    return "\n".join(lines)


CATALOG_PATH = Path(__file__).resolve().parent / "_catalog_data.py"


def expected_pages() -> dict[str, str]:
    pages = {f"{code}.md": render_rule_page(rule) for code, rule in all_rules().items()}
    pages["README.md"] = render_index()
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mllint.docgen")
    parser.add_argument("--check", action="store_true", help="exit 1 if a page is out of date")
    parser.add_argument("--out", type=Path, default=Path("docs/rules"))
    args = parser.parse_args(argv)
    from mllint.catalog import render_catalog_module

    pages = expected_pages()
    stale = []
    catalog_src = render_catalog_module()
    current_catalog = CATALOG_PATH.read_text(encoding="utf-8") if CATALOG_PATH.exists() else None
    if current_catalog != catalog_src:
        stale.append(str(CATALOG_PATH.name))
        if not args.check:
            CATALOG_PATH.write_text(catalog_src, encoding="utf-8")
    for name, text in pages.items():
        path = args.out / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            stale.append(name)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    extra = (
        [p.name for p in args.out.glob("ML*.md") if p.name not in pages]
        if args.out.is_dir()
        else []
    )
    if args.check:
        if stale or extra:
            print("out of date: " + ", ".join(stale + extra), file=sys.stderr)
            return 1
        return 0
    for name in extra:
        (args.out / name).unlink()
    print(f"{len(stale)} page(s) written, {len(extra)} removed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
