"""ML201 chained-assignment: what the fixtures cannot express (messages, columns, the
frame-name-pattern option, orientation of variable keys and skipped fixes)."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mllint.api import check_source
from mllint.config import settings_from_toml
from mllint.diagnostics import FileResult

PRELUDE = "import pandas as pd\n"


def _run(source: str, fix: str | None = None, config: dict[str, Any] | None = None) -> FileResult:
    table = {"chained-assignment": config} if config is not None else {}
    settings = settings_from_toml({"tool": {"mllint": table}}, Path("pyproject.toml"))
    return check_source(
        PRELUDE + textwrap.dedent(source), "pkg/features.py", settings=settings,
        select=["ML201"], fix=fix,
    )  # fmt: skip


def _findings(source: str, **kw: Any) -> list[tuple[int, int, str]]:
    return [(v.line, v.column, v.message) for v in _run(source, **kw).violations]


def _fixed(source: str, **kw: Any) -> str:
    result = _run(source, fix="unsafe", **kw)
    assert result.fixed_source is not None
    ast.parse(result.fixed_source)
    return result.fixed_source[len(PRELUDE) :]


def test_message_copy_form() -> None:
    [(line, col, msg)] = _findings(
        "sales = pd.read_csv('s.csv')\nif True:\n    sales[sales['qty'] < 0]['qty'] = 0\n"
    )
    assert (line, col) == (4, 5)
    assert msg == (
        "Chained assignment 'sales[sales['qty'] < 0]['qty']' writes into a temporary copy; "
        "sales is not modified (never under pandas ≥ 3) — use "
        "sales.loc[sales['qty'] < 0, 'qty'] = ..."
    )


def test_message_column_first_form_is_version_dependent() -> None:
    [(_, _, msg)] = _findings("sales = pd.read_csv('s.csv')\nsales['returns'][7] += 1\n")
    assert msg == (
        "Chained assignment 'sales['returns'][7]' writes into a temporary selection; sales is "
        "not modified under pandas ≥ 3 (older pandas may write through, with a warning) — use "
        "sales.loc[7, 'returns'] = ..."
    )


def test_message_without_fix_names_generic_form() -> None:
    [(_, _, msg)] = _findings("df = load()\ndf[df.a > 0][..., 'b'] = 1\n")
    assert msg.endswith("— use df.loc[rows, cols] = ...")


def test_multiline_target_reported_on_first_line() -> None:
    found = _findings("sales = pd.read_csv('s.csv')\nsales[\n    sales.qty < 0\n]['qty'] = 0\n")
    assert [(line, col) for line, col, _ in found] == [(3, 1)]


def test_pandas_gate() -> None:
    result = check_source("df = load()\ndf['a']['b'] = 1\n", "pkg/x.py", select=["ML201"])
    assert result.violations == []


@pytest.mark.parametrize(
    "name, flagged",
    [("df", True), ("train_df", True), ("df_train", True), ("frame", False), ("cfg", False),
     ("df_by_split", False), ("dfs", False), ("df_dict", False)],
)  # fmt: skip
def test_default_frame_name_pattern(name: str, flagged: bool) -> None:
    src = f"def f({name}):\n    {name}['label'][3] = 1\n"
    assert bool(_findings(src)) is flagged


def test_frame_name_pattern_option() -> None:
    src = "def f(frame, df):\n    frame['label'][3] = 1\n    df['label'][3] = 1\n"
    assert [line for line, _, _ in _findings(src, config={"frame-name-pattern": "^frame$"})] == [3]


def test_empty_pattern_disables_h3_only() -> None:
    src = (
        "def f(df, raw):\n"
        "    df['label'][3] = 1\n"  # H3 only: silent
        "    df[df.score > 0]['label'] = 1\n"  # H1 (mask): flagged
        "    raw.loc[3]['label'] = 1\n"  # H1 (.loc): flagged
        "    known = pd.DataFrame(raw)\n"
        "    known['label'][3] = 1\n"  # H2: flagged
    )
    assert [line for line, _, _ in _findings(src, config={"frame-name-pattern": ""})] == [4, 5, 7]


def test_iloc_becomes_label_based_loc() -> None:
    assert _fixed("df = pd.read_csv('x')\ndf.iloc[3:5]['y'] = 0\n") == (
        "df = pd.read_csv('x')\ndf.loc[df.index[3:5], 'y'] = 0\n"
    )


def test_mask_variable_is_rows() -> None:
    assert _fixed("df = pd.read_csv('x')\nkeep = df.a > 0\ndf[keep]['y'] = 0\n").endswith(
        "df.loc[keep, 'y'] = 0\n"
    )


@pytest.mark.parametrize(
    "key, fixed",
    [("col", "df.loc[i, col] = 0"), ("target_column", "df.loc[i, target_column] = 0"),
     ("selected", None), ("row_mask", None), ("c_rows", None)],
)  # fmt: skip
def test_variable_first_key_orientation(key: str, fixed: str | None) -> None:
    src = f"def f({key}, i):\n    df = pd.read_csv('x')\n    df[{key}][i] = 0\n"
    assert len(_findings(src)) == 1
    result = _run(src, fix="unsafe")
    if fixed is None:
        assert result.fixed_source is None
    else:
        assert result.fixed_source is not None and fixed in result.fixed_source


@pytest.mark.parametrize(
    "target",
    ["df['price'][:10]",  # positional slice in column-first row position
     "df[:10]['price']",  # positional row slice first
     "df.loc[df.a > 0, ['a', 'b']]['a']",  # tuple key
     "get_frame()[get_frame().a > 0]['b']",  # not a name
     "s[s > 0][0]"],  # a Series
)  # fmt: skip
def test_flagged_without_fix(target: str) -> None:
    src = f"df = pd.read_csv('x')\ns = pd.Series([1.0])\n{target} = 0\n"
    result = _run(src, fix="unsafe")
    assert len(result.violations) == 1
    assert result.fixed_source is None


@pytest.mark.parametrize(
    "stmt",
    ["df.loc[rows, 'a'] = 1", "df.at[3, 'a'] = 1", "df.iloc[2, 4] = 0", "df[['a', 'b']] = 0",
     "df.loc[7, 'a'] += 1", "v = df['a'][3]", "del df['a'][3]", "df.loc[3, 'tokens'][0] = 'x'",
     "df.iloc[1, 2].value = 3", "df['a'].name = 'b'", "arr[0][1] = 2", "cfg['a']['b'] = 1",
     "df[df.a > 0].copy()['b'] = 1"],
)  # fmt: skip
def test_never_flagged(stmt: str) -> None:
    src = f"df = pd.read_csv('x')\narr = __import__('numpy').zeros((2, 2))\ncfg = {{}}\n{stmt}\n"
    assert _findings(src) == []


def test_numpy_and_dict_kinds_are_excluded() -> None:
    src = (
        "import numpy as np\n"
        "df = np.zeros((3, 3))\n"
        "df[df > 0][0] = 1\n"
        "df_cfg = {'a': {}}\n"
        "df_cfg['a']['b'] = 1\n"
    )
    assert _findings(src) == []


def test_iterrows_row_is_left_to_ml210() -> None:
    src = "frame = pd.read_csv('x')\nfor _, df in frame.iterrows():\n    df['a']['b'] = 1\n"
    assert _findings(src) == []


def test_tuple_targets_and_multi_target_assign() -> None:
    src = "df = pd.read_csv('x')\ndf[df.a > 0]['b'], df[df.a < 0]['b'] = 1, 2\nx = df.loc[3]['b'] = 0\n"
    assert [line for line, _, _ in _findings(src)] == [3, 3, 4]
    assert _fixed(src) == (
        "df = pd.read_csv('x')\ndf.loc[df.a > 0, 'b'], df.loc[df.a < 0, 'b'] = 1, 2\n"
        "x = df.loc[3, 'b'] = 0\n"
    )


def test_parenthesised_target_keeps_parens() -> None:
    assert _fixed("df = pd.read_csv('x')\n(df.loc[3]['b']) = 0\n") == (
        "df = pd.read_csv('x')\n(df.loc[3, 'b']) = 0\n"
    )


def test_at_on_column_becomes_frame_at() -> None:
    assert _fixed("df = pd.read_csv('x')\ndf['b'].at[3] = 0\n").endswith("df.at[3, 'b'] = 0\n")
