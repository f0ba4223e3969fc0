"""The ast pre-scan gates of the pandas rules (ML201-ML211, ML921, ML922) and of ML901: near
misses the gate rejects, and unusual spellings of each trigger that it must let through."""

from __future__ import annotations

from mllint.config import Settings
from tests.prescan_support import check, flagged_lines, gated, rejected


# -- ML201 chained-assignment -----------------------------------------------------------------
def test_ml201_rejects_nested_containers_arrays_and_attributes() -> None:
    src = """\
        import pandas as pd


        class Trainer:
            def configure(self, cfg, arr, rows):
                cfg["model"]["depth"] = 4
                arr[0][5] = 255
                self.model.config.lr = 0.1
                self.history["loss"] = []
                out = {}
                out["a"]["b"] = 1
                for row in rows:
                    row["x"]["y"] = 2
                return pd.DataFrame(arr)
        """
    assert rejected(src, "ML201")
    # without pandas nothing is judged
    assert rejected("df = load()\ndf[df.x > 0]['y'] = 0  # pandas\n", "ML201")


def test_ml201_accepts_aliases_nested_async_tuple_targets_and_mask_names() -> None:
    src = """\
        from pandas import read_csv as load


        async def refresh(path):
            async def inner():
                frame = load(path)
                keep = frame["qty"] > 0
                _, frame[keep]["qty"] = None, 0
                frame.price[frame.price.isna()] += 1.0
                return frame

            return inner


        class Store:
            def __init__(self, path):
                self.sales: "pd.DataFrame" = load(path)

            def fix(self, col):
                self.sales[col][3] = 0.0
        """
    check(src, "ML201", [8, 9, 20])


def test_ml201_follows_the_frame_name_pattern_option() -> None:
    src = """\
        import pandas as pd


        def patch(tbl_sales, row):
            tbl_sales["price"][row] = pd.NA
        """
    assert rejected(src, "ML201")
    custom = Settings(rule_options={"chained-assignment": {"frame-name-pattern": "^tbl_"}})
    check(src, "ML201", [5], custom)


# -- ML202 inplace-result-used ---------------------------------------------------------------
def test_ml202_rejects_inplace_statements_and_other_libraries() -> None:
    src = """\
        import pandas as pd
        import torch.nn.functional as F


        async def clean(df, x):
            df.dropna(inplace=True)
            (df.fillna(0, inplace=True))
            await df.sort_values("a", inplace=True)
            y = F.relu(x, inplace=True)
            z = df.dropna(inplace=False)
            return y, z
        """
    assert rejected(src, "ML202")


def test_ml202_accepts_values_used_in_any_position() -> None:
    src = """\
        import pandas as pd


        async def clean(frames):
            out = [frames[1].dropna(inplace=True), None]
            if (last := frames[-1].rename(columns=str.lower, inplace=True)) is None:
                pass
            return await frames[0].reset_index(drop=True, inplace=True), out
        """
    check(src, "ML202", [5, 6, 8])


# -- ML203 inplace-on-selection --------------------------------------------------------------
def test_ml203_rejects_whole_frames_and_unknown_receivers() -> None:
    src = """\
        import pandas as pd


        def clean(df, cfg):
            df.fillna(0, inplace=True)
            cfg["data"].fillna(0, inplace=True)
            df.at[0, "a"].clip(0, 1, inplace=True)
            out = df["a"].fillna(0, inplace=True)
            return out
        """
    assert rejected(src, "ML203")


def test_ml203_accepts_attribute_columns_and_loc_of_known_frames() -> None:
    src = """\
        import pandas


        class Cleaner:
            def __init__(self, path):
                self.table = pandas.read_parquet(path)

            def run(self, mask):
                self.table.bmi.fillna(0, inplace=True)
                self.table.loc[mask].dropna(inplace=True)
        """
    check(src, "ML203", [9, 10])


# -- ML204 subset-modified-without-copy -----------------------------------------------------
def test_ml204_rejects_copies_reassignments_and_unwritten_subsets() -> None:
    src = """\
        import pandas as pd


        def split(df, items):
            head = df.iloc[:100].copy()
            head["part"] = "head"
            df = df[df["qty"] > 0]
            df["x"] = 1
            late = df[df["days"] > 30]
            print(late.shape)
            first = items[0]
            first["seen"] = True
        """
    assert rejected(src, "ML204")


def test_ml204_accepts_annotated_frames_and_inplace_writes() -> None:
    src = """\
        import pandas as pd


        def split(orders: "pd.DataFrame", cols):
            big: pd.DataFrame = orders.query("qty > 100")
            big.fillna(0, inplace=True)
            feats = orders[cols]
            feats.at[0, "qty"] = 1
        """
    check(src, "ML204", [6])


def test_ml204_rejects_projects_on_pandas_3() -> None:
    src = """\
        import pandas as pd

        orders = pd.read_csv("orders.csv")
        late = orders[orders["days_late"] > 30]
        late["flag"] = True
        """
    check(src, "ML204", [5])
    pandas3 = Settings(library_versions={"pandas": (3, 0)})
    assert gated(src, "ML204", settings=pandas3, gate=False)
    assert not gated(src, "ML204", settings=pandas3)
    assert flagged_lines(src, "ML204", settings=pandas3) == []


# -- ML205 chained-assignment-warning-silenced ------------------------------------------------
def test_ml205_rejects_files_without_pandas() -> None:
    src = """\
        import warnings

        warnings.filterwarnings("ignore", category=SettingWithCopyWarning)
        """
    assert rejected(src, "ML205")


def test_ml205_accepts_submodule_imports() -> None:
    src = """\
        import warnings

        from pandas.errors import SettingWithCopyWarning as SCW

        warnings.simplefilter("ignore", SCW)
        """
    check(src, "ML205", [5])


# -- ML206 apply-vectorisable-lambda ---------------------------------------------------------
def test_ml206_rejects_non_arithmetic_lambdas_and_unknown_receivers() -> None:
    src = """\
        import pandas as pd


        def feats(df, items):
            df["a"] = df["a"].apply(lambda x: x.strip())
            df["b"] = df["b"].map(lambda x: 1 if x else 0)
            df["c"] = df["c"].apply(lambda x, k=2: x * k)
            df["d"] = df["d"].apply(lambda x: x * 2, convert_dtype=False)
            df["e"] = df["e"].rolling(3).apply(lambda w: w.sum())
            return list(map(lambda x: x * 2, items)), items.apply(lambda x: x + 1)
        """
    assert rejected(src, "ML206")


def test_ml206_accepts_row_lambdas_ufuncs_and_column_attributes() -> None:
    src = """\
        import numpy as np
        from pandas import DataFrame


        def feats(raw):
            tbl = DataFrame(raw)
            tbl["t"] = tbl.apply(lambda r: r.a / (r["b"] + 1), axis=1)
            tbl["l"] = tbl.spend.map(lambda v: np.log1p(-v) ** 2)
            return tbl
        """
    check(src, "ML206", [7, 8])


# -- ML207 groupby-apply-simple-aggregation ---------------------------------------------------
def test_ml207_rejects_non_groupby_receivers_and_extra_arguments() -> None:
    src = """\
        import pandas as pd


        def stats(df):
            a = df.apply(lambda g: g.mean())
            b = df.groupby("k").apply(lambda g: g.mean(), include_groups=False)
            c = df.groupby("k").agg(lambda x: x.iloc[0])
            d = df.groupby("k").rolling(3).apply(lambda w: w.sum())
            return a, b, c, d
        """
    assert rejected(src, "ML207")


def test_ml207_accepts_selected_groupbys_and_len() -> None:
    src = """\
        import pandas as pd


        def stats(df: pd.DataFrame):
            sizes = df.groupby(["k", "j"]).apply(lambda g: len(g))
            df["z"] = df.groupby("k")["auc"].transform(lambda x: x.std())
            return sizes, df.groupby("k").aggregate(lambda x: x.nunique())
        """
    check(src, "ML207", [5, 6, 7])


# -- ML208 groupby-transform-changes-length ---------------------------------------------------
def test_ml208_rejects_sklearn_style_transform_calls() -> None:
    src = """\
        import pandas as pd


        def run(scaler, X, df):
            Xt = scaler.transform(X)
            y = df.transform(lambda x: x.head(2))
            z = df.groupby("k")["v"].transform("mean")
            return Xt, y, z
        """
    assert rejected(src, "ML208")


def test_ml208_accepts_func_keyword_and_local_functions() -> None:
    src = """\
        import pandas as pd


        def top(s):
            return s.nlargest(2)


        def run(df):
            a = df.groupby("k")["v"].transform(func=lambda x: x.dropna().cumsum())
            b = df.groupby("k")["v"].transform(top)
            return a, b
        """
    check(src, "ML208", [9, 10])


# -- ML209 groupby-aggregate-assigned-as-column -----------------------------------------------
def test_ml209_rejects_aggregates_stored_in_other_frames() -> None:
    src = """\
        import pandas as pd


        def summary(df):
            out = pd.DataFrame()
            out["mean"] = df.groupby("k")["v"].mean()
            stats = df.groupby("k")["v"].mean()
            df["rank"] = df["v"].rank()
            return out, stats
        """
    assert rejected(src, "ML209")


def test_ml209_accepts_loc_targets_and_trailing_selections() -> None:
    src = """\
        import pandas as pd


        class Feats:
            def build(self):
                self.df.loc[:, "m"] = self.df.groupby("k").mean()["v"]
                self.df['n'] = self.df.groupby(by="k")["v"].agg("count")
        """
    check(src, "ML209", [6, 7])


# -- ML210 iterrows-row-modified --------------------------------------------------------------
def test_ml210_rejects_reads_and_writes_to_other_targets() -> None:
    src = """\
        import pandas as pd


        def label(df):
            for idx, row in df.iterrows():
                df.at[idx, "label"] = int(row["score"] > 0.5)
            for row in df.itertuples():
                print(row.score)
        """
    assert rejected(src, "ML210")


def test_ml210_accepts_parenthesised_rows_in_async_functions_and_attribute_writes() -> None:
    src = """\
        import pandas as pd


        async def label(events_df):
            for _, (r) in events_df.iterrows():
                r.score += 1
                (r.loc["flag"], r["n"]) = True, 0
        """
    check(src, "ML210", [6, 7, 7])


# -- ML211 membership-test-on-series ----------------------------------------------------------
def test_ml211_rejects_membership_in_displays_dicts_and_columns_indexes() -> None:
    src = """\
        import collections

        import pandas as pd


        class Cache:
            def __init__(self):
                self.seen = collections.OrderedDict()

            def has(self, key, df, keys):
                names = {"a", "b"}
                found = [k for k in keys if k in names]
                return key in self.seen or key in df.columns or "a" in df or found
        """
    assert rejected(src, "ML211")


def test_ml211_accepts_series_aliases_methods_and_self_attributes() -> None:
    src = """\
        from pandas import Series as S


        class Labels:
            def __init__(self, values):
                self.labels = S(values)

            def has(self, value):
                return value in self.labels.dropna()


        def check(value, raw):
            return value not in S(raw)
        """
    check(src, "ML211", [9, 13])


# -- ML901 groupby-unsorted-input (off by default) ---------------------------------------------
def test_ml901_rejects_pandas_groupby_and_keyless_itertools_groupby() -> None:
    src = """\
        import itertools

        import pandas as pd


        def runs(df, xs):
            a = df.groupby("k", sort=False).sum()
            b = [list(g) for _, g in itertools.groupby(xs)]
            return a, b
        """
    assert rejected(src, "ML901")


def test_ml901_accepts_aliases_and_positional_keys() -> None:
    src = """\
        from itertools import groupby as gb
        import itertools as it


        def by_label(records, get_label):
            first = {k: list(v) for k, v in gb(records, get_label)}
            second = {k: list(v) for k, v in it.groupby(records, key=get_label)}
            return first, second
        """
    check(src, "ML901", [6, 7])


# -- ML921 iterrows-loop (off by default) ------------------------------------------------------
def test_ml921_rejects_iterrows_of_unknown_receivers() -> None:
    src = """\
        import pandas as pd


        def total(table, reader):
            for _, r in table.iterrows():
                print(r)
            return [r for r in reader.iterrows()]
        """
    assert rejected(src, "ML921")


def test_ml921_accepts_async_functions_and_known_frames() -> None:
    src = """\
        import pandas as pd


        async def total(path):
            table = pd.read_csv(path)
            for _, r in table.iterrows():
                print(r)
            async with lock:
                for i, r in table.iterrows():
                    pass
        """
    check(src, "ML921", [6, 9])


# -- ML922 merge-without-validate (off by default) ---------------------------------------------
def test_ml922_rejects_validated_merges_and_unknown_receivers() -> None:
    src = """\
        import pandas as pd


        def join(users, orders, opts, left):
            a = pd.merge(users, orders, on="id", validate="one_to_many")
            b = pd.merge(users, orders, **opts)
            c = left.merge(orders, on="id")
            d = pd.merge(users, orders)
            return a, b, c, d
        """
    assert rejected(src, "ML922")


def test_ml922_accepts_aliases_and_known_frames() -> None:
    src = """\
        import pandas as pd
        from pandas import merge as join


        def combine(path, orders):
            users = pd.read_csv(path)
            a = join(users, orders, left_on="uid", right_on="id")
            return users.merge(orders, left_index=True, right_index=True), a
        """
    check(src, "ML922", [7, 8])
