"""Project rules (ML78x, ML79x, ...): fixture projects, fixes that keep comments, errors for
malformed files, suppression, the CLI integration and the project cache."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mllint.project.base import ProjectRule
from mllint.project.cache import PROJECT_CODES
from mllint.rule import all_rules
from tests.project_fixture_support import ProjectCase, project_cases

BAD = project_cases("bad")
GOOD = project_cases("good")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mllint", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _run(root: Path, code: str, fix: str | None = None) -> list[tuple[str, int, str]]:
    args = [
        "check",
        "--project-only",
        "--no-cache",
        "--select",
        code,
        "--output-format",
        "json",
        ".",
    ]
    if fix:
        args[1:1] = ["--fix"] + (["--unsafe-fixes"] if fix == "unsafe" else ["--no-unsafe-fixes"])
    r = _cli(*args, cwd=root)
    assert r.returncode in (0, 1), r.stderr
    return [(d["filename"], d["line"], d["code"]) for d in json.loads(r.stdout)]


def _snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".mllint_cache" not in p.parts
    }


@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_bad_project_findings(case: ProjectCase, tmp_path: Path) -> None:
    expected = case.expected()
    assert expected, f"{case.id} has no '# expect: {case.code}' markers"
    root = case.copy_to(tmp_path / "p")
    found = {f for f in _run(root, case.code) if f[2] == case.code}
    assert found == expected


@pytest.mark.parametrize("case", GOOD, ids=[c.id for c in GOOD])
def test_good_project_is_silent(case: ProjectCase, tmp_path: Path) -> None:
    root = case.copy_to(tmp_path / "p")
    assert [f for f in _run(root, case.code) if f[2] == case.code] == []


@pytest.mark.parametrize("mode", ["safe", "unsafe"])
@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_project_fix_output(case: ProjectCase, mode: str, tmp_path: Path) -> None:
    root = case.copy_to(tmp_path / "p")
    before = _snapshot(root)
    _run(root, case.code, fix=mode)
    after = _snapshot(root)
    expected = dict(before)
    exp_dir = case.expectation_dir(mode)
    if exp_dir is not None:
        for p in exp_dir.rglob("*"):
            if p.is_file():
                expected[p.relative_to(exp_dir).as_posix()] = p.read_text(encoding="utf-8")
    assert after == expected
    if exp_dir is not None:
        _run(root, case.code, fix=mode)
        assert _snapshot(root) == after, "a second --fix changed more"


def test_every_project_rule_has_fixtures() -> None:
    project = {c for c, r in all_rules().items() if issubclass(r, ProjectRule)}
    assert project <= PROJECT_CODES  # the libcst-free list used by the cache and the CLI
    have_bad = {c.code for c in BAD}
    have_good = {c.code for c in GOOD}
    missing = sorted(c for c in project if c not in have_bad or c not in have_good)
    assert missing == []


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


FORMATTERS = (
    "repos:\n"
    "  - repo: https://github.com/psf/black\n"
    "    rev: 24.4.2\n"
    "    hooks:\n"
    "      - id: black\n"
    "      - id: yapf\n"
)


def test_check_dot_reports_project_files_in_every_format(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "pyproject.toml": "[tool.mllint]\n",
            ".pre-commit-config.yaml": FORMATTERS,
            "a.py": "x = 1\n",
        },
    )
    r = _cli("check", "--no-cache", "--output-format", "json", ".", cwd=root)
    data = json.loads(r.stdout)
    assert [(d["filename"], d["line"], d["column"], d["code"]) for d in data] == [
        (".pre-commit-config.yaml", 6, 9, "ML793")
    ]
    assert r.returncode == 1
    for fmt in ("text", "concise", "json-lines", "grouped", "github", "gitlab", "sarif", "junit"):
        out = _cli("check", "--no-cache", "--output-format", fmt, ".", cwd=root)
        assert out.returncode == 1, (fmt, out.stderr)
        assert ".pre-commit-config.yaml" in out.stdout, fmt
        assert "ML793" in out.stdout, fmt
    # a checked subfolder does not cover the project root: no project rules
    (root / "sub").mkdir()
    (root / "sub" / "b.py").write_text("y = 2\n")
    assert (
        _cli("check", "--no-cache", "--output-format", "json", "sub", cwd=root).stdout.strip()
        == "[]"
    )


def test_project_only_and_noqa_and_per_file_ignores(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "pyproject.toml": "[tool.mllint]\n",
            ".pre-commit-config.yaml": FORMATTERS,
            "a.py": "import numpy as np\nx = np.nan\nif x == np.nan:\n    pass\n",
        },
    )
    r = _cli("check", "--project-only", "--no-cache", "--output-format", "json", cwd=root / ".")
    assert [d["code"] for d in json.loads(r.stdout)] == ["ML793"]  # ML102 is a per-file rule
    (root / ".pre-commit-config.yaml").write_text(
        FORMATTERS.replace("id: yapf", "id: yapf  # noqa: ML793")
    )
    r = _cli("check", "--project-only", "--no-cache", "--output-format", "json", cwd=root)
    assert json.loads(r.stdout) == []
    (root / ".pre-commit-config.yaml").write_text(FORMATTERS)
    (root / "pyproject.toml").write_text(
        '[tool.mllint]\nper-file-ignores = {".pre-commit-config.yaml" = ["conflicting-formatters"]}\n'
    )
    r = _cli("check", "--project-only", "--no-cache", "--output-format", "json", cwd=root)
    assert json.loads(r.stdout) == []


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            ".pre-commit-config.yaml",
            "repos:\n  - repo: local\n    hooks: [\n",
            ".pre-commit-config.yaml: error: invalid YAML at line 4, column 1",
        ),
        ("pytest.ini", "testpaths = tests\n", "pytest.ini: error: invalid INI at line 1, column 1"),
        ("ruff.toml", "[lint]\nselect = = 1\n", "ruff.toml: error: invalid TOML at line 2, column"),
    ],
)
def test_malformed_project_file_is_an_error_and_the_run_goes_on(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    root = _write(
        tmp_path,
        {
            "pyproject.toml": "[tool.mllint]\n",
            name: text,
            "a.py": "import numpy as np\nok = x == np.nan\n",
        },
    )
    r = _cli("check", "--no-cache", "--output-format", "concise", ".", cwd=root)
    assert expected in r.stdout, r.stdout
    assert "a.py:2:6: ML102" in r.stdout  # the rest of the run went on
    assert r.returncode == 1


def test_fix_keeps_comments_and_diff_writes_nothing(tmp_path: Path) -> None:
    cfg = (
        "# local hooks\n"
        "repos:\n"
        "  - repo: local\n"
        "    hooks:\n"
        "      - id: pytest   # all tests\n"
        "        entry: pytest\n"
        "        language: system\n"
        "        pass_filenames: false\n"
    )
    root = _write(tmp_path, {"pyproject.toml": "[tool.mllint]\n", ".pre-commit-config.yaml": cfg})
    r = _cli("check", "--no-cache", "--diff", "--unsafe-fixes", ".", cwd=root)
    assert "+        stages: [pre-push]" in r.stdout
    assert (root / ".pre-commit-config.yaml").read_text() == cfg
    r = _cli("check", "--no-cache", "--fix", "--unsafe-fixes", ".", cwd=root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (root / ".pre-commit-config.yaml").read_text() == cfg.replace(
        "# all tests\n", "# all tests\n        stages: [pre-push]\n"
    )


def test_warm_project_run_uses_the_cache_without_libcst(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "pyproject.toml": "[tool.mllint]\n",
            ".pre-commit-config.yaml": FORMATTERS,
            "a.py": "x = 1\n",
        },
    )
    cold = _cli("check", "--output-format", "json", ".", cwd=root)
    code = (
        "import sys, mllint.cli as c\n"
        "rc = c.main(['check', '-q', '--output-format', 'json', '.'])\n"
        "print('LOADED', [m for m in ('libcst', 'mllint.rule') if m in sys.modules])\n"
    )
    warm = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    out, loaded = warm.stdout.rsplit("LOADED", 1)
    assert loaded.strip() == "[]"
    assert json.loads(out) == json.loads(cold.stdout)
    (root / ".pre-commit-config.yaml").write_text(FORMATTERS.replace("yapf", "isort"))
    assert json.loads(_cli("check", "--output-format", "json", ".", cwd=root).stdout) == []


def test_unregistered_marker_text_search_parses_only_files_that_can_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ML795 looks for ``mark.<name>`` in the text before parsing a test file: a file using
    only built-in and registered markers is never parsed, and the forms that hide the name
    from a naive search (an aliased ``mark``, a line continuation, a comment inside
    brackets) are still found."""
    from mllint.cli import main
    from mllint.project.files import ProjectFile

    root = _write(
        tmp_path,
        {
            "pyproject.toml": '[tool.pytest.ini_options]\nmarkers = ["slow: long"]\n',
            "tests/test_known.py": "import pytest\n\n\n@pytest.mark.slow\n"
            '@pytest.mark.parametrize("x", [1])\ndef test_a(x):\n    pass\n',
            "tests/test_alias.py": "from pytest import (\n    mark as m,\n)\n\n\n"
            "@m.nightly\ndef test_b():\n    pass\n",
            "tests/test_continued.py": "import pytest\n\n\n@pytest.mark \\\n    .gpu\n"
            "def test_c():\n    pass\n",
            "tests/test_comment.py": "import pytest as pt\n\npytestmark = [\n"
            "    pt.mark  # the integration suite\n    .integration\n]\n",
        },
    )
    parsed: list[str] = []
    original = ProjectFile.parsed

    def spy(self: ProjectFile) -> object:
        parsed.append(self.relpath)
        return original(self)

    monkeypatch.setattr(ProjectFile, "parsed", spy)
    monkeypatch.chdir(root)
    args = ["check", "--project-only", "--no-cache", "--select", "ML795"]
    rc = main([*args, "--output-format", "json", "."])
    found = [(d["filename"], d["line"]) for d in json.loads(capsys.readouterr().out)]
    assert rc == 1
    assert sorted(found) == [
        ("tests/test_alias.py", 6),
        ("tests/test_comment.py", 4),
        ("tests/test_continued.py", 4),
    ]
    assert "tests/test_known.py" not in parsed
    assert {"tests/test_alias.py", "tests/test_comment.py", "tests/test_continued.py"} <= set(
        parsed
    )


def test_project_cache_reuses_the_file_keys_and_still_sees_every_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A warm run at the project root keys the project rules' cache with the per-file cache
    keys instead of reading every file again; a changed test file still re-runs them."""
    root = _write(
        tmp_path,
        {
            "pyproject.toml": '[tool.pytest.ini_options]\nmarkers = ["slow: long"]\n',
            "tests/test_a.py": "import pytest\n\n\n@pytest.mark.slow\ndef test_a():\n    pass\n",
            "src/m.py": "x = 1\n",
        },
    )

    def markers() -> list[tuple[str, int]]:
        r = _cli("check", "--select", "ML795", "--output-format", "json", ".", cwd=root)
        return [(d["filename"], d["line"]) for d in json.loads(r.stdout)]

    assert markers() == []
    assert markers() == []  # warm: every file hit, the project result came from the cache
    (root / "tests" / "test_a.py").write_text(
        "import pytest\n\n\n@pytest.mark.gpu\ndef test_a():\n    pass\n"
    )
    assert markers() == [("tests/test_a.py", 4)]
    assert markers() == [("tests/test_a.py", 4)]
    (root / "tests" / "test_a.py").write_text("import pytest\n\n\ndef test_a():\n    pass\n")
    assert markers() == []
    # in process: the project key reads no Python file (the lookups' keys cover them)
    from mllint.cli import main
    from mllint.project import cache as project_cache

    hashed: list[str] = []
    real_hash = project_cache._hash_file

    def spy(h: object, path: Path) -> None:
        hashed.append(path.name)
        real_hash(h, path)

    monkeypatch.setattr(project_cache, "_hash_file", spy)
    monkeypatch.chdir(root)
    assert main(["check", "--select", "ML795", "--output-format", "json", "."]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert hashed == ["pyproject.toml"]
    # a --project-only run (no per-file lookups) hashes the files and agrees
    r = _cli(
        "check", "--project-only", "--select", "ML795", "--output-format", "json", ".", cwd=root
    )
    assert json.loads(r.stdout) == []
