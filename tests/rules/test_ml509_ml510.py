"""ML509 unseeded-random-in-tests and ML510 shared-fixture-mutated: conftest.py files up the
directory chain (project index), messages and fix conditions."""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from mllint.api import check_source
from mllint.cli import main
from mllint.semantics import project_index


@pytest.fixture(autouse=True)
def _fresh_index() -> Iterator[None]:
    project_index.clear_cache()
    yield
    project_index.clear_cache()


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _findings(
    root: Path, select: str, capsys: pytest.CaptureFixture[str]
) -> list[tuple[str, int, str]]:
    old = os.getcwd()
    os.chdir(root)
    try:
        main(
            [
                "check",
                "--no-cache",
                "--exit-zero",
                "--output-format",
                "json",
                "--select",
                select,
                ".",
            ]
        )
    finally:
        os.chdir(old)
    data = json.loads(capsys.readouterr().out)
    return sorted((d["filename"], d["line"], d["code"]) for d in data)


LEGACY_TEST = """\
    import numpy as np

    def test_noise():
        assert np.random.rand(3).shape == (3,)
    """


def test_ml509_conftest_seed_up_the_chain_silences_legacy_samplers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, "pyproject.toml", "")
    _write(tmp_path, "tests/unit/test_noise.py", LEGACY_TEST)
    assert _findings(tmp_path, "ML509", capsys) == [("tests/unit/test_noise.py", 4, "ML509")]
    _write(
        tmp_path,
        "tests/conftest.py",
        """\
        import random

        import pytest

        @pytest.fixture(autouse=True)
        def _seed():
            random.seed(0)
        """,
    )
    project_index.clear_cache()
    assert _findings(tmp_path, "ML509", capsys) == []


def test_ml509_conftest_above_the_pytest_root_is_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, "conftest.py", "import numpy as np\nnp.random.seed(0)\n")
    _write(tmp_path, "proj/pyproject.toml", "")
    _write(tmp_path, "proj/tests/test_noise.py", LEGACY_TEST)
    assert _findings(tmp_path / "proj", "ML509", capsys) == [("tests/test_noise.py", 4, "ML509")]


def test_ml509_unseeded_generator_is_flagged_even_with_a_seeding_conftest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, "pyproject.toml", "")
    _write(tmp_path, "tests/conftest.py", "import torch\ntorch.manual_seed(0)\n")
    _write(
        tmp_path,
        "tests/test_gen.py",
        """\
        import numpy as np

        def test_gen():
            assert np.random.default_rng().random() < 1
        """,
    )
    assert _findings(tmp_path, "ML509", capsys) == [("tests/test_gen.py", 4, "ML509")]


def test_ml509_message_and_only_test_files() -> None:
    result = check_source(
        textwrap.dedent(LEGACY_TEST), "tests/nowhere_on_disk/test_x.py", select=["ML509"]
    )
    [v] = result.violations
    assert (v.line, v.column) == (4, 12)
    assert v.message == (
        "Unseeded random data in a test (np.random.rand(3)): failures are not reproducible — "
        "use np.random.default_rng(<seed>) (or seed torch/random in a fixture)"
    )
    assert (
        check_source(textwrap.dedent(LEGACY_TEST), "pkg/noise.py", select=["ML509"]).violations
        == []
    )


CONFTEST_FIXTURES = """\
    import pandas as pd
    import pytest

    @pytest.fixture(scope="session")
    def frame():
        df = pd.DataFrame({"a": [1, 2]})
        return df

    @pytest.fixture(scope="session")
    def client():
        return object()
    """


def test_ml510_fixture_from_conftest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "pyproject.toml", "")
    _write(tmp_path, "tests/conftest.py", CONFTEST_FIXTURES)
    test = _write(
        tmp_path,
        "tests/models/test_frame.py",
        """\
        def test_adds(frame, client):
            frame["b"] = frame["a"] * 2
            client.retries = 3
        """,
    )
    assert _findings(tmp_path, "ML510", capsys) == [
        ("tests/models/test_frame.py", 2, "ML510"),
        ("tests/models/test_frame.py", 3, "ML510"),
    ]
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        main(["check", "--no-cache", "--fix", "--unsafe-fixes", "--select", "ML510", "."])
    finally:
        os.chdir(old)
    capsys.readouterr()
    # the DataFrame fixture is copied; the unknown `client` has no fix
    assert test.read_text(encoding="utf-8") == (
        'def test_adds(frame, client):\n    frame = frame.copy()\n    frame["b"] = frame["a"] * 2\n'
        "    client.retries = 3\n"
    )


def test_ml510_module_fixture_overrides_conftest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, "pyproject.toml", "")
    _write(tmp_path, "tests/conftest.py", CONFTEST_FIXTURES)
    _write(
        tmp_path,
        "tests/test_override.py",
        """\
        import pytest

        @pytest.fixture
        def frame():
            return {"a": 1}

        def test_adds(frame):
            frame["b"] = 2
        """,
    )
    assert _findings(tmp_path, "ML510", capsys) == []


def test_ml510_sibling_directory_conftest_is_not_visible(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, "pyproject.toml", "")
    _write(tmp_path, "tests/a/conftest.py", CONFTEST_FIXTURES)
    _write(tmp_path, "tests/b/test_b.py", 'def test_b(frame):\n    frame["x"] = 1\n')
    assert _findings(tmp_path, "ML510", capsys) == []


def test_ml510_message_and_noqa() -> None:
    src = textwrap.dedent(
        """\
        import pytest

        @pytest.fixture(scope="module")
        def labels():
            return ["a"]

        def test_labels(labels):
            labels.append("b")
        """
    )
    [v] = check_source(src, "tests/nowhere_on_disk/test_l.py", select=["ML510"]).violations
    assert (v.line, v.column) == (8, 5)
    assert v.message == (
        "'labels' is the module-scoped fixture 'labels'; mutating it here leaks into every later "
        "test — copy it (labels = labels.copy()) or make the fixture function-scoped"
    )
    src = src.replace('labels.append("b")', 'labels.append("b")  # noqa: ML510')
    assert check_source(src, "tests/nowhere_on_disk/test_l.py", select=["ML510"]).violations == []


def test_project_index_dependencies(tmp_path: Path) -> None:
    _write(tmp_path, "pyproject.toml", "")
    top = _write(tmp_path, "tests/conftest.py", "")
    inner = _write(tmp_path, "tests/unit/conftest.py", "")
    test = _write(tmp_path, "tests/unit/test_x.py", "")
    assert project_index.dependencies(str(test)) == [str(inner), str(top)]
    assert project_index.locate("tests/unit/test_x.py", str(test)) == str(test)
