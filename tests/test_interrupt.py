"""Interrupting ``mllint check --fix`` (Ctrl-C, ``kill``, a CI timeout) never leaves a file
half-written: every file is either its original bytes or its fully fixed bytes, and no
temporary file (``*.mllint-tmp``) stays behind. A rerun then finishes the job."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
N_FILES = 300
_PATH_DIRECTIVE = re.compile(r"^#\s*mllint-fixture:\s*path=", re.MULTILINE)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and process groups")


def _env() -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    for var in ("MLLINT_OUTPUT_FORMAT", "MLLINT_CACHE_DIR", "MLLINT_NO_CACHE"):
        env.pop(var, None)
    return env


def _default_signals() -> None:
    """In the child, before exec: a shell starts background jobs with SIGINT ignored, and
    Python then installs no KeyboardInterrupt handler; these tests are about the default
    disposition, whatever started the test run."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _mllint(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mllint", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def distinct_contents() -> list[bytes]:
    """Sources with safe or unsafe fixes: the bad fixtures that need no special path."""
    out = []
    for bad in sorted((ROOT / "fixtures").glob("ML*/bad*.py")):
        if bad.name.endswith((".fixed.py", ".unsafe.py")):
            continue
        data = bad.read_bytes()
        if _PATH_DIRECTIVE.search(data.decode("utf-8")):
            continue
        out.append(data)
    # a large one, so that some files take a while to fix
    big = "import numpy as np\nimport pandas as pd\n\n"
    for i in range(40):
        big += textwrap.dedent(
            f"""\
            def step_{i}(frame, history=[], scale=np.ones(3)):
                if frame["loss"].mean() == 0.{i % 9 + 1}:
                    frame[frame["x"] < 0]["x"] = 0
                return frame[frame["y"] == np.nan], history, scale

            """
        )
    out.append(big.encode())
    return out


def fixed_versions(contents: list[bytes], tmp: Path) -> dict[bytes, bytes]:
    """The fully fixed bytes of each content, from an uninterrupted run on a copy."""
    ref = tmp / "reference"
    ref.mkdir()
    for i, data in enumerate(contents):
        (ref / f"m{i}.py").write_bytes(data)
    r = _mllint("check", "--fix", "--unsafe-fixes", "--no-cache", "--exit-zero", "-q", ".", cwd=ref)
    assert r.returncode == 0, r.stdout + r.stderr
    out = {data: (ref / f"m{i}.py").read_bytes() for i, data in enumerate(contents)}
    return {data: new for data, new in out.items() if new != data}  # only contents with fixes


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], dict[bytes, bytes]]:
    """({relative path: original bytes} for N_FILES files, {original: fully fixed})."""
    fixed = fixed_versions(distinct_contents(), tmp_path_factory.mktemp("ref"))
    contents = list(fixed)
    assert len(contents) >= 10, "too few fixtures with fixes"
    # the big file every few files, so that there is work left when the signal comes
    files = {
        f"d{i % 10}/m{i}.py": contents[-1] if i % 10 == 0 else contents[i % len(contents)]
        for i in range(N_FILES)
    }
    return files, fixed


def make_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        return True
    return True


@dataclass
class Interrupted:
    returncode: int
    running: bool  # still running when the signal was sent
    orphans: bool  # worker processes still alive 8 s after the main process ended
    stderr: str


def run_and_interrupt(
    root: Path, files: dict[str, bytes], send: Callable[[subprocess.Popen[bytes]], None], logs: Path
) -> Interrupted:
    """Start a fix run, wait until it has written its first file, then ``send`` a signal and
    wait for the main process. Worker processes still alive 8 s later are killed (and
    reported as orphans)."""
    with open(logs / "stdout", "wb") as out, open(logs / "stderr", "wb") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mllint",
                "check",
                "--fix",
                "--unsafe-fixes",
                "-j",
                "2",
                "--no-cache",
                ".",
            ],
            cwd=root,
            env=_env(),
            stdout=out,  # files, not pipes: orphaned workers would hold pipes open
            stderr=err,
            start_new_session=True,  # its own process group, like a shell job
            preexec_fn=_default_signals,
        )
    paths = [root / rel for rel in files]
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if any(p.read_bytes() != files[rel] for rel, p in zip(files, paths, strict=True)):
            break
        time.sleep(0.01)
    running = proc.poll() is None
    if running:
        send(proc)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:  # pragma: no cover - a hang is a failure
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail("mllint did not stop after the signal")
    deadline = time.monotonic() + 8
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    orphans = _group_alive(proc.pid)
    if orphans:
        os.killpg(proc.pid, signal.SIGKILL)
        while _group_alive(proc.pid):
            time.sleep(0.05)
    return Interrupted(
        proc.returncode, running, orphans, (logs / "stderr").read_text(errors="replace")
    )


def check_tree(root: Path, files: dict[str, bytes], fixed: dict[bytes, bytes]) -> tuple[int, int]:
    """Every file is original or fully fixed; returns (original, fixed) counts."""
    n_orig = n_fixed = 0
    bad = []
    for rel, data in files.items():
        now = (root / rel).read_bytes()
        if now == data and now != fixed[data]:
            n_orig += 1
        elif now == fixed[data]:
            n_fixed += 1
        else:
            bad.append(rel)
    assert not bad, f"{len(bad)} files are neither original nor fully fixed: {bad[:5]}"
    return n_orig, n_fixed


def leftovers(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.name.endswith(".mllint-tmp")
    )


def _to_group(sig: int) -> Callable[[subprocess.Popen[bytes]], None]:
    return lambda proc: os.killpg(proc.pid, sig)


def _to_main(sig: int) -> Callable[[subprocess.Popen[bytes]], None]:
    return lambda proc: proc.send_signal(sig)


def _fix_again(root: Path) -> None:
    r = _mllint(
        "check", "--fix", "--unsafe-fixes", "--no-cache", "--exit-zero", "-q", ".", cwd=root
    )
    assert r.returncode == 0, r.stdout + r.stderr


Corpus = tuple[dict[str, bytes], dict[bytes, bytes]]


@pytest.mark.parametrize(
    "send",
    [_to_group(signal.SIGINT), _to_main(signal.SIGINT)],
    ids=["group", "main"],  # Ctrl-C in a terminal signals the whole group
)
def test_sigint_leaves_files_original_or_fixed(
    send: Callable[[subprocess.Popen[bytes]], None], corpus: Corpus, tmp_path: Path
) -> None:
    files, fixed = corpus
    root = tmp_path / "tree"
    make_tree(root, files)
    outcome = run_and_interrupt(root, files, send, tmp_path)
    check_tree(root, files, fixed)
    assert leftovers(root) == []
    assert not outcome.orphans
    if outcome.running:
        assert outcome.returncode == 130, outcome.stderr
        assert "mllint: interrupted" in outcome.stderr
    # a rerun finishes the job
    _fix_again(root)
    assert check_tree(root, files, fixed)[0] == 0


def test_sigterm_leaves_files_original_or_fixed(corpus: Corpus, tmp_path: Path) -> None:
    """SIGTERM to the process group (a CI timeout, ``kill -TERM -PGID``, ``docker stop``); the
    main process alone: test_sigterm_to_main_process_leaves_no_orphan_workers."""
    files, fixed = corpus
    root = tmp_path / "tree"
    make_tree(root, files)
    outcome = run_and_interrupt(root, files, _to_group(signal.SIGTERM), tmp_path)
    assert not outcome.orphans
    check_tree(root, files, fixed)
    assert leftovers(root) == []


def test_sigterm_to_main_process_leaves_no_orphan_workers(corpus: Corpus, tmp_path: Path) -> None:
    files, fixed = corpus
    root = tmp_path / "tree"
    make_tree(root, files)
    outcome = run_and_interrupt(root, files, _to_main(signal.SIGTERM), tmp_path)
    check_tree(root, files, fixed)
    assert outcome.running
    assert not outcome.orphans


# -- the write window, hit deterministically ------------------------------------------------------

WRITE_THEN_DIE = r"""
import os, signal, sys
from pathlib import Path
from mllint.runner import read_source, write_source

target = Path(sys.argv[1])
decoded = read_source(target)
real_fsync = os.fsync

def fsync_then_sigterm(fd):
    real_fsync(fd)
    os.kill(os.getpid(), signal.SIGTERM)   # default action: the process ends right here
    import time; time.sleep(5)

os.fsync = fsync_then_sigterm
write_source(target, "x = 2\n", decoded)
"""


def test_sigterm_during_write_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "m.py"
    target.write_text("x = 1\n")
    script = tmp_path / "die.py"
    script.write_text(WRITE_THEN_DIE)
    proc = subprocess.run(
        [sys.executable, str(script), str(target)], cwd=ROOT, capture_output=True, timeout=60
    )
    assert proc.returncode == -signal.SIGTERM
    assert target.read_text() == "x = 1\n"  # the original is intact either way
    assert leftovers(tmp_path) == []


def test_sigint_during_write_leaves_no_temp_file(tmp_path: Path) -> None:
    """The same window with SIGINT: KeyboardInterrupt runs write_source's cleanup."""
    target = tmp_path / "m.py"
    target.write_text("x = 1\n")
    script = tmp_path / "die.py"
    script.write_text(WRITE_THEN_DIE.replace("SIGTERM", "SIGINT"))
    proc = subprocess.run(
        [sys.executable, str(script), str(target)],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        preexec_fn=_default_signals,
    )
    assert proc.returncode != 0
    assert target.read_text() == "x = 1\n"
    assert leftovers(tmp_path) == []


def test_reference_is_a_fixpoint(corpus: Corpus, tmp_path: Path) -> None:
    """'Fully fixed' is well defined: fixing the fixed versions again changes nothing."""
    _, fixed = corpus
    for i, data in enumerate(fixed.values()):
        (tmp_path / f"m{i}.py").write_bytes(data)
    r = _mllint(
        "check", "--fix", "--unsafe-fixes", "--no-cache", "--exit-zero", "-q", ".", cwd=tmp_path
    )
    assert r.returncode == 0
    assert [(tmp_path / f"m{i}.py").read_bytes() for i in range(len(fixed))] == list(fixed.values())
