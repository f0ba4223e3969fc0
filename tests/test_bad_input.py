"""Bad input gets a clear one-line error, the run goes on, and nothing is lost."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import NAN_SOURCE, run_cli

FIXED_LINE = 'missing = frame[frame["bmi"].isna()]'


def test_syntax_error_is_ml000_and_run_goes_on(project: Callable[..., Path]) -> None:
    root = project({"broken.py": "def train(model:\n    pass\n", "ok.py": NAN_SOURCE})
    r = run_cli("check", "--output-format", "concise", ".", cwd=root)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0].startswith("broken.py:1:") and " ML000 [syntax-error] SyntaxError:" in lines[0]
    assert any(line.startswith("ok.py:5:17: ML102") for line in lines)
    assert "Traceback" not in r.stderr + r.stdout


def test_syntax_error_file_is_never_fixed(project: Callable[..., Path]) -> None:
    broken = "import numpy as np\nx = y == np.nan\ndef f(:\n"
    root = project({"broken.py": broken})
    r = run_cli("check", "--fix", "--unsafe-fixes", "broken.py", cwd=root)
    assert r.returncode == 1
    assert (root / "broken.py").read_text() == broken


def test_invalid_utf8(project: Callable[..., Path]) -> None:
    root = project({"bad.py": b"x = '\xff\xfe'\n", "ok.py": NAN_SOURCE})
    r = run_cli("check", "--output-format", "concise", ".", cwd=root)
    assert r.returncode == 1
    assert "bad.py: error: not valid UTF-8 (byte 5); skipped" in r.stdout
    assert "ok.py:5:17: ML102" in r.stdout


def test_latin1_cookie_keeps_encoding(project: Callable[..., Path]) -> None:
    source = "# -*- coding: latin-1 -*-\nimport numpy as np\nlabel = 'café'\nok = x == np.nan\n"
    root = project({"lat.py": source.encode("latin-1")})
    r = run_cli("check", "--fix", "--unsafe-fixes", "lat.py", cwd=root)
    assert r.returncode == 0, r.stdout
    data = (root / "lat.py").read_bytes()
    # numpy is no longer used after the fix: the orphaned import goes
    assert data.decode("latin-1") == source.replace(
        "ok = x == np.nan", "ok = math.isnan(x)"
    ).replace("import numpy as np\n", "import math\n\n")
    assert "caf\xe9".encode("latin-1") in data


def test_bom_and_crlf_kept(project: Callable[..., Path]) -> None:
    source = NAN_SOURCE.replace("\n", "\r\n")
    root = project({"win.py": b"\xef\xbb\xbf" + source.encode()})
    r = run_cli("check", "--fix", "--unsafe-fixes", "win.py", cwd=root)
    assert r.returncode == 0, r.stdout
    data = (root / "win.py").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data[3:].decode()
    assert FIXED_LINE + "\r\n" in text
    assert "\n" not in text.replace("\r\n", "")


def test_no_trailing_newline_tabs_and_empty_file(project: Callable[..., Path]) -> None:
    root = project(
        {
            "nonl.py": "import numpy as np\nx = y == np.nan",
            "tabs.py": "import numpy as np\nif True:\n\tx = y == np.nan\n",
            "empty.py": "",
        }
    )
    r = run_cli("check", "--output-format", "concise", "-q", ".", cwd=root)
    assert sorted(r.stdout.splitlines()) == sorted(
        [
            "nonl.py:2:5: ML102 [nan-equality] 'y == np.nan' is always False: NaN never equals "
            "anything (itself included); use math.isnan(x)",
            "tabs.py:3:6: ML102 [nan-equality] 'y == np.nan' is always False: NaN never equals "
            "anything (itself included); use math.isnan(x)",
        ]
    )
    run_cli("check", "--fix", "--unsafe-fixes", ".", cwd=root)
    assert (root / "nonl.py").read_text() == "import math\n\nx = math.isnan(y)"
    assert (root / "tabs.py").read_text() == "import math\n\nif True:\n\tx = math.isnan(y)\n"
    assert (root / "empty.py").read_text() == ""


def test_binary_file_with_py_name(project: Callable[..., Path]) -> None:
    root = project({"blob.py": b"\x00\x01\x02ELF\x00", "ok.py": "x = 1\n"})
    r = run_cli("check", ".", "--output-format", "concise", cwd=root)
    assert r.returncode == 1
    assert "blob.py: error: contains NUL bytes (a binary file?); skipped" in r.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(
    project: Callable[..., Path],
) -> None:  # pragma: no cover - CI runs as root
    root = project({"secret.py": NAN_SOURCE, "ok.py": "x = 1\n"})
    os.chmod(root / "secret.py", 0)
    r = run_cli("check", ".", cwd=root)
    assert "secret.py: error: cannot read file: Permission denied" in r.stdout


def test_unreadable_file_via_read_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same path for root, which can read mode-000 files: simulate EACCES on open."""
    import builtins

    from mllint.runner import FileReadError, read_source

    target = tmp_path / "secret.py"
    target.write_text("x = 1\n")
    real_open = builtins.open

    def fake_open(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path) == str(target):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    with pytest.raises(FileReadError, match="cannot read file: Permission denied"):
        read_source(target)


def test_broken_symlink_and_loop(project: Callable[..., Path]) -> None:
    root = project({"ok.py": NAN_SOURCE})
    os.symlink(root / "missing_target.py", root / "dangling.py")
    os.symlink(root / "loop_b.py", root / "loop_a.py")
    os.symlink(root / "loop_a.py", root / "loop_b.py")
    r = run_cli("check", "--output-format", "concise", ".", cwd=root)
    out = r.stdout
    assert r.returncode == 1
    assert "dangling.py: error: broken symbolic link (target" in out
    assert "loop_a.py: error: symbolic link loop; skipped" in out
    assert "ok.py:5:17: ML102" in out
    # given explicitly, too
    r = run_cli("check", "dangling.py", cwd=root)
    assert "dangling.py: error: broken symbolic link" in r.stdout
    assert r.returncode == 1


def test_directory_named_like_a_module(project: Callable[..., Path]) -> None:
    root = project({"weird.py/inner.py": NAN_SOURCE})
    r = run_cli("check", "--output-format", "concise", "-q", ".", cwd=root)
    assert r.stdout.startswith("weird.py/inner.py:5:17: ML102")
    r = run_cli("check", "--output-format", "concise", "-q", "weird.py", cwd=root)
    assert r.stdout.startswith("weird.py/inner.py:5:17: ML102")


def test_missing_path(project: Callable[..., Path]) -> None:
    root = project({"ok.py": "x = 1\n"})
    r = run_cli("check", "nope.py", "ok.py", cwd=root)
    assert r.returncode == 1
    assert "nope.py: error: no such file or directory" in r.stdout


def test_read_only_file_with_fix(project: Callable[..., Path]) -> None:
    root = project({"ro.py": NAN_SOURCE, "rw.py": NAN_SOURCE})
    os.chmod(root / "ro.py", stat.S_IRUSR | stat.S_IRGRP)
    try:
        r = run_cli("check", "--fix", "--unsafe-fixes", "--output-format", "concise", ".", cwd=root)
        if os.geteuid() != 0:  # root may write anyway; the message is then not produced
            assert "ro.py: error: file is read-only; fix not written" in r.stdout
            assert (root / "ro.py").read_text() == NAN_SOURCE
        assert FIXED_LINE in (root / "rw.py").read_text()
        assert r.returncode == 1 or os.geteuid() == 0
    finally:
        os.chmod(root / "ro.py", 0o644)


def test_read_only_check_via_write_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mllint.runner import read_source, write_source

    target = tmp_path / "ro.py"
    target.write_text("x = 1\n")
    decoded = read_source(target)
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    assert write_source(target, "x = 2\n", decoded) == "file is read-only; fix not written"
    assert target.read_text() == "x = 1\n"


def test_file_changed_between_read_and_write(tmp_path: Path) -> None:
    from mllint.runner import read_source, write_source

    target = tmp_path / "m.py"
    target.write_text("x = 1\n")
    decoded = read_source(target)
    target.write_text("x = 1  # edited by the user meanwhile\n")
    os.utime(target, ns=(decoded.mtime_ns + 10**9, decoded.mtime_ns + 10**9))
    msg = write_source(target, "x = 2\n", decoded)
    assert msg == "file changed on disk while mllint was running; fix not written"
    assert target.read_text() == "x = 1  # edited by the user meanwhile\n"


def test_vanished_file(tmp_path: Path) -> None:
    from mllint.runner import FileReadError, SourceFile, read_source

    with pytest.raises(FileReadError, match="file vanished before it could be read"):
        read_source(tmp_path / "gone.py")
    assert SourceFile  # imported for the runner API


def test_atomic_write_keeps_mode(tmp_path: Path) -> None:
    from mllint.runner import read_source, write_source

    target = tmp_path / "tool.py"
    target.write_text("x = 1\n")
    os.chmod(target, 0o754)
    decoded = read_source(target)
    assert write_source(target, "x = 2\n", decoded) is None
    assert target.read_text() == "x = 2\n"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o754
    assert [p.name for p in tmp_path.iterdir()] == ["tool.py"]  # no temp file left


def test_unchanged_files_are_not_rewritten(project: Callable[..., Path]) -> None:
    root = project({"clean.py": "x = 1\n", "dirty.py": NAN_SOURCE})
    before = os.stat(root / "clean.py").st_mtime_ns
    run_cli("check", "--fix", "--unsafe-fixes", ".", cwd=root)
    assert os.stat(root / "clean.py").st_mtime_ns == before


def test_json_output_stays_valid_with_file_errors(project: Callable[..., Path]) -> None:
    root = project({"bad.py": b"\xff\n", "ok.py": NAN_SOURCE})
    r = run_cli("check", "--output-format", "json", ".", cwd=root)
    assert len(json.loads(r.stdout)) == 2
    assert "bad.py: error: not valid UTF-8" in r.stderr


def _generated_module(size: int) -> str:
    """A generated module of about ``size`` bytes, with findings in every function."""
    chunk = (
        "\n\ndef step_{i}(frame, history=[]):\n"
        "    loss = frame['loss'].mean()\n"
        "    if loss == 0.5:\n"
        "        history.append(loss)\n"
        "    return history\n"
    )
    parts = ["import numpy as np\n"]
    total, i = 0, 0
    while total < size:
        part = chunk.format(i=i)
        parts.append(part)
        total += len(part)
        i += 1
    return "".join(parts)


def test_ten_megabyte_file_is_skipped_with_bounded_memory(project: Callable[..., Path]) -> None:
    """A 10 MB generated module would need ~5 GB in libcst: it is reported and skipped at
    once (``max-file-size-kb``), and the other files are checked."""
    import resource
    import subprocess
    import sys
    import time

    root = project({"generated_pb2.py": _generated_module(10_000_000), "ok.py": NAN_SOURCE})
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "mllint", "check", "--no-cache", "--output-format", "concise", "."],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert r.returncode == 1
    assert (
        "generated_pb2.py: error: 9.5 MB is above max-file-size-kb (2048 KiB); skipped "
        "(raise the limit in [tool.mllint] to check it)"
    ) in r.stdout
    assert "ok.py:5:17: ML102" in r.stdout
    assert "Traceback" not in r.stderr
    assert elapsed < 60
    if peak_kb > before:  # ru_maxrss of the largest child so far: this run set a new peak
        assert peak_kb < 400_000, f"peak RSS {peak_kb} KiB"


def test_max_file_size_is_configurable(project: Callable[..., Path]) -> None:
    big = _generated_module(120_000)
    root = project({"gen.py": big, "pyproject.toml": "[tool.mllint]\nmax-file-size-kb = 100\n"})
    r = run_cli("check", "--output-format", "concise", "gen.py", cwd=root)
    assert r.returncode == 1
    assert "gen.py: error: 0.1 MB is above max-file-size-kb (100 KiB); skipped" in r.stdout
    (root / "pyproject.toml").write_text("[tool.mllint]\nmax-file-size-kb = 0\n")
    r = run_cli("check", "--output-format", "concise", "--select", "ML101", "gen.py", cwd=root)
    assert r.returncode == 1
    assert r.stdout.count(": ML101 ") == big.count("if loss == 0.5")
    (root / "pyproject.toml").write_text("[tool.mllint]\nmax-file-size-kb = -1\n")
    r = run_cli("check", "gen.py", cwd=root)
    assert r.returncode == 2
    assert "max-file-size-kb must be a whole number of KiB (0 = no limit), got -1" in r.stderr
