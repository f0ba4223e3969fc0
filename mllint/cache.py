"""The per-file result cache (``.mllint_cache/`` in the project root).

An entry is keyed by a hash of the file's bytes, the mllint version and everything in the
effective settings that can change that file's result: the rules enabled for it (after
``per-file-ignores``), their option values, the file's roles (test, script, package init, its
package) and the project facts (minimum Python, library versions). A change to any of them is
a different key, so the cache can never hide a finding. Entries are written atomically
(temporary file + rename), so concurrent runs never see a torn entry; an unreadable or
corrupt entry is ignored (and replaced by the next run).

This module never imports libcst: a run where every file hits the cache does not either.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mllint import __version__
from mllint.config import Settings, effective_codes, per_file_ignored, rule_option_values
from mllint.diagnostics import Violation
from mllint.globs import matches_any

CACHE_FORMAT = 1


def package_of(path: Path) -> str | None:
    """The dotted package containing ``path`` on disk (directories with ``__init__.py``)."""
    parts: list[str] = []
    d = path.parent
    while (d / "__init__.py").is_file():
        parts.append(d.name)
        if d.parent == d:
            break
        d = d.parent
    if not parts:
        return None
    return ".".join(reversed(parts))


class SettingsFingerprint:
    """Computes the settings part of a file's cache key, memoised per run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base_codes = effective_codes(settings)
        self._by_codes: dict[frozenset[str], str] = {}
        facts = {
            "min_python": settings.min_python,
            "library_versions": {k: list(v) for k, v in sorted(settings.library_versions.items())},
            "fixable": sorted(_fixable(settings)),
        }
        self._facts = json.dumps(facts, sort_keys=True)

    def codes_for(self, relpath: str) -> frozenset[str]:
        if not self.settings.per_file_ignores:
            return self.base_codes
        return self.base_codes - per_file_ignored(self.settings, relpath)

    def _rules_part(self, codes: frozenset[str]) -> str:
        cached = self._by_codes.get(codes)
        if cached is None:
            from mllint.catalog import catalog

            cat = catalog()
            opts: dict[str, Any] = {}
            for code in sorted(codes):
                info = cat.get(code)
                if info is not None and info.options:
                    opts[code] = {
                        k: list(v) if isinstance(v, tuple) else v
                        for k, v in rule_option_values(self.settings, info).items()
                    }
            cached = json.dumps(
                {"codes": sorted(codes), "options": opts}, sort_keys=True, default=str
            )
            self._by_codes[codes] = cached
        return cached

    def for_file(self, relpath: str, package: str | None) -> str:
        s = self.settings
        roles = (
            matches_any(relpath, s.test_paths),
            matches_any(relpath, s.script_paths),
            relpath.rsplit("/", 1)[-1],
            package,
        )
        return f"{self._rules_part(self.codes_for(relpath))}|{self._facts}|{json.dumps(roles)}"


def _fixable(settings: Settings) -> frozenset[str]:
    from mllint.config import fixable_codes

    return fixable_codes(settings)


class ResultCache:
    def __init__(self, directory: Path) -> None:
        self.root = directory
        self.directory = directory / f"v{__version__}-{CACHE_FORMAT}"

    @staticmethod
    def key(data: bytes, settings_part: str) -> str:
        h = hashlib.sha256()
        h.update(__version__.encode())
        h.update(b"\0")
        h.update(settings_part.encode())
        h.update(b"\0")
        h.update(data)
        return h.hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key[2:]}.json"

    def get(self, key: str, filename: str) -> list[Violation] | None:
        try:
            with open(self._path(key), encoding="utf-8") as fh:
                data = json.load(fh)
            if data.get("format") != CACHE_FORMAT or data.get("key") != key:
                return None
            return [
                Violation.from_json({**item, "filename": filename}, item.get("source_line", ""))
                for item in data["violations"]
            ]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # missing, torn or garbage: a miss

    def put(self, key: str, violations: list[Violation]) -> None:
        items: list[Mapping[str, Any]] = []
        for v in violations:
            item = v.to_json()
            del item["filename"]
            item["source_line"] = v.source_line
            if v.file_line is not None:
                item["file_line"] = v.file_line
            items.append(item)
        payload = json.dumps({"format": CACHE_FORMAT, "key": key, "violations": items})
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._mark()
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(payload)
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError:
            pass  # a read-only checkout: run without caching

    def _mark(self) -> None:
        """Tell git and backup tools to ignore the cache folder."""
        gitignore = self.root / ".gitignore"
        if not gitignore.exists():
            with contextlib.suppress(OSError):
                gitignore.write_text("# Created by mllint automatically.\n*\n", encoding="utf-8")
            with contextlib.suppress(OSError):
                (self.root / "CACHEDIR.TAG").write_text(
                    "Signature: 8a477f597d28d172789f06886806bc55\n"
                    "# This file is a cache directory tag created by mllint.\n",
                    encoding="utf-8",
                )
