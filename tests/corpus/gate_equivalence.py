#!/usr/bin/env python3
"""Check on real code that the rules' ``ast_gate`` pre-scan hides no finding.

    python tests/corpus/gate_equivalence.py DIR [DIR ...] [-j 2] [--default-only]

Every ``.py`` file under the folders is checked twice with every per-file rule enabled
(default-off ones too, unless ``--default-only``): with the ast gates and without them. The
findings must be identical. It also prints how much of the source libcst had to parse in
each mode and which gated rules still let the most bytes through, the figure to work on next.
Exit 1 on any difference. Not run in CI (it wants real libraries; see tests/perf/bench.py for
a way to download some).
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mllint.api import make_request  # noqa: E402
from mllint.config import Settings, effective_codes  # noqa: E402
from mllint.engine import lint_source, rules_for  # noqa: E402
from mllint.rule import per_file_rules  # noqa: E402

_CODES: list[str] = []


def _one(args: tuple[str, str]) -> tuple[str, int, list[str], list[str], list[str], float, float]:
    path, rel = args
    try:
        source = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return rel, 0, [], [], [], 0.0, 0.0
    out: list[list[str]] = []
    times: list[float] = []
    active: list[str] = []
    for gate in (True, False):
        request = make_request(Settings(), rel, codes=_CODES)
        request.ast_gate = gate
        if gate:
            active = [er.rule.code for er in rules_for(source, request.facts, request.rules)]
        t0 = time.perf_counter()
        try:
            result = lint_source(source, request)
            found = [f"{v.line}:{v.column} {v.code} {v.message}" for v in result.violations]
        except Exception as exc:  # a crash is a difference worth seeing
            found = [f"CRASH {type(exc).__name__}: {exc}"]
        times.append(time.perf_counter() - t0)
        out.append(found)
    return rel, len(source.encode()), out[0], out[1], active, times[0], times[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("--default-only", action="store_true", help="only default-enabled rules")
    ap.add_argument("--select", default="", help="comma-separated codes to run (default: all)")
    args = ap.parse_args(argv)
    codes = sorted(per_file_rules())
    if args.default_only:
        codes = sorted(set(effective_codes(Settings())) & set(codes))
    if args.select:
        codes = sorted({c.strip() for c in args.select.split(",") if c.strip()} & set(codes))
    _CODES[:] = codes
    work = [
        (str(p), str(p.relative_to(d.parent)))
        for d in args.dirs
        for p in sorted(d.rglob("*.py"))
        if p.is_file()
    ]
    total = parsed = 0
    diffs = 0
    openers: collections.Counter[str] = collections.Counter()
    firing: collections.Counter[str] = collections.Counter()
    t_gate = t_plain = 0.0
    ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ctx.Pool(args.jobs) as pool:
        for rel, size, gated, plain, active, tg, tp in pool.imap_unordered(_one, work, 4):
            total += size
            t_gate += tg
            t_plain += tp
            if active:
                parsed += size
                for c in active:
                    openers[c] += size
            for c in {line.split()[1] for line in plain if not line.startswith("CRASH")}:
                firing[c] += size
            if gated != plain:
                diffs += 1
                print(f"DIFF {rel}")
                for line in sorted(set(plain) - set(gated)):
                    print(f"  hidden by a gate: {line}")
                for line in sorted(set(gated) - set(plain)):
                    print(f"  only with gates:  {line}")
    print(
        f"{len(work)} files, {total / 1e6:.1f} MB; libcst parses {parsed / max(total, 1):.0%} of the bytes with gates"
    )
    print(f"CPU in lint_source: {t_gate:.1f} s with gates, {t_plain:.1f} s without")
    print("rules letting the most bytes through (share of all bytes; 'fires' = share of the")
    print("bytes in files where the rule reports something, the floor for its gate):")
    rules = per_file_rules()
    for code, size in openers.most_common(40 if args.select else 25):
        mark = "gate" if rules[code].has_ast_gate() else "text"
        print(
            f"  {code} {rules[code].name:40} {size / max(total, 1):5.0%}  fires "
            f"{firing[code] / max(total, 1):5.0%}  ({mark})"
        )
    print("RESULT:", "OK" if diffs == 0 else f"{diffs} files differ")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
