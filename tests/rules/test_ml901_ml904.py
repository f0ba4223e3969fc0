"""ML901 groupby-unsorted-input, ML902 retry-loop-unbounded, ML904 wall-clock-duration:
messages, positions, suppression, default-off selection and fix conditions."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from mllint.api import check_source
from mllint.config import settings_from_toml
from mllint.diagnostics import FileResult
from mllint.rule import all_rules


def _run(
    source: str,
    code: str,
    fix: str | None = None,
    config: dict[str, Any] | None = None,
    select: list[str] | None = None,
) -> FileResult:
    settings = settings_from_toml({"tool": {"mllint": config or {}}}, Path("pyproject.toml"))
    return check_source(
        textwrap.dedent(source),
        "pkg/train.py",
        settings=settings,
        select=select if select is not None else [code],
        fix=fix,
    )


def test_rules_are_default_off_with_spec_metadata() -> None:
    rules = all_rules()
    expected = {
        "ML901": ("groupby-unsorted-input", 2, ("unsafe",)),
        "ML902": ("retry-loop-unbounded", 2, ()),
        "ML904": ("wall-clock-duration", 3, ("unsafe",)),
    }
    for code, (name, tier, fixes) in expected.items():
        rule = rules[code]
        assert rule.name == name
        assert rule.tier == tier
        assert rule.default_enabled is False
        assert tuple(s.value for s in rule.fix_safety) == fixes


# -- ML901 ---------------------------------------------------------------------------------

GROUPBY = """\
    import itertools

    def per_label(records, get_label):
        return {k: list(g) for k, g in itertools.groupby(records, key=get_label)}
    """

ML901_MESSAGE = (
    "itertools.groupby only groups consecutive equal keys; 'records' is not sorted by the "
    "same key here, so one key can produce several groups"
)


def test_ml901_message_and_position() -> None:
    [v] = _run(GROUPBY, "ML901").violations
    assert (v.line, v.column, v.code) == (4, 36, "ML901")
    assert v.message == ML901_MESSAGE


def test_ml901_is_off_by_default() -> None:
    assert _run(GROUPBY, "ML901", select=[]).violations == []
    settings = settings_from_toml({"tool": {"mllint": {}}}, Path("pyproject.toml"))
    result = check_source(textwrap.dedent(GROUPBY), "pkg/train.py", settings=settings)
    assert not [v for v in result.violations if v.code == "ML901"]


def test_ml901_noqa() -> None:
    src = GROUPBY.replace("key=get_label)}", "key=get_label)}  # noqa: ML901")
    assert _run(src, "ML901").violations == []
    src = GROUPBY.replace(
        "key=get_label)}", "key=get_label)}  # mllint: ignore[groupby-unsorted-input]"
    )
    assert _run(src, "ML901").violations == []


def test_ml901_fix_wraps_in_sorted_and_is_unsafe() -> None:
    assert _run(GROUPBY, "ML901", fix="safe").fixed_source is None
    fixed = _run(GROUPBY, "ML901", fix="unsafe").fixed_source
    assert fixed is not None
    assert "itertools.groupby(sorted(records, key=get_label), key=get_label)" in fixed
    assert _run(fixed, "ML901").violations == []


def test_ml901_no_fix_for_lambda_key() -> None:
    src = GROUPBY.replace("key=get_label", "key=lambda r: r.label")
    [v] = _run(src, "ML901").violations
    assert v.fix is None


def test_ml901_no_fix_when_sorted_rebound() -> None:
    src = "sorted = list\n" + textwrap.dedent(GROUPBY)
    [v] = _run(src, "ML901").violations
    assert v.fix is None


def test_ml901_mismatched_sort_key_flagged_without_fix() -> None:
    src = """\
        from itertools import groupby

        def f(rows):
            return [k for k, _ in groupby(sorted(rows, key=lambda r: r[0]), key=lambda r: r[1])]
        """
    [v] = _run(src, "ML901").violations
    assert v.fix is None
    assert "'sorted(rows, key=lambda r: r[0])' is not sorted by the same key" in v.message


def test_ml901_equal_keys_after_renaming_are_fine() -> None:
    src = """\
        from itertools import groupby
        from operator import itemgetter

        def f(rows):
            a = [k for k, _ in groupby(sorted(rows, key=lambda r: r[0]), key=lambda x: x[0])]
            b = [k for k, _ in groupby(sorted(rows, key=itemgetter(0)), key=lambda x: x[0])]
            return a, b
        """
    assert _run(src, "ML901").violations == []


def test_ml901_run_length_names_and_comments() -> None:
    for src in (
        GROUPBY.replace("per_label", "run_lengths"),
        GROUPBY.replace("records", "streaks"),
        GROUPBY.replace("        return", "        # merge consecutive labels\n        return"),
    ):
        assert _run(src, "ML901").violations == [], src


# -- ML902 ---------------------------------------------------------------------------------

RETRY = """\
    import time

    def embed(client, texts):
        while True:
            try:
                return client.embed(texts)
            except Exception:
                time.sleep(1)
    """


def test_ml902_message_and_position() -> None:
    [v] = _run(RETRY, "ML902").violations
    assert (v.line, v.column, v.code) == (4, 5, "ML902")
    assert v.message == (
        "Retry loop never gives up, sleeps a constant 1s and catches every exception; bound "
        "the attempts, back off exponentially with jitter and retry only transient errors"
    )
    assert v.fix is None


def test_ml902_noqa_on_the_while_line() -> None:
    assert (
        _run(RETRY.replace("while True:", "while True:  # noqa: ML902"), "ML902").violations == []
    )


def test_ml902_single_reasons() -> None:
    src = RETRY.replace("except Exception:", "except ConnectionError:").replace(
        "time.sleep(1)", "time.sleep(delay)"
    )
    src = src.replace("def embed(client, texts):", "def embed(client, texts, delay):")
    [v] = _run(src, "ML902").violations
    assert v.message.startswith("Retry loop never gives up; bound the attempts")

    bounded = """\
        import time

        WAIT = 2

        def embed(client, texts):
            attempts = 0
            while True:
                try:
                    return client.embed(texts)
                except ConnectionError:
                    attempts += 1
                    if attempts == 3:
                        raise
                    time.sleep(WAIT)
        """
    [v] = _run(bounded, "ML902").violations
    assert v.message.startswith("Retry loop sleeps a constant 2s; bound the attempts")


BACKOFF = """\
    import random
    import time

    def embed(client, texts):
        attempt = 0
        while True:
            try:
                return client.embed(texts)
            except ConnectionError:
                attempt += 1
                if attempt > 4:
                    raise
                time.sleep(2**attempt + random.random())
    """


def test_ml902_bounded_with_backoff_is_fine() -> None:
    assert _run(BACKOFF, "ML902").violations == []


def test_ml902_budget_test_that_is_a_bare_name() -> None:
    src = BACKOFF.replace("if attempt > 4:", "done = attempt > 4\n                if done:")
    assert "                if done:\n" in src
    assert _run(src, "ML902").violations == []


def test_ml902_daemon_loop_is_not_a_retry_loop() -> None:
    src = RETRY.replace("return client.embed(texts)", "client.embed(texts)")
    assert _run(src, "ML902").violations == []


def test_ml902_sleep_must_be_time_or_asyncio() -> None:
    src = RETRY.replace("time.sleep(1)", "clock.sleep(1)")
    assert _run(src, "ML902").violations == []


# -- ML904 ---------------------------------------------------------------------------------

TIMING = """\
    import time

    def train(model, loader):
        t0 = time.time()
        for batch in loader:
            model.step(batch)
        return time.time() - t0
    """

ML904_MESSAGE = (
    "time.time() is a wall clock (can jump, coarse); use time.perf_counter() for durations"
)
CUDA_SUFFIX = (
    " — and call torch.cuda.synchronize() before reading the clock, CUDA kernels run asynchronously"
)


def test_ml904_message_position_and_fix() -> None:
    [v] = _run(TIMING, "ML904").violations
    assert (v.line, v.column, v.code) == (7, 12, "ML904")
    assert v.message == ML904_MESSAGE
    assert _run(TIMING, "ML904", fix="safe").fixed_source is None
    fixed = _run(TIMING, "ML904", fix="unsafe").fixed_source
    assert fixed == textwrap.dedent(TIMING).replace("time.time()", "time.perf_counter()")
    assert _run(fixed, "ML904").violations == []


def test_ml904_noqa() -> None:
    src = TIMING.replace("return time.time() - t0", "return time.time() - t0  # noqa: ML904")
    assert _run(src, "ML904").violations == []


def test_ml904_no_fix_when_start_is_used_as_a_timestamp() -> None:
    src = TIMING.replace("        for batch", "        print('started', t0)\n        for batch")
    [v] = _run(src, "ML904").violations
    assert v.fix is None


def test_ml904_fix_covers_every_subtraction_sharing_a_variable() -> None:
    src = """\
        import time

        def train(model, loader):
            t0 = time.time()
            model.fit(loader)
            t1 = time.time()
            model.evaluate(loader)
            return t1 - t0, time.time() - t1
        """
    result = _run(src, "ML904")
    assert [v.line for v in result.violations] == [8, 8]
    fixed = _run(src, "ML904", fix="unsafe").fixed_source
    assert fixed is not None
    assert "time.time()" not in fixed and fixed.count("time.perf_counter()") == 3


def test_ml904_cuda_suffix_only_without_synchronisation() -> None:
    src = """\
        import time

        import torch
        from torch import nn

        class Net(nn.Module):
            pass

        def latency(x):
            net = Net()
            t0 = time.time()
            y = net(x)
            return y, time.time() - t0
        """
    [v] = _run(src, "ML904").violations
    assert v.message == ML904_MESSAGE + CUDA_SUFFIX
    synced = src.replace("y = net(x)", "y = net(x)\n            torch.cuda.synchronize()")
    [v] = _run(synced, "ML904").violations
    assert v.message == ML904_MESSAGE
    item = src.replace("y = net(x)", "y = net(x).sum().item()")
    [v] = _run(item, "ML904").violations
    assert v.message == ML904_MESSAGE
    to_cuda = src.replace("y = net(x)", "y = x.to('cuda:0') * 2")
    [v] = _run(to_cuda, "ML904").violations
    assert v.message == ML904_MESSAGE + CUDA_SUFFIX
    no_torch = src.replace("import torch\n", "").replace("from torch import nn\n", "")
    no_torch = no_torch.replace("(nn.Module)", "")
    [v] = _run(no_torch, "ML904").violations
    assert v.message == ML904_MESSAGE


def test_ml904_self_attribute_timer_across_methods() -> None:
    src = """\
        import time

        class Timer:
            def __enter__(self):
                self.start = time.time()
                return self

            def __exit__(self, *exc):
                self.elapsed = time.time() - self.start

            def report(self):
                return {"started": self.start}
        """
    [v] = _run(src, "ML904").violations
    assert (v.line, v.column) == (9, 24)
    assert v.fix is None  # self.start is also reported as a timestamp


def test_ml904_not_a_duration() -> None:
    src = """\
        import os
        import time

        def age(path, t_resume, resume):
            start = time.time() if not resume else t_resume
            return time.time() - os.path.getmtime(path), time.time() - start
        """
    assert _run(src, "ML904").violations == []


def test_ml901_parameter_sorted_at_top_of_function_is_not_flagged() -> None:
    src = """\
        import itertools

        def group_data(data, key):
            data = sorted(data, key=key)
            return {k: list(g) for k, g in itertools.groupby(data, key)}

        def by_label(rows):
            rows = sorted(rows, key=lambda r: r[1])
            for label, grp in itertools.groupby(rows, key=lambda r: r[1]):
                print(label, list(grp))

        def resorted_then_shuffled(rows, key):
            rows = sorted(rows, key=key)
            rows = shuffle(rows)
            return [list(g) for _, g in itertools.groupby(rows, key)]

        def sorted_by_other_key(rows):
            rows = sorted(rows, key=lambda r: r[0])
            return [list(g) for _, g in itertools.groupby(rows, key=lambda r: r[1])]
        """
    violations = _run(src, "ML901").violations
    assert [v.line for v in violations] == [15, 19]
