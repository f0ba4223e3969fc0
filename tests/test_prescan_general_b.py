"""The ``ast_gate`` pre-scan of ML010-ML017, ML902 and ML903: realistic near misses the gate
rejects (though the text stage lets them through), and unusual forms of each trigger that
the gate must let through and the rule flags."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from tests.prescan_support import gated, gated_lines, rejected, settings_from

PATH = "pkg/mod.py"


def _src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def _rejected(code: str, src: str, package: str | None = None) -> bool:
    return rejected(src, code, package=package)


def _flagged(code: str, src: str, **kw: Any) -> list[int]:
    return gated_lines(src, code, **kw)


# -- ML010 exhausted-iterator-reused --------------------------------------------------------
def test_ml010_rejects_single_passes_and_uses_in_other_functions() -> None:
    src = _src(
        """
        import numpy as np


        def summarize(values, weights):
            pairs = zip(values, weights)
            total = 0.0
            for v, w in pairs:
                total += v * w
            mean = sum(v for v in values) / len(values)
            it = iter(values)
            first = next(it)
            with open("log.txt") as fh:
                lines = fh.readlines()
            return total, mean, first, lines, np.mean(values)


        def read(path):
            with open(path) as fh:
                for line in fh:
                    yield line


        def count(path):
            with open(path) as fh:
                return sum(1 for _ in fh)
        """
    )
    assert _rejected("ML010", src)


def test_ml010_rejects_a_name_bound_twice_in_its_scope() -> None:
    src = _src(
        """
        import itertools


        def pairwise(X, metric, same):
            out = {}
            if same:
                iterator = itertools.combinations(range(len(X)), 2)
                for i, j in iterator:
                    out[i, j] = metric(X[i], X[j])
            else:
                iterator = itertools.product(range(len(X)), repeat=2)
                for i, j in iterator:
                    out[i, j] = metric(X[i], X[j])
            return out
        """
    )
    assert _rejected("ML010", src)


def test_ml010_global_binding_used_at_module_level() -> None:
    src = _src(
        """
        def init(rows):
            global feed
            feed = iter(rows)


        init([1, 2])
        first = list(feed)
        second = list(feed)
        """
    )
    assert _flagged("ML010", src) == [8]


def test_ml010_walrus_itertools_alias_starred_epoch() -> None:
    src = _src(
        """
        import itertools as it


        class Trainer:
            def fit(self, source, epochs):
                if (stream := it.islice(source, 100)) is None:
                    return
                for _ in range(epochs):
                    self.step([*stream])
        """
    )
    assert _flagged("ML010", src) == [9]


def test_ml010_nested_generator_function_and_join() -> None:
    src = _src(
        """
        def report(rows):
            def fmt():
                for r in rows:
                    yield str(r)

            parts = fmt()
            longest = max(parts, key=len)
            return longest, ", ".join(parts)
        """
    )
    assert _flagged("ML010", src) == [8]


def test_ml010_tuple_assignment_binds_element_wise() -> None:
    src = _src(
        """
        async def pairs(xs, ys):
            left, right = iter(xs), map(str, ys)
            head = list(left)
            return head, sum(1 for _ in left), list(right)
        """
    )
    assert _flagged("ML010", src) == [4]


# -- ML011 groupby-group-escapes-loop -------------------------------------------------------
def test_ml011_rejects_pandas_groupby() -> None:
    src = _src(
        """
        import itertools

        import pandas as pd


        def sessions(df: pd.DataFrame):
            groups = {k: g for k, g in df.groupby("user")}
            return list(itertools.chain(groups.items()))
        """
    )
    assert _rejected("ML011", src)


def test_ml011_aliased_groupby_in_async_def() -> None:
    src = _src(
        """
        from itertools import groupby as gb


        async def sessions(events):
            out = []
            for user, evs in gb(events, key=lambda e: e["user"]):
                out.append((user, evs))
            return out
        """
    )
    assert _flagged("ML011", src) == [7]


def test_ml011_module_alias_attribute_form() -> None:
    src = _src(
        """
        import itertools as its


        def by_key(rows):
            return dict(its.groupby(rows))
        """
    )
    assert _flagged("ML011", src) == [5]


# -- ML012 batch-generator-drops-last -------------------------------------------------------
def test_ml012_rejects_batching_without_reset() -> None:
    src = _src(
        """
        def chunks(rows, n):
            buf = []
            for r in rows:
                buf.append(r)
                if len(buf) > n:
                    raise ValueError("too many")
                if len(buf) == n:
                    print(buf)
            return buf
        """
    )
    assert _rejected("ML012", src)


def test_ml012_async_while_reversed_compare_del_slice() -> None:
    src = _src(
        """
        async def pump(source, sink, n):
            buf = []
            i = 0
            while i < 100:
                buf.extend(await source.get())
                i += 1
                if n <= len(buf):
                    await sink.write(buf)
                    del buf[:]
        """
    )
    assert _flagged("ML012", src) == [4]


# -- ML013 yielded-list-cleared -------------------------------------------------------------
def test_ml013_rejects_rebinding_and_clearing_another_list() -> None:
    src = _src(
        """
        def batches(rows, n):
            batch = []
            seen = []
            for r in rows:
                batch.append(r)
                if len(batch) == n:
                    yield batch
                    batch = []
                    seen.clear()
        """
    )
    assert _rejected("ML013", src)


def test_ml013_method_yielding_a_list_display_then_slice_assign() -> None:
    src = _src(
        """
        class Reader:
            def __init__(self, rows):
                self.rows = rows

            def grouped(self, n):
                buf = []
                for key, row in self.rows:
                    buf.append(row)
                    if len(buf) == n:
                        yield [key, buf]
                        buf[:] = []
        """
    )
    assert _flagged("ML013", src) == [11]


# -- ML014 contextmanager-cleanup-skipped ---------------------------------------------------
def test_ml014_rejects_undecorated_generators_and_protected_yields() -> None:
    src = _src(
        """
        from contextlib import contextmanager


        def batches(rows):
            for r in rows:
                yield r


        @contextmanager
        def opened(path):
            fh = open(path)
            try:
                yield fh
            finally:
                fh.close()


        @contextmanager
        def locked(lock):
            with lock:
                yield
        """
    )
    assert _rejected("ML014", src)


def test_ml014_aliased_asynccontextmanager() -> None:
    src = _src(
        """
        from contextlib import asynccontextmanager as acm


        @acm
        async def session(pool):
            conn = await pool.acquire()
            yield conn
            await pool.release(conn)
        """
    )
    assert _flagged("ML014", src) == [7]


def test_ml014_called_decorator_attribute_form_in_try_else() -> None:
    src = _src(
        """
        import contextlib


        class Model:
            @staticmethod
            @contextlib.contextmanager
            def eval_mode(model):
                try:
                    model.eval()
                except RuntimeError:
                    pass
                else:
                    yield model
                    model.train()
        """
    )
    assert _flagged("ML014", src) == [13]


# -- ML015 exit-swallows-exceptions ---------------------------------------------------------
def test_ml015_rejects_falsy_returns() -> None:
    src = _src(
        """
        class Timer:
            def __enter__(self):
                return self

            def __exit__(self, exc_type, exc, tb):
                self.close()
                return False

            def close(self):
                return True
        """
    )
    assert _rejected("ML015", src)


def test_ml015_async_exit_of_a_nested_class_returning_one() -> None:
    src = _src(
        """
        def make_guard():
            class Guard:
                async def __aenter__(self):
                    return self

                async def __aexit__(self, exc_type, exc, tb):
                    await self.flush()
                    return 1

            return Guard
        """
    )
    assert _flagged("ML015", src) == [8]


# -- ML016 broad-suppress -------------------------------------------------------------------
def test_ml016_rejects_narrow_suppress() -> None:
    src = _src(
        """
        from contextlib import suppress


        def cleanup(path):
            with suppress(FileNotFoundError):
                path.unlink()
            try:
                path.parent.rmdir()
            except Exception:
                pass
        """
    )
    assert _rejected("ML016", src)


def test_ml016_aliased_suppress_second_async_item_dotted_builtin() -> None:
    src = _src(
        """
        import builtins
        from contextlib import suppress as quiet


        async def save(trainer, path, lock):
            async with lock, quiet(OSError, builtins.Exception):
                trainer.save_checkpoint(path)
        """
    )
    assert _flagged("ML016", src) == [6]


# -- ML017 blanket-warning-filter -----------------------------------------------------------
_ML017_SCOPED = _src(
    """
    import warnings

    from sklearn.preprocessing import OneHotEncoder

    ENCODER = OneHotEncoder(handle_unknown="ignore")


    def fit_quietly(model, X, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return model.fit(X, y)


    quiet = lambda: warnings.filterwarnings("ignore")
    """
)


def test_ml017_rejects_filters_inside_functions_and_other_ignores() -> None:
    assert _rejected("ML017", _ML017_SCOPED, package="pkg")


def test_ml017_include_scoped_option_lets_them_through() -> None:
    settings = settings_from({"blanket-warning-filter": {"include-scoped": True}})
    assert _flagged("ML017", _ML017_SCOPED, package="pkg", settings=settings) == [10, 14]


def test_ml017_aliased_filter_in_class_body_and_seterr_keyword() -> None:
    src = _src(
        """
        from warnings import simplefilter as _quiet

        import numpy


        class Config:
            _quiet(action="ignore")

        if True:
            numpy.seterr(all="ignore")
        """
    )
    assert _flagged("ML017", src, package="pkg") == [7, 10]
    assert _flagged("ML017", src, path="pkg/__init__.py") == [7, 10]
    # roles the rule never applies to
    assert not gated(src, "ML017", path="tests/test_mod.py", package="pkg")
    assert not gated(src, "ML017", path="mod.py")


# -- ML902 retry-loop-unbounded (default off) -----------------------------------------------
def test_ml902_rejects_for_retry_and_reraising_handler() -> None:
    src = _src(
        """
        import time


        def fetch(session, url):
            for attempt in range(5):
                try:
                    return session.get(url)
                except ConnectionError:
                    time.sleep(2**attempt)
            while True:
                try:
                    return session.get(url)
                except ConnectionError:
                    time.sleep(1)
                    raise
        """
    )
    assert _rejected("ML902", src)


def test_ml902_while_one_aliased_sleep_in_a_method() -> None:
    src = _src(
        """
        from time import sleep as pause


        class Client:
            def fetch(self, url):
                while 1:
                    try:
                        return self.session.get(url)
                    except Exception:
                        pause(1)
        """
    )
    assert _flagged("ML902", src) == [6]


@pytest.mark.parametrize("test", ["True", "1", "+1"])
def test_ml902_async_sleep_awaited(test: str) -> None:
    src = _src(
        f"""
        import asyncio as aio


        async def poll(client):
            while {test}:
                try:
                    return await client.get()
                except (OSError, BaseException):
                    await aio.sleep(0.5)
        """
    )
    assert _flagged("ML902", src) == [5]


# -- ML903 string-concat-in-loop (default off) ----------------------------------------------
def test_ml903_rejects_numeric_and_list_accumulators() -> None:
    src = _src(
        """
        def stats(rows):
            total = 0
            parts = []
            name = "x"
            for r in rows:
                total += r
                parts += [str(r)]
                total = total + 1
            name += "_done"
            return total, parts, name
        """
    )
    assert _rejected("ML903", src)


def test_ml903_annotated_param_in_nested_def_while_self_add() -> None:
    src = _src(
        """
        def outer(rows):
            def render(prefix: str):
                i = 0
                while i < len(rows):
                    prefix = prefix + rows[i] + ";"
                    i += 1
                return prefix

            return render("> ")
        """
    )
    assert _flagged("ML903", src) == [5]


def test_ml903_bytes_bound_element_wise() -> None:
    src = _src(
        """
        def drain(queue):
            out, err = b"", b""
            for src, line in iter(queue.get, None):
                if src == "err":
                    err += line
                else:
                    out += line
            return out, err
        """
    )
    assert _flagged("ML903", src) == [5, 7]
