"""ML003-ML009 (general pitfalls): exact messages and positions, noqa, options, version
awareness and fix skip conditions."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from mllint.api import check_source
from mllint.config import settings_from_toml
from mllint.diagnostics import FileResult


def _run(
    code: str, source: str, fix: str | None = None, config: dict[str, Any] | None = None
) -> FileResult:
    settings = settings_from_toml({"tool": {"mllint": config or {}}}, Path("pyproject.toml"))
    return check_source(
        textwrap.dedent(source), "pkg/train.py", settings=settings, select=[code], fix=fix
    )


# -- ML003 -------------------------------------------------------------------------------------
CACHED = """\
    from functools import lru_cache
    import numpy as np
    import torch

    @lru_cache(maxsize=8)
    def norms(X: np.ndarray, t: "torch.Tensor | None" = None):
        return X

    norms([1, 2])
    """


def test_ml003_messages_and_positions() -> None:
    vs = _run("ML003", CACHED).violations
    assert [(v.line, v.column, v.message) for v in vs] == [
        (
            6,
            11,
            "Cached function 'norms' takes 'X' of type np.ndarray: unhashable → TypeError at call",
        ),
        (
            6,
            26,
            "Cached function 'norms' takes 't' of type torch.Tensor: Tensor hashes by identity → "
            "stale results after in-place updates",
        ),
        (9, 7, "Cached function 'norms' takes 'X' of type list: unhashable → TypeError at call"),
    ]


def test_ml003_noqa_and_unannotated() -> None:
    src = CACHED.replace("norms([1, 2])", "norms([1, 2])  # noqa: ML003")
    assert len(_run("ML003", src).violations) == 2
    src = "from functools import cache\n@cache\ndef f(x, y: int, z: tuple[int, ...]):\n    return x\nf(1, 2, (3,))\n"
    assert _run("ML003", src).violations == []


def test_ml003_not_functools() -> None:
    src = "def lru_cache(f):\n    return f\n@lru_cache\ndef f(x: list):\n    return x\n"
    assert _run("ML003", src).violations == []


# -- ML004 -------------------------------------------------------------------------------------
def test_ml004_global_rebound_message() -> None:
    src = """\
        from functools import cache
        model = None

        def reload(p):
            global model
            model = p

        @cache
        def embed(text):
            return model(text)
        """
    [v] = _run("ML004", src).violations
    assert (v.line, v.column) == (10, 12)
    assert v.message == (
        "Cached function 'embed' reads global 'model', which is rebound in 'reload': the cache "
        "returns stale or frozen values"
    )


def test_ml004_module_rebinding_needs_an_import_time_call() -> None:
    src = """\
        from functools import cache
        table = {}
        table = {"a": 1}

        @cache
        def get(k):
            return table.get(k)
        """
    assert _run("ML004", src).violations == []
    [v] = _run("ML004", textwrap.dedent(src) + "get('a')\ntable = {}\n").violations
    assert v.message.endswith(
        "reads global 'table', which is rebound at line 9: the cache returns stale or frozen values"
    )


def test_ml004_seeded_and_option() -> None:
    src = """\
        from functools import cache
        import numpy as np
        import mylib

        @cache
        def f(n):
            return np.random.default_rng(0).normal(), np.random.default_rng(seed=n), mylib.now()
        """
    assert _run("ML004", src).violations == []
    vs = _run(
        "ML004", src, config={"impure-cached-function": {"extend-impure-calls": ["mylib.now"]}}
    ).violations
    assert [v.message for v in vs] == [
        "Cached function 'f' calls mylib.now(): the cache returns stale or frozen values"
    ]


# -- ML005 -------------------------------------------------------------------------------------
TIMER = """\
    def timer(func):
        def wrapper(*args, **kwargs):
            return func(*args, **kwargs)
        return wrapper
    """


def test_ml005_message_position_and_fix() -> None:
    [v] = _run("ML005", TIMER).violations
    assert (v.line, v.column) == (2, 5)
    assert v.message == (
        "Wrapper 'wrapper' returned by decorator 'timer' lacks @functools.wraps(func): the "
        "decorated function loses __name__, __doc__, __qualname__ and __wrapped__"
    )
    assert _run("ML005", TIMER, fix="safe").fixed_source is None
    fixed = _run("ML005", TIMER, fix="unsafe").fixed_source
    assert fixed == (
        "import functools\n\ndef timer(func):\n    @functools.wraps(func)\n"
        + textwrap.dedent(TIMER).split("\n", 1)[1]
    )


def test_ml005_noqa_and_non_forwarding_adapter() -> None:
    assert _run("ML005", TIMER.replace("**kwargs):", "**kwargs):  # noqa: ML005")).violations == []
    src = "def shift(fn, k):\n    def inner(a):\n        return fn(a + k)\n    return inner\n"
    assert _run("ML005", src).violations == []


def test_ml005_fix_skipped_when_name_taken() -> None:
    src = "functools = None\n" + textwrap.dedent(TIMER)
    assert len(_run("ML005", src).violations) == 1
    assert _run("ML005", src, fix="unsafe").fixed_source is None


# -- ML006 -------------------------------------------------------------------------------------
DC = """\
    from dataclasses import dataclass
    import numpy as np

    @dataclass
    class Cfg:
        layers: list = []
        mean: np.ndarray = np.zeros(3)
    """


def test_ml006_messages_depend_on_min_python() -> None:
    vs = _run("ML006", DC).violations
    assert [(v.line, v.column, v.message) for v in vs] == [
        (
            6,
            20,
            "Dataclass field 'layers' defaults to []: raises ValueError at class creation; use field(default_factory=...)",
        ),
        (
            7,
            24,
            "Dataclass field 'mean' defaults to np.zeros(3): raises ValueError at class creation "
            "on Python >= 3.11 and is shared by every instance before; use field(default_factory=...)",
        ),
    ]
    vs = _run("ML006", DC, config={"python-version": "3.11"}).violations
    assert vs[1].message.startswith(
        "Dataclass field 'mean' defaults to np.zeros(3): raises ValueError at class creation;"
    )


def test_ml006_safe_fix_only_for_crash_only_values() -> None:
    fixed = _run("ML006", DC, fix="safe").fixed_source
    assert fixed is not None
    assert "layers: list = field(default_factory=list)" in fixed
    assert "mean: np.ndarray = np.zeros(3)" in fixed
    assert (
        "from dataclasses import field" in fixed
        or "from dataclasses import dataclass, field" in fixed
    )
    fixed311 = _run("ML006", DC, fix="safe", config={"python-version": "3.11"}).fixed_source
    assert fixed311 is not None and "field(default_factory=lambda: np.zeros(3))" in fixed311


# -- ML007 -------------------------------------------------------------------------------------
FE = """\
    class FeatureEngineer:
        FEATURES = []

        def add(self, name):
            self.FEATURES.append(name)
    """


def test_ml007_message_and_noqa() -> None:
    [v] = _run("ML007", FE).violations
    assert (v.line, v.column) == (5, 9)
    assert v.message == (
        "'self.FEATURES.append(...)' mutates the class attribute FeatureEngineer.FEATURES shared "
        "by all instances; initialise it in __init__ or use an immutable tuple/frozenset"
    )
    assert _run("ML007", FE.replace("append(name)", "append(name)  # noqa: ML007")).violations == []


def test_ml007_methods_defined_under_if_and_try() -> None:
    src = """\
        import sys

        class FeatureEngineer:
            FEATURES = []

            if sys.version_info >= (3, 12):
                def add(self, name):
                    self.FEATURES.append(name)
            else:
                try:
                    def add(self, name):
                        self.FEATURES += [name]
                except NameError:
                    pass

            def nested(self):
                def helper(self):
                    self.FEATURES.append(1)  # another function's self: not a method
                return helper
        """
    assert [(v.line, v.column) for v in _run("ML007", src).violations] == [(8, 13), (12, 17)]


def test_ml007_option_and_instance_shadow() -> None:
    cfg = {"class-attribute-mutated-via-self": {"shared-name-pattern": "FEAT"}}
    assert _run("ML007", FE, config=cfg).violations == []
    shadowed = FE.replace(
        "        def add",
        "        def __init__(self):\n            self.FEATURES = []\n\n        def add",
    )
    assert _run("ML007", shadowed).violations == []


# -- ML008 -------------------------------------------------------------------------------------
CFG = """\
    DEFAULT_CONFIG = {"lr": 1e-3}

    def make(overrides):
        cfg = DEFAULT_CONFIG
        cfg.update(overrides)
        cfg["x"] = 1
        return cfg
    """


def test_ml008_message_and_single_fix() -> None:
    vs = _run("ML008", CFG).violations
    assert [(v.line, v.column) for v in vs] == [(5, 5), (6, 5)]
    assert vs[0].message == (
        "'cfg' is the module-level object 'DEFAULT_CONFIG' (no copy); cfg.update(...) mutates it "
        "for every later caller — copy it first (copy.deepcopy(DEFAULT_CONFIG) or "
        "{**DEFAULT_CONFIG, **overrides})"
    )
    fixed = _run("ML008", CFG, fix="unsafe").fixed_source
    assert fixed is not None and "cfg = copy.deepcopy(DEFAULT_CONFIG)" in fixed
    assert fixed.startswith("import copy\n")
    assert _run("ML008", CFG, fix="safe").fixed_source is None


def test_ml008_direct_form_pattern_and_registry_keys() -> None:
    src = 'MODEL_PARAMS = {}\nREGISTRY = {}\ndef f(name):\n    MODEL_PARAMS["a"] = 1\n    MODEL_PARAMS[name] = 2\n    REGISTRY["a"] = 1\n'
    vs = _run("ML008", src).violations
    assert [v.line for v in vs] == [4]
    vs = _run(
        "ML008", src, config={"shared-dict-mutated-via-alias": {"default-name-pattern": "REG"}}
    ).violations
    assert [v.line for v in vs] == [6]


# -- ML009 -------------------------------------------------------------------------------------
def test_ml009_message_fix_and_noqa() -> None:
    src = "from collections import Counter\ndef f(text: str):\n    return Counter(text.lower())\n"
    [v] = _run("ML009", src).violations
    assert (v.line, v.column) == (3, 20)
    assert v.message == (
        "Counter(text.lower()) iterates a str and counts characters; did you mean "
        "Counter(text.lower().split())?"
    )
    fixed = _run("ML009", src, fix="unsafe").fixed_source
    assert fixed is not None and "Counter(text.lower().split())" in fixed
    assert _run("ML009", src, fix="safe").fixed_source is None
    assert _run("ML009", src.replace("lower())", "lower())  # noqa: ML009")).violations == []


def test_ml009_unknown_kind_and_counter_update() -> None:
    src = "from collections import Counter\nc = Counter()\ndef f(text, s: str):\n    c.update(text)\n    c.update(s)\n"
    assert [v.line for v in _run("ML009", src).violations] == [5]


# -- ML903 -------------------------------------------------------------------------------------
def test_ml903_off_by_default_message_and_non_str() -> None:
    src = (
        'def f(tokens):\n    text = ""\n    for t in tokens:\n        text += t\n    return text\n'
    )
    assert check_source(src, "pkg/train.py").violations == []
    [v] = _run("ML903", src).violations
    assert (v.line, v.column) == (4, 9)
    assert v.message == (
        "'text += …' in a loop may copy the string every iteration (quadratic on PyPy or when "
        'text has other references); collect parts in a list and "".join(parts)'
    )
    assert _run("ML903", src.replace('text = ""', "text = 0")).violations == []


def test_ml903_bytes_are_not_called_strings() -> None:
    """A bytes accumulator needs b"".join: "".join(parts) would raise TypeError."""
    src = (
        "def f(chunks):\n    data = b''\n    for c in chunks:\n        data += c\n    return data\n"
    )
    [v] = _run("ML903", src).violations
    assert v.message == (
        "'data += …' in a loop may copy the bytes object every iteration (quadratic on PyPy "
        'or when data has other references); collect parts in a list and b"".join(parts)'
    )
    src = (
        "def f(fh, n):\n    data = fh.read()\n    while n:\n        data += fh.read()\n"
        "        n -= 1\n    return data\n"
    )
    [v] = _run("ML903", src).violations
    assert v.message.endswith('collect parts in a list and "".join(parts) (b"".join for bytes)')
