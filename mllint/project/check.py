"""The project part of ``mllint check`` (libcst-free until the rules really have to run)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mllint.project.files import find_project_root


def covers_root(paths: Sequence[Path]) -> Path | None:
    """The project root when one of ``paths`` is the project root directory itself."""
    for p in paths:
        if os.path.isdir(p):
            root = find_project_root(p)
            if Path(os.path.abspath(p)) == root and is_project_root(root):
                return root
    return None


def is_project_root(directory: Path) -> bool:
    """A directory with a project file or ``.git`` (``find_project_root`` falls back to the
    start directory when it finds none: a plain folder of sources is not a project)."""
    from mllint.project.files import ROOT_MARKERS

    return (
        any((directory / name).is_file() for name in ROOT_MARKERS) or (directory / ".git").exists()
    )


def check_outcomes(
    paths: Sequence[Path],
    found: Any,
    settings: Any,
    options: Any,
    project_only: bool,
    cache_root: Path | None = None,
) -> list[Any]:
    """Runs when a checked path is the project root (or always with ``--project-only``, for
    the project around the first path). Returns :class:`~mllint.runner.FileOutcome` s."""
    from mllint.config import effective_codes
    from mllint.project import cache as project_cache

    if project_only:
        root: Path | None = find_project_root(Path(paths[0]) if paths else Path("."))
    else:
        root = covers_root(paths)
    if root is None:
        return []
    codes = sorted(effective_codes(settings) & project_cache.PROJECT_CODES)
    if not codes:
        return []
    files = found.files
    if project_only and not any(
        os.path.isdir(p) and Path(os.path.abspath(p)) == root for p in paths
    ):
        from mllint.runner import discover

        files = discover([root], settings).files
    from mllint.runner import LOOKUP_KEYS

    python: list[tuple[Path, str, str]] = []
    known: dict[str, str] = {}  # relpath -> the file's per-file cache key of this run
    for sf in files:
        absolute = Path(os.path.abspath(sf.path))
        try:
            rel = absolute.relative_to(root).as_posix()
        except ValueError:
            continue
        python.append((absolute, rel, sf.display))
        lookup = LOOKUP_KEYS.get(sf.path)
        if lookup is not None:
            known[rel] = lookup
    key = None
    if cache_root is not None and not options.fix:
        key = project_cache.key(root, settings, codes, python, options.want_edits, known)
        hit = project_cache.load(cache_root, key)
        if hit is not None:
            return _decode(hit)
    from mllint.project.runner import run_project

    outcomes = run_project(root, settings, python, options, codes)
    if key is not None and cache_root is not None:
        project_cache.store(cache_root, key, _encode(outcomes))
    return outcomes


def _encode(outcomes: list[Any]) -> list[dict[str, Any]]:
    out = []
    for o in outcomes:
        r = o.result
        out.append(
            {
                "filename": r.filename,
                "error": r.error,
                "violations": [{**v.to_json(), "source_line": v.source_line} for v in r.violations],
            }
        )
    return out


def _decode(data: list[dict[str, Any]]) -> list[Any]:
    from mllint.diagnostics import FileResult, Violation
    from mllint.runner import FileOutcome

    out = []
    for item in data:
        violations = [Violation.from_json(v, v.get("source_line", "")) for v in item["violations"]]
        out.append(
            FileOutcome(
                FileResult(item["filename"], violations=violations, error=item.get("error"))
            )
        )
    return out
