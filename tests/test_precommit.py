"""The pre-commit hooks of ``.pre-commit-hooks.yaml``, run by the real pre-commit.

``pre-commit try-repo`` installs mllint from a git repository into pre-commit's own
virtualenv (from PyPI it needs hatchling, libcst and rich) and runs a hook on a user's
repository. pre-commit's own handling of a dirty working tree (``git add -u`` into a shadow
clone) leaves out untracked files, so the test snapshots this working tree -- tracked and
untracked files that git does not ignore, as they are on disk -- into a temporary repository
and points ``try-repo`` at that. Nothing in this repository is changed. ``PRE_COMMIT_HOME`` is
a temporary folder; ``try-repo`` builds the hook environment in a temporary store of its own on
every run (about 30 s each, three runs), hence the last run checks both hooks at once.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NAN_SOURCE, ROOT

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or importlib.util.find_spec("pre_commit") is None,
    reason="needs git and pre-commit installed (pip install -e '.[test]')",
)

# numpy was only used for np.nan: the fix orphans that import and removes it
FIXED = (
    "import pandas as pd\n"
    "\n"
    'frame = pd.read_csv("data.csv")\n'
    'missing = frame[frame["bmi"].isna()]\n'
    "if pd.isna(reading):\n"
    "    pass\n"
)

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "mllint tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "mllint tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(*args: str, cwd: Path) -> str:
    r = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        env={**os.environ, **_GIT_ENV},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, f"git {' '.join(args)}: {r.stderr}"
    return r.stdout


def snapshot_of_this_repository(dest: Path) -> Path:
    """A one-commit git repository holding this working tree as it is on disk."""
    if (ROOT / ".git").exists():
        listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
        names = [n for n in listed.split("\0") if n]
    else:  # an unpacked sdist: everything but caches and virtualenvs
        skip = {".venv", "venv", "__pycache__", ".mllint_cache", ".pytest_cache", ".mypy_cache"}
        names = [
            p.relative_to(ROOT).as_posix()
            for p in ROOT.rglob("*")
            if p.is_file() and not skip.intersection(p.relative_to(ROOT).parts)
        ]
    for name in names:
        source = ROOT / name
        if not source.is_file():  # deleted in the working tree, or a submodule
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    git("init", "-q", cwd=dest)
    git("add", "-A", cwd=dest)
    git("commit", "-q", "-m", "snapshot of the working tree", cwd=dest)
    return dest


def pre_commit(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **_GIT_ENV,
        "PRE_COMMIT_HOME": str(home),
        "PRE_COMMIT_COLOR": "never",
        "NO_COLOR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    env.pop("MLLINT_OUTPUT_FORMAT", None)
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_hooks_with_try_repo(tmp_path: Path) -> None:
    hooks_repo = snapshot_of_this_repository(tmp_path / "mllint-snapshot")
    home = tmp_path / "pre-commit-home"
    user = tmp_path / "user-project"
    user.mkdir()
    (user / "pyproject.toml").write_text(
        '[project]\nname = "churn"\nversion = "0.1"\n\n[tool.mllint]\nunsafe-fixes = true\n',
        encoding="utf-8",
    )
    (user / "pipeline.py").write_text(NAN_SOURCE, encoding="utf-8")
    (user / "clean.py").write_text("x = 1\n", encoding="utf-8")
    git("init", "-q", cwd=user)
    git("add", "-A", cwd=user)
    git("commit", "-q", "-m", "initial", cwd=user)

    # the check hook: fails and shows the findings
    r = pre_commit("try-repo", str(hooks_repo), "mllint", "--all-files", cwd=user, home=home)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "- hook id: mllint" in r.stdout, out
    assert "- exit code: 1" in r.stdout, out
    assert (
        "pipeline.py:5:17: ML102 [nan-equality] 'frame[\"bmi\"] == np.nan' is always False: NaN "
        "never equals anything (itself included); use x.isna()" in r.stdout
    ), out
    assert (
        "pipeline.py:6:4: ML102 [nan-equality] 'reading is np.nan' is unreliable: NaN never "
        "equals anything (itself included); use pd.isna(x)" in r.stdout
    ), out
    assert "clean.py:" not in r.stdout
    assert (user / "pipeline.py").read_text(encoding="utf-8") == NAN_SOURCE  # report only

    # the fix hook: applies the (unsafe, enabled in [tool.mllint]) fixes and fails
    r = pre_commit("try-repo", str(hooks_repo), "mllint-fix", "--all-files", cwd=user, home=home)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "- hook id: mllint-fix" in r.stdout, out
    assert "- files were modified by this hook" in r.stdout, out
    assert (user / "pipeline.py").read_text(encoding="utf-8") == FIXED
    assert (user / "clean.py").read_text(encoding="utf-8") == "x = 1\n"

    # once fixed, every hook of the repository passes (one try-repo run for both)
    git("add", "-A", cwd=user)
    git("commit", "-q", "-m", "fixed", cwd=user)
    r = pre_commit("try-repo", str(hooks_repo), "--all-files", cwd=user, home=home)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert re.search(r"^mllint\.+Passed$", r.stdout, re.MULTILINE), out
    assert re.search(r"^mllint \(fix\)\.+Passed$", r.stdout, re.MULTILINE), out
    assert (user / "pipeline.py").read_text(encoding="utf-8") == FIXED
