"""gitignore-style globs: ``**`` crosses directories, ``*`` and ``?`` stay within one."""

from __future__ import annotations

import functools
import re


@functools.lru_cache(maxsize=512)
def compile_glob(pattern: str) -> re.Pattern[str]:
    return re.compile(f"^{_glob_body(pattern)}(?:/.*)?$")


@functools.lru_cache(maxsize=128)
def compile_globs(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex matching what any of ``patterns`` matches (None for no patterns): a file
    walk tests every path against the same exclude and include lists."""
    if not patterns:
        return None
    alternatives = "|".join(f"(?:{_glob_body(p)})" for p in patterns)
    return re.compile(f"^(?:{alternatives})(?:/.*)?$")


def _glob_body(pattern: str) -> str:
    pat = pattern.strip().replace("\\", "/")
    anchored = pat.startswith("/")
    pat = pat.lstrip("/")
    if pat.endswith("/"):
        pat += "**"
    out: list[str] = []
    i = 0
    while i < len(pat):
        c = pat[i]
        if pat.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pat.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pat.find("]", i + 1)
            if j == -1:
                out.append(re.escape(c))
            else:
                out.append("[" + pat[i + 1 : j].replace("!", "^", 1) + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    body = "".join(out)
    # a pattern without a slash matches a name at any depth (like .gitignore)
    prefix = "" if anchored or "/" in pattern.strip().rstrip("/") else "(?:.*/)?"
    return prefix + body


def matches(path: str, pattern: str) -> bool:
    """Whether the posix relative ``path`` (or one of its parent directories) matches."""
    return compile_glob(pattern).match(path) is not None


def matches_any(path: str, patterns: tuple[str, ...] | list[str]) -> bool:
    combined = compile_globs(tuple(patterns))
    return combined is not None and combined.match(path) is not None
