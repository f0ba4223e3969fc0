"""ML801-ML809 and ML981-ML983 (concurrency): messages, positions, noqa, options, fix skips."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from mllint.api import check_source
from mllint.config import settings_from_toml
from mllint.diagnostics import FileResult
from mllint.rule import all_rules


def _run(
    source: str, code: str, fix: str | None = None, config: dict[str, Any] | None = None
) -> FileResult:
    settings = settings_from_toml({"tool": {"mllint": config or {}}}, Path("pyproject.toml"))
    return check_source(
        textwrap.dedent(source), "pkg/serve.py", settings=settings, select=[code], fix=fix
    )


BLOCKING = """\
    import pandas as pd

    async def predict(request):
        features = pd.read_parquet(request.path)
        return features
    """


def test_ml801_message_and_position() -> None:
    [v] = _run(BLOCKING, "ML801").violations
    assert (v.line, v.column) == (4, 16)
    assert v.message == (
        "pd.read_parquet(request.path) blocks the event loop inside 'async def predict' "
        "(every other request waits); run it in a thread: "
        "await asyncio.to_thread(pd.read_parquet, …)"
    )


def test_ml801_fix_and_python_gate() -> None:
    fixed = _run(BLOCKING, "ML801", fix="unsafe").fixed_source
    assert fixed is not None
    assert "features = await asyncio.to_thread(pd.read_parquet, request.path)" in fixed
    assert fixed.startswith("import asyncio\n")
    assert _run(BLOCKING, "ML801", fix="safe").fixed_source is None
    py38 = _run(BLOCKING, "ML801", fix="unsafe", config={"python-version": "3.8"})
    assert py38.fixed_source is None
    assert len(py38.violations) == 1


def test_ml801_nested_call_has_no_fix_and_noqa() -> None:
    src = """\
        import numpy as np

        async def stats(path):
            return float(np.mean(np.load(path)))
        """
    assert len(_run(src, "ML801").violations) == 1
    assert _run(src, "ML801", fix="unsafe").fixed_source is None
    assert _run(src.replace("(path)))", "(path)))  # noqa: ML801"), "ML801").violations == []


def test_ml801_extend_blocking_calls_option() -> None:
    src = """\
        from mlserve.io import load_checkpoint

        async def warmup():
            return load_checkpoint("x")
        """
    assert _run(src, "ML801").violations == []
    config = {"blocking-io-in-async": {"extend-blocking-calls": ["mlserve.io.load_checkpoint"]}}
    assert len(_run(src, "ML801", config=config).violations) == 1


def test_ml801_not_in_sync_helper_or_unknown_kind() -> None:
    src = """\
        import pandas as pd

        async def predict(path, frame):
            def load():
                return pd.read_csv(path)
            frame.to_csv("x.csv")
            return load
        """
    assert _run(src, "ML801").violations == []


UNAWAITED = """\
    async def log_metrics(batch):
        return batch

    async def handle(batch):
        log_metrics(batch)

    def close(batch):
        log_metrics(batch)
    """


def test_ml802_message_and_fix_only_in_async() -> None:
    violations = _run(UNAWAITED, "ML802").violations
    assert [(v.line, v.column) for v in violations] == [(5, 5), (8, 5)]
    assert violations[0].message == (
        "'log_metrics(…)' creates a coroutine that never runs; await it (or schedule it with "
        "asyncio.create_task and keep the task)"
    )
    fixed = _run(UNAWAITED, "ML802", fix="unsafe").fixed_source
    assert fixed is not None
    assert "    await log_metrics(batch)\n\ndef close" in fixed
    assert fixed.rstrip().endswith("\n    log_metrics(batch)")


def test_ml802_shadowed_or_generator_not_flagged() -> None:
    src = """\
        async def gen():
            yield 1

        async def handle(log_metrics):
            log_metrics()
            gen()
        """
    assert _run(src, "ML802").violations == []


PROCESS_SCRIPT = """\
    from concurrent.futures import ProcessPoolExecutor

    def work(x):
        return x

    with ProcessPoolExecutor() as pool:
        out = list(pool.map(work, [1, 2]))
    """


def test_ml803_message_position_and_fix() -> None:
    [v] = _run(PROCESS_SCRIPT, "ML803").violations
    assert (v.line, v.column) == (6, 1)
    assert v.message == (
        "ProcessPoolExecutor() starts worker processes at import time; under the "
        "spawn/forkserver start methods each worker re-imports this module and fails (or "
        'recurses) — put it under if __name__ == "__main__":'
    )
    fixed = _run(PROCESS_SCRIPT, "ML803", fix="unsafe").fixed_source
    assert fixed is not None
    assert fixed.endswith(
        'if __name__ == "__main__":\n'
        "    with ProcessPoolExecutor() as pool:\n"
        "        out = list(pool.map(work, [1, 2]))\n"
    )


def test_ml803_fix_skipped_when_bound_name_used_by_earlier_function() -> None:
    src = PROCESS_SCRIPT.replace("return x", "return x, out")
    assert len(_run(src, "ML803").violations) == 1
    assert _run(src, "ML803", fix="unsafe").fixed_source is None


def test_ml803_thread_pool_and_main_guard_not_flagged() -> None:
    src = """\
        from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

        with ThreadPoolExecutor() as pool:
            pass
        if __name__ == "__main__":
            with ProcessPoolExecutor() as pool:
                pass
        """
    assert _run(src, "ML803").violations == []


def test_ml803_main_guard_else_runs_on_import() -> None:
    src = """\
        from concurrent.futures import ProcessPoolExecutor

        if __name__ == "__main__":
            pass
        else:
            with ProcessPoolExecutor() as pool:
                pass
        """
    [v] = _run(src, "ML803").violations
    assert (v.line, v.column) == (6, 5)
    assert _run(src, "ML803", fix="unsafe").fixed_source is None  # no guard to move it into


GUARD_DEF = """\
    import multiprocessing as mp

    if __name__ == "__main__":
        scale = 2.0

        def featurise(x):
            return x * scale

        with mp.Pool(2) as pool:
            pool.map(featurise, [1.0])
    """


def test_ml804_message_and_fix_skipped_for_guard_bound_free_name() -> None:
    [v] = _run(GUARD_DEF, "ML804").violations
    assert (v.line, v.column) == (10, 18)
    assert v.message == (
        "'featurise' cannot be pickled by reference for worker processes (defined under if "
        '__name__ == "__main__"); define it at module top level'
    )
    assert _run(GUARD_DEF, "ML804", fix="unsafe").fixed_source is None
    movable = GUARD_DEF.replace("x * scale", "x * 2.0")
    fixed = _run(movable, "ML804", fix="unsafe").fixed_source
    assert fixed is not None
    assert "\ndef featurise(x):\n    return x * 2.0\n\n\nif __name__" in fixed


def test_ml805_message() -> None:
    src = """\
        from multiprocessing import Pool

        results = []

        def work(x):
            results.append(x * 2)

        def main(data):
            with Pool(4) as pool:
                pool.map(work, data)
        """
    [v] = _run(src, "ML805").violations
    assert (v.line, v.column) == (6, 5)
    assert v.message == (
        "Worker 'work' runs in another process; its change to global 'results' is lost (the "
        "parent's 'results' never changes) — return the result from the worker instead"
    )
    threaded = src.replace("multiprocessing import", "multiprocessing.dummy import")
    assert _run(threaded, "ML805").violations == []


def test_ml806_message_and_lock() -> None:
    src = """\
        import threading

        processed = 0

        def worker(items):
            global processed
            for item in items:
                processed += 1

        threading.Thread(target=worker, args=([1],)).start()
        """
    [v] = _run(src, "ML806").violations
    assert (v.line, v.column) == (8, 9)
    assert v.message == (
        "'processed += …' in thread target 'worker' is a read-modify-write on shared state; "
        "concurrent threads lose updates — guard it with a threading.Lock"
    )
    locked = src.replace(
        "        processed += 1", "        with lock:\n                    processed += 1"
    )
    assert _run(locked, "ML806").violations == []


def test_ml807_message_and_fix_skip_when_used_outside_block() -> None:
    src = """\
        from concurrent.futures import ProcessPoolExecutor

        def score(rows):
            ex = ProcessPoolExecutor()
            out = list(ex.map(len, rows))
            return out
        """
    [v] = _run(src, "ML807").violations
    assert (v.line, v.column) == (4, 5)
    assert v.message == (
        "'ex = ProcessPoolExecutor(…)' is never shut down; worker processes outlive this "
        "function — use 'with ProcessPoolExecutor(…) as ex:' or call ex.shutdown()"
    )
    assert _run(src, "ML807", fix="unsafe").fixed_source is not None
    outside = """\
        from concurrent.futures import ProcessPoolExecutor

        def score(rows):
            if rows:
                ex = ProcessPoolExecutor()
                first = ex.submit(len, rows[0])
            return list(ex.map(len, rows)), first
        """
    assert len(_run(outside, "ML807").violations) == 1
    assert _run(outside, "ML807", fix="unsafe").fixed_source is None


def test_ml807_pool_message_names_close_and_join() -> None:
    src = """\
        import multiprocessing as mp

        def run(rows):
            pool = mp.Pool(2)
            return pool.map(len, rows)
        """
    [v] = _run(src, "ML807").violations
    assert v.message.endswith("or call pool.close() and pool.join()")


def test_ml808_safe_fix() -> None:
    src = """\
        import asyncio

        async def main():
            loop = asyncio.get_event_loop()
            return loop
        """
    [v] = _run(src, "ML808").violations
    assert (v.line, v.column) == (4, 12)
    fixed = _run(src, "ML808", fix="safe").fixed_source
    assert fixed is not None and "loop = asyncio.get_running_loop()" in fixed


def test_ml809_return_exceptions_true_not_flagged() -> None:
    src = """\
        import asyncio

        async def main(tasks):
            try:
                await asyncio.gather(*tasks, return_exceptions=True)
            except* ValueError:
                pass
            try:
                await asyncio.gather(*tasks)
            except* ValueError:
                pass
        """
    [v] = _run(src, "ML809").violations
    assert (v.line, v.column) == (9, 15)


def test_ml98x_are_off_by_default() -> None:
    rules = all_rules()
    for code in ("ML981", "ML982", "ML983"):
        assert rules[code].default_enabled is False
    for code in ("ML801", "ML802", "ML803", "ML804", "ML805", "ML806", "ML807", "ML808", "ML809"):
        assert rules[code].default_enabled is True


def test_ml981_fix_parenthesises_subscripted_result() -> None:
    src = """\
        async def main(client, xs):
            return [await client.get(x) for x in xs][0]
        """
    fixed = _run(src, "ML981", fix="unsafe").fixed_source
    assert fixed is not None
    assert "return (await asyncio.gather(*(client.get(x) for x in xs)))[0]" in fixed


def test_ml982_and_ml983_messages() -> None:
    src = """\
        import asyncio

        _lock = asyncio.Lock()
        q = asyncio.Queue(maxsize=0)

        async def f(x):
            async with _lock:
                return await g(x)
        """
    [v] = _run(src, "ML982").violations
    assert (v.line, v.column) == (7, 5)
    assert v.message.startswith("'async with _lock' is held across 'await g(x)'")
    [q] = _run(src, "ML983").violations
    assert (q.line, q.column) == (4, 5)
    assert q.message == (
        "asyncio.Queue() without maxsize grows without limit when producers outpace "
        "consumers; set maxsize so that put() applies backpressure"
    )
