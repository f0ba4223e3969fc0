"""``tests/perf/bench.py --smoke`` still runs: a tiny generated corpus, one round, no download.

The benchmark itself is run by hand (see docs/performance.md); this only keeps it from rotting.
Peers (flake8 with bugbear and pandas-vet, ruff) are optional: when one is not installed its
test is skipped with the reason the benchmark gives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "tests" / "perf" / "bench.py"


@pytest.fixture(scope="module")
def smoke(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLLINT_")}
    r = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    data = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    return r, data


def table_line(stdout: str, label: str) -> str | None:
    for line in stdout.splitlines():
        if line.startswith(label + " "):
            return line
    return None


def test_smoke_exits_zero(smoke: tuple[subprocess.CompletedProcess[str], dict[str, Any]]) -> None:
    r, data = smoke
    assert r.returncode == 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert data.get("smoke") is True


@pytest.mark.parametrize(
    "label", ["mllint cold", "mllint warm", "mllint touched 1%", "libcst parse floor"]
)
def test_core_lines_present(
    smoke: tuple[subprocess.CompletedProcess[str], dict[str, Any]], label: str
) -> None:
    r, data = smoke
    line = table_line(r.stdout, label)
    assert line is not None, f"no table line for {label!r}:\n{r.stdout}"
    if label in ("mllint cold", "libcst parse floor"):
        # measured, not n/a: one run with a wall time
        assert " n/a " not in line, line
        runs = data["corpora"][0]["runs"][label]
        assert len(runs) == 1 and runs[0]["returncode"] == 0, runs
    if label == "mllint cold":
        # the generated corpus is full of pitfalls: a cold run that finds nothing checked nothing
        assert data["corpora"][0]["runs"][label][0]["out_lines"] > 0


def test_startup_lines_present(
    smoke: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    r, _ = smoke
    for label in ("mllint --version", "python -c 'import mllint'", "mllint check 3 files"):
        assert table_line(r.stdout, label) is not None, f"no table line for {label!r}:\n{r.stdout}"


@pytest.mark.parametrize("label", ["flake8 B,PD", "ruff B,PD,NPY,PERF"])
def test_peer_lines(
    smoke: tuple[subprocess.CompletedProcess[str], dict[str, Any]], label: str
) -> None:
    r, data = smoke
    line = table_line(r.stdout, label)
    assert line is not None, f"no table line for {label!r}:\n{r.stdout}"
    why = data["corpora"][0]["not_measured"].get(label)
    if why:
        print(f"{label}: {why}")
        pytest.skip(f"{label} not measured: {why}")
    runs = data["corpora"][0]["runs"][label]
    assert runs and runs[0]["returncode"] == 0, runs
