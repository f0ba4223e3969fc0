"""Baselines: adopt mllint on an old codebase by recording today's findings and reporting only
new ones.

An entry matches by file (relative to the project root), code and a fingerprint of the
offending code (its source text with whitespace folded), with a count, so it survives edits
elsewhere in the file that move lines. A finding is reported when the file holds more
matching findings than the baseline recorded.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from mllint.diagnostics import Violation

FORMAT_VERSION = 1


class BaselineError(Exception):
    pass


def code_fingerprint(code: str, source_text: str) -> str:
    """A short, stable hash of a finding's code and offending source text."""
    folded = " ".join(source_text.split())
    return hashlib.sha256(f"{code}\0{folded}".encode()).hexdigest()[:16]


def _key(v: Violation, relpath: str) -> tuple[str, str, str]:
    return (relpath, v.code, code_fingerprint(v.code, v.source_line))


def write_baseline(path: Path, violations: Sequence[Violation], relpaths: Mapping[str, str]) -> int:
    counts: Counter[tuple[str, str, str]] = Counter()
    messages: dict[tuple[str, str, str], str] = {}
    for v in violations:
        k = _key(v, relpaths.get(v.filename, v.filename))
        counts[k] += 1
        messages.setdefault(k, v.message)
    entries = [
        {"file": f, "code": c, "fingerprint": fp, "count": n, "message": messages[(f, c, fp)]}
        for (f, c, fp), n in sorted(counts.items())
    ]
    data = {"tool": "mllint", "version": FORMAT_VERSION, "findings": entries}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return len(violations)


def read_baseline(path: Path) -> Counter[tuple[str, str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"{path}: baseline file not found") from None
    except (OSError, ValueError) as exc:
        raise BaselineError(f"{path}: cannot read baseline: {exc}") from None
    if (
        not isinstance(data, dict)
        or data.get("tool") != "mllint"
        or not isinstance(data.get("findings"), list)
    ):
        raise BaselineError(f"{path}: not an mllint baseline (write one with --write-baseline)")
    if data.get("version") != FORMAT_VERSION:
        raise BaselineError(f"{path}: unsupported baseline version {data.get('version')!r}")
    counts: Counter[tuple[str, str, str]] = Counter()
    for entry in data["findings"]:
        try:
            counts[(entry["file"], entry["code"], entry["fingerprint"])] += int(entry["count"])
        except (KeyError, TypeError, ValueError):
            raise BaselineError(f"{path}: malformed entry {entry!r}") from None
    return counts


def filter_new(
    violations: Iterable[Violation],
    baseline: Counter[tuple[str, str, str]],
    relpaths: Mapping[str, str],
) -> list[Violation]:
    """The findings not covered by the baseline (the last ones of each key, in file order)."""
    remaining = Counter(baseline)
    out: list[Violation] = []
    for v in violations:
        k = _key(v, relpaths.get(v.filename, v.filename))
        if remaining[k] > 0:
            remaining[k] -= 1
        else:
            out.append(v)
    return out
