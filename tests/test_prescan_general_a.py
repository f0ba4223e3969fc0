"""The ast pre-scan gates of the general rules ML002-ML009 and ML904: near misses the gate
rejects, and unusual spellings of each trigger that it must let through (and the rule flags)."""

from __future__ import annotations

from mllint.api import make_request
from mllint.config import Settings
from tests.prescan_support import gated, gated_lines, settings_from


def test_default_request_has_the_default_on_rules() -> None:
    request = make_request(Settings(), "pkg/mod.py")
    codes = {er.rule.code for er in request.rules}
    assert {"ML002", "ML003", "ML004", "ML005", "ML006", "ML007", "ML008", "ML009"} <= codes
    assert "ML904" not in codes  # default-off: the tests pass codes=[...]


# -- ML002 lru-cache-on-method ------------------------------------------------------------------
def test_ml002_rejects_cache_decorators_not_from_functools() -> None:
    src = """\
        import functools

        from joblib import Memory

        memory = Memory("/tmp/cache")


        @functools.lru_cache(maxsize=None)
        def vocabulary(path):
            return open(path).read().split()


        class Loader:
            @memory.cache
            def load(self, path):
                return functools.reduce(max, [1, 2])

            @property
            def cache(self):
                return {}
        """
    assert not gated(src, "ML002")


def test_ml002_accepts_an_aliased_cache_on_an_async_method_under_if() -> None:
    src = """\
        import sys
        from functools import lru_cache as memo


        class Client:
            if sys.version_info >= (3, 9):

                @memo(maxsize=None)
                async def fetch(self, key):
                    return key
        """
    assert gated_lines(src, "ML002") == [8]


def test_ml002_accepts_a_relative_import_resolved_through_the_package() -> None:
    # in the package `functools`, `from . import cache` binds functools.cache
    src = """\
        from . import cache


        class Table:
            @cache
            def rows(self):
                return []
        """
    assert gated_lines(src, "ML002", path="functools/mod.py", package="functools") == [5]
    assert not gated(src, "ML002", path="mylib/mod.py", package="mylib")


# -- ML003 cache-unhashable-argument -----------------------------------------------------------
def test_ml003_rejects_unannotated_cached_functions_never_called() -> None:
    src = """\
        import functools

        import numpy as np


        @functools.lru_cache(maxsize=None)
        def load(path):
            return np.load(path)


        def norms(X: np.ndarray, cols: list) -> np.ndarray:
            return np.linalg.norm(X[:, cols], axis=1)


        LOADERS = {"npy": load}
        """
    assert not gated(src, "ML003")


def test_ml003_accepts_a_nested_cached_function_of_a_module_alias() -> None:
    src = """\
        import functools as ft

        import numpy as np


        def build():
            @ft.cache
            def norms(X: "np.ndarray | None"):
                return X

            return norms


        @ft.lru_cache(maxsize=128)
        def score(tokens):
            return len(tokens)


        def run():
            return score([1, 2, 3])
        """
    assert gated_lines(src, "ML003") == [8, 20]


# -- ML004 impure-cached-function --------------------------------------------------------------
def test_ml004_rejects_cached_functions_with_other_cache_libraries() -> None:
    src = """\
        import functools
        import random

        from cachetools import cached


        @cached(cache={})
        def draw(n):
            return [random.random() for _ in range(n)]


        square = functools.partial(pow, exp=2)
        """
    assert not gated(src, "ML004")


def test_ml004_accepts_an_aliased_cache_under_staticmethod() -> None:
    src = """\
        import time as clock
        from functools import cache as memo


        class Service:
            @staticmethod
            @memo
            def stamp(key):
                return key, clock.time()
        """
    assert gated_lines(src, "ML004") == [9]


# -- ML005 decorator-missing-wraps -------------------------------------------------------------
def test_ml005_rejects_wrapped_wrappers_and_closures_not_calling_a_parameter() -> None:
    src = """\
        import functools


        def timer(func):
            @functools.wraps(func)
            def wrapper(*args, **kwargs):
                return func(*args, **kwargs)

            return wrapper


        def make_counter(start):
            count = [start]

            def bump():
                count[0] += 1
                return print(count)

            return bump


        def register(cls):
            def hook(obj):
                setattr(cls, obj.__name__, obj)

            return hook


        def identity(x):
            y = x
            return y
        """
    assert not gated(src, "ML005")


def test_ml005_accepts_an_async_wrapper_in_a_method_factory() -> None:
    src = """\
        class Registry:
            def hook(self, name):
                def decorate(fn):
                    async def runner(*a, **kw):
                        return await fn(*a, **kw)

                    return runner

                return decorate
        """
    assert gated_lines(src, "ML005") == [4]


# -- ML006 dataclass-mutable-default -----------------------------------------------------------
def test_ml006_rejects_other_dataclass_libraries_and_immutable_fields() -> None:
    src = """\
        from dataclasses import dataclass

        from pydantic.dataclasses import dataclass as pdataclass


        @dataclass(frozen=True)
        class Config:
            lr: float = 1e-3
            name: str = "run"
            sizes: tuple = (1, 2)
            cols = []


        @pdataclass
        class Payload:
            ids: list = []
        """
    assert not gated(src, "ML006")


def test_ml006_accepts_a_module_alias_on_a_class_nested_in_a_function() -> None:
    src = """\
        import dataclasses as dc


        def make():
            @dc.dataclass
            class Batch:
                ids: list = []
                extra: dict = dc.field(default={})

            return Batch
        """
    assert gated_lines(src, "ML006") == [7, 8]


# -- ML007 class-attribute-mutated-via-self ----------------------------------------------------
def test_ml007_rejects_shared_names_immutable_attributes_and_rebinding() -> None:
    src = """\
        class Model:
            _registry = {}
            FEATURES = ("age", "tenure")
            history = make_history()

            def register(self, name):
                self._registry[name] = self
                self.FEATURES += ("x",)
                self.history.append(name)
                self.features = list(self.FEATURES)
                self.features.append(name)
        """
    assert not gated(src, "ML007")


def test_ml007_accepts_an_option_pattern_and_an_aliased_numpy_constructor() -> None:
    src = """\
        import numpy as xp


        class Buffer:
            _registry = {}
            data: "xp.ndarray" = xp.zeros(4)

            def put(self, name, i):
                self._registry[name] = i
                self.data[i] = 1.0
        """
    cfg = {"class-attribute-mutated-via-self": {"shared-name-pattern": "^_shared"}}
    assert gated_lines(src, "ML007", settings=settings_from(cfg)) == [9, 10]
    assert gated_lines(src, "ML007") == [10]


# -- ML008 shared-dict-mutated-via-alias -------------------------------------------------------
def test_ml008_rejects_copies_registries_and_module_level_mutation() -> None:
    src = """\
        import copy

        __all__ = ["make_config"]
        DEFAULT_CONFIG = {"lr": 1e-3}
        MODELS = {}
        DEFAULT_CONFIG["seed"] = 0
        DEFAULT_CONFIG.update(epochs=3)


        def make_config(overrides):
            cfg = copy.deepcopy(DEFAULT_CONFIG)
            cfg.update(overrides)
            return cfg


        def register(name, cls):
            MODELS[name] = cls
            local = {}
            local.update(a=1)
            return local
        """
    assert not gated(src, "ML008")


def test_ml008_accepts_a_container_bound_in_a_try_block_and_an_async_alias() -> None:
    src = """\
        try:
            DEFAULTS: dict = dict(lr=0.1)
        except ImportError:
            pass


        async def run(over):
            cfg = DEFAULTS
            cfg |= over
            return cfg
        """
    assert gated_lines(src, "ML008") == [9]


def test_ml008_accepts_direct_mutation_of_a_name_matching_the_option() -> None:
    src = """\
        BASE_OPTS = {"k": 0}


        def tweak():
            BASE_OPTS["k"] = 1
        """
    assert not gated(src, "ML008")
    cfg = {"shared-dict-mutated-via-alias": {"default-name-pattern": "^BASE_"}}
    assert gated_lines(src, "ML008", settings=settings_from(cfg)) == [5]


# -- ML009 counter-on-string -------------------------------------------------------------------
def test_ml009_rejects_tokenised_and_unbound_arguments() -> None:
    src = """\
        from collections import Counter


        def vocab(lines, tokens):
            counts = Counter(tokens)
            for words in lines:
                counts.update(words)
            counts.update(w for w in tokens)
            return Counter(" ".split()), counts
        """
    assert not gated(src, "ML009")


def test_ml009_accepts_update_on_an_aliased_module_counter_and_annotated_params() -> None:
    src = """\
        import collections as C
        from collections import Counter as Tally


        def vocab(lines):
            counts = C.Counter()
            for line in lines:
                counts.update(line.strip())
            return counts


        def tally(text: str):
            return Tally(text)
        """
    assert gated_lines(src, "ML009") == [8, 13]


# -- ML904 wall-clock-duration -----------------------------------------------------------------
def test_ml904_rejects_perf_counter_durations_and_other_time_calls() -> None:
    src = """\
        import time
        from time import perf_counter


        def step(fn):
            t0 = perf_counter()
            fn()
            time.sleep(0.1)
            return perf_counter() - t0, time.monotonic()
        """
    assert not gated(src, "ML904")


def test_ml904_accepts_an_aliased_clock_in_self_attributes() -> None:
    src = """\
        from time import time as now


        class Timer:
            def __enter__(self):
                self._t0 = now()
                return self

            def __exit__(self, *exc):
                self.elapsed = now() - self._t0
        """
    assert gated_lines(src, "ML904") == [10]
