"""Two ``mllint check --fix --unsafe-fixes`` runs started at once on the same tree, sharing
the result cache (an editor's fix-on-save next to a pre-commit hook, two terminals...): every
file ends original or correctly fixed (never fixed twice, torn or unparseable), and the cache
they leave behind is valid."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_interrupt import distinct_contents, fixed_versions, make_tree

N_FILES = 120
ALLOWED_ERROR = "file changed on disk while mllint was running; fix not written"


def _env() -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    for var in ("MLLINT_OUTPUT_FORMAT", "MLLINT_CACHE_DIR", "MLLINT_NO_CACHE"):
        env.pop(var, None)
    return env


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "mllint", "check", *args]


def _report(root: Path, *args: str) -> list[dict[str, object]]:
    r = subprocess.run(
        _cmd("--output-format", "json", "--exit-zero", *args, "."),
        cwd=root, env=_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    return sorted(json.loads(r.stdout), key=lambda v: json.dumps(v, sort_keys=True))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], dict[bytes, bytes]]:
    fixed = fixed_versions(distinct_contents(), tmp_path_factory.mktemp("ref"))
    contents = list(fixed)
    files = {f"pkg{i % 7}/m{i}.py": contents[i % len(contents)] for i in range(N_FILES)}
    return files, fixed


@pytest.mark.parametrize("jobs", ["2", "1"])
def test_two_fix_runs_at_once(
    jobs: str, corpus: tuple[dict[str, bytes], dict[bytes, bytes]], tmp_path: Path
) -> None:
    files, fixed = corpus
    root = tmp_path / "tree"
    make_tree(root, files)
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n\n[tool.mllint]\n')
    logs = []
    procs = []
    for i in range(2):
        out = open(tmp_path / f"out{i}", "w+")  # noqa: SIM115 - closed below
        logs.append(out)
        procs.append(
            subprocess.Popen(
                _cmd("--fix", "--unsafe-fixes", "-j", jobs, "--output-format", "concise", "."),
                cwd=root,
                env=_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        )
    deadline = time.monotonic() + 600
    for p in procs:
        p.wait(timeout=max(1, deadline - time.monotonic()))
    outputs = []
    for out in logs:
        out.seek(0)
        outputs.append(out.read())
        out.close()
    for p, output in zip(procs, outputs, strict=True):
        assert p.returncode in (0, 1), output
        assert "Traceback" not in output and "internal error" not in output, output
        # the only per-file error a race may cause is the refusal to overwrite a changed file
        errors = [line for line in output.splitlines() if ": error: " in line]
        assert all(line.endswith(ALLOWED_ERROR) for line in errors), errors

    # every file is correctly fixed (the other run saw the fixed file, or refused to write)
    wrong = [rel for rel, data in files.items() if (root / rel).read_bytes() != fixed[data]]
    assert not wrong, f"{len(wrong)} files are not the fully fixed version: {wrong[:5]}"
    for rel in files:
        ast.parse((root / rel).read_bytes())
    cache = root / ".mllint_cache"
    assert cache.is_dir()
    assert not [p for p in cache.rglob(".tmp-*")], "temporary cache entries left behind"

    # the cache is valid: a cached run reports exactly what a fresh one does
    fresh = _report(root, "--no-cache")
    assert _report(root) == fresh  # every entry comes from the concurrent runs' cache
    # and a cached --fix run finds nothing left to do
    before = {rel: (root / rel).stat().st_mtime_ns for rel in files}
    r = subprocess.run(
        _cmd("--fix", "--unsafe-fixes", "--exit-zero", "-q", "."), cwd=root, env=_env(),
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert {rel: (root / rel).stat().st_mtime_ns for rel in files} == before


def test_check_runs_at_once_share_the_cache(
    corpus: tuple[dict[str, bytes], dict[bytes, bytes]], tmp_path: Path
) -> None:
    """Concurrent plain checks filling an empty cache agree with each other and with a fresh
    run, and do not touch the files."""
    files, _ = corpus
    root = tmp_path / "tree"
    make_tree(root, files)
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    stamps = {rel: (root / rel).stat().st_mtime_ns for rel in files}
    procs = [
        subprocess.Popen(
            _cmd("--output-format", "json", "--exit-zero", "."),
            cwd=root,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    reports = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        reports.append(sorted(json.loads(out), key=lambda v: json.dumps(v, sort_keys=True)))
    fresh = _report(root, "--no-cache")
    assert all(r == fresh for r in reports)
    assert _report(root) == fresh
    assert {rel: (root / rel).stat().st_mtime_ns for rel in files} == stamps
