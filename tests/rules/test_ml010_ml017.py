"""ML010-ML017: exact messages and positions, noqa, options and fix conditions."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from mllint.api import check_source
from mllint.config import settings_from_toml
from mllint.diagnostics import FileResult


def _run(
    source: str,
    code: str,
    fix: str | None = None,
    config: dict[str, Any] | None = None,
    path: str = "pkg/train.py",
    package: str | None = None,
) -> FileResult:
    settings = settings_from_toml({"tool": {"mllint": config or {}}}, Path("pyproject.toml"))
    return check_source(
        textwrap.dedent(source), path, settings=settings, select=[code], fix=fix, package=package
    )


# -- ML010 ---------------------------------------------------------------------------------

EPOCHS = """\
    def train(raw, epochs, step):
        batches = (b * 2 for b in raw)
        for epoch in range(epochs):
            for xb in batches:
                step(xb)
    """


def test_ml010_epoch_form_message_and_position() -> None:
    [v] = _run(EPOCHS, "ML010").violations
    assert (v.line, v.column) == (4, 19)
    assert v.message == (
        "'batches' is a one-shot iterator created outside this loop; it is empty after the "
        "first iteration of the outer loop"
    )


def test_ml010_second_pass_names_the_first_line() -> None:
    src = """\
        def stats(values):
            it = map(float, values)
            total = sum(it)
            for x in it:
                print(x - total)
        """
    [v] = _run(src, "ML010").violations
    assert (v.line, v.column) == (4, 14)
    assert v.message == (
        "'it' is a one-shot iterator already consumed at line 3; this loop sees no items"
    )


def test_ml010_noqa() -> None:
    src = EPOCHS.replace("for xb in batches:", "for xb in batches:  # noqa: ML010")
    assert _run(src, "ML010").violations == []


def test_ml010_rebound_name_is_unknown() -> None:
    src = EPOCHS.replace("    for epoch", "    batches = list(batches)\n    for epoch")
    assert _run(src, "ML010").violations == []


def test_ml010_for_with_break_is_chunked_reading() -> None:
    src = """\
        def read(fh_path, n):
            fh = open(fh_path)
            while n:
                for line in fh:
                    if line == "\\n":
                        break
                n -= 1
        """
    assert _run(src, "ML010").violations == []


def test_ml010_compressed_file_handles_and_chain_from_iterable() -> None:
    src = """\
        import bz2
        import itertools
        import lzma
        from itertools import chain

        def passes(p, q, groups):
            f = bz2.open(p, "rt")
            n = sum(1 for _ in f)
            for line in f:
                print(line, n)
            g = lzma.open(q, "rt")
            for epoch in range(3):
                for line in g:
                    print(epoch, line)
            flat = itertools.chain.from_iterable(groups)
            also = chain.from_iterable(groups)
            first = list(flat)
            total = sum(also)
            return [x for x in flat], [x for x in also], first, total
        """
    found = [(v.line, v.column) for v in _run(src, "ML010").violations]
    assert found == [(9, 17), (13, 21), (19, 24), (19, 43)]


def test_ml010_has_no_fix() -> None:
    assert _run(EPOCHS, "ML010", fix="unsafe").fixed_source is None


# -- ML011 ---------------------------------------------------------------------------------

GROUPS = """\
    from itertools import groupby

    def by_key(rows, key):
        return {k: g for k, g in groupby(rows, key=key)}
    """


def test_ml011_message_position_and_fix() -> None:
    result = _run(GROUPS, "ML011", fix="unsafe")
    [v] = result.violations if result.fixed_source is None else _run(GROUPS, "ML011").violations
    assert (v.line, v.column) == (4, 16)
    assert v.message == (
        "Group 'g' from itertools.groupby is consumed lazily; after the loop advances it is "
        "empty — store list(g)"
    )
    assert result.fixed_source is not None
    assert "{k: list(g) for k, g in groupby(rows, key=key)}" in result.fixed_source
    assert _run(GROUPS, "ML011", fix="safe").fixed_source is None


def test_ml011_no_fix_when_list_is_rebound() -> None:
    src = GROUPS + "\nlist = tuple\n"
    assert len(_run(src, "ML011").violations) == 1
    assert _run(src, "ML011", fix="unsafe").fixed_source is None


def test_ml011_local_groupby_is_not_itertools() -> None:
    src = """\
        def groupby(rows, key):
            return []

        def by_key(rows, key):
            return {k: g for k, g in groupby(rows, key=key)}
        """
    assert _run(src, "ML011").violations == []


def test_ml011_name_not_read_after_loop() -> None:
    src = """\
        from itertools import groupby

        def sizes(rows):
            out = []
            for k, g in groupby(rows):
                cur = g
                out.append(len(list(cur)))
            return out
        """
    assert _run(src, "ML011").violations == []


# -- ML012 ---------------------------------------------------------------------------------

BATCHED = """\
    def batched(rows, size):
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) == size:
                yield batch
                batch = []
    """


def test_ml012_message_position_and_fix() -> None:
    [v] = _run(BATCHED, "ML012").violations
    assert (v.line, v.column) == (3, 5)
    assert v.message == (
        "Partial batch in 'batch' is never yielded after the loop; the last len(data) % size "
        "items are silently dropped"
    )
    fixed = _run(BATCHED, "ML012", fix="unsafe").fixed_source
    assert fixed is not None and fixed.endswith(
        "            batch = []\n    if batch:\n        yield batch\n"
    )
    assert _run(BATCHED, "ML012", fix="safe").fixed_source is None


def test_ml012_no_fix_when_the_emission_assigns() -> None:
    src = BATCHED.replace("yield batch", "last = flush(batch)")
    [v] = _run(src, "ML012").violations
    assert "never flushed" in v.message
    assert _run(src, "ML012", fix="unsafe").fixed_source is None


def test_ml012_drop_last_parameter() -> None:
    src = BATCHED.replace("(rows, size)", "(rows, size, drop_last=True)")
    assert _run(src, "ML012").violations == []


# -- ML013 ---------------------------------------------------------------------------------

CLEARED = """\
    def batch_rows(rows, n):
        batch = []
        for r in rows:
            batch.append(r)
            if len(batch) == n:
                yield batch
                batch.clear()
    """


def test_ml013_message_position_and_safe_fix() -> None:
    [v] = _run(CLEARED, "ML013").violations
    assert (v.line, v.column) == (7, 13)
    assert v.message == (
        "'batch' was yielded and is then cleared in place; the consumer's list is emptied too "
        "— rebind with batch = [] instead"
    )
    fixed = _run(CLEARED, "ML013", fix="safe").fixed_source
    assert fixed is not None and "            batch = []\n" in fixed and "clear" not in fixed


def test_ml013_no_fix_for_global_or_parameter() -> None:
    glob = CLEARED.replace("    batch = []\n", "    global batch\n    batch = []\n", 1)
    assert len(_run(glob, "ML013").violations) == 1
    assert _run(glob, "ML013", fix="safe").fixed_source is None
    param = CLEARED.replace("(rows, n)", "(rows, n, batch: list)").replace(
        "    batch = []\n", "", 1
    )
    assert len(_run(param, "ML013").violations) == 1
    assert _run(param, "ML013", fix="safe").fixed_source is None


def test_ml013_append_in_between_is_not_flagged() -> None:
    src = CLEARED.replace(
        "            batch.clear()", "            batch.append(None)\n            batch.clear()"
    )
    assert _run(src, "ML013").violations == []


# -- ML014 ---------------------------------------------------------------------------------

EVAL_MODE = """\
    from contextlib import contextmanager

    @contextmanager
    def evaluation_mode(model):
        model.eval()
        yield model
        model.train()
    """


def test_ml014_shape_a_message_and_fix() -> None:
    [v] = _run(EVAL_MODE, "ML014").violations
    assert (v.line, v.column) == (6, 5)
    assert v.message == (
        "Cleanup after 'yield' in 'evaluation_mode' is skipped when the with-body raises; wrap "
        "the yield in try/finally"
    )
    fixed = _run(EVAL_MODE, "ML014", fix="unsafe").fixed_source
    assert fixed is not None
    assert "    try:\n        yield model\n    finally:\n        model.train()\n" in fixed


def test_ml014_shape_b_message_and_option() -> None:
    src = """\
        import random
        from contextlib import contextmanager
        import mylib

        @contextmanager
        def seeded(seed):
            random.seed(seed)
            yield
        """
    [v] = _run(src, "ML014").violations
    assert (
        v.message
        == "'seeded' changes global state (random.seed(seed)) before 'yield' and never restores it"
    )
    assert _run(src, "ML014", fix="unsafe").fixed_source is None
    custom = src.replace("random.seed(seed)", "mylib.set_backend('cpu')")
    assert _run(custom, "ML014").violations == []
    config = {
        "contextmanager-cleanup-skipped": {"extend-global-state-calls": ["mylib.set_backend"]}
    }
    [v] = _run(custom, "ML014", config=config).violations
    assert "(mylib.set_backend('cpu'))" in v.message


def test_ml014_yield_then_return_in_branch() -> None:
    src = """\
        from contextlib import contextmanager

        @contextmanager
        def maybe(model, on):
            if not on:
                yield
                return
            try:
                yield
            finally:
                model.train()
        """
    assert _run(src, "ML014").violations == []


def test_ml014_cleanup_on_the_line_of_the_return_and_one_line_suites() -> None:
    src = """\
        from contextlib import contextmanager

        @contextmanager
        def maybe(model, on):
            model.eval()
            if on:
                yield model
                model.train(); return
            yield model
        """
    [v] = _run(src, "ML014").violations
    assert (v.line, v.column) == (7, 9)
    assert _run(src, "ML014", fix="unsafe").fixed_source is None  # a return follows
    assert _run(src.replace("model.train(); return", "pass; return"), "ML014").violations == []
    one_line = """\
        from contextlib import contextmanager

        @contextmanager
        def maybe(model, on):
            model.eval()
            if on: yield model
            model.train()
        """
    [v] = _run(one_line, "ML014").violations
    assert (v.line, v.column) == (6, 12)
    assert _run(one_line, "ML014", fix="unsafe").fixed_source is None
    protected = one_line.replace("if on: yield model", "with model.no_sync(): yield model")
    assert _run(protected, "ML014").violations == []
    tail = one_line.replace(
        "if on: yield model\n    model.train()", "if on: yield model; model.train()"
    )
    assert [v.line for v in _run(tail, "ML014").violations] == [6]


def test_ml014_timer_that_only_reports_is_not_flagged() -> None:
    src = """\
        import time
        from contextlib import contextmanager
        from timeit import default_timer

        @contextmanager
        def timer(name):
            t0 = time.time()
            yield
            print(f"[{name}] done in {time.time() - t0:.0f} s")

        @contextmanager
        def stage(name, log):
            start = default_timer()
            yield
            elapsed = round(default_timer() - start, 2)
            log.info("{} took {}s".format(name, elapsed))
        """
    assert _run(src, "ML014").violations == []


def test_ml014_timer_that_also_releases_is_flagged() -> None:
    src = """\
        import time
        from contextlib import contextmanager

        import torch

        @contextmanager
        def timed_gpu(name, handle):
            t0 = time.time()
            yield
            print(f"[{name}] {time.time() - t0:.1f}s")
            torch.cuda.empty_cache()

        @contextmanager
        def timed_file(path):
            t0 = time.time()
            fh = open(path)
            yield fh
            print(f"read in {time.time() - t0:.1f}s", fh.close())
        """
    assert len(_run(src, "ML014").violations) == 2


# -- ML015 ---------------------------------------------------------------------------------

TIMER = """\
    class Timer:
        def __exit__(self, exc_type, exc, tb):
            return True
    """


def test_ml015_message_position_and_fix() -> None:
    [v] = _run(TIMER, "ML015").violations
    assert (v.line, v.column) == (3, 9)
    assert v.message == (
        "__exit__ returns True, which suppresses every exception raised in the with-block "
        "(failed training or saving looks successful)"
    )
    fixed = _run(TIMER, "ML015", fix="unsafe").fixed_source
    assert fixed is not None and "return False" in fixed
    assert _run(TIMER, "ML015", fix="safe").fixed_source is None


def test_ml015_guarded_by_issubclass_or_type() -> None:
    src = TIMER.replace(
        "        return True",
        "        if issubclass(exc_type, KeyError):\n                return True",
    )
    assert _run(src, "ML015").violations == []
    src = TIMER.replace(
        "        return True", "        if exc_type is None:\n                return True"
    )
    assert _run(src, "ML015").violations == []


def test_ml015_falsy_constants() -> None:
    for value in ("False", "None", "0", '""', "[]"):
        assert _run(TIMER.replace("True", value), "ML015").violations == []


# -- ML016 ---------------------------------------------------------------------------------


def test_ml016_message_and_position() -> None:
    src = """\
        import contextlib

        def run(trainer):
            with contextlib.suppress(BaseException):
                trainer.fit()
        """
    [v] = _run(src, "ML016").violations
    assert (v.line, v.column) == (4, 10)
    assert v.message == (
        "suppress(BaseException) hides every error (CUDA OOM, shape errors, bugs) and silently "
        "skips the rest of the block"
    )


def test_ml016_specific_exceptions() -> None:
    src = """\
        from contextlib import suppress

        def run(path):
            with suppress(FileNotFoundError, PermissionError):
                path.unlink()
        """
    assert _run(src, "ML016").violations == []


# -- ML017 ---------------------------------------------------------------------------------

BLANKET = """\
    import warnings

    warnings.filterwarnings("ignore")
    """


def test_ml017_message_and_roles() -> None:
    [v] = _run(BLANKET, "ML017", package="mypkg").violations
    assert (v.line, v.column) == (3, 1)
    assert v.message == (
        'warnings.filterwarnings("ignore") at import time silences every warning in the process '
        "(ConvergenceWarning, SettingWithCopyWarning, RuntimeWarning: divide by zero…); filter "
        "a specific category/module instead"
    )
    [_] = _run(BLANKET, "ML017", path="mypkg/__init__.py").violations
    assert _run(BLANKET, "ML017", path="tests/test_x.py", package="tests").violations == []
    assert _run(BLANKET, "ML017", path="scripts/run.py", package="mypkg").violations == []
    assert _run(BLANKET, "ML017").violations == []  # not in a package


def test_ml017_include_scoped_option() -> None:
    src = """\
        import warnings

        def fit():
            warnings.simplefilter("ignore")
        """
    assert _run(src, "ML017", package="mypkg").violations == []
    config = {"blanket-warning-filter": {"include-scoped": True}}
    assert len(_run(src, "ML017", package="mypkg", config=config).violations) == 1


def test_ml017_noqa_by_name() -> None:
    src = BLANKET.replace('("ignore")', '("ignore")  # mllint: ignore[blanket-warning-filter]')
    assert _run(src, "ML017", package="mypkg").violations == []
