#!/usr/bin/env python3
"""Benchmark mllint against its peers and against the libcst parse floor.

    python tests/perf/bench.py [--corpus sklearn,transformers] [--rounds 3] [--smoke]

It downloads real ML libraries as wheels from PyPI (``pip download``), keeps their ``.py``
files in a cache folder (``~/.cache/mllint-bench``), copies each corpus into a temporary
folder (no ``pyproject.toml`` above it, so mllint's project root and cache live there) and
then, round by round, times:

* ``mllint check`` cold (``--no-cache``), warm (every file cached) and with 1% of the files
  touched;
* ``libcst.parse_module`` over every file in a 2-process pool: the floor of a libcst design;
* ``flake8 --select B,PD -j2`` (with flake8-bugbear and pandas-vet) and
  ``ruff check --select B,PD,NPY,PERF``;

plus start-up (``mllint --version``, ``import mllint``) and a 3-file ``mllint check`` (the
pre-commit shape). Ratios to the peers are taken within the same round, then the median is
compared with the targets. ``--smoke`` runs everything once on a tiny generated corpus
without downloading or judging anything, so CI can keep this script alive.

Standard library only; libcst is imported only by the floor worker (``--_floor``).
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mllint-bench"

#: short corpus name -> (PyPI distribution, top-level packages kept; None = every package
#: found in the wheel)
KNOWN_CORPORA: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "sklearn": ("scikit-learn", ("sklearn",)),
    "scikit-learn": ("scikit-learn", ("sklearn",)),
    "transformers": ("transformers", ("transformers",)),
}

TOUCH_FRACTION = 0.01

# measurement labels (the smoke test looks for the first three at the start of a table line)
COLD = "mllint cold"
WARM = "mllint warm"
FLOOR = "libcst parse floor"
TOUCHED = "mllint touched 1%"
FILL = "mllint cold, writing cache"
TOUCHED_COLD = "mllint cold, the touched files"
EMPTY_COLD = "mllint cold, one empty file"
FLAKE8 = "flake8 B,PD"
RUFF = "ruff B,PD,NPY,PERF"
THREE = "mllint check 3 files"
VERSION = "mllint --version"
IMPORT = "python -c 'import mllint'"
PASS = "python -c pass"

TOOL_NAMES = ("mllint", "floor", "flake8", "ruff", "startup")


# -- small helpers -------------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median(xs: Sequence[float]) -> float | None:
    return statistics.median(xs) if xs else None


def count_lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def rss_mb(ru_maxrss: int) -> float:
    # kilobytes on Linux, bytes on macOS
    return ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else ru_maxrss / 1024


def fmt_num(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "n/a"
    return f"{x:,.{digits}f}"


def fmt_int(x: float | None) -> str:
    return "n/a" if x is None else f"{round(x):,}"


def norm_dist(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v)[:4])


# -- running one command -------------------------------------------------------------------


@dataclass
class Run:
    label: str
    round: int
    wall: float
    cpu: float
    rss_1proc_mb: float
    rss_all_mb: float | None
    returncode: int
    out_lines: int
    timed_out: bool = False
    stderr_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


class TreeRss:
    """Samples the summed RSS of every process in a process group (Linux /proc only)."""

    def __init__(self, pgid: int, interval: float = 0.2) -> None:
        self.pgid = pgid
        self.interval = interval
        self.peak_kb = 0
        self.ok = os.path.isdir("/proc/self") and sys.platform.startswith("linux")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._page_kb = os.sysconf("SC_PAGE_SIZE") // 1024 if self.ok else 4

    def __enter__(self) -> TreeRss:
        if self.ok:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.ok:
            self._thread.join()

    def _sample(self) -> None:
        total = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    stat = fh.read()
            except OSError:
                continue
            # fields after the parenthesised command: state ppid pgrp ... rss is field 24
            rest = stat[stat.rfind(b")") + 2 :].split()
            if len(rest) > 21 and int(rest[2]) == self.pgid:
                total += int(rest[21]) * self._page_kb
        self.peak_kb = max(self.peak_kb, total)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, ValueError, IndexError):  # a process just exited
                self._sample()
            self._stop.wait(self.interval)


def measure(
    label: str,
    rnd: int,
    cmd: Sequence[str],
    cwd: Path,
    env: dict[str, str],
    out_path: Path,
    timeout: float,
) -> Run:
    """Run ``cmd`` with stdout to ``out_path``: wall clock, CPU and peak RSS from wait4.

    wait4's rusage covers the process and every descendant it reaped (mllint's pool
    workers), so ``ru_maxrss`` is the peak RSS of the largest single process, as with
    ``/usr/bin/time -v``."""
    with open(out_path, "wb") as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group: sampled and killed as one
        )
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        with TreeRss(proc.pid) as tree:
            _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr_tail = err.read()[-2000:].decode("utf-8", "replace")
    with open(out_path, "rb") as fh:
        out_lines = count_lines(fh.read())
    return Run(
        label=label,
        round=rnd,
        wall=wall,
        cpu=ru.ru_utime + ru.ru_stime,
        rss_1proc_mb=rss_mb(ru.ru_maxrss),
        rss_all_mb=tree.peak_kb / 1024 if tree.ok and tree.peak_kb else None,
        returncode=proc.returncode,
        out_lines=out_lines,
        timed_out=timed_out.is_set(),
        stderr_tail=stderr_tail,
    )


def quick_wall(
    cmd: Sequence[str], cwd: Path, env: dict[str, str], reps: int
) -> tuple[list[float], str]:
    """Wall times of ``reps`` runs after one untimed warm-up; also the last error, if any."""
    times: list[float] = []
    problem = ""
    for i in range(reps + 1):
        t0 = time.perf_counter()
        r = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, timeout=600)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            problem = (r.stderr or r.stdout).decode("utf-8", "replace").strip()[-500:]
        if i:
            times.append(dt)
    return times, problem


def capture(
    cmd: Sequence[str], env: dict[str, str] | None = None, timeout: float = 120
) -> tuple[int, str]:
    try:
        r = subprocess.run(list(cmd), capture_output=True, text=True, env=env, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return r.returncode, (r.stdout + r.stderr).strip()


# -- corpora -------------------------------------------------------------------------------


@dataclass
class Corpus:
    name: str
    label: str  # e.g. "scikit-learn 1.9.1"
    root: Path  # folder holding the package folders (only .py files)
    packages: list[str]
    files: list[str] = field(default_factory=list)  # posix paths relative to root
    lines: int = 0
    size: int = 0
    file_lines: dict[str, int] = field(default_factory=dict)

    def scan(self) -> None:
        self.files, self.file_lines, self.lines, self.size = [], {}, 0, 0
        for pkg in self.packages:
            for p in sorted((self.root / pkg).rglob("*.py")):
                if not p.is_file():
                    continue
                rel = p.relative_to(self.root).as_posix()
                data = p.read_bytes()
                n = count_lines(data)
                self.files.append(rel)
                self.file_lines[rel] = n
                self.lines += n
                self.size += len(data)


def parse_spec(spec: str) -> tuple[str, str, str | None, tuple[str, ...] | None]:
    """``sklearn`` / ``scikit-learn==1.9.1`` -> (short name, dist, version, packages)."""
    name, _, version = spec.partition("==")
    name = name.strip()
    dist, packages = KNOWN_CORPORA.get(name.lower(), (name, None))
    short = "sklearn" if dist == "scikit-learn" else norm_dist(dist)
    return short, dist, (version.strip() or None), packages


def find_wheel(wheels: Path, dist: str, version: str | None) -> Path | None:
    found = []
    for whl in wheels.glob("*.whl"):
        parts = whl.name.split("-")
        if (
            len(parts) >= 2
            and norm_dist(parts[0]) == norm_dist(dist)
            and (version is None or parts[1] == version)
        ):
            found.append((version_key(parts[1]), whl))
    return max(found)[1] if found else None


def fetch_corpus(spec: str, cache: Path, refresh: bool) -> Corpus:
    short, dist, version, packages = parse_spec(spec)
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    whl = None if refresh else find_wheel(wheels, dist, version)
    if whl is None:
        req = f"{dist}=={version}" if version else dist
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            req,
            "-d",
            str(wheels),
        ]
        log(f"downloading {req}: {' '.join(cmd)}")
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"bench: pip download {req} failed:\n{r.stdout}{r.stderr}")
        whl = find_wheel(wheels, dist, version)
        if whl is None:
            raise SystemExit(f"bench: pip download {req} produced no wheel in {wheels}")
    else:
        log(f"using cached wheel {whl}")
    stem = whl.name[: -len(".whl")]
    ver = stem.split("-")[1]
    src = cache / "src" / stem
    marker = src / ".complete"
    if not marker.exists():
        if src.exists():
            shutil.rmtree(src)
        src.mkdir(parents=True)
        with zipfile.ZipFile(whl) as zf:
            names = [n for n in zf.namelist() if n.endswith(".py")]
            tops = {n.split("/", 1)[0] for n in names if "/" in n}
            tops = {t for t in tops if not t.endswith((".dist-info", ".data"))}
            keep = set(packages) if packages else tops
            for n in names:
                parts = n.split("/")
                if parts[0] not in keep or ".." in parts or n.startswith("/"):
                    continue
                dest = src.joinpath(*parts)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(zf.read(n))
        marker.write_text(whl.name + "\n")
        log(f"unpacked {whl.name} -> {src}")
    pkgs = sorted(p.name for p in src.iterdir() if p.is_dir())
    corpus = Corpus(short, f"{dist} {ver}", src, pkgs)
    corpus.scan()
    return corpus


SMOKE_FILES: dict[str, str] = {
    "features.py": """\
        import numpy as np
        import pandas as pd


        def load(path, columns=[]):
            frame = pd.read_csv(path)
            missing = frame[frame["bmi"] == np.nan]
            frame[frame["age"] > 30]["flag"] = 1
            return frame, missing, columns


        def score(y_true, y_pred):
            accuracy = float((y_true == y_pred).mean())
            if accuracy == 0.95:
                print("suspicious")
            return accuracy
        """,
    "loops.py": """\
        import functools


        class Model:
            @functools.lru_cache(maxsize=None)
            def predict(self, x):
                return x * 2


        def dedupe(items):
            seen = []
            out = []
            for item in items:
                if item not in seen:
                    seen.append(item)
                    out.append(item)
            return out
        """,
    "clean.py": '''\
        """Nothing to report here."""

        from __future__ import annotations


        def add(a: int, b: int) -> int:
            return a + b


        def mean(xs: list[float]) -> float:
            return sum(xs) / len(xs) if xs else 0.0
        ''',
    "__init__.py": """\
        import torch

        __all__ = ["torch"]
        """,
}


def make_smoke_corpus(dest: Path) -> Corpus:
    import textwrap

    root = dest / "smoke-src"
    # 4 templates x 5 sub-packages = 20 files: above mllint's pool threshold
    for i in range(5):
        pkg = root / "smokepkg" / f"sub{i}"
        pkg.mkdir(parents=True, exist_ok=True)
        for name, text in SMOKE_FILES.items():
            body = textwrap.dedent(text)
            if name != "__init__.py":
                body += "".join(
                    f"\n\ndef helper_{i}_{k}(x):\n    return x + {k}\n" for k in range(10)
                )
            (pkg / name).write_text(body, encoding="utf-8")
    (root / "smokepkg" / "__init__.py").write_text('"""smoke corpus"""\n', encoding="utf-8")
    corpus = Corpus("smoke", "generated smoke corpus", root, ["smokepkg"])
    corpus.scan()
    return corpus


# -- the floor worker (the only place libcst is imported) ----------------------------------


def _parse_one(path: str) -> int:
    import libcst

    with open(path, "rb") as fh:
        data = fh.read()
    try:
        libcst.parse_module(data)
    except Exception:
        return 1
    return 0


def floor_worker(list_file: str, procs: int) -> int:
    import libcst  # noqa: F401  (imported before forking, as a linter would)

    paths = [p for p in Path(list_file).read_text(encoding="utf-8").splitlines() if p]
    paths.sort(key=lambda p: os.path.getsize(p), reverse=True)
    if procs <= 1:
        errors = sum(map(_parse_one, paths))
    else:
        import multiprocessing

        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
        with multiprocessing.get_context(method).Pool(procs) as pool:
            errors = sum(pool.imap_unordered(_parse_one, paths, chunksize=4))
    print(f"parsed {len(paths)} files, {errors} failed")
    return 0


def flake8_worker(argv: Sequence[str]) -> int:
    """flake8 without mllint's own flake8 plugin: flake8 runs every installed plugin and
    filters the output by --select afterwards, so an installed mllint would be timed too."""
    import importlib.metadata as md

    real = md.distributions

    def distributions(**kw: Any) -> Iterator[Any]:
        for dist in real(**kw):
            if not any(
                ep.group.startswith("flake8") and ep.value.startswith("mllint")
                for ep in dist.entry_points
            ):
                yield dist

    md.distributions = distributions
    from flake8.main.cli import main as flake8_main

    return int(flake8_main(list(argv)))


# -- tools ---------------------------------------------------------------------------------


@dataclass
class Tools:
    env: dict[str, str]
    mllint: list[str]
    mllint_help: str = ""
    no_cache: bool = False
    cache_dir_flag: bool = False
    flake8: list[str] | None = None
    flake8_why: str = ""
    ruff: list[str] | None = None
    ruff_why: str = ""
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def cache(self) -> bool:
        return self.no_cache


def bench_env(jobs: int) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE would make every timed Python process compile the modules of an
    # editable install from source (~0.12 s for mllint's rules): users' Pythons keep .pyc
    # files, so the tools run as they would there (the untimed warm-up runs write them)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MLLINT_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(NO_COLOR="1", COLUMNS="200", RAYON_NUM_THREADS=str(jobs), PYTHONUTF8="1")
    return env


def find_exe(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def pip_install(pkgs: Sequence[str]) -> str:
    log(f"installing {' '.join(pkgs)} into {sys.prefix}")
    rc, out = capture(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", *pkgs],
        timeout=900,
    )
    return "" if rc == 0 else out[-500:]


def discover_tools(jobs: int, install: bool, skip: set[str]) -> Tools:
    env = bench_env(jobs)
    exe = find_exe("mllint")
    mllint = [exe] if exe else [sys.executable, "-m", "mllint"]
    tools = Tools(env=env, mllint=mllint)
    rc, out = capture([*mllint, "--version"], env)
    if rc != 0:
        raise SystemExit(f"bench: mllint does not run ({' '.join(mllint)} --version):\n{out}")
    tools.versions["mllint"] = out.splitlines()[-1].strip()
    rc, tools.mllint_help = capture([*mllint, "check", "--help"], env)
    tools.no_cache = "--no-cache" in tools.mllint_help
    tools.cache_dir_flag = "--cache-dir" in tools.mllint_help
    rc, out = capture(
        [
            sys.executable,
            "-c",
            "import libcst, importlib.metadata as m; print(m.version('libcst'))",
        ],
        env,
    )
    if rc != 0:
        raise SystemExit(f"bench: libcst is not importable by {sys.executable}:\n{out}")
    tools.versions["libcst"] = out.strip()
    tools.versions["python"] = f"{platform.python_implementation()} {platform.python_version()}"

    if "flake8" in skip:
        tools.flake8_why = "skipped (--skip)"
    else:
        flake8 = [sys.executable, str(HERE), "--_flake8"]

        def flake8_state() -> tuple[int, str]:
            return capture([*flake8, "--version"], env)

        rc, out = flake8_state()
        missing = [
            p
            for p, key in (("flake8-bugbear", "bugbear"), ("pandas-vet", "pandas"))
            if rc != 0 or key not in out
        ]
        if rc != 0:
            missing.insert(0, "flake8")
        if missing and install:
            problem = pip_install(missing)
            rc, out = flake8_state()
            missing = [
                p
                for p, key in (("flake8-bugbear", "bugbear"), ("pandas-vet", "pandas"))
                if rc != 0 or key not in out
            ]
            if rc != 0:
                missing.insert(0, "flake8")
            if missing and problem:
                tools.flake8_why = (
                    f"n/a: pip install failed: {problem.splitlines()[-1] if problem else ''}"
                )
        if not missing:
            tools.flake8 = [
                *flake8,
                "--isolated",
                "--select",
                "B,PD",
                "-j",
                str(jobs),
                "--exit-zero",
            ]
            tools.versions["flake8"] = " ".join(out.split())
        elif not tools.flake8_why:
            tools.flake8_why = f"n/a: not installed: {', '.join(missing)}" + (
                "" if install else " (--no-install)"
            )

    if "ruff" in skip:
        tools.ruff_why = "skipped (--skip)"
    else:
        ruff = find_exe("ruff")
        if ruff is None and install:
            problem = pip_install(["ruff"])
            ruff = find_exe("ruff")
            if ruff is None:
                tools.ruff_why = f"n/a: pip install ruff failed: {problem[-200:]}"
        if ruff:
            tools.ruff = [
                ruff,
                "check",
                "--no-cache",
                "--isolated",
                "--select",
                "B,PD,NPY,PERF",
                "--exit-zero",
                "--output-format",
                "concise",
            ]
            tools.versions["ruff"] = capture([ruff, "--version"], env)[1]
        elif not tools.ruff_why:
            tools.ruff_why = "n/a: ruff not found" + ("" if install else " (--no-install)")
    return tools


# -- one corpus, round by round ------------------------------------------------------------


@dataclass
class CorpusResult:
    corpus: Corpus
    runs: dict[str, list[Run]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # failures that make the run exit 1
    touched: list[str] = field(default_factory=list)
    three_files: list[str] = field(default_factory=list)
    three_times: list[float] = field(default_factory=list)
    na: dict[str, str] = field(default_factory=dict)  # label -> why not measured

    def add(self, run: Run) -> None:
        self.runs.setdefault(run.label, []).append(run)

    def by_round(self, label: str) -> dict[int, Run]:
        return {r.round: r for r in self.runs.get(label, []) if r.ok}


def ancestors_with_config(path: Path) -> list[Path]:
    return [d / "pyproject.toml" for d in [path, *path.parents] if (d / "pyproject.toml").is_file()]


def pick_touched(files: Sequence[str]) -> list[str]:
    k = max(1, round(len(files) * TOUCH_FRACTION))
    return [files[i * len(files) // k] for i in range(k)]


def pick_typical(corpus: Corpus, n: int = 3) -> list[str]:
    """The ``n`` files closest to the median size (lines): a typical pre-commit change."""
    by_size = sorted(corpus.files, key=lambda f: (corpus.file_lines[f], f))
    mid = len(by_size) // 2
    lo = max(0, mid - n // 2)
    return by_size[lo : lo + n]


@contextlib.contextmanager
def touched_files(tree: Path, rels: Sequence[str], tag: str) -> Iterator[None]:
    saved: list[tuple[Path, bytes, os.stat_result]] = []
    try:
        for rel in rels:
            p = tree / rel
            data = p.read_bytes()
            st = p.stat()
            saved.append((p, data, st))
            sep = b"" if not data or data.endswith(b"\n") else b"\n"
            p.write_bytes(data + sep + f"# mllint-bench: touched ({tag})\n".encode())
        yield
    finally:
        for p, data, st in saved:
            p.write_bytes(data)
            os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))


def sorted_output(path: Path) -> list[str]:
    return sorted(path.read_text(encoding="utf-8", errors="replace").splitlines())


def bench_corpus(
    corpus: Corpus, tools: Tools, args: argparse.Namespace, skip: set[str]
) -> CorpusResult:
    res = CorpusResult(corpus)
    work = Path(tempfile.mkdtemp(prefix=f"mllint-bench-{corpus.name}-"))
    try:
        above = ancestors_with_config(work)
        if above:
            res.notes.append(
                f"warning: {above[0]} exists above the work folder; mllint may use it as project root"
            )
        tree = work / "tree"
        log(f"copying {corpus.label} ({len(corpus.files)} files) to {tree}")
        for rel in corpus.files:
            dest = tree / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(corpus.root / rel, dest)
        outdir = work / "out"
        outdir.mkdir()
        # outside the checked packages: the start-up cost of a run with one cache miss
        empty = tree / "mllint_bench_empty.py"
        empty.write_text("", encoding="utf-8")
        list_file = work / "files.txt"
        list_file.write_text("".join(str(tree / f) + "\n" for f in corpus.files), encoding="utf-8")
        targets = list(corpus.packages)
        jobs = str(args.jobs)
        common = ["-q", "--output-format", "concise", "--exit-zero", "-j", jobs]
        cache_dir = work / "mllint-cache" if tools.cache_dir_flag else tree / ".mllint_cache"
        cache_args = ["--cache-dir", str(cache_dir)] if tools.cache_dir_flag else []
        cold_cmd = [
            *tools.mllint,
            "check",
            *targets,
            *(["--no-cache"] if tools.no_cache else []),
            *common,
        ]
        warm_cmd = [*tools.mllint, "check", *targets, *common, *cache_args]
        floor_cmd = [sys.executable, str(HERE), "--_floor", str(list_file), "--procs", jobs]
        res.touched = pick_touched(corpus.files)
        res.three_files = pick_typical(corpus)
        if not tools.cache:
            why = "n/a: `mllint check --help` has no --no-cache, so there is no result cache yet"
            res.na[WARM] = res.na[TOUCHED] = why
        if "mllint" in skip:
            res.na[COLD] = res.na[WARM] = res.na[TOUCHED] = "skipped (--skip)"
        if "floor" in skip:
            res.na[FLOOR] = "skipped (--skip)"
        if tools.flake8 is None:
            res.na[FLAKE8] = tools.flake8_why
        if tools.ruff is None:
            res.na[RUFF] = tools.ruff_why

        def out_file(label: str) -> Path:
            return outdir / (re.sub(r"\W+", "_", label) + ".txt")

        def timed(label: str, rnd: int, cmd: Sequence[str], fatal: bool) -> Run:
            log(f"round {rnd}: {label}: {' '.join(cmd)}")
            run = measure(label, rnd, cmd, tree, tools.env, out_file(label), args.timeout)
            log(
                f"round {rnd}: {label}: {run.wall:.2f} s wall, {run.cpu:.2f} s CPU, "
                f"{run.rss_1proc_mb:.0f} MB, exit {run.returncode}{' TIMEOUT' if run.timed_out else ''}"
            )
            res.add(run)
            if not run.ok:
                msg = (
                    f"{label} (round {rnd}) failed: exit {run.returncode}"
                    f"{', timed out' if run.timed_out else ''}: {run.stderr_tail.strip()[-600:]}"
                )
                (res.problems if fatal else res.notes).append(msg)
            return run

        for rnd in range(1, args.rounds + 1):
            cold_out: list[str] | None = None
            if "mllint" not in skip:
                cold = timed(COLD, rnd, cold_cmd, fatal=True)
                if cold.ok:
                    cold_out = sorted_output(out_file(COLD))
            if "floor" not in skip:
                timed(FLOOR, rnd, floor_cmd, fatal=True)
            if tools.flake8 is not None:
                timed(FLAKE8, rnd, [*tools.flake8, *targets], fatal=False)
            if tools.ruff is not None:
                timed(RUFF, rnd, [*tools.ruff, *targets], fatal=False)
            if tools.cache and "mllint" not in skip:
                # fill (round 1: a cold run that writes the cache) or re-warm after the restore
                fill = timed(
                    FILL if rnd == 1 else "mllint re-warm (untimed)", rnd, warm_cmd, fatal=True
                )
                if rnd > 1:
                    res.runs.pop("mllint re-warm (untimed)", None)
                if rnd == 1 and fill.ok and not cache_dir.exists():
                    res.notes.append(
                        f"warning: no cache folder at {cache_dir} after a run with the cache on"
                    )
                for label, ctx in (
                    (WARM, contextlib.nullcontext()),
                    (TOUCHED, touched_files(tree, res.touched, f"round {rnd}, {time.time_ns()}")),
                ):
                    with ctx:
                        run = timed(label, rnd, warm_cmd, fatal=True)
                        if label == TOUCHED and tools.no_cache:
                            # the cold cost of exactly these files, in their touched state
                            timed(
                                TOUCHED_COLD,
                                rnd,
                                [*tools.mllint, "check", *res.touched, "--no-cache", *common],
                                fatal=False,
                            )
                            timed(
                                EMPTY_COLD,
                                rnd,
                                [*tools.mllint, "check", str(empty), "--no-cache", *common],
                                fatal=False,
                            )
                    if run.ok and cold_out is not None:
                        got = sorted_output(out_file(label))
                        if got != cold_out:
                            only_cold = sorted(set(cold_out) - set(got))[:5]
                            only_here = sorted(set(got) - set(cold_out))[:5]
                            res.problems.append(
                                f"{label} (round {rnd}) reported {len(got)} lines, the cold run "
                                f"{len(cold_out)}: the cached results differ from a fresh check."
                                f" Only cold: {only_cold}. Only {label}: {only_here}"
                            )
            # the pre-commit shape, interleaved with the rounds
            if "mllint" not in skip:
                three_cmd = [
                    *tools.mllint,
                    "check",
                    *res.three_files,
                    *(["--no-cache"] if tools.no_cache else []),
                    *common,
                ]
                times, problem = quick_wall(three_cmd, tree, tools.env, args.reps_3files)
                res.three_times.extend(times)
                if problem:
                    res.problems.append(f"{THREE} failed: {problem}")
        if args.keep:
            res.notes.append(f"work folder kept: {work}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return res


# -- ratios and targets --------------------------------------------------------------------


@dataclass
class Ratio:
    name: str
    per_round: list[float]
    target: str
    limit: float | None
    cpu_per_round: list[float] = field(default_factory=list)
    why_na: str = ""

    @property
    def median(self) -> float | None:
        return median(self.per_round)

    def verdict(self, judge: bool) -> str:
        if self.target == "info":
            return "info"
        if self.median is None or self.limit is None:
            return "n/a"
        if not judge:
            return "-"
        return "PASS" if self.median <= self.limit else "FAIL"


def corpus_ratios(res: CorpusResult, jobs: int) -> list[Ratio]:
    cold, floor = res.by_round(COLD), res.by_round(FLOOR)
    flake8, ruff = res.by_round(FLAKE8), res.by_round(RUFF)
    warm, touched = res.by_round(WARM), res.by_round(TOUCHED)

    def pair(
        name: str, a: dict[int, Run], b: dict[int, Run], target: str, limit: float, na_label: str
    ) -> Ratio:
        rounds = sorted(set(a) & set(b))
        r = Ratio(
            name,
            [a[i].wall / b[i].wall for i in rounds],
            target,
            limit,
            [a[i].cpu / b[i].cpu for i in rounds if b[i].cpu > 0],
        )
        if not rounds:
            r.why_na = res.na.get(na_label) or res.na.get(COLD) or "not measured"
        return r

    out = [
        pair(f"cold / {FLAKE8} -j{jobs}", cold, flake8, "<= 0.5", 0.5, FLAKE8),
        pair(f"cold / {FLOOR} ({jobs} procs)", cold, floor, "<= 1.5", 1.5, FLOOR),
        pair(f"warm / {RUFF}", warm, ruff, "<= 2", 2.0, WARM if WARM in res.na else RUFF),
    ]
    # "the cold per-file cost of those files", measured: a cold run of exactly those files
    # (CPU: they are checked in one process) minus a cold run of one empty file (start-up and
    # imports, which the 2 x warm allowance covers)
    tcold, empty = res.by_round(TOUCHED_COLD), res.by_round(EMPTY_COLD)
    rounds = sorted(set(warm) & set(touched) & set(tcold) & set(empty))
    expect = {i: 2 * warm[i].wall + max(0.0, tcold[i].cpu - empty[i].cpu) for i in rounds}
    t = Ratio(
        f"touched / (2 x warm + cold cost of the {len(res.touched)} files)",
        [touched[i].wall / expect[i] for i in rounds],
        "<= 1",
        1.0,
    )
    if not rounds:
        t.why_na = res.na.get(TOUCHED, "not measured")
    out.append(t)
    # the estimate used before the files' own cold run was measured: their share (by lines)
    # of the whole cold run's CPU. Since the pre-scan skips most files without findings, cost
    # per line is far from uniform; shown for comparison, not judged
    rounds = sorted(set(cold) & set(warm) & set(touched))
    total_lines = max(1, res.corpus.lines)
    share = sum(res.corpus.file_lines.get(f, 0) for f in res.touched) / total_lines
    estimate = {i: 2 * warm[i].wall + (cold[i].cpu or cold[i].wall) * share for i in rounds}
    est = Ratio(
        "  same, cold cost estimated by line share",
        [touched[i].wall / estimate[i] for i in rounds],
        "info",
        None,
    )
    est.why_na = "information only"
    out.append(est)
    return out


# -- the report ----------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "nproc": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "cpu_model": platform.processor() or platform.machine(),
        "ram_gib": None,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["ram_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    if hasattr(os, "getloadavg"):
        info["loadavg_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


def table(rows: Sequence[Sequence[str]], header: Sequence[str], right: Sequence[bool]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(c).rjust(w) if rt else str(c).ljust(w)
            for c, w, rt in zip(cells, widths, right, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def measurement_rows(res: CorpusResult) -> list[list[str]]:
    labels = [COLD, FILL, WARM, TOUCHED, TOUCHED_COLD, EMPTY_COLD, FLOOR, FLAKE8, RUFF]
    rows = []
    for label in labels:
        runs = [r for r in res.runs.get(label, []) if r.ok]
        if not runs:
            if label in (FILL, TOUCHED_COLD, EMPTY_COLD) and label not in res.runs:
                continue
            why = res.na.get(label) or (
                "failed: see problems below" if label in res.runs else "not measured"
            )
            rows.append([label, "0", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", why])
            continue
        walls = [r.wall for r in runs]
        wall = statistics.median(walls)
        alls = [r.rss_all_mb for r in runs if r.rss_all_mb is not None]
        one = max(r.rss_1proc_mb for r in runs)
        # the sampled sum can miss a short peak; it is never below the largest process
        rss = f"{one:.0f} / " + (f"{max(one, *alls):.0f}" if alls else "n/a")
        note = ""
        if label == TOUCHED:
            note = f"{len(res.touched)} file(s) touched"
        elif label == FILL:
            note = "round 1 only: cold run that also writes the cache"
        elif label == TOUCHED_COLD:
            note = "--no-cache, the touched files only (their cold cost: CPU minus the next line)"
        elif label == EMPTY_COLD:
            note = "--no-cache, start-up + imports of a run with a miss"
        rows.append(
            [
                label,
                str(len(runs)),
                f"{wall:.2f}",
                f"{min(walls):.2f}",
                fmt_int(res.corpus.lines / wall),
                f"{statistics.median(r.cpu for r in runs):.1f}",
                rss,
                str(runs[-1].out_lines),
                note,
            ]
        )
    return rows


def report(
    results: Sequence[CorpusResult],
    startup: dict[str, Any],
    tools: Tools,
    machine: dict[str, Any],
    args: argparse.Namespace,
) -> tuple[str, dict[str, Any]]:
    judge = not args.smoke
    lines: list[str] = []
    data: dict[str, Any] = {
        "machine": machine,
        "versions": tools.versions,
        "jobs": args.jobs,
        "rounds": args.rounds,
        "smoke": args.smoke,
        "corpora": [],
        "startup": startup,
        "targets": [],
    }
    lines.append("")
    lines.append(
        f"== mllint benchmark{' (SMOKE: tiny generated corpus, targets not judged)' if args.smoke else ''}"
    )
    for res in results:
        c = res.corpus
        lines.append("")
        lines.append(
            f"-- {c.label}: {len(c.files):,} files, {c.lines:,} lines, {c.size / 1e6:.1f} MB; "
            f"{args.rounds} round(s), jobs={args.jobs}"
        )
        lines.append("")
        lines.extend(
            table(
                measurement_rows(res),
                [
                    "measurement",
                    "runs",
                    "wall med s",
                    "min s",
                    "lines/s",
                    "CPU s",
                    "peak RSS MB 1 proc / all",
                    "out lines",
                    "note",
                ],
                [False, True, True, True, True, True, True, True, False],
            )
        )
        ratios = corpus_ratios(res, args.jobs)
        three = median(res.three_times)
        rows = []
        for r in ratios:
            rows.append(
                [
                    r.name,
                    " ".join(f"{x:.2f}" for x in r.per_round) or "-",
                    fmt_num(r.median),
                    fmt_num(median(r.cpu_per_round)),
                    r.target,
                    r.verdict(judge),
                    r.why_na,
                ]
            )
        three_verdict = (
            "n/a" if three is None else ("-" if not judge else ("PASS" if three < 0.6 else "FAIL"))
        )
        rows.append(
            [
                f"{THREE} (pre-commit shape, s)",
                " ".join(f"{x:.2f}" for x in res.three_times) or "-",
                fmt_num(three, 3),
                "",
                "< 0.6 s",
                three_verdict,
                ", ".join(res.three_files),
            ]
        )
        lines.append("")
        lines.extend(
            table(
                rows,
                [
                    "ratio mllint / peer, same round",
                    "per round",
                    "median",
                    "CPU ratio",
                    "target",
                    "result",
                    "note",
                ],
                [False, False, True, True, False, False, False],
            )
        )
        for note in res.notes:
            lines.append(f"note: {note}")
        for prob in res.problems:
            lines.append(f"PROBLEM: {prob}")
        cdata = {
            "name": c.name,
            "label": c.label,
            "files": len(c.files),
            "lines": c.lines,
            "bytes": c.size,
            "touched_files": res.touched,
            "three_files": res.three_files,
            "three_times": res.three_times,
            "runs": {k: [asdict(r) for r in v] for k, v in res.runs.items()},
            "not_measured": res.na,
            "ratios": [
                {
                    "name": r.name,
                    "per_round": r.per_round,
                    "median": r.median,
                    "cpu_per_round": r.cpu_per_round,
                    "target": r.target,
                    "result": r.verdict(judge),
                    "why_na": r.why_na,
                }
                for r in ratios
            ],
            "notes": res.notes,
            "problems": res.problems,
        }
        data["corpora"].append(cdata)
        for r in ratios:
            if r.target == "info":
                continue
            data["targets"].append(
                {"corpus": c.name, "name": r.name, "median": r.median, "result": r.verdict(judge)}
            )
        data["targets"].append(
            {"corpus": c.name, "name": THREE, "median": three, "result": three_verdict}
        )

    lines.append("")
    lines.append("-- start-up (wall per process, after one untimed warm-up run)")
    lines.append("")
    rows = []
    for label, target in ((VERSION, 0.080), (IMPORT, 0.030), (PASS, None)):
        times = startup.get(label, [])
        med = median(times)
        verdict = (
            "n/a"
            if med is None or target is None
            else ("-" if not judge else ("PASS" if med < target else "FAIL"))
        )
        rows.append(
            [
                label,
                str(len(times)),
                fmt_num(med and med * 1000, 1),
                fmt_num(times and min(times) * 1000, 1),
                f"< {target * 1000:.0f} ms" if target else "(reference)",
                verdict if target else "",
                startup.get(label + " error", ""),
            ]
        )
        if target:
            data["targets"].append(
                {"corpus": None, "name": label, "median": med, "result": verdict}
            )
    lines.extend(
        table(
            rows,
            ["start-up", "runs", "median ms", "min ms", "target", "result", "note"],
            [False, True, True, True, False, False, False],
        )
    )

    lines.append("")
    lines.append("-- machine")
    load_end = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    machine["loadavg_end"] = load_end
    lines.append(
        f"cores (nproc): {machine['nproc']}   CPU: {machine['cpu_model']}   RAM: {machine['ram_gib']} GiB"
        f"   {machine['os']}"
    )
    lines.append(f"python: {machine['python']}")
    lines.append(
        f"load average at start {machine.get('loadavg_start')}, at end {load_end}"
        + (
            "  (busy machine: expect noise; compare the same-round ratios)"
            if load_end
            and max(load_end[0], (machine.get("loadavg_start") or [0])[0]) > machine["nproc"] * 0.75
            else ""
        )
    )
    for k, v in tools.versions.items():
        if k != "python":  # printed above
            lines.append(f"{k}: {v}")
    cache_state = (
        "result cache: on by default, --no-cache for cold runs"
        + (", --cache-dir used" if tools.cache_dir_flag else ", default <cwd>/.mllint_cache")
        if tools.cache
        else "result cache: not in this mllint (no --no-cache flag): warm/touched are n/a"
    )
    lines.append(cache_state)
    data["cache"] = cache_state
    if judge:
        verdicts = [t["result"] for t in data["targets"]]
        lines.append("")
        lines.append(
            f"targets: {verdicts.count('PASS')} PASS, {verdicts.count('FAIL')} FAIL, "
            f"{verdicts.count('n/a')} n/a"
        )
    lines.append("")
    return "\n".join(lines), data


def measure_startup(tools: Tools, reps: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cwd = Path(tempfile.gettempdir())
    for label, cmd in (
        (VERSION, [*tools.mllint, "--version"]),
        (IMPORT, [sys.executable, "-c", "import mllint"]),
        (PASS, [sys.executable, "-c", "pass"]),
    ):
        log(f"start-up: {label} x {reps}")
        times, problem = quick_wall(cmd, cwd, tools.env, reps)
        out[label] = times
        if problem:
            out[label + " error"] = problem
    return out


# -- main ----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--corpus",
        default="sklearn,transformers",
        help="comma-separated PyPI projects, optionally pinned (sklearn, transformers, "
        "scikit-learn==1.9.1, ...); default: sklearn,transformers",
    )
    ap.add_argument(
        "--rounds", type=int, default=3, help="rounds; every tool runs once per round (default 3)"
    )
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="tiny generated corpus, 1 round, no download, no install, targets not judged",
    )
    ap.add_argument(
        "--cache-dir",
        type=Path,
        default=DEFAULT_CACHE,
        help=f"where wheels and unpacked sources are kept between runs (default {DEFAULT_CACHE})",
    )
    ap.add_argument(
        "--refresh", action="store_true", help="download the wheels again (newest version)"
    )
    ap.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="parallelism given to every tool: mllint -j, flake8 -j, the floor's pool, "
        "ruff's RAYON_NUM_THREADS (default 2)",
    )
    ap.add_argument(
        "--skip", default="", help=f"comma-separated tools not to run: {', '.join(TOOL_NAMES)}"
    )
    ap.add_argument(
        "--no-install",
        action="store_true",
        help="do not pip-install missing peers (flake8-bugbear, pandas-vet, ruff)",
    )
    ap.add_argument(
        "--reps", type=int, default=10, help="runs of each start-up measurement (default 10)"
    )
    ap.add_argument(
        "--reps-3files",
        type=int,
        default=None,
        help="timed runs of the 3-file check per round (default: ceil(5 / rounds))",
    )
    ap.add_argument(
        "--timeout", type=float, default=3600, help="seconds before one command is killed"
    )
    ap.add_argument(
        "--json", type=Path, help="also write every run, ratio and verdict to this JSON file"
    )
    ap.add_argument(
        "--keep", action="store_true", help="keep the temporary work folders (outputs, cache)"
    )
    ap.add_argument("--fail-on-target", action="store_true", help="exit 1 when a target FAILs")
    ap.add_argument("--_floor", help=argparse.SUPPRESS)
    ap.add_argument("--procs", type=int, default=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.smoke:
        args.rounds = 1
        args.no_install = True
        args.reps = min(args.reps, 3)
    if args.rounds < 1 or args.jobs < 1:
        ap.error("--rounds and --jobs must be at least 1")
    if args.reps_3files is None:
        args.reps_3files = 1 if args.smoke else max(1, math.ceil(5 / args.rounds))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--_flake8"]:
        return flake8_worker(argv[1:])
    args = parse_args(argv)
    if args._floor:
        return floor_worker(args._floor, args.procs)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    unknown = skip - set(TOOL_NAMES)
    if unknown:
        raise SystemExit(
            f"bench: unknown --skip {sorted(unknown)}; choose from {', '.join(TOOL_NAMES)}"
        )
    machine = machine_info()
    tools = discover_tools(args.jobs, install=not args.no_install, skip=skip)
    log(f"tools: {tools.versions}; mllint cache: {'yes' if tools.cache else 'no'}")

    smoke_dir: Path | None = None
    corpora: list[Corpus] = []
    try:
        if args.smoke:
            smoke_dir = Path(tempfile.mkdtemp(prefix="mllint-bench-smoke-"))
            corpora.append(make_smoke_corpus(smoke_dir))
        else:
            for spec in (s.strip() for s in args.corpus.split(",")):
                if spec:
                    corpora.append(fetch_corpus(spec, args.cache_dir.expanduser(), args.refresh))
        for c in corpora:
            log(f"corpus {c.label}: {len(c.files)} files, {c.lines} lines")
        startup = {} if "startup" in skip else measure_startup(tools, args.reps)
        results = [bench_corpus(c, tools, args, skip) for c in corpora]
    finally:
        if smoke_dir is not None:
            shutil.rmtree(smoke_dir, ignore_errors=True)

    text, data = report(results, startup, tools, machine, args)
    print(text, flush=True)
    if args.json:
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    problems = [p for r in results for p in r.problems]
    if problems:
        log(f"{len(problems)} problem(s): see PROBLEM lines above")
        return 1
    if args.fail_on_target and any(t["result"] == "FAIL" for t in data["targets"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
