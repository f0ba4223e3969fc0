"""Jupyter notebooks: discovery, cell-aware positions, IPython syntax, fixes that keep the
notebook byte-for-byte outside the fixed cells, and clear errors for broken notebooks."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import nbformat
import pytest

from mllint.cli import main
from mllint.notebook import NotebookError, _mask, _unmask, parse_notebook

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "notebooks" / "train_churn.ipynb"
FIXTURE_UNSAFE = ROOT / "fixtures" / "notebooks" / "train_churn.unsafe.ipynb"


def _cell(source: str | list[str], cell_type: str = "code", **extra: Any) -> dict[str, Any]:
    cell: dict[str, Any] = {"cell_type": cell_type, "metadata": {}, "source": source}
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    cell.update(extra)
    return cell


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _notebook(*cells: dict[str, Any], minor: int = 4) -> str:
    nb = {
        "cells": list(cells),
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": minor,
    }
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def _write(tmp_path: Path, text: str, name: str = "analysis.ipynb") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", "--no-cache", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    _, out, _ = _check(capsys, "--output-format", "json", *args)
    data: list[dict[str, Any]] = json.loads(out)
    return data


# -- findings and positions ---------------------------------------------------------------------


def test_training_notebook_findings_in_several_cells(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _check(capsys, "--output-format", "concise", str(FIXTURE))
    assert code == 1
    locations = [
        line.split(": ML")[0].rsplit("train_churn.ipynb:", 1)[1] for line in out.splitlines()[:-1]
    ]
    codes = [line.split(": ")[1].split()[0] for line in out.splitlines()[:-1]]
    assert list(zip(locations, codes, strict=True)) == [
        ("cell 4:line 3:col 1", "ML201"),
        ("cell 4:line 4:col 14", "ML102"),
        ("cell 7:line 1:col 42", "ML001"),
        ("cell 7:line 7:col 38", "ML601"),
        ("cell 8:line 7:col 8", "ML101"),  # line 5 is suppressed with a noqa comment
        ("cell 9:line 5:col 5", "ML002"),
    ]


def test_cross_cell_imports_resolve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(
        tmp_path,
        _notebook(
            _cell(_lines("import numpy as np\n")),
            _cell("# unrelated markdown", cell_type="markdown"),
            _cell(_lines("scores = np.array([0.1, 0.2])\nbad = scores[scores == np.nan]")),
        ),
    )
    [finding] = _json(capsys, str(path))
    assert (finding["code"], finding["cell"], finding["line"], finding["column"]) == (
        "ML102",
        3,
        2,
        14,
    )


def test_json_edits_are_in_cell_coordinates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(
        tmp_path,
        _notebook(
            _cell(_lines("import numpy as np\nimport pandas as pd\n")),
            _cell(_lines("df = pd.DataFrame()\nx = df[df.a == np.nan]")),
        ),
    )
    [finding] = _json(capsys, str(path))
    assert finding["cell"] == 2
    assert finding["fix"]["edits"] == [
        {"content": ".isna()", "line": 2, "column": 12, "end_line": 2, "end_column": 22}
    ]


def test_python_files_have_no_cell_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "m.py").write_text("import numpy as np\nx = [1.0]\nprint(x == np.nan)\n")
    [finding] = _json(capsys, str(tmp_path / "m.py"))
    assert "cell" not in finding


def test_annotation_formats_point_at_the_notebook_line(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _check(capsys, "--output-format", "github", str(FIXTURE))
    first = out.splitlines()[0]
    raw = FIXTURE.read_text(encoding="utf-8").splitlines()
    line = int(first.split("line=")[1].split(",")[0])
    assert raw[line - 1].strip().startswith('"df[df[\\"tenure\\"] > 12]')
    assert "::cell 4, line 3: Chained assignment" in first
    _, out, _ = _check(capsys, "--output-format", "sarif", str(FIXTURE))
    result = json.loads(out)["runs"][0]["results"][0]
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": line}
    assert result["message"]["text"].startswith("cell 4, line 3: ")
    assert "fixes" not in result
    _, out, _ = _check(capsys, "--output-format", "gitlab", str(FIXTURE))
    issue = json.loads(out)[0]
    assert issue["location"]["lines"] == {"begin": line, "end": line}
    assert "cell 4, line 3: " in issue["description"]


def test_text_output_names_cell_and_line(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _check(capsys, str(FIXTURE))
    assert "train_churn.ipynb:cell 4:line 4:col 14: ML102 [nan-equality]" in out
    _, out, _ = _check(capsys, "--output-format", "grouped", str(FIXTURE))
    assert "  cell 9:line 5:col 5 ML002 [lru-cache-on-method]" in out


# -- IPython syntax -----------------------------------------------------------------------------


def test_magics_shell_and_help_do_not_break_parsing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = (
        "%matplotlib inline\n"
        "!pip install -q \\\n"
        "    lightgbm\n"
        "files = !ls data\n"
        "?np.mean\n"
        "np.mean??\n"
        "import numpy as np\n"
        "for f in files:\n"
        "    %time np.load(f)\n"
        "x = np.float64(0.5)\n"
        "print(x == np.nan)"
    )
    path = _write(tmp_path, _notebook(_cell(_lines(source))))
    findings = _json(capsys, str(path))
    assert [(f["code"], f["cell"], f["line"]) for f in findings] == [("ML102", 1, 11)]


def test_percent_inside_brackets_and_strings_is_python(tmp_path: Path) -> None:
    source = 'total = (a\n         % b)\ntext = """\n!not shell\n%not magic\n"""\n%who\n'
    masked, masks, _ = _mask(source, 0)
    assert masked.splitlines()[1] == "         % b)"
    assert masked.splitlines()[3] == "!not shell"
    assert masked.splitlines()[6] == "pass  # mllint-magic:0"
    assert list(masks.values()) == ["%who\n"]


def test_cell_magic_cells_are_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(
        tmp_path,
        _notebook(
            _cell(_lines("%%bash\nfor f in *.csv; do echo $f; done")),
            _cell(_lines("%%time\nimport numpy as np\nprint(np.nan == 1)")),
            _cell(_lines("import numpy as np\nprint(np.nan == 1)")),
        ),
    )
    findings = _json(capsys, str(path))
    assert [(f["code"], f["cell"]) for f in findings] == [("ML102", 3)]


def test_unmask_refuses_a_lost_or_duplicated_magic() -> None:
    masked, masks, _ = _mask("%matplotlib inline\nx = 1\n", 0)
    lines = masked.splitlines(keepends=True)
    assert _unmask(lines, masks) == "%matplotlib inline\nx = 1\n"
    with pytest.raises(NotebookError, match="removed an IPython line"):
        _unmask(lines[1:], masks)
    with pytest.raises(NotebookError, match="duplicated an IPython line"):
        _unmask([lines[0], *lines], masks)


def test_syntax_error_is_reported_in_its_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, _notebook(_cell(["x = 1\n"]), _cell(_lines("def f(:\n    pass"))))
    code, out, _ = _check(capsys, "--output-format", "concise", str(path))
    assert code == 1
    assert "analysis.ipynb:cell 2:line 1:" in out and "ML000" in out


# -- fixing -------------------------------------------------------------------------------------


def test_fix_round_trip_only_fixed_cells_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / FIXTURE.name
    shutil.copy(FIXTURE, path)
    code, out, _ = _check(capsys, "--fix", "--unsafe-fixes", str(path))
    assert "fixed 5 findings in 1 file, 1 remaining." in out
    assert (
        "cell 9:line 5:col 5: ML002" in out
    )  # positions of what remains are in the fixed notebook
    assert code == 1
    fixed = path.read_text(encoding="utf-8")
    assert fixed == FIXTURE_UNSAFE.read_text(encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nbformat.validate(nbformat.reads(fixed, as_version=4))
    before = json.loads(FIXTURE.read_text(encoding="utf-8"))
    after = json.loads(fixed)
    changed = [
        i + 1
        for i, (a, b) in enumerate(zip(before["cells"], after["cells"], strict=True))
        if a != b
    ]
    assert changed == [2, 4, 7, 8]
    for a, b in zip(before["cells"], after["cells"], strict=True):
        assert {k: v for k, v in a.items() if k != "source"} == {
            k: v for k, v in b.items() if k != "source"
        }
    assert {k: v for k, v in before.items() if k != "cells"} == {
        k: v for k, v in after.items() if k != "cells"
    }
    # a second run has nothing left to fix
    _check(capsys, "--fix", "--unsafe-fixes", str(path))
    assert path.read_text(encoding="utf-8") == fixed


def test_safe_fix_leaves_the_notebook_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / FIXTURE.name
    shutil.copy(FIXTURE, path)
    before = path.stat().st_mtime_ns
    _check(capsys, "--fix", str(path))
    assert path.read_bytes() == FIXTURE.read_bytes()
    assert path.stat().st_mtime_ns == before


def test_fix_keeps_string_sources_indent_and_unicode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nb = {
        "nbformat": 4,
        "nbformat_minor": 2,
        "metadata": {},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "Résumé — données"},
            {
                "cell_type": "code",
                "execution_count": 3,
                "metadata": {"tags": ["keep"]},
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "é\n"}],
                "source": "import numpy as np\n%time y = 1\nprint(np.float32(1) == np.nan)",
            },
        ],
    }
    text = json.dumps(nb, indent=2, ensure_ascii=False)  # no trailing newline, indent 2
    path = _write(tmp_path, text)
    _check(capsys, "--fix", "--unsafe-fixes", str(path))
    expected = text.replace(
        '"import numpy as np\\n%time y = 1\\nprint(np.float32(1) == np.nan)"',
        '"import math\\n\\nimport numpy as np\\n%time y = 1\\nprint(math.isnan(np.float32(1)))"',
    )
    assert expected != text
    assert path.read_text(encoding="utf-8") == expected


def test_fix_output_uses_ascii_escapes_when_the_file_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = _notebook(
        _cell("caf\u00e9", cell_type="markdown"),
        _cell(
            _lines(
                "import numpy as np\nimport pandas as pd\nname = 'caf\u00e9'\ndf = pd.DataFrame()\nprint(df.a == np.nan)"
            )
        ),
    )
    ascii_text = json.dumps(json.loads(text), indent=1, ensure_ascii=True) + "\n"
    path = _write(tmp_path, ascii_text)
    _check(capsys, "--fix", "--unsafe-fixes", str(path))
    fixed = path.read_text(encoding="utf-8")
    assert fixed.isascii()
    assert fixed == ascii_text.replace("df.a == np.nan", "df.a.isna()").replace(
        '    "import numpy as np\\n",\n',
        "",  # np is no longer used: the import goes
    )


def test_diff_shows_the_notebook_change(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / FIXTURE.name
    shutil.copy(FIXTURE, path)
    code, out, _ = _check(capsys, "--diff", "--unsafe-fixes", str(path))
    assert code == 1
    assert '-    "if auc == best_auc:\\n",' not in out  # the noqa'd line stays
    assert '+    "    if math.isclose(auc, best_auc):\\n",' in out
    assert path.read_bytes() == FIXTURE.read_bytes()


# -- configuration ------------------------------------------------------------------------------


def test_noqa_and_per_file_ignores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nb = _notebook(
        _cell(
            _lines(
                "import numpy as np\nprint(np.float32(1) == np.nan)  # noqa: ML102\nprint(np.nan == 2)"
            )
        )
    )
    path = (
        _write(tmp_path, nb, "notebooks/eda.ipynb")
        if (tmp_path / "notebooks").mkdir() is None
        else None
    )
    assert path is not None
    findings = _json(capsys, str(path))
    assert [(f["cell"], f["line"]) for f in findings] == [(1, 3)]
    (tmp_path / "pyproject.toml").write_text(
        '[tool.mllint]\nper-file-ignores = {"notebooks/*.ipynb" = ["ML102"]}\n'
    )
    findings = _json(capsys, "--config", str(tmp_path / "pyproject.toml"), str(path))
    assert findings == []


def test_directory_walk_includes_notebooks_and_honours_include(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.mllint]\n")
    (tmp_path / "a.py").write_text("import numpy as np\nprint(np.nan == 1)\n")
    _write(tmp_path, _notebook(_cell(_lines("import numpy as np\nprint(np.nan == 1)"))), "b.ipynb")
    (tmp_path / "notes.txt").write_text("np.nan == 1\n")
    assert sorted(f["filename"] for f in _json(capsys, ".")) == ["a.py", "b.ipynb"]
    (tmp_path / "pyproject.toml").write_text('[tool.mllint]\ninclude = ["*.py"]\n')
    assert [f["filename"] for f in _json(capsys, ".")] == ["a.py"]
    (tmp_path / "pyproject.toml").write_text('[tool.mllint]\nextend-exclude = ["*.ipynb"]\n')
    assert [f["filename"] for f in _json(capsys, ".")] == ["a.py"]
    (tmp_path / "c.pyw").write_text("import numpy as np\nprint(np.nan == 1)\n")
    (tmp_path / "pyproject.toml").write_text('[tool.mllint]\nextend-include = ["*.pyw"]\n')
    assert sorted(f["filename"] for f in _json(capsys, ".")) == ["a.py", "b.ipynb", "c.pyw"]


def test_warm_cache_keeps_cell_positions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / FIXTURE.name
    shutil.copy(FIXTURE, path)
    args = ["check", "--cache-dir", str(tmp_path / "cache"), "--output-format", "github", str(path)]
    main(args)
    cold = capsys.readouterr().out
    main(args)
    warm = capsys.readouterr().out
    assert cold == warm and "cell 4, line 3" in warm


# -- empty and broken notebooks -----------------------------------------------------------------


def test_empty_and_non_code_notebooks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = _write(tmp_path, _notebook(), "empty.ipynb")
    prose = _write(
        tmp_path,
        _notebook(
            _cell("# Title", cell_type="markdown"), _cell("x == np.nan", cell_type="raw"), _cell([])
        ),
        "prose.ipynb",
    )
    code, out, _ = _check(capsys, str(empty), str(prose))
    assert code == 0
    assert "All checks passed (2 files)." in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"cells": [',
            "broken.ipynb: error: not a valid notebook: invalid JSON (Expecting value: line 1 column 12",
        ),
        (
            '{"nbformat": 3, "worksheets": []}',
            "broken.ipynb: error: not a valid notebook: nbformat 4 is required (found 3)",
        ),
        ("[1, 2]", "broken.ipynb: error: not a valid notebook: the top level is not a JSON object"),
        (
            '{"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [{"cell_type": "code"}]}',
            "broken.ipynb: error: not a valid nbformat 4 notebook at cells/0:",
        ),
    ],
)
def test_broken_notebook_is_reported_and_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    broken = _write(tmp_path, content, "broken.ipynb")
    good = tmp_path / "ok.py"
    good.write_text("import numpy as np\nprint(np.nan == 1)\n")
    code, out, err = _check(
        capsys, "--fix", "--unsafe-fixes", "--output-format", "concise", str(broken), str(good)
    )
    assert message in out
    assert "Traceback" not in out + err
    assert broken.read_text() == content
    assert "isnan(" in good.read_text()  # the rest of the run went on
    assert code == 1


def test_parse_notebook_keeps_cell_numbers() -> None:
    nb = parse_notebook(_notebook(_cell("# t", cell_type="markdown"), _cell(["x = 1\n", "y = 2"])))
    assert [c.number for c in nb.cells] == [1, 2]
    assert nb.module_source() == "# mllint-cell:1\nx = 1\ny = 2\n"
    assert nb.locate(2) is not None and nb.locate(2)[1] == 1  # type: ignore[index]
    assert nb.locate(1) is None  # the separator line
