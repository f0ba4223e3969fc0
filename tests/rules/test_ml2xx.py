"""ML202-ML211, ML921, ML922 (pandas): messages, positions, noqa, versions, fix conditions."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from mllint.api import check_source
from mllint.config import settings_from_toml
from mllint.diagnostics import FileResult
from mllint.rule import all_rules


def _run(
    code: str,
    source: str,
    fix: str | None = None,
    config: dict[str, Any] | None = None,
) -> FileResult:
    settings = settings_from_toml({"tool": {"mllint": config or {}}}, Path("pyproject.toml"))
    return check_source(
        textwrap.dedent(source), "pkg/features.py", settings=settings, select=[code], fix=fix
    )


PANDAS3 = {"library-versions": {"pandas": "3.0"}}
PANDAS2 = {"library-versions": {"pandas": "2.2"}}


# -- ML202 ---------------------------------------------------------------------------------
ML202_SRC = """\
    import pandas as pd
    df = pd.read_csv("a.csv")
    df = df.dropna(inplace=True)
    out = df.fillna(0, inplace=True)
    df.sort_values("x", inplace=True).head()
    """


def test_ml202_messages_and_positions() -> None:
    v1, v2, v3 = _run("ML202", ML202_SRC).violations
    assert (v1.line, v1.column) == (3, 6)
    assert v1.message == (
        "dropna(..., inplace=True) returns None — the assigned name becomes None; drop "
        "inplace=True and use the returned object"
    )
    assert v2.message.startswith("fillna(..., inplace=True) returns None on pandas < 3 — ")
    assert (v3.line, v3.column) == (5, 1)
    assert "'.head' raises AttributeError" in v3.message


def test_ml202_version_aware() -> None:
    assert [v.line for v in _run("ML202", ML202_SRC, config=PANDAS3).violations] == [3, 5]
    assert [v.line for v in _run("ML202", ML202_SRC, config=PANDAS2).violations] == [3, 4, 5]


def test_ml202_noqa_and_statement_use() -> None:
    src = ML202_SRC.replace(
        "df = df.dropna(inplace=True)", "df = df.dropna(inplace=True)  # noqa: ML202"
    )
    assert [v.line for v in _run("ML202", src).violations] == [4, 5]
    assert (
        _run(
            "ML202", "import pandas as pd\ndf = pd.DataFrame()\ndf.dropna(inplace=True)\n"
        ).violations
        == []
    )


def test_ml202_comprehension_value_used_or_not() -> None:
    src = """\
        import pandas as pd

        def clean(frames):
            cleaned = [f.dropna(inplace=True) for f in frames]
            by_name = {n: f.reset_index(inplace=True) for n, f in frames.items()}
            [f.dropna(inplace=True) for f in frames]
            return cleaned, by_name
        """
    v1, v2 = _run("ML202", src).violations
    assert (v1.line, v1.column) == (4, 16)
    assert v1.message == (
        "dropna(..., inplace=True) returns None — the comprehension collects None for every "
        "item; drop inplace=True and use the returned object"
    )
    assert (v2.line, v2.column) == (5, 19)


def test_ml202_fix_is_unsafe_only() -> None:
    assert _run("ML202", ML202_SRC, fix="safe").fixed_source is None
    fixed = _run("ML202", ML202_SRC, fix="unsafe").fixed_source
    assert fixed is not None and "inplace" not in fixed


def test_ml202_not_for_functions_and_tensors() -> None:
    src = """\
        import pandas as pd
        import torch
        t = torch.zeros(3)
        y = t.clip(0, 1, inplace=True)
        z = torch.clip(t, 0, 1, inplace=True)
        """
    assert _run("ML202", src).violations == []


# -- ML203 ---------------------------------------------------------------------------------
def test_ml203_message_and_fix() -> None:
    src = """\
        import pandas as pd
        df = pd.read_csv("a.csv")
        df["bmi"].fillna(0, inplace=True)
        """
    [v] = _run("ML203", src).violations
    assert (v.line, v.column) == (3, 1)
    assert v.message == (
        'df["bmi"].fillna(..., inplace=True) modifies a temporary column; df is not updated '
        "under pandas ≥ 3 (pandas < 3 writes through with a FutureWarning) — assign the "
        'result: df["bmi"] = df["bmi"].fillna(...)'
    )
    fixed = _run("ML203", src, fix="unsafe").fixed_source
    assert fixed is not None and 'df["bmi"] = df["bmi"].fillna(0)\n' in fixed
    assert _run("ML203", src, fix="safe").fixed_source is None


def test_ml203_length_changing_method_has_no_fix() -> None:
    src = """\
        import pandas as pd
        df = pd.read_csv("a.csv")
        df["bmi"].dropna(inplace=True)
        """
    [v] = _run("ML203", src).violations
    assert v.message.endswith("use the object returned by dropna(...) without inplace=True")
    assert _run("ML203", src, fix="unsafe").fixed_source is None


def test_ml203_unknown_frame_needs_frame_name() -> None:
    src = """\
        import pandas as pd
        def f(data, df):
            data["x"].fillna(0, inplace=True)
            df["x"].fillna(0, inplace=True)
        """
    assert [v.line for v in _run("ML203", src).violations] == [4]


# -- ML204 ---------------------------------------------------------------------------------
ML204_SRC = """\
    import pandas as pd
    orders = pd.read_csv("o.csv")
    late = orders[orders["days"] > 30]
    late["flag"] = True
    late["other"] = 1
    head = orders.iloc[:10]
    head["flag"] = False
    """


def test_ml204_first_write_reported_with_message() -> None:
    v1, v2 = _run("ML204", ML204_SRC).violations
    assert (v1.line, v1.column) == (4, 1)
    assert v1.message == (
        "'late' is a subset of 'orders' created without .copy(); writing to it triggers "
        "SettingWithCopyWarning (pandas < 3) and never updates 'orders' — add .copy() if you "
        "mean the subset, or use orders.loc[...] = ... to change orders"
    )
    assert v2.line == 7 and "does not reliably update 'orders'" in v2.message


def test_ml204_safe_and_unsafe_fixes() -> None:
    safe = _run("ML204", ML204_SRC, fix="safe").fixed_source
    assert safe is not None
    assert 'late = orders[orders["days"] > 30].copy()' in safe
    assert "head = orders.iloc[:10]\n" in safe
    unsafe = _run("ML204", ML204_SRC, fix="unsafe").fixed_source
    assert unsafe is not None and "head = orders.iloc[:10].copy()" in unsafe


def test_ml204_inactive_on_pandas3_and_rebinding() -> None:
    assert _run("ML204", ML204_SRC, config=PANDAS3).violations == []
    src = ML204_SRC.replace('late["flag"] = True', 'late = late.copy()\n    late["flag"] = True')
    assert [v.line for v in _run("ML204", src).violations] == [8]


NAMED_COLUMNS = """\
    import pandas as pd
    train = pd.read_csv("t.csv")
    features = BINDING
    X = train[features]
    X["Fare"] = 0
    """


@pytest.mark.parametrize(
    ("binding", "flagged"),
    [
        ('["Age", "Fare"]', True),
        ('[c for c in train.columns if c != "Id"]', True),
        ('list(train.columns.drop("Id"))', True),
        ('train.columns.drop("Id").tolist()', True),
        ('["Age"] + extra', True),
        ('"Fare"', False),  # a str key: one column, a Series
        ("pick_columns(train)", False),  # unknown type
        ('train.columns.drop("Id")', False),  # an Index, not a list binding
    ],
)
def test_ml204_named_column_list(binding: str, flagged: bool) -> None:
    src = NAMED_COLUMNS.replace("BINDING", binding)
    found = _run("ML204", src).violations
    assert [v.line for v in found] == ([5] if flagged else [])
    if flagged:
        fixed = _run("ML204", src, fix="safe").fixed_source
        assert fixed is not None and "X = train[features].copy()" in fixed
        assert _run("ML204", src, config=PANDAS3).violations == []


def test_ml204_named_column_list_needs_every_binding_to_be_a_list() -> None:
    src = NAMED_COLUMNS.replace("BINDING", '["Age"]\n    features = "Fare"')
    assert _run("ML204", src).violations == []


# -- ML205 ---------------------------------------------------------------------------------
ML205_SRC = """\
    import pandas as pd
    pd.options.mode.chained_assignment = None
    df = pd.DataFrame()
    """


def test_ml205_message_and_version_gated_fix() -> None:
    [v] = _run("ML205", ML205_SRC).violations
    assert (v.line, v.column) == (2, 1)
    assert v.message == (
        "Silencing pandas' chained-assignment warning hides writes that do not happen; fix the "
        "assignment instead (dead code on pandas ≥ 3)"
    )
    assert _run("ML205", ML205_SRC, fix="safe").fixed_source is None
    fixed = _run("ML205", ML205_SRC, fix="safe", config=PANDAS3).fixed_source
    assert fixed == "import pandas as pd\ndf = pd.DataFrame()\n"


def test_ml205_chained_assignment_error_filter_is_not_dead_code() -> None:
    src = """\
        import warnings
        import pandas as pd
        warnings.filterwarnings("ignore", category=pd.errors.ChainedAssignmentError)
        warnings.filterwarnings("error", category=pd.errors.ChainedAssignmentError)
        """
    [v] = _run("ML205", src).violations
    assert v.line == 3 and v.message.endswith("fix the assignment instead")


# -- ML206 ---------------------------------------------------------------------------------
def test_ml206_message_and_fix() -> None:
    src = """\
        import pandas as pd
        df = pd.read_csv("a.csv")
        df["k"] = df["income"].apply(lambda x: x / 1000)
        """
    [v] = _run("ML206", src).violations
    assert (v.line, v.column) == (3, 11)
    assert v.message == (
        "'.apply(lambda ...)' calls Python once per element; the vectorised form "
        "'df[\"income\"] / 1000' is typically 10-100× faster"  # noqa: RUF001
    )
    fixed = _run("ML206", src, fix="unsafe").fixed_source
    assert fixed is not None and fixed.endswith('df["k"] = df["income"] / 1000\n')


def test_ml206_fix_skipped_for_many_occurrences_and_complex_receivers() -> None:
    src = """\
        import pandas as pd
        df = pd.read_csv("a.csv")
        a = df["x"].apply(lambda x: x + x + x + x)
        b = df.dropna()["x"].apply(lambda x: x * 2)
        """
    assert len(_run("ML206", src).violations) == 2
    assert _run("ML206", src, fix="unsafe").fixed_source is None


def test_ml206_unknown_frames_with_spark_imported() -> None:
    src = """\
        import pandas as pd
        import pyspark
        def f(df):
            return df["x"].apply(lambda x: x * 2)
        """
    assert _run("ML206", src).violations == []
    assert len(_run("ML206", src.replace("import pyspark\n", "")).violations) == 1


# -- ML207 ---------------------------------------------------------------------------------
def test_ml207_safe_and_unsafe() -> None:
    src = """\
        import pandas as pd
        df = pd.read_csv("a.csv")
        a = df.groupby("m").apply(lambda g: g["auc"].mean())
        b = df.groupby("m")["auc"].transform(lambda x: x.mean())
        c = df.groupby("m").transform(lambda x: x.mean())
        """
    v1, _, _ = _run("ML207", src).violations
    assert v1.message == (
        'groupby(...).apply(lambda ...) runs Python per group; use df.groupby("m")["auc"].mean()'
    )
    safe = _run("ML207", src, fix="safe").fixed_source
    assert safe is not None
    assert 'b = df.groupby("m")["auc"].transform("mean")' in safe
    assert 'c = df.groupby("m").transform(lambda x: x.mean())' in safe
    assert "apply(lambda g" in safe
    unsafe = _run("ML207", src, fix="unsafe").fixed_source
    assert unsafe is not None and 'a = df.groupby("m")["auc"].mean()' in unsafe
    assert 'c = df.groupby("m").transform("mean")' in unsafe


# -- ML208 ---------------------------------------------------------------------------------
def test_ml208_message() -> None:
    src = """\
        import pandas as pd
        df = pd.read_csv("a.csv")
        df["t"] = df.groupby("m")["auc"].transform(lambda x: x.nlargest(2))
        """
    [v] = _run("ML208", src).violations
    assert (v.line, v.column) == (3, 11)
    assert v.message == (
        "transform(...) must return one value per row (or a scalar); 'nlargest' changes the "
        "group length and pandas silently re-aligns the result with NaN"
    )
    assert _run("ML208", src, fix="unsafe").fixed_source is None


# -- ML209 ---------------------------------------------------------------------------------
def test_ml209_message_and_fix() -> None:
    src = """\
        import pandas as pd
        df = pd.read_csv("a.csv")
        df["m"] = df.groupby("model")["auc"].mean()
        """
    [v] = _run("ML209", src).violations
    assert (v.line, v.column) == (3, 1)
    assert v.message == (
        '\'df.groupby("model")["auc"].mean()\' is indexed by the group key, not by the rows '
        "of 'df'; assigning it as a column aligns on the index (NaN, or wrong values when "
        'keys look like row labels) — use .transform("mean")'
    )
    assert _run("ML209", src, fix="safe").fixed_source is None
    fixed = _run("ML209", src, fix="unsafe").fixed_source
    assert fixed is not None and 'df["m"] = df.groupby("model")["auc"].transform("mean")' in fixed


def test_ml209_other_frame_not_reported() -> None:
    src = """\
        import pandas as pd
        df = pd.read_csv("a.csv")
        stats = pd.DataFrame()
        stats["m"] = df.groupby("model")["auc"].mean()
        """
    assert _run("ML209", src).violations == []


# -- ML210 ---------------------------------------------------------------------------------
ML210_SRC = """\
    import pandas as pd
    df = pd.read_csv("a.csv")
    for idx, row in df.iterrows():
        row["label"] = 1
    """


def test_ml210_message_depends_on_version() -> None:
    [v] = _run("ML210", ML210_SRC).violations
    assert (v.line, v.column) == (4, 5)
    assert v.message == (
        "'row' is a per-row Series built by iterrows(); writing to it does not reliably update "
        "'df' — write with df.loc[idx, \"label\"] = ... or vectorise"
    )
    [v3] = _run("ML210", ML210_SRC, config=PANDAS3).violations
    assert "writing to it never updates 'df'" in v3.message


def test_ml210_row_handed_on_is_not_reported() -> None:
    src = ML210_SRC + "    rows.append(row)\n"
    assert _run("ML210", src).violations == []


# -- ML211 ---------------------------------------------------------------------------------
def test_ml211_message_and_fix() -> None:
    src = """\
        import pandas as pd
        df = pd.read_csv("a.csv")
        ok = "spam" in df["label"]
        """
    [v] = _run("ML211", src).violations
    assert (v.line, v.column) == (3, 6)
    assert v.message == (
        "'in' on a Series checks its index labels, not its values; use \"spam\" in "
        'df["label"].to_numpy() (or df["label"].isin([...]).any())'
    )
    fixed = _run("ML211", src, fix="unsafe").fixed_source
    assert fixed is not None and 'ok = "spam" in df["label"].to_numpy()' in fixed
    assert _run("ML211", src, fix="safe").fixed_source is None


def test_ml211_frame_membership_not_reported() -> None:
    src = """\
        import pandas as pd
        df = pd.read_csv("a.csv")
        ok = "label" in df
        """
    assert _run("ML211", src).violations == []


# -- ML921 / ML922 -------------------------------------------------------------------------
def test_ml9xx_default_off() -> None:
    rules = all_rules()
    assert rules["ML921"].default_enabled is False
    assert rules["ML922"].default_enabled is False
    assert all(rules[f"ML2{n:02d}"].default_enabled for n in range(2, 12))


def test_ml921_reported_at_for() -> None:
    src = """\
        import pandas as pd
        df = pd.read_csv("a.csv")
        for _, r in df.iterrows():
            print(r)
        """
    [v] = _run("ML921", src).violations
    assert (v.line, v.column) == (3, 1)


def test_ml922_message() -> None:
    src = """\
        import pandas as pd
        users = pd.read_csv("u.csv")
        df = users.merge(users, on="user_id")
        """
    [v] = _run("ML922", src).violations
    assert v.message == (
        "merge on 'user_id' without validate=: duplicate keys silently multiply rows; "
        'state the expected relationship (validate="one_to_one" / "many_to_one" / …)'
    )
