"""The ast pre-scan gates of the loops (ML601-ML605) and imports (ML701-ML704) rules: near
misses the gate rejects, and unusual spellings of each trigger that it must let through."""

from __future__ import annotations

from tests.prescan_support import flagged_lines, gated, settings_from


# -- ML601 list-membership-in-loop ----------------------------------------------------------------
def test_ml601_rejects_membership_in_sets_dicts_and_unknown_names() -> None:
    src = """\
        import os

        SPECIAL = {"<pad>", "<unk>"}


        def count(tokens, allowed, counts):
            seen = {}
            for tok in tokens:
                if tok in SPECIAL or tok in allowed or tok in seen:
                    continue
                if "x" in os.environ and tok in counts.keys():
                    seen[tok] = 1
            return [t for t in tokens if t in ("a", "b")]
        """
    assert not gated(src, "ML601")


def test_ml601_rejects_list_membership_outside_loops() -> None:
    src = """\
        NAMES = ["a", "b"]


        def check(name, rows):
            for row in rows if name in NAMES else []:
                print(row)
            return name in NAMES or name in [1, 2]
        """
    assert not gated(src, "ML601")


def test_ml601_accepts_aliases_chains_and_attributes() -> None:
    src = """\
        from typing import List as L


        class Filter:
            KNOWN = sorted(["cat", "dog"])

            def __init__(self, ignore: "L[str]"):
                self.ignore = ignore

            async def keep(self, stream):
                async for r in stream:
                    if r.label not in self.ignore:
                        yield r

            def known(self, rows):
                return [r for r in rows if r in self.KNOWN]


        def chained(rows, text):
            words = text.split()
            alias = words
            out = []
            for r in rows:
                out.append(r in alias)
            return out


        def walrus(rows, raw):
            if (vocab := list(raw)) and rows:
                return [r for r in rows if r in vocab]
            return []
        """
    assert gated(src, "ML601")
    assert flagged_lines(src, "ML601") == [12, 16, 24, 30]


# -- ML602 repeated-concat-in-loop ----------------------------------------------------------------
def test_ml602_rejects_appends_to_lists_and_concat_after_the_loop() -> None:
    src = """\
        import numpy as np
        import pandas as pd


        def load(paths, a, b):
            frames = []
            for p in paths:
                frames.append(pd.read_csv(p))
                both = np.vstack([a, b])
            return pd.concat(frames), both
        """
    assert not gated(src, "ML602")


def test_ml602_accepts_an_aliased_function_on_a_self_attribute_in_a_while_loop() -> None:
    src = """\
        import numpy as np
        from numpy import vstack as vs


        class Recorder:
            def __init__(self):
                self.buf = np.empty((0, 3))

            def record(self, rows):
                i = 0
                while i < len(rows):
                    self.buf = vs((self.buf, rows[i]))
                    i += 1
        """
    assert gated(src, "ML602")
    assert flagged_lines(src, "ML602") == [12]


# -- ML603 list-pop-front-in-loop -----------------------------------------------------------------
def test_ml603_rejects_pops_on_dicts_and_from_the_end() -> None:
    src = """\
        def drain(items):
            cache = {}
            stack = list(items)
            while stack:
                stack.pop()
                cache.pop(0)
                del cache[0]
            first = stack[0]
            return first
        """
    assert not gated(src, "ML603")


def test_ml603_accepts_string_annotations_comprehensions_and_signed_zero() -> None:
    src = """\
        from typing import List


        def make():
            return [1, 2, 3]


        def drain(n):
            q: "List[int]" = make()
            firsts = [q.pop(0) for _ in range(n)]
            for _ in range(n):
                del q[-0]
            return firsts
        """
    assert gated(src, "ML603")
    assert flagged_lines(src, "ML603") == [10, 12]


# -- ML604 elementwise-loop-over-array ------------------------------------------------------------
def test_ml604_rejects_loops_with_more_work_and_files_without_array_libraries() -> None:
    with_numpy = """\
        import numpy as np


        def f(x):
            out = np.empty_like(x)
            for i in range(len(x)):
                out[i] = x[i] ** 2
                print(i)
            return [str(v) for v in x]
        """
    assert not gated(with_numpy, "ML604")
    plain = """\
        def f(x, out):
            for i in range(len(x)):
                out[i] = x[i] ** 2
            return [v * 2 for v in x]
        """
    assert not gated(plain, "ML604")


def test_ml604_accepts_an_aliased_range_and_augmented_assignment() -> None:
    src = """\
        from builtins import range as rng

        import numpy as np


        def f():
            x = np.arange(5)
            out = np.zeros(5)
            for i in rng(5):
                out[i] -= np.sqrt(x[i])
            return out
        """
    assert gated(src, "ML604")
    assert flagged_lines(src, "ML604") == [9]


# -- ML605 apply-along-axis-vectorisable ----------------------------------------------------------
def test_ml605_rejects_calls_with_extra_or_unpacked_arguments() -> None:
    src = """\
        import numpy as np


        def f(X, args):
            a = np.apply_along_axis(np.sum, 1, X, 2)
            return a, np.apply_along_axis(*args)
        """
    assert not gated(src, "ML605")


def test_ml605_accepts_an_aliased_function_with_keywords() -> None:
    src = """\
        import numpy as np
        from numpy import apply_along_axis as aaa


        def f(X):
            return aaa(np.mean, axis=1, arr=X)
        """
    assert gated(src, "ML605")
    assert flagged_lines(src, "ML605") == [6]


# -- ML701 eager-heavy-import ---------------------------------------------------------------------
def test_ml701_rejects_lazy_type_checking_relative_and_own_imports() -> None:
    src = """\
        from typing import TYPE_CHECKING

        import numpy as np

        from . import models
        from pkg.sub import thing

        if TYPE_CHECKING:
            import torch


        def load():
            import pandas as pd
            import importlib
            return importlib.import_module("numpy"), pd
        """
    assert not gated(src, "ML701", path="pkg/__init__.py")


def test_ml701_accepts_nested_blocks_class_bodies_import_calls_and_options() -> None:
    src = """\
        import importlib as il
        from importlib import import_module as im

        try:
            import my_sdk.core as core
        except ImportError:
            core = None


        class Backend:
            import sklearn


        if not __debug__:
            pass
        else:
            frames = im("pandas")
        engine = il.import_module("torch.nn")
        """
    assert gated(src, "ML701", path="pkg/__init__.py")
    config = {"eager-heavy-import": {"extend-heavy-modules": ["my_sdk"]}}
    assert flagged_lines(src, "ML701", path="pkg/__init__.py", settings=settings_from(config)) == [
        5,
        11,
        17,
        18,
    ]
    assert flagged_lines(src, "ML701", path="pkg/__init__.py") == [11, 17, 18]


# -- ML702 module-getattr-falls-through / ML703 lazy-export-untyped -------------------------------
_NOT_MODULE_GETATTR = """\
    class Proxy:
        def __getattr__(self, name):
            return getattr(self._target, name)


    def factory():
        def __getattr__(name):
            if name == "X":
                return 1

        return __getattr__


    def __getattr__(name, default):
        return default
    """


def test_ml702_ml703_reject_methods_nested_defs_and_two_parameters() -> None:
    assert not gated(_NOT_MODULE_GETATTR, "ML702")
    assert not gated(_NOT_MODULE_GETATTR, "ML703")


def test_ml702_accepts_an_async_getattr_inside_a_module_level_if() -> None:
    src = """\
        import sys

        if sys.version_info >= (3, 7):

            async def __getattr__(name):
                if name == "Model":
                    return 1
        """
    assert gated(src, "ML702")
    assert flagged_lines(src, "ML702") == [5]


def test_ml703_accepts_a_positional_only_getattr_inside_try() -> None:
    src = """\
        try:

            def __getattr__(name, /):
                if name == "Model":
                    from .model import Model

                    return Model
                raise AttributeError(name)

        except Exception:
            pass
        """
    assert gated(src, "ML703", path="pkg/__init__.py")
    assert flagged_lines(src, "ML703", path="pkg/__init__.py", package="pkg") == [4]


# -- ML704 import-from-src ------------------------------------------------------------------------
def test_ml704_rejects_relative_and_lookalike_imports() -> None:
    src = """\
        from .src import helpers
        from srcutils import x
        import mysrc.src
        from . import src

        source = "src"
        """
    assert not gated(src, "ML704")


def test_ml704_accepts_nested_and_star_imports_and_the_src_package_init() -> None:
    src = """\
        def train():
            import src
            from src.models import *

            return src
        """
    assert gated(src, "ML704")
    assert flagged_lines(src, "ML704") == [2, 3]
    assert gated("x = 1\n", "ML704", path="proj/src/__init__.py")
    assert not gated("x = 1\n", "ML704", path="proj/srcs/__init__.py")
