"""The whole-corpus fix check (tests/corpus/fix_corpus.py) on a small local corpus.

The corpus: every ``fixtures/ML*/bad*.py`` (placed at the path its ``# mllint-fixture: path=``
directive names, so that file roles such as package ``__init__.py`` apply), the example
project, and generated modules with the pitfalls in realistic code and awkward encodings.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.corpus.fix_corpus import Site, outside_hunks

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "corpus" / "fix_corpus.py"
_PATH_DIRECTIVE = re.compile(r"^#\s*mllint-fixture:\s*path=(?P<path>\S+)\s*$", re.MULTILINE)


# -- the generated part of the corpus ----------------------------------------------------------

TRAIN = '''\
"""Training loop for the {name} model."""

import functools
import math

import numpy as np
import pandas as pd
import torch
from torch import nn

KNOWN_SPLITS = ["train", "valid", "test"]


class {cls}(nn.Module):
    def __init__(self, dim=128, hidden=[256, 256]):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(dim, h) for h in hidden)

    @functools.lru_cache(maxsize=None)
    def mask(self, size):
        return torch.ones(size)


def evaluate(model, loader, history=[]):
    """Evaluate and remember the loss."""
    total = 0.0
    for batch in loader:
        loss = model(batch).mean()
        if loss.item() == 0.0:
            print("perfect batch")
        total += loss.item()
    history.append(total)
    return total


def train(model, loaders, epochs={epochs}, best_loss=math.inf):
    stalled = 0
    for epoch in range(epochs):
        for split in loaders:
            if split in KNOWN_SPLITS:
                val_loss = evaluate(model, loaders[split])
                if val_loss == best_loss:
                    stalled += 1
                elif val_loss != val_loss:
                    raise FloatingPointError("NaN loss")
                if val_loss == np.nan:
                    raise FloatingPointError("NaN loss")
    return stalled


def normalise(scores: np.ndarray) -> np.ndarray:
    centred = scores - scores.mean(axis=1)
    return centred / np.sum(centred, axis=1)


def read_frame(path):
    frame = pd.read_csv(path)
    frame[frame["{col}"] < 0]["{col}"] = 0
    frame["{col}"][frame["{col}"].isna()] = frame["{col}"].median()
    return frame
'''

PACKAGE_INIT = '''\
"""The {name} package."""

import torch
from transformers import AutoModel

from .core import helper

__all__ = ["AutoModel", "helper", "load"]


def load(path):
    return torch.load(path, weights_only=True)
'''

CLEAN = '''\
"""Nothing to report: this file must keep its bytes and its modification time."""

import math


def close(a, b):
    return math.isclose(a, b)
'''

NAN_SNIPPET = "import numpy as np\nimport pandas as pd\n\nframe = pd.read_csv('x.csv')\nmissing = frame[frame['bmi'] == np.nan]\nif score == 0.5:\n    pass\n"


def write_generated(root: Path) -> None:
    gen = root / "generated"
    for i, (name, cls, col, epochs) in enumerate(
        [
            ("churn", "ChurnNet", "tenure", 10),
            ("vision", "ConvHead", "pixels", 3),
            ("text", "Tagger", "tokens", 1),
        ]
    ):
        p = gen / f"train_{i}.py"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(TRAIN.format(name=name, cls=cls, col=col, epochs=epochs))
    pkg = gen / "mlpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(PACKAGE_INIT.format(name="mlpkg"))
    (pkg / "core.py").write_text("def helper():\n    return 1\n")
    (gen / "clean.py").write_text(CLEAN)
    # awkward encodings and layouts
    (gen / "crlf.py").write_bytes(NAN_SNIPPET.replace("\n", "\r\n").encode())
    (gen / "bom.py").write_bytes(b"\xef\xbb\xbf" + NAN_SNIPPET.encode())
    (gen / "latin1.py").write_bytes(
        ("# -*- coding: latin-1 -*-\n" + NAN_SNIPPET + "label = 'café'\n").encode("latin-1")
    )
    (gen / "tabs.py").write_text(NAN_SNIPPET.replace("    pass", "\tpass"))
    (gen / "no_newline.py").write_text(NAN_SNIPPET.rstrip("\n"))
    (gen / "unicode.py").write_text(
        "import numpy as np\nimport pandas as pd\n\ndonnées = pd.read_csv('prix.csv')\n"
        "manquants = données[données['prix€'] == np.nan]; écart = données['prix€'] == 0.5\n"
    )
    (gen / "suppressed.py").write_text(
        "import numpy as np\n\nif x == np.nan:  # noqa: ML102\n    pass\nif y == 0.5:  # noqa\n    pass\n"
    )
    (gen / "broken.py").write_text("import numpy as np\nx = y == np.nan\ndef f(:\n")
    (gen / "empty.py").write_text("")
    (gen / "stub.pyi").write_text(
        "import numpy as np\n\ndef f(x: np.ndarray = ...) -> float: ...\n"
    )
    nested = "import numpy as np\n\n"
    for depth in range(12):
        nested += "    " * depth + f"for i{depth} in range(3):\n"
    nested += "    " * 12 + "if i11 == 0.5 or i0 == np.nan:\n" + "    " * 13 + "print(i0)\n"
    (gen / "nested.py").write_text(nested)


def build_corpus(root: Path) -> None:
    for bad in sorted((ROOT / "fixtures").glob("ML*/bad*.py")):
        if bad.name.endswith((".fixed.py", ".unsafe.py")):
            continue
        text = bad.read_text(encoding="utf-8")
        m = _PATH_DIRECTIVE.search(text)
        dest = root / "fixtures" / bad.parent.name
        dest = dest / bad.stem / m.group("path") if m else dest / bad.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(bad, dest)
    shutil.copytree(ROOT / "fixtures" / "example_project", root / "example_project")
    write_generated(root)


def run_script(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=ROOT,
    )


def count(output: str, label: str) -> int:
    m = re.search(rf"^{re.escape(label)}: (\d+)", output, re.MULTILINE)
    assert m, f"no {label!r} line in:\n{output}"
    return int(m.group(1))


def test_fix_corpus_on_fixtures_and_generated_modules(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    build_corpus(corpus)
    before = (corpus / "generated" / "broken.py").read_bytes()
    r = run_script("--local", str(corpus), "-j", "2")
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    for label in ("broken files", "non-idempotent files", "unchanged files rewritten", "crashes"):
        assert count(out, label) == 0, out
    assert "RESULT: OK" in out
    n_files = sum(1 for p in corpus.rglob("*") if p.suffix in (".py", ".pyi"))
    assert count(out, "files") == n_files
    m = re.search(r"^fixes applied \(mllint's summary\): (\d+) in (\d+) files", out, re.MULTILINE)
    assert m and int(m.group(1)) > 100 and int(m.group(2)) > 20, out  # not a vacuous run
    # the per-rule table: before, fixable, remaining, resolved
    for code in ("ML001", "ML002", "ML101", "ML102", "ML201", "ML601", "ML701", "ML900"):
        assert re.search(rf"^  {code} +\d+ +\d+ +\d+ +[1-9]\d*$", out, re.MULTILINE), (
            f"{code} fixed nothing:\n{out}"
        )
    assert (corpus / "generated" / "broken.py").read_bytes() == before  # the copy was fixed


# -- the script notices what it should notice ----------------------------------------------

SABOTAGE = r"""
import os, subprocess, sys
from pathlib import Path

args = sys.argv[1:]
rc = subprocess.run([sys.executable, "-m", "mllint", *args]).returncode
state = Path(os.environ["SABOTAGE_STATE"])
runs = int(state.read_text()) if state.exists() else 0
if "--fix" in args:
    runs += 1
    state.write_text(str(runs))
    if runs == 1:
        with open("a.py", "a") as fh:   # broken
            fh.write("def (:\n")
        st = os.stat("clean.py")        # rewritten without a change
        os.utime("clean.py", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
        text = Path("far.py").read_text()   # a change far from any finding
        Path("far.py").write_text(text.replace("unrelated = 1", "unrelated = 2"))
    else:
        with open("b.py", "a") as fh:   # not idempotent
            fh.write("# one more\n")
else:
    print("Traceback (most recent call last):\n  oops", file=sys.stderr)
sys.exit(rc)
"""


def test_fix_corpus_reports_every_kind_of_problem(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("a.py", "b.py"):
        (corpus / name).write_text(NAN_SNIPPET)
    (corpus / "clean.py").write_text(CLEAN)
    (corpus / "far.py").write_text("import numpy as np\n\nunrelated = 1\n\n\nok = x == np.nan\n")
    fake = tmp_path / "fake_mllint.py"
    fake.write_text(SABOTAGE)
    r = run_script(
        "--local",
        str(corpus),
        "--mllint",
        f"{sys.executable} {fake}",
        env={"SABOTAGE_STATE": str(tmp_path / "state")},
    )
    out = r.stdout
    assert r.returncode == 1, out + r.stderr
    assert count(out, "broken files") == 1
    assert count(out, "non-idempotent files") == 1
    assert count(out, "unchanged files rewritten") == 1
    assert count(out, "crashes") == 1
    assert count(out, "files changed outside finding sites") == 1
    assert "far.py: replace at line 3: -unrelated = 1 | +unrelated = 2" in out
    assert "b.py\n    --- b.py (fix)" in out  # the second run's diff is shown
    assert "RESULT: FAIL" in out


# -- the tolerance for "changed outside finding sites" -------------------------------------------


def _site(code: str, line: int, col: int, end_line: int, end_col: int) -> Site:
    return Site(code, line, col, end_line, end_col)


def test_tolerance_accepts_edits_at_sites() -> None:
    before = textwrap.dedent(
        '''\
        """Doc."""
        import numpy as np

        # a comment about f
        def f(x, history=[]):
            """Docstring."""
            # first
            for v in x:
                if v in KNOWN:
                    print(v == 0.5)
            return history
        '''
    )
    after = textwrap.dedent(
        '''\
        """Doc."""
        import numpy as np
        import math
        from typing import Optional

        # a comment about f
        def f(x, history=None):
            """Docstring."""
            if history is None:
                history = []
            # first
            KNOWN_set = set(KNOWN)
            for v in x:
                if v in KNOWN_set:
                    print(math.isclose(v, 0.5))
            return history
        '''
    )
    sites = [
        _site("ML001", 5, 18, 5, 20),
        _site("ML601", 9, 16, 9, 27),
        _site("ML101", 10, 23, 10, 31),
    ]
    assert outside_hunks(before, after, sites) == []


def test_tolerance_flags_edits_elsewhere() -> None:
    before = "import numpy as np\n\nA = 1\n\n\ndef f(x):\n    return x == 0.5\n"
    # a statement (not an import) inserted at the top, and a changed unrelated line
    after = "import numpy as np\nimport math\nB = 2\n\nA = 2\n\n\ndef f(x):\n    return math.isclose(x, 0.5)\n"
    bad = outside_hunks(before, after, [_site("ML101", 7, 12, 7, 20)])
    assert [(h.tag, h.orig_start) for h in bad] == [("insert", 2), ("replace", 3)]
    # without any finding, every change is outside
    assert len(outside_hunks(before, before.replace("0.5", "0.25"), [])) == 1


def test_tolerance_decorator_and_multiline_header() -> None:
    before = "class C:\n    @property\n    @functools.cache\n    def f(\n        self,\n    ):\n        return 1\n"
    after = "class C:\n    @functools.cached_property\n    def f(\n        self,\n    ):\n        return 1\n"
    assert outside_hunks(before, after, [_site("ML002", 3, 6, 3, 21)]) == []
    # the same edit with the finding on another method is flagged
    assert outside_hunks(before, after, [_site("ML002", 7, 9, 7, 17)]) != []


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_tolerance_counts_lines_like_python(newline: str) -> None:
    # \x0c and \u2028 do not end a line for Python: line numbers must still match
    before = f"x = '\u2028'{newline}y = a == 0.5{newline}"
    after = f"x = '\u2028'{newline}y = math.isclose(a, 0.5){newline}"
    assert outside_hunks(before, after, [_site("ML101", 2, 5, 2, 13)]) == []


def test_tolerance_removed_imports_must_be_unused() -> None:
    before = "import os\nimport sys\nimport numpy as np\n\ny = u == np.nan\nprint(os, sys)\n"
    site = [_site("ML102", 5, 5, 5, 16)]
    # the engine drops an import that the fix left unused: accepted
    good = "import os\nimport sys\nimport math\n\ny = math.isnan(u)\nprint(os, sys)\n"
    assert outside_hunks(before, good, site) == []
    # dropping an import that is still used is not
    bad = "import os\nimport numpy as np\nimport math\n\ny = math.isnan(u)\nprint(os, sys)\n"
    assert [h.describe() for h in outside_hunks(before, bad, site)] == [
        "delete at line 2: -import sys"
    ]
