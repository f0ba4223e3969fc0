"""The command line: exit codes, formats, selection, suppressions, --fix and --diff."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from tests.conftest import NAN_SOURCE, run_cli

JSON_KEYS = {
    "code",
    "name",
    "message",
    "filename",
    "line",
    "column",
    "end_line",
    "end_column",
    "fix",
}


def test_version_and_help() -> None:
    from mllint import __version__

    r = run_cli("--version")
    assert r.returncode == 0
    assert r.stdout.strip() == f"mllint {__version__}"
    r = run_cli()
    assert r.returncode == 0
    assert "check" in r.stdout


def test_clean_file_exits_zero(project: Callable[..., Path]) -> None:
    root = project({"ok.py": "x = 1\n"})
    r = run_cli("check", "ok.py", cwd=root)
    assert r.returncode == 0, r.stderr
    assert "All checks passed (1 file)." in r.stdout


def test_findings_exit_one_with_text_format(project: Callable[..., Path]) -> None:
    root = project({"pipe.py": NAN_SOURCE})
    r = run_cli("check", ".", cwd=root)
    assert r.returncode == 1
    out = r.stdout
    assert "pipe.py:5:17: ML102 [nan-equality] 'frame[\"bmi\"] == np.nan' is always False" in out
    assert "pipe.py:6:4: ML102 [nan-equality]" in out
    # the source line with the span marked
    assert '    5 | missing = frame[frame["bmi"] == np.nan]' in out
    assert "^^^^^^^^^^^^^^^^^^^^^^" in out
    assert "2 findings, 2 with --unsafe-fixes." in out


def test_exit_zero(project: Callable[..., Path]) -> None:
    root = project({"pipe.py": NAN_SOURCE})
    r = run_cli("check", "--exit-zero", ".", cwd=root)
    assert r.returncode == 0
    assert "ML102" in r.stdout


def test_json_format_schema(project: Callable[..., Path]) -> None:
    root = project({"pipe.py": NAN_SOURCE})
    r = run_cli("check", "--output-format", "json", "pipe.py", cwd=root)
    assert r.returncode == 1
    data = json.loads(r.stdout)
    assert len(data) == 2
    for item in data:
        assert set(item) == JSON_KEYS
    first = data[0]
    assert first["filename"] == "pipe.py"
    assert (first["line"], first["column"], first["end_line"], first["end_column"]) == (
        5,
        17,
        5,
        39,
    )
    assert first["fix"]["applicability"] == "unsafe"
    assert first["fix"]["edits"] == [
        {"content": ".isna()", "line": 5, "column": 29, "end_line": 5, "end_column": 39}
    ]


def test_concise_and_statistics(project: Callable[..., Path]) -> None:
    root = project({"pipe.py": NAN_SOURCE})
    r = run_cli("check", "--output-format", "concise", "-q", "pipe.py", cwd=root)
    assert r.stdout.splitlines() == [
        "pipe.py:5:17: ML102 [nan-equality] 'frame[\"bmi\"] == np.nan' is always False: NaN never "
        "equals anything (itself included); use x.isna()",
        "pipe.py:6:4: ML102 [nan-equality] 'reading is np.nan' is unreliable: NaN never equals "
        "anything (itself included); use pd.isna(x)",
    ]
    r = run_cli("check", "--statistics", "--output-format", "concise", "-q", "pipe.py", cwd=root)
    assert r.stdout.splitlines() == ["2\tML102\t[*] nan-equality"]


def test_select_ignore_by_code_prefix_and_name(project: Callable[..., Path]) -> None:
    root = project({"pipe.py": NAN_SOURCE})
    for args in (["--ignore", "ML102"], ["--ignore", "ML1"], ["--ignore", "nan-equality"]):
        r = run_cli("check", *args, "pipe.py", cwd=root)
        assert r.returncode == 0, (args, r.stdout)
    r = run_cli("check", "--select", "nan-equality", "pipe.py", cwd=root)
    assert r.returncode == 1


def test_unknown_selector_is_usage_error(project: Callable[..., Path]) -> None:
    root = project({"pipe.py": NAN_SOURCE})
    r = run_cli("check", "--select", "ML1O1", "pipe.py", cwd=root)
    assert r.returncode == 2
    assert "unknown rule code or name 'ML1O1'" in r.stderr
    assert "Traceback" not in r.stderr


def test_fix_unsafe_rewrites_file(project: Callable[..., Path]) -> None:
    root = project({"pipe.py": NAN_SOURCE})
    # safe fixes only: ML102 is unsafe, so nothing changes
    r = run_cli("check", "--fix", "pipe.py", cwd=root)
    assert r.returncode == 1
    assert (root / "pipe.py").read_text() == NAN_SOURCE
    r = run_cli("check", "--fix", "--unsafe-fixes", "pipe.py", cwd=root)
    assert r.returncode == 0, r.stdout
    fixed = (root / "pipe.py").read_text()
    assert 'missing = frame[frame["bmi"].isna()]' in fixed
    assert "if pd.isna(reading):" in fixed
    assert "fixed 2 findings in 1 file, 0 remaining." in r.stdout


def test_exit_non_zero_on_fix(project: Callable[..., Path]) -> None:
    root = project({"pipe.py": NAN_SOURCE})
    r = run_cli("check", "--fix", "--unsafe-fixes", "--exit-non-zero-on-fix", "pipe.py", cwd=root)
    assert r.returncode == 1


def test_unsafe_fixes_from_config(project: Callable[..., Path]) -> None:
    root = project(
        {"pipe.py": NAN_SOURCE, "pyproject.toml": "[tool.mllint]\nunsafe-fixes = true\n"}
    )
    r = run_cli("check", "--fix", "pipe.py", cwd=root)
    assert r.returncode == 0
    assert "pd.isna(reading)" in (root / "pipe.py").read_text()


def test_diff_writes_nothing(project: Callable[..., Path]) -> None:
    root = project({"pipe.py": NAN_SOURCE})
    before = os.stat(root / "pipe.py").st_mtime_ns
    r = run_cli("check", "--diff", "--unsafe-fixes", "pipe.py", cwd=root)
    assert r.returncode == 1
    assert r.stdout.startswith("--- a/pipe.py\n+++ b/pipe.py\n")
    assert (
        '-missing = frame[frame["bmi"] == np.nan]\n-if reading is np.nan:\n'
        '+missing = frame[frame["bmi"].isna()]\n+if pd.isna(reading):\n'
    ) in r.stdout
    assert "1 file would be changed." in r.stderr
    assert (root / "pipe.py").read_text() == NAN_SOURCE
    assert os.stat(root / "pipe.py").st_mtime_ns == before
    # nothing to fix: exit 0 and no diff
    root2 = project({"clean.py": "x = 1\n"})
    r = run_cli("check", "--diff", "clean.py", cwd=root2)
    assert r.returncode == 0
    assert r.stdout == ""


def test_suppressions(project: Callable[..., Path]) -> None:
    source = (
        "import numpy as np\n"
        "a = x == np.nan  # noqa\n"
        "b = x == np.nan  # noqa: ML102\n"
        "c = x == np.nan  # noqa: ML101,ML102\n"
        "d = x == np.nan  # mllint: ignore[nan-equality]\n"
        "e = x == np.nan  # mllint: ignore[ML102]\n"
        "f = x == np.nan  # noqa: ML101\n"
        "g = x == np.nan  # mllint: ignore[float-equality]\n"
    )
    root = project({"s.py": source})
    r = run_cli("check", "--output-format", "json", "s.py", cwd=root)
    lines = [item["line"] for item in json.loads(r.stdout)]
    assert lines == [7, 8]
    # suppressed findings are not fixed either
    run_cli("check", "--fix", "--unsafe-fixes", "s.py", cwd=root)
    fixed = (root / "s.py").read_text().splitlines()
    assert fixed[:3] == ["import math", "", "import numpy as np"]
    assert fixed[3:8] == source.splitlines()[1:6]
    assert fixed[8] == "f = math.isnan(x)  # noqa: ML101"


def test_rules_and_explain() -> None:
    r = run_cli("rules")
    assert r.returncode == 0
    assert "ML102" in r.stdout and "nan-equality" in r.stdout
    r = run_cli("rules", "--output-format", "json")
    data = json.loads(r.stdout)
    entry = next(d for d in data if d["code"] == "ML102")
    assert entry == {
        "code": "ML102",
        "name": "nan-equality",
        "default": "on",
        "fix": "unsafe",
        "summary": "Testing for NaN/NA with `==`, `!=`, `is` or `in`",
    }
    for key in ("ML102", "nan-equality", "ml102"):
        r = run_cli("explain", key)
        assert r.returncode == 0
        assert r.stdout.startswith("# ML102 nan-equality")
        assert "## Why is this bad?" in r.stdout
    r = run_cli("explain", "ML999")
    assert r.returncode == 2
    assert "unknown rule 'ML999'" in r.stderr


def test_output_file(project: Callable[..., Path]) -> None:
    root = project({"pipe.py": NAN_SOURCE})
    r = run_cli(
        "check", "--output-format", "json", "--output-file", "report.json", "pipe.py", cwd=root
    )
    assert r.returncode == 1
    data = json.loads((root / "report.json").read_text())
    assert [d["line"] for d in data] == [5, 6]
    assert "2 findings" in r.stdout  # the terminal shows the text summary


def test_excluded_directories_and_explicit_dirs(project: Callable[..., Path]) -> None:
    root = project(
        {
            "src/pipe.py": NAN_SOURCE,
            ".venv/lib/site.py": NAN_SOURCE,
            "build/gen.py": NAN_SOURCE,
            "legacy/old.py": NAN_SOURCE,
            "pyproject.toml": '[tool.mllint]\nextend-exclude = ["legacy"]\n',
        }
    )
    r = run_cli("check", "--output-format", "json", ".", cwd=root)
    assert {d["filename"] for d in json.loads(r.stdout)} == {"src/pipe.py"}
    # a directory given explicitly is checked even when excluded
    r = run_cli("check", "--output-format", "json", "legacy", cwd=root)
    assert {d["filename"] for d in json.loads(r.stdout)} == {"legacy/old.py"}
    # an excluded file given explicitly is skipped only with --force-exclude
    r = run_cli("check", "--output-format", "json", "--force-exclude", "legacy/old.py", cwd=root)
    assert json.loads(r.stdout) == []


def test_per_file_ignores(project: Callable[..., Path]) -> None:
    root = project(
        {
            "src/pipe.py": NAN_SOURCE,
            "scripts/explore.py": NAN_SOURCE,
            "pyproject.toml": '[tool.mllint]\nper-file-ignores = {"scripts/**" = ["nan-equality"]}\n',
        }
    )
    r = run_cli("check", "--output-format", "json", ".", cwd=root)
    assert {d["filename"] for d in json.loads(r.stdout)} == {"src/pipe.py"}


def test_parallel_run_matches_serial(project: Callable[..., Path]) -> None:
    # 30 files of ~8 KB: above the pool's minimum of files and of bytes (POOL_MIN_BYTES)
    padding = ("# " + "x" * 77 + "\n") * 100
    files = {f"pkg/m{i:02d}.py": NAN_SOURCE + padding for i in range(30)}
    root = project(files)
    serial = run_cli("check", "--output-format", "json", "-j", "1", ".", cwd=root)
    parallel = run_cli("check", "--output-format", "json", "-j", "2", ".", cwd=root)
    assert json.loads(serial.stdout) == json.loads(parallel.stdout)
    assert len(json.loads(parallel.stdout)) == 60


def test_baseline_reports_only_new_findings(project: Callable[..., Path]) -> None:
    root = project({"pipe.py": NAN_SOURCE})
    r = run_cli("check", "--write-baseline", "mllint-baseline.json", ".", cwd=root)
    assert r.returncode == 0
    assert "Recorded 2 findings in mllint-baseline.json." in r.stdout
    data = json.loads((root / "mllint-baseline.json").read_text())
    assert [(e["file"], e["code"], e["count"]) for e in data["findings"]] == [
        ("pipe.py", "ML102", 1),
        ("pipe.py", "ML102", 1),
    ]
    r = run_cli("check", "--baseline", "mllint-baseline.json", ".", cwd=root)
    assert r.returncode == 0, r.stdout
    # unrelated edits move the old findings; a new pitfall is the only one reported
    moved = "# a new header comment\n\n" + NAN_SOURCE + "again = frame[frame['age'] == np.nan]\n"
    (root / "pipe.py").write_text(moved)
    r = run_cli(
        "check", "--baseline", "mllint-baseline.json", "--output-format", "json", ".", cwd=root
    )
    assert r.returncode == 1
    assert [(d["line"], d["code"]) for d in json.loads(r.stdout)] == [(10, "ML102")]
    # a bad baseline file is a usage error
    (root / "bad.json").write_text("{}")
    r = run_cli("check", "--baseline", "bad.json", ".", cwd=root)
    assert r.returncode == 2
    assert "bad.json: not an mllint baseline" in r.stderr
