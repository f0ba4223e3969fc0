"""The result cache invalidates exactly what it must and never hides a finding."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from mllint.cache import ResultCache, SettingsFingerprint
from mllint.config import Settings
from mllint.diagnostics import Violation
from tests.conftest import NAN_SOURCE, run_cli


def _entries(root: Path) -> list[Path]:
    """The per-file result entries (the project-files run keeps its own under ``*-project``)."""
    return sorted(
        p
        for p in (root / ".mllint_cache").rglob("*.json")
        if not p.parent.name.endswith("-project")
    )


def _json(r: subprocess.CompletedProcess[str]) -> list[tuple[str, int, str]]:
    return [(d["filename"], d["line"], d["code"]) for d in json.loads(r.stdout)]


def test_warm_run_reuses_results_without_libcst(project: Callable[..., Path]) -> None:
    root = project({"pyproject.toml": "[tool.mllint]\n", "a.py": NAN_SOURCE, "b.py": "x = 1\n"})
    cold = run_cli("check", "--output-format", "json", ".", cwd=root)
    assert len(_entries(root)) == 2
    assert (root / ".mllint_cache" / "CACHEDIR.TAG").exists()
    code = (
        "import sys, mllint.cli as c\n"
        "rc = c.main(['check', '-q', '--output-format', 'json', '.'])\n"
        "print('LOADED', [m for m in ('libcst', 'mllint.engine', 'mllint.rule') if m in sys.modules])\n"
    )
    warm = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    out, loaded = warm.stdout.rsplit("LOADED", 1)
    assert loaded.strip() == "[]"
    assert json.loads(out) == json.loads(cold.stdout)


def test_file_change_invalidates(project: Callable[..., Path]) -> None:
    root = project({"pyproject.toml": "[tool.mllint]\n", "a.py": "x = 1\n"})
    assert _json(run_cli("check", "--output-format", "json", ".", cwd=root)) == []
    (root / "a.py").write_text(NAN_SOURCE)
    assert _json(run_cli("check", "--output-format", "json", ".", cwd=root)) == [
        ("a.py", 5, "ML102"),
        ("a.py", 6, "ML102"),
    ]


def test_config_change_invalidates(project: Callable[..., Path]) -> None:
    root = project({"pyproject.toml": "[tool.mllint]\n", "a.py": NAN_SOURCE})
    assert len(_json(run_cli("check", "--output-format", "json", ".", cwd=root))) == 2
    (root / "pyproject.toml").write_text('[tool.mllint]\nignore = ["ML102"]\n')
    assert _json(run_cli("check", "--output-format", "json", ".", cwd=root)) == []
    (root / "pyproject.toml").write_text("[tool.mllint]\n")
    assert len(_json(run_cli("check", "--output-format", "json", ".", cwd=root))) == 2
    # per-file-ignores and roles are part of the key too
    (root / "pyproject.toml").write_text('[tool.mllint]\nper-file-ignores = {"a.py" = ["ML1"]}\n')
    assert _json(run_cli("check", "--output-format", "json", ".", cwd=root)) == []


def test_rule_option_and_project_facts_change_the_key() -> None:
    from mllint.options import Option

    base = Settings()
    fp = SettingsFingerprint(base).for_file("src/a.py", None)
    facts = Settings(min_python=(3, 12))
    assert SettingsFingerprint(facts).for_file("src/a.py", None) != fp
    libs = Settings(library_versions={"pandas": (3, 0)})
    assert SettingsFingerprint(libs).for_file("src/a.py", None) != fp
    assert SettingsFingerprint(base).for_file("tests/test_a.py", None) != fp
    assert SettingsFingerprint(base).for_file("src/a.py", "pkg") != fp
    # an option of a rule with options
    from mllint.catalog import catalog

    with_opts = next((i for i in catalog().values() if i.options and i.default_enabled), None)
    if with_opts is not None:
        opt: Option = with_opts.options[0]
        value = opt.default
        changed: object = (
            not value
            if isinstance(value, bool)
            else (*value, "zzz")
            if isinstance(value, (list, tuple))
            else "x"
            if isinstance(value, str) or (value is None and opt.kind == "str")
            else 0.5
        )
        s = Settings(rule_options={with_opts.name: {opt.name: changed}})
        assert SettingsFingerprint(s).for_file("src/a.py", None) != fp


def test_version_is_part_of_the_key(monkeypatch: object) -> None:
    import mllint.cache as cache_mod

    k1 = ResultCache.key(b"x = 1\n", "s")
    setattr(cache_mod, "__version__", "999.0")  # noqa: B010
    try:
        k2 = ResultCache.key(b"x = 1\n", "s")
    finally:
        from mllint import __version__

        setattr(cache_mod, "__version__", __version__)  # noqa: B010
    assert k1 != k2


def test_corrupt_and_torn_entries_are_ignored(project: Callable[..., Path]) -> None:
    root = project({"pyproject.toml": "[tool.mllint]\n", "a.py": NAN_SOURCE})
    first = _json(run_cli("check", "--output-format", "json", ".", cwd=root))
    for entry in _entries(root):
        entry.write_text('{"format": 1, "violations": [')  # torn
    r = run_cli("check", "--output-format", "json", ".", cwd=root)
    assert r.returncode == 1 and _json(r) == first
    assert "Traceback" not in r.stderr
    for entry in _entries(root):
        entry.write_bytes(b"\x00\xffgarbage")
    assert _json(run_cli("check", "--output-format", "json", ".", cwd=root)) == first
    # the entries were rebuilt
    assert all(json.loads(e.read_text())["format"] == 1 for e in _entries(root))


def test_cache_never_hides_a_finding_and_no_cache_flag(project: Callable[..., Path]) -> None:
    root = project({"pyproject.toml": "[tool.mllint]\n", "a.py": NAN_SOURCE})
    # a wrong entry for another content cannot be hit: the key covers the bytes
    run_cli("check", "--output-format", "json", ".", cwd=root)
    entry = _entries(root)[0]
    data = json.loads(entry.read_text())
    data["violations"] = []
    entry.write_text(json.dumps(data))
    # same bytes -> the (tampered) entry is used; --no-cache bypasses it
    assert _json(run_cli("check", "--output-format", "json", ".", cwd=root)) == []
    assert len(_json(run_cli("check", "--no-cache", "--output-format", "json", ".", cwd=root))) == 2
    (root / "a.py").write_text(NAN_SOURCE + "\n")
    assert len(_json(run_cli("check", "--output-format", "json", ".", cwd=root))) == 2


def test_text_and_json_results_are_cached_apart(project: Callable[..., Path]) -> None:
    root = project({"pyproject.toml": "[tool.mllint]\n", "a.py": NAN_SOURCE})
    run_cli("check", ".", cwd=root)  # text: no fix edits computed
    data = json.loads(run_cli("check", "--output-format", "json", ".", cwd=root).stdout)
    assert data[0]["fix"]["edits"], "a JSON run must not reuse a result cached without edits"


def test_fix_runs_even_when_cached(project: Callable[..., Path]) -> None:
    root = project({"pyproject.toml": "[tool.mllint]\n", "a.py": NAN_SOURCE})
    run_cli("check", ".", cwd=root)
    r = run_cli("check", "--fix", "--unsafe-fixes", ".", cwd=root)
    assert r.returncode == 0
    assert 'frame["bmi"].isna()' in (root / "a.py").read_text()
    # the fixed content was cached as clean
    assert _json(run_cli("check", "--output-format", "json", ".", cwd=root)) == []


def test_concurrent_runs_do_not_corrupt_the_cache(project: Callable[..., Path]) -> None:
    files = {f"m{i:02d}.py": NAN_SOURCE.replace("bmi", f"c{i}") for i in range(40)}
    root = project({"pyproject.toml": "[tool.mllint]\n", **files})
    cmd = [sys.executable, "-m", "mllint", "check", "-q", "--output-format", "json", "."]
    procs = [
        subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    expected = json.loads(outs[0][0])
    assert len(expected) == 80
    for out, err in outs:
        assert json.loads(out) == expected
        assert "Traceback" not in err
    for entry in _entries(root):
        json.loads(entry.read_text())
    assert (
        json.loads(run_cli("check", "-q", "--output-format", "json", ".", cwd=root).stdout)
        == expected
    )


def test_cache_api_roundtrip(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "c")
    v = Violation("ML102", "nan-equality", "msg", "x.py", 1, 2, 1, 5, None, "a == b")
    key = ResultCache.key(b"data", "s")
    assert cache.get(key, "x.py") is None
    cache.put(key, [v])
    got = cache.get(key, "y/x.py")
    assert got is not None and got[0].filename == "y/x.py" and got[0].source_line == "a == b"


def test_test_file_results_are_recached_when_a_conftest_changes(tmp_path: Path) -> None:
    """ML509's findings in a test file depend on the conftest.py files above it: editing one
    must not replay the stale cached result."""
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\n")
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_model.py").write_text(
        "import numpy as np\n\n\ndef test_fit():\n    X = np.random.rand(10, 3)\n    assert X.shape == (10, 3)\n"
    )
    (tests / "conftest.py").write_text("import pytest\n")

    def run() -> str:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "mllint",
                "check",
                "--output-format",
                "concise",
                "--select",
                "ML509",
                "tests",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return r.stdout

    assert "tests/test_model.py:5:9: ML509" in run()
    (tests / "conftest.py").write_text(
        "import numpy as np\nimport pytest\n\n\n@pytest.fixture(autouse=True)\ndef _seed():\n    np.random.seed(0)\n"
    )
    assert "ML509" not in run()
    (tests / "conftest.py").write_text("import pytest\n")
    assert "tests/test_model.py:5:9: ML509" in run()
