"""Caching the project run (no libcst here: a warm run whose files are unchanged must not
import the rules).

The key covers the mllint version, the effective settings, the enabled project rules, the
bytes of every root project file, of ``requirements*.txt`` and of every checked Python file,
and the folder names under the root and ``src/`` (package discovery). Any change is a miss.
Fix runs never use the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mllint import __version__

#: the codes of the built-in project rules (a test keeps this in sync with the classes)
PROJECT_CODES = frozenset(
    {
        "ML704",
        "ML781",
        "ML782",
        "ML783",
        "ML784",
        "ML785",
        "ML791",
        "ML792",
        "ML793",
        "ML794",
        "ML795",
        "ML796",
        "ML971",
        "ML972",
    }
)
_FILES = (
    "pyproject.toml",
    "ruff.toml",
    ".ruff.toml",
    "pytest.toml",
    ".pytest.toml",
    ".pre-commit-config.yaml",
    ".pre-commit-config.yml",
    "pytest.ini",
    ".pytest.ini",
    "tox.ini",
    "setup.cfg",
)


def _hash_file(h: Any, path: Path) -> None:
    try:
        with open(path, "rb") as fh:
            h.update(hashlib.sha256(fh.read()).digest())
    except OSError:
        h.update(b"<missing>")


def key(
    root: Path,
    settings: Any,
    codes: Sequence[str],
    python: Sequence[tuple[Path, str, str]],
    want_edits: bool,
    known: Mapping[str, str] | None = None,
) -> str:
    """``known``: relpath -> a key already covering the file's bytes (the per-file cache
    key it was looked up under), used instead of reading and hashing the file again."""
    h = hashlib.sha256()
    h.update(f"{__version__}\0{settings!r}\0{sorted(codes)}\0{want_edits}\0".encode())
    for name in _FILES:
        p = root / name
        if p.is_file():
            h.update(name.encode() + b"\0")
            _hash_file(h, p)
    for p in sorted(root.glob("requirements*.txt")):
        h.update(p.name.encode() + b"\0")
        _hash_file(h, p)
    for d in (root, root / "src"):
        with contextlib.suppress(OSError):
            h.update(("\0".join(sorted(os.listdir(d)))).encode() + b"\1")
    known = known or {}
    for path, rel, display in sorted(python, key=lambda x: x[1]):
        h.update(f"{rel}\0{display}\0".encode())
        lookup = known.get(rel)
        if lookup is not None:
            h.update(b"key:" + lookup.encode())
        else:
            _hash_file(h, path)
    return h.hexdigest()


def _path(cache_root: Path, k: str) -> Path:
    return cache_root / f"v{__version__}-project" / f"{k}.json"


def load(cache_root: Path, k: str) -> list[dict[str, Any]] | None:
    try:
        with open(_path(cache_root, k), encoding="utf-8") as fh:
            data = json.load(fh)
        if data.get("key") != k:
            return None
        results = data["results"]
        return results if isinstance(results, list) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store(cache_root: Path, k: str, results: list[dict[str, Any]]) -> None:
    target = _path(cache_root, k)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"key": k, "results": results}, fh)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        pass
