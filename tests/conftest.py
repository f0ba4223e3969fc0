from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

NAN_SOURCE = textwrap.dedent(
    """\
    import numpy as np
    import pandas as pd

    frame = pd.read_csv("data.csv")
    missing = frame[frame["bmi"] == np.nan]
    if reading is np.nan:
        pass
    """
)


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    """Write files into a temporary project: ``project({"a.py": "...", "pyproject.toml": ...})``."""

    def make(files: dict[str, str | bytes]) -> Path:
        for name, content in files.items():
            p = tmp_path / name
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                p.write_bytes(content)
            else:
                p.write_bytes(content.encode("utf-8"))
        return tmp_path

    return make


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real ``python -m mllint`` in a subprocess."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    full_env.pop("MLLINT_OUTPUT_FORMAT", None)
    return subprocess.run(
        [sys.executable, "-m", "mllint", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
