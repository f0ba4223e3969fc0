"""The ast pre-scan gates of the concurrency rules (ML801-ML809, ML981-ML983): near misses the
gate rejects, and unusual spellings of each trigger that it must let through (and the rule
then flags, at the asserted lines)."""

from __future__ import annotations

from mllint.api import make_request
from mllint.config import Settings
from tests.prescan_support import gated, gated_lines, settings_from


def test_default_off_rules_need_codes() -> None:
    """The ML98x rules are default-off: ``make_request(Settings(), ...)`` leaves them out, so
    these tests pass ``codes=[...]``."""
    request = make_request(Settings(), "pkg/mod.py")
    codes = {er.rule.code for er in request.rules}
    assert not codes & {"ML981", "ML982", "ML983"}
    assert {"ML801", "ML802", "ML803"} <= codes


# -- ML801 blocking-io-in-async -------------------------------------------------------------------
def test_ml801_rejects_io_outside_the_async_body() -> None:
    src = """\
        import asyncio

        import pandas as pd
        import torch


        def load_sync(path):
            return pd.read_csv(path)


        async def predict(path):
            frame = await asyncio.to_thread(pd.read_csv, path)

            def helper():
                return torch.load(path)

            weights = await asyncio.to_thread(lambda: torch.load(path))
            return frame, helper, weights


        async def reader(read_csv, path):
            return read_csv(path)  # a parameter, not pandas' function
        """
    assert not gated(src, "ML801")


def test_ml801_rejects_unimported_receivers() -> None:
    src = """\
        async def handle(pd, np, path):
            frame = pd.read_csv(path)
            np.save(path, frame)
            return frame
        """
    assert not gated(src, "ML801")


def test_ml801_accepts_aliases_defaults_decorators_and_nested_async() -> None:
    src = """\
        from functools import lru_cache

        import numpy as np
        from pandas import read_parquet as rp


        def make_app(app):
            class Handlers:
                async def features(self, path):
                    return rp(path)

            async def outer(path):
                @lru_cache(maxsize=np.load(path).size)
                def cached():
                    return 1

                score = lambda scale=np.load(path + ".npy"): scale
                return cached, score

            return Handlers, outer
        """
    assert gated_lines(src, "ML801") == [10, 13, 17]


def test_ml801_accepts_option_names_through_relative_imports() -> None:
    src = """\
        from .io import load_checkpoint as load_ckpt


        async def warmup(app):
            app.state.model = load_ckpt("ckpt/latest")
        """
    config = {"blocking-io-in-async": {"extend-blocking-calls": ["mlserve.io.load_checkpoint"]}}
    assert not gated(src, "ML801", package="mlserve")
    assert gated_lines(src, "ML801", settings=settings_from(config), package="mlserve") == [5]


# -- ML802 unawaited-coroutine --------------------------------------------------------------------
def test_ml802_rejects_awaited_scheduled_and_decorated_coroutines() -> None:
    src = """\
        import asyncio

        from fastapi import FastAPI

        app = FastAPI()


        @app.get("/health")
        async def health():
            return {"ok": True}


        async def flush(batch):
            await asyncio.sleep(0)


        class Client:
            def close(self):
                return None


        class Worker:
            async def close(self):
                await flush([])


        async def main(client):
            health()
            await flush([1])
            task = asyncio.create_task(flush([2]))
            asyncio.gather(flush([3]))
            client.close()
            Client().close()
            return task
        """
    assert not gated(src, "ML802")


def test_ml802_accepts_aliases_and_methods_under_if() -> None:
    src = """\
        import sys
        from asyncio import sleep as nap


        class Batcher:
            if sys.version_info >= (3, 11):

                async def flush(this):
                    await nap(0)

            def close(this):
                this.flush()
                nap(0.5)
        """
    assert gated_lines(src, "ML802") == [12, 13]


# -- ML803 process-start-without-main-guard -------------------------------------------------------
def test_ml803_rejects_guarded_and_thread_only_starts() -> None:
    src = """\
        import multiprocessing as mp
        import threading
        from concurrent.futures import ThreadPoolExecutor

        from torch.utils.data import DataLoader

        io_pool = ThreadPoolExecutor(max_workers=4)
        ticker = threading.Thread(target=print)
        ticker.start()
        loader = DataLoader(range(10), batch_size=2)
        for batch in loader:
            print(batch)
        make_pool = lambda: mp.Pool(2)


        def main():
            with mp.Pool(4) as pool:
                return pool.map(abs, [1, -2])


        if __name__ == "__main__":
            with mp.Pool(4) as pool:
                pool.map(abs, [1, -2])
        else:
            worker = mp.Process(target=main)
        """
    assert not gated(src, "ML803")


def test_ml803_accepts_a_start_in_a_main_guard_else() -> None:
    src = """\
        import multiprocessing as mp

        if __name__ == "__main__":
            pass
        else:
            with mp.Pool(2) as pool:
                pool.map(abs, [1, -2])
        """
    assert gated_lines(src, "ML803") == [6]


def test_ml803_accepts_aliases_contexts_and_non_guard_blocks() -> None:
    src = """\
        import multiprocessing as mproc
        import sys
        from torch.multiprocessing import spawn as launch

        ctx = mproc.get_context("spawn")
        try:
            with ctx.Pool(2) as pool:
                pool.map(abs, [1, -2])
        except OSError:
            pass
        if __name__ != "__main__":
            launch(print, nprocs=2)
        elif sys.platform == "linux":
            [ctx.Process(target=print).start() for _ in range(2)]
        """
    assert gated_lines(src, "ML803") == [7, 12, 14]


# -- ML804 unpicklable-process-target -------------------------------------------------------------
def test_ml804_rejects_thread_pools_and_top_level_functions() -> None:
    src = """\
        from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


        def score(c):
            return c * 2


        class Runner:
            def score(self, c):
                return c

            def run(self, configs):
                with ProcessPoolExecutor() as pool:
                    a = list(pool.map(score, configs))
                    b = list(pool.map(self.score, configs))
                with ThreadPoolExecutor() as threads:
                    c = list(threads.map(lambda x: x + 1, configs))
                return a, b, c
        """
    assert not gated(src, "ML804")


def test_ml804_accepts_partial_alias_context_process_and_positional_target() -> None:
    src = """\
        import multiprocessing
        from functools import partial as bind


        async def sweep(values):
            def inner(x):
                return x * 2

            ctx = multiprocessing.get_context("fork")
            proc = ctx.Process(None, inner, args=(1,))
            with multiprocessing.Pool(2) as pool:
                pool.apply_async(func=bind(lambda a, k: a * k, k=2), args=(3,))
            return proc
        """
    assert gated_lines(src, "ML804") == [10, 12]


# -- ML805 process-worker-mutates-global ----------------------------------------------------------
def test_ml805_rejects_thread_workers_pure_workers_and_sklearn_parallel() -> None:
    src = """\
        from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

        from sklearn.utils.parallel import Parallel, delayed

        results = []


        def record(x):
            results.append(x)


        def square(x):
            return x * x


        def run(xs):
            with ThreadPoolExecutor() as threads:
                threads.map(record, xs)
            with ProcessPoolExecutor() as procs:
                out = list(procs.map(square, xs))
            Parallel(n_jobs=2)(delayed(record)(x) for x in xs)
            record(out)
        """
    assert not gated(src, "ML805")


def test_ml805_accepts_joblib_alias_and_mutations_in_comprehensions() -> None:
    src = """\
        import joblib as jl

        seen = set()
        total = 0


        def tally(xs):
            global total
            [seen.add(x) for x in xs]
            total = total + len(xs)


        def run(chunks):
            jl.Parallel(n_jobs=2)([jl.delayed(tally)(c) for c in chunks])
        """
    assert gated_lines(src, "ML805") == [9, 10]


# -- ML806 unlocked-shared-update-in-thread -------------------------------------------------------
def test_ml806_rejects_local_counters_and_non_thread_functions() -> None:
    src = """\
        import threading

        processed = 0


        def count_local(items):
            count = 0
            for _ in items:
                count += 1
            return count


        def bump():
            global processed
            processed += 1


        def start(items):
            t = threading.Thread(target=count_local, args=(items,))
            t.start()
            bump()
            return t
        """
    assert not gated(src, "ML806")


def test_ml806_accepts_timer_alias_bound_method_and_keyword_function() -> None:
    src = """\
        from threading import Timer as Delay


        class Heartbeat:
            def __init__(self):
                self.ticks = 0

            def tick(self):
                self.ticks = self.ticks + 1

            def start(self):
                Delay(1.0, function=self.tick).start()
        """
    assert gated_lines(src, "ML806") == [9]


# -- ML807 executor-never-shut-down ---------------------------------------------------------------
def test_ml807_rejects_module_level_with_items_and_attributes() -> None:
    src = """\
        from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

        shared = ProcessPoolExecutor(max_workers=2)


        class Service:
            def __init__(self):
                self.pool = ThreadPoolExecutor()

            def run(self, xs):
                with ThreadPoolExecutor() as ex:
                    return list(ex.map(abs, xs))
        """
    assert not gated(src, "ML807")


def test_ml807_accepts_context_pools_in_async_and_nested_defs() -> None:
    src = """\
        import multiprocessing as mp
        from multiprocessing.pool import ThreadPool as TP


        class Loader:
            def load(self, paths):
                def fetch():
                    tp = TP(4)
                    return tp.map(len, paths)

                return fetch()


        async def score(rows):
            pool = mp.get_context("spawn").Pool(2)
            return pool.map(abs, rows)
        """
    assert gated_lines(src, "ML807") == [8, 15]


# -- ML808 get-event-loop-in-coroutine ------------------------------------------------------------
def test_ml808_rejects_sync_defs_lambdas_and_other_receivers() -> None:
    src = """\
        import asyncio


        def legacy():
            return asyncio.get_event_loop()


        async def handler(self):
            get = lambda: asyncio.get_event_loop()
            return get, self.get_event_loop()
        """
    assert not gated(src, "ML808")


def test_ml808_accepts_aliases_methods_and_nested_defaults() -> None:
    src = """\
        from asyncio import get_event_loop as gel


        def factory():
            class Service:
                async def run(self):
                    def callback(loop=gel()):
                        return loop

                    return callback

            return Service
        """
    assert gated_lines(src, "ML808") == [7]


# -- ML809 except-star-around-gather --------------------------------------------------------------
def test_ml809_rejects_return_exceptions_nested_gathers_and_plain_except() -> None:
    src = """\
        import asyncio


        async def run(jobs, strict):
            try:
                await asyncio.gather(*jobs, return_exceptions=True)
                if strict:
                    await asyncio.gather(*jobs)
            except* ValueError:
                pass
            try:
                await asyncio.gather(*jobs)
            except ValueError:
                pass
        """
    assert not gated(src, "ML809")


def test_ml809_accepts_aliases_annotations_and_false_flag() -> None:
    src = """\
        from asyncio import gather as g


        async def run(a, b):
            try:
                results: list = await g(a(), b(), return_exceptions=False)
            except* (ValueError, KeyError) as eg:
                results = list(eg.exceptions)
            return results
        """
    assert gated_lines(src, "ML809") == [6]


# -- ML981 sequential-await-in-loop ---------------------------------------------------------------
def test_ml981_rejects_async_for_ordered_streams_and_loop_invariant_calls() -> None:
    src = """\
        async def relay(ws, stream, client, items):
            out = [await x async for x in stream]
            for item in items:
                await ws.send_json(item)
                await client.ping()
            async for item in stream:
                await client.fetch(item)
            return out
        """
    assert not gated(src, "ML981")


def test_ml981_accepts_nested_targets_and_keyword_arguments() -> None:
    src = """\
        async def embed_all(client, pairs, groups):
            out = []
            for i, (text, lang) in enumerate(pairs):
                vec = await client.embed(text, language=lang)
                out.append(vec)
            nested = [await client.embed(t) for g in groups for t in g]
            return out, nested
        """
    assert gated_lines(src, "ML981") == [4, 6]


# -- ML982 lock-held-across-await -----------------------------------------------------------------
def test_ml982_rejects_locks_without_awaits_and_semaphores() -> None:
    src = """\
        import asyncio
        import threading

        _lock = asyncio.Lock()
        _sem = asyncio.Semaphore(4)
        _tlock = threading.Lock()


        async def get(cache, key, fetch):
            async with _lock:
                value = cache.get(key)
            async with _sem:
                value = await fetch(key)
            with _tlock:
                cache[key] = value
            return value
        """
    assert not gated(src, "ML982")


def test_ml982_accepts_aliased_lock_on_self() -> None:
    src = """\
        from asyncio import Lock as ALock


        class Cache:
            def __init__(self):
                self._mu = ALock()

            async def get(self, key, fetch):
                async with self._mu:
                    return await fetch(key)
        """
    assert gated_lines(src, "ML982") == [9]


# -- ML983 unbounded-queue ------------------------------------------------------------------------
def test_ml983_rejects_bounded_star_args_and_manager_queues() -> None:
    src = """\
        import asyncio
        import multiprocessing as mp
        import queue

        requests = asyncio.Queue(maxsize=10)
        jobs = queue.Queue(100)
        results = queue.PriorityQueue(**{"maxsize": 0})
        shared = mp.Manager().Queue()
        """
    assert not gated(src, "ML983")


def test_ml983_accepts_aliases_and_non_positive_literals() -> None:
    src = """\
        import multiprocessing
        from queue import LifoQueue as Stack

        stack = Stack(maxsize=-1)
        inbox = multiprocessing.Queue(0)
        """
    assert gated_lines(src, "ML983") == [4, 5]


def test_ml803_accepts_look_alike_main_guards() -> None:
    """An implicitly concatenated "__main__" or a `!=` test is no main guard for the rule."""
    src = """\
        from concurrent.futures import ProcessPoolExecutor as PPE

        if __name__ == "__ma" "in__":
            with PPE() as pool:
                pool.submit(print)
        if "__main__" == __name__:
            PPE().submit(print)
        """
    assert gated_lines(src, "ML803") == [4]
