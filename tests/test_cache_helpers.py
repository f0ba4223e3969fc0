"""A run with a warm cache and a few misses among many files forks helper processes at the
first miss; they import libcst and the rules while the main process goes on with the
lookups, then check the misses. The results are exactly those of a fresh run, --fix works
through them, and if they break the main process checks the files itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NAN_SOURCE, run_cli

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="helpers need fork")

N_FILES = 200
# the packages, not the project root: the project rules' run (which reads every file when
# one changes) stays out of these tests
PACKAGES = ["pkg0", "pkg1", "pkg2", "pkg3"]
# a fix (ML102, unsafe: x == np.nan -> math.isnan(x)) in an otherwise clean file
FIXABLE = "import numpy as np\n\n\ndef bad(x):\n    return x == np.nan\n"


def _tree(root: Path) -> Path:
    (root / "pyproject.toml").write_text("[tool.mllint]\n")
    for i in range(N_FILES):
        p = root / f"pkg{i % 4}" / f"m{i:03d}.py"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(NAN_SOURCE.replace("bmi", f"c{i}") if i % 25 == 0 else f"x{i} = {i}\n")
    return root


def _instrumented(
    root: Path, *args: str, prelude: str = ""
) -> tuple[list[object], dict[str, object]]:
    """Run mllint in a subprocess whose runner records whether helpers were started, and
    whether the main process imported libcst; returns (JSON findings, facts)."""
    code = textwrap.dedent(
        f"""\
        import json, os, sys
        import mllint.runner as runner
        started = []
        _start = runner._start_helpers
        def spy(workers):
            started.append(workers)
            return _start(workers)
        runner._start_helpers = spy
        {prelude}
        import mllint.cli
        rc = mllint.cli.main({["check", "-q", "--output-format", "json", *args, *PACKAGES]!r})
        sys.stdout.flush()
        print("\\nFACTS" + json.dumps({{"rc": rc, "helpers": started,
              "libcst_in_main": "libcst" in sys.modules}}))
        """
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert "Traceback" not in r.stderr, r.stderr
    out, facts = r.stdout.rsplit("\nFACTS", 1)
    return json.loads(out), json.loads(facts)


def _touch(root: Path, names: list[str], text: str) -> None:
    for name in names:
        (root / name).write_text(text)


def _fresh(root: Path) -> list[object]:
    r = run_cli("check", "-q", "--output-format", "json", "--no-cache", *PACKAGES, cwd=root)
    data: list[object] = json.loads(r.stdout)
    return data


def test_a_few_misses_are_checked_by_helpers_with_the_fresh_results(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    first, facts = _instrumented(root)
    assert facts["helpers"] == []  # no cache folder yet: a first run, no helpers
    assert len(first) == 2 * (N_FILES // 25)
    # three files change: one gains findings, one loses them, one stays clean
    _touch(root, ["pkg1/m001.py"], NAN_SOURCE.replace("bmi", "new"))
    _touch(root, ["pkg0/m000.py"], "x = 0\n")
    _touch(root, ["pkg2/m002.py"], "y = 2\n")
    warm, facts = _instrumented(root)
    assert facts["helpers"] == [2]
    assert facts["libcst_in_main"] is False  # the misses were checked in the helpers
    assert facts["rc"] == 1
    assert warm == _fresh(root)
    lines = sorted((f["filename"], f["line"]) for f in warm)  # type: ignore[index]
    assert ("pkg1/m001.py", 5) in lines and ("pkg1/m001.py", 6) in lines
    assert not any(name == "pkg0/m000.py" for name, _ in lines)


def test_no_helpers_for_a_miss_near_the_end_or_with_one_job(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _instrumented(root)
    _touch(root, ["pkg3/m199.py"], NAN_SOURCE)  # looked up last: nothing left to overlap with
    got, facts = _instrumented(root)
    assert facts["helpers"] == [] and facts["libcst_in_main"] is True
    assert got == _fresh(root)
    _touch(root, ["pkg0/m004.py"], NAN_SOURCE)
    got, facts = _instrumented(root, "-j", "1")
    assert facts["helpers"] == []
    assert got == _fresh(root)


def test_fix_through_helpers(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _instrumented(root)
    _touch(root, ["pkg0/m004.py", "pkg1/m005.py"], FIXABLE)
    _, facts = _instrumented(root, "--fix", "--unsafe-fixes")
    assert facts["helpers"] == [2]
    for name in ("pkg0/m004.py", "pkg1/m005.py"):
        fixed = (root / name).read_text()
        assert fixed == "import math\n\n\ndef bad(x):\n    return math.isnan(x)\n", fixed
    # the fixed files were cached as clean: a fresh run agrees with the cached one
    again, facts = _instrumented(root)
    assert facts["helpers"] == []
    assert again == _fresh(root)


def test_broken_helpers_fall_back_to_the_main_process(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _instrumented(root)
    _touch(root, ["pkg1/m001.py", "pkg2/m002.py"], NAN_SOURCE)
    # every helper dies while starting: the pool breaks, the main process checks the files
    got, facts = _instrumented(root, prelude="runner._helper_init = lambda parent: os._exit(3)")
    assert facts["helpers"] == [2]
    assert facts["libcst_in_main"] is True
    assert facts["rc"] == 1
    assert got == _fresh(root)


def _start_with_busy_helpers(
    tmp_path: Path, **popen: Any
) -> tuple[subprocess.Popen[str], list[int]]:
    """A run whose two helpers, once started, report their pids and then stay busy (as if
    importing or checking a large file): (the main process, the helper pids)."""
    root = _tree(tmp_path)
    _instrumented(root)
    _touch(root, ["pkg1/m001.py"], NAN_SOURCE)
    pids = tmp_path / "helpers.txt"
    code = textwrap.dedent(
        f"""\
        import os, signal, sys, time
        signal.signal(signal.SIGINT, signal.default_int_handler)
        import mllint.runner as runner
        _init = runner._helper_init
        def busy_init(parent):
            _init(parent)
            with open({str(pids)!r}, "a") as fh:
                fh.write(f"{{os.getpid()}}\\n")
            time.sleep(60)
        runner._helper_init = busy_init
        import mllint.cli
        sys.exit(mllint.cli.main(["check", "-q", *{PACKAGES!r}]))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=root, text=True, **popen)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if pids.exists() and len(pids.read_text().split()) == 2:
            break
        time.sleep(0.05)
    return proc, [int(p) for p in pids.read_text().split()] if pids.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (dead, not yet reaped by init) counts as gone
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_helpers_end_when_the_main_process_is_killed(tmp_path: Path) -> None:
    """SIGKILL to the main process alone (an OOM kill, a CI runner cleaning up) must not
    leave helpers behind: they are tied to it and end with it."""
    proc, helpers = _start_with_busy_helpers(tmp_path)
    try:
        assert len(helpers) == 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in helpers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [p for p in helpers if _alive(p)]
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_during_a_helpers_run_is_reported_once(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole process group: the main process says it was interrupted and
    exits 130; the helpers end without printing a traceback."""
    proc, helpers = _start_with_busy_helpers(
        tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        assert len(helpers) == 2
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "mllint: interrupted" in err
    assert "Traceback" not in err, err
    assert not [p for p in helpers if _alive(p)]


def test_many_misses_with_more_jobs_go_to_the_full_pool(tmp_path: Path) -> None:
    """Helpers start at the first miss; when the misses turn out to be many (a settings or
    branch change) and more jobs are allowed than there are helpers, the helpers are let go
    and the usual pool of -j workers checks them. Same results as a fresh run."""
    root = _tree(tmp_path)
    _instrumented(root)
    padding = "".join(f"# filler line {k} to make the file bigger\n" for k in range(60))
    names = [f"pkg{i % 4}/m{i:03d}.py" for i in range(1, 121)]
    for name in names:
        (root / name).write_text(NAN_SOURCE + padding)
    got, facts = _instrumented(root, "-j", "4")
    assert facts["helpers"] == [2]
    assert facts["libcst_in_main"] is True  # the main process imported for the pool
    assert got == _fresh(root)
    untouched_with_findings = [i for i in range(0, N_FILES, 25) if not 1 <= i <= 120]
    assert len(got) == 2 * (len(names) + len(untouched_with_findings))
