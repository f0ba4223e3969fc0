"""ML506 unseeded-split, ML507 unsorted-directory-listing, ML508 set-order-dependent-ids:
messages, positions, suppression, options and fix conditions."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from mllint.api import check_source
from mllint.config import settings_from_toml
from mllint.diagnostics import FileResult


def _run(
    source: str, code: str, fix: str | None = None, config: dict[str, Any] | None = None
) -> FileResult:
    settings = settings_from_toml({"tool": {"mllint": config or {}}}, Path("pyproject.toml"))
    return check_source(
        textwrap.dedent(source), "project/train.py", settings=settings, select=[code], fix=fix
    )


# -- ML506 -------------------------------------------------------------------------------------

SPLIT = """\
    from sklearn.model_selection import train_test_split

    X_train, X_test = train_test_split(X, test_size=0.2)
    """


def test_ml506_message_and_position() -> None:
    [v] = _run(SPLIT, "ML506").violations
    assert (v.line, v.column) == (3, 19)
    assert v.message == (
        "train_test_split(...) shuffles without random_state: every run evaluates on a "
        "different split, so results are not reproducible or comparable"
    )


def test_ml506_noqa() -> None:
    src = SPLIT.replace("test_size=0.2)", "test_size=0.2)  # noqa: ML506")
    assert _run(src, "ML506").violations == []
    src = SPLIT.replace("test_size=0.2)", "test_size=0.2)  # mllint: ignore[unseeded-split]")
    assert _run(src, "ML506").violations == []


def test_ml506_fix_is_unsafe_only_and_uses_default_seed_option() -> None:
    assert _run(SPLIT, "ML506", fix="safe").fixed_source is None
    fixed = _run(SPLIT, "ML506", fix="unsafe").fixed_source
    assert fixed is not None and "test_size=0.2, random_state=42)" in fixed
    fixed = _run(SPLIT, "ML506", fix="unsafe", config={"unseeded-split": {"default-seed": 7}})
    assert fixed.fixed_source is not None and "random_state=7)" in fixed.fixed_source


def test_ml506_fix_prefers_parameter_over_module_constant() -> None:
    src = """\
        from sklearn.model_selection import KFold

        SEED = 1

        def folds(n, random_state):
            return KFold(n, shuffle=True)

        CV = KFold(5, shuffle=True)
        """
    fixed = _run(src, "ML506", fix="unsafe").fixed_source
    assert fixed is not None
    assert "KFold(n, shuffle=True, random_state=random_state)" in fixed
    assert "CV = KFold(5, shuffle=True, random_state=SEED)" in fixed


def test_ml506_module_constant_defined_later_is_not_used_at_module_level() -> None:
    src = """\
        from sklearn.model_selection import ShuffleSplit

        cv = ShuffleSplit()
        SEED = 1
        """
    fixed = _run(src, "ML506", fix="unsafe").fixed_source
    assert fixed is not None and "ShuffleSplit(random_state=42)" in fixed


def test_ml506_skips_kwargs_and_non_literal_shuffle() -> None:
    src = """\
        from sklearn.model_selection import KFold, train_test_split

        a = train_test_split(X, **opts)
        b = train_test_split(X, shuffle=do_shuffle)
        c = KFold(5, shuffle=do_shuffle)
        d = KFold(5, shuffle=False)
        """
    assert _run(src, "ML506").violations == []


def test_ml506_needs_sklearn_resolution() -> None:
    src = """\
        from mylib import train_test_split, KFold

        a = train_test_split(X)
        b = KFold(5, shuffle=True)
        """
    assert _run(src, "ML506").violations == []


def test_ml506_private_module_path_resolves() -> None:
    src = """\
        from sklearn.model_selection._split import StratifiedShuffleSplit

        cv = StratifiedShuffleSplit(n_splits=2)
        """
    assert len(_run(src, "ML506").violations) == 1


# -- ML507 -------------------------------------------------------------------------------------


def test_ml507_message() -> None:
    src = """\
        import glob

        files = glob.glob("data/*.png")
        train = files[:100]
        """
    [v] = _run(src, "ML507").violations
    assert (v.line, v.column) == (3, 9)
    assert v.message == (
        'glob.glob("data/*.png") returns files in arbitrary filesystem order; slicing it makes '
        "datasets and splits machine-dependent — wrap it in sorted(...)"
    )


def test_ml507_sort_after_use_still_flags_sort_before_use_does_not() -> None:
    before = """\
        import os

        names = os.listdir("d")
        names.sort()
        head = names[:10]
        """
    assert _run(before, "ML507").violations == []
    after = """\
        import os

        names = os.listdir("d")
        head = names[:10]
        names.sort()
        """
    assert len(_run(after, "ML507").violations) == 1


def test_ml507_name_bound_twice_is_not_tracked() -> None:
    src = """\
        import os

        names = os.listdir("d")
        names = [n for n in names if n.endswith(".png")]
        head = names[:10]
        """
    assert _run(src, "ML507").violations == []


def test_ml507_path_methods_need_a_path() -> None:
    src = """\
        import glob
        from pathlib import Path

        class Store:
            def glob(self, pattern):
                return []

        store = Store()
        items = store.glob("*")[:2]
        p = Path("data")
        imgs = p.glob("*.png")
        pairs = list(zip(imgs, range(3)))
        """
    [v] = _run(src, "ML507").violations
    assert v.line == 11


def test_ml507_scandir_fix_sorts_by_name() -> None:
    src = """\
        import os

        entries = list(os.scandir("d"))
        head = entries[:3]
        """
    fixed = _run(src, "ML507", fix="unsafe").fixed_source
    assert fixed is not None
    assert 'entries = sorted(os.scandir("d"), key=lambda e: e.name)' in fixed
    assert _run(src, "ML507", fix="safe").fixed_source is None


def test_ml507_noqa() -> None:
    src = """\
        import os

        head = os.listdir("d")[:5]  # noqa: ML507
        """
    assert _run(src, "ML507").violations == []


# -- ML508 -------------------------------------------------------------------------------------


def test_ml508_message_and_position() -> None:
    src = """\
        label2id = {l: i for i, l in enumerate(set(labels))}
        """
    [v] = _run(src, "ML508").violations
    assert (v.line, v.column) == (1, 40)
    assert v.message == (
        "Iteration order of set 'set(labels)' differs between processes for str elements "
        "(hash randomisation); ids built from it change from run to run — use sorted(...) "
        "or dict.fromkeys(...)"
    )


def test_ml508_integer_sets_are_not_flagged() -> None:
    src = """\
        a = list(enumerate(set(range(4))))
        b = list(enumerate({1, 2, -3}))
        c = list(enumerate({i for i in range(3)}))
        d = set([1, 2, 3])
        e = dict(zip(d, "abc"))
        """
    assert _run(src, "ML508").violations == []


def test_ml508_set_variable_through_set_operation() -> None:
    src = """\
        common = set(a) & set(b)
        ids = dict(zip(common, range(10)))
        """
    [v] = _run(src, "ML508").violations
    assert v.line == 2


def test_ml508_fix_skipped_when_sorted_rebound() -> None:
    src = """\
        sorted = list
        label2id = dict(zip(set(labels), range(3)))
        """
    result = _run(src, "ML508", fix="unsafe")
    assert len(result.violations) == 1
    assert result.fixed_source is None


def test_ml508_loop_without_ids_is_not_flagged() -> None:
    src = """\
        def f(words):
            out = []
            for w in set(words):
                out.append(w)
            print(out)
        """
    assert _run(src, "ML508").violations == []


def test_ml508_name_bound_to_list_of_set() -> None:
    src = """\
        labels = list(set(df.label))
        label2id = {c: i for i, c in enumerate(labels)}
        ids = [labels.index(c) for c in df.label]
        """
    [v] = _run(src, "ML508").violations
    assert (v.line, v.column) == (1, 15)
    assert v.message == (
        "Iteration order of set 'set(df.label)' differs between processes for str elements "
        "(hash randomisation); ids built from it (as 'labels') change from run to run — use "
        "sorted(...) or dict.fromkeys(...)"
    )
    fixed = _run(src, "ML508", fix="unsafe").fixed_source
    assert fixed is not None and fixed.startswith("labels = sorted(set(df.label))\n")
    assert _run(src, "ML508", fix="safe").fixed_source is None


@pytest.mark.parametrize(
    ("binding", "use", "flagged"),
    [
        ("[*set(df.label)]", "labels.index('cat')", True),
        ("list({'cat', 'dog'})", "np.array(labels)", True),
        ("list(set(df.label))", "pd.Categorical(df.label, categories=labels)", True),
        ("list(set(df.label))", "labels[pred]", True),
        ("sorted(set(df.label))", "labels.index('cat')", False),
        ("list(set(range(5)))", "dict(enumerate(labels))", False),
        ("list(set(df.label))", "labels[0]", False),
        ("list(set(df.label))", "len(labels)", False),
        ("df.label.unique().tolist()", "labels.index('cat')", False),
    ],
)
def test_ml508_named_list_shapes(binding: str, use: str, flagged: bool) -> None:
    src = f"import numpy as np\nimport pandas as pd\nlabels = {binding}\nx = {use}\n"
    assert len(_run(src, "ML508").violations) == int(flagged)


def test_ml508_named_list_sorted_in_place_or_rebound() -> None:
    src = """\
        labels = list(set(df.label))
        labels.sort()
        label2id = dict(enumerate(labels))
        """
    assert _run(src, "ML508").violations == []
    src = src.replace("labels.sort()", "labels = labels + ['other']")
    assert _run(src, "ML508").violations == []


def test_ml507_single_element_index_is_not_flagged() -> None:
    src = """\
        import os

        only = os.listdir("d")[0]
        names = os.listdir("e")
        last = names[-1]
        """
    assert _run(src, "ML507").violations == []
