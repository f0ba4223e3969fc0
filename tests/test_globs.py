"""gitignore-style globs (exclude, include, per-file-ignores, test-paths) and project-relative
paths: the combined matcher agrees with matching the patterns one by one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mllint.globs import compile_globs, matches, matches_any
from mllint.runner import relpath_to_root

PATTERNS = (
    "tests/**",
    "*.pyi",
    "/build",
    "docs/",
    "**/gen_*.py",
    "a/[!x]b.py",
    "notebooks/*.py",
    "y?.py",
)
PATHS = {
    "tests/a.py": True,
    "tests/deep/er/a.py": True,
    "x/tests/a.py": False,
    "m.pyi": True,
    "pkg/m.pyi": True,
    "build/x.py": True,
    "build": True,
    "src/build/x.py": False,
    "docs/a.py": True,
    "src/docs/a.py": True,
    "q/gen_x.py": True,
    "gen_x.py": True,
    "a/yb.py": True,
    "a/xb.py": False,
    "notebooks/a.py": True,
    "notebooks/sub/a.py": False,
    "y1.py": True,
    "sub/y1.py": True,
    "y12.py": False,
    "zz.py": False,
}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_combined_matcher_agrees_with_each_pattern(path: str) -> None:
    one_by_one = any(matches(path, p) for p in PATTERNS)
    assert one_by_one == PATHS[path]
    assert matches_any(path, PATTERNS) == one_by_one
    assert matches_any(path, list(PATTERNS)) == one_by_one
    for p in PATTERNS:  # and each pattern alone
        assert matches_any(path, (p,)) == matches(path, p)


def test_no_patterns_match_nothing() -> None:
    assert compile_globs(()) is None
    assert not matches_any("a.py", ())


@pytest.mark.skipif(os.sep != "/", reason="posix paths")
def test_relpath_to_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    root = tmp_path
    assert relpath_to_root("a/b.py", root) == "a/b.py"
    assert relpath_to_root(Path("./a//b/../c.py"), root) == "a/c.py"
    assert relpath_to_root(tmp_path, root) == "."
    assert relpath_to_root(str(tmp_path) + "/pkg/", root) == "pkg"
    # a sibling whose name starts with the root's is outside it
    assert relpath_to_root(str(tmp_path) + "x/a.py", root) == (str(tmp_path) + "x/a.py")[1:]
    assert relpath_to_root("/etc/hosts", Path("/")) == "etc/hosts"
    assert relpath_to_root("/other/q.py", root / "proj") == "other/q.py"
