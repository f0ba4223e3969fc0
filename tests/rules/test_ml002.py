"""ML002 lru-cache-on-method: columns, messages, suppression and fix conditions."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from mllint.api import check_source
from mllint.config import settings_from_toml
from mllint.diagnostics import FileResult
from mllint.rule import all_rules


def _run(source: str, fix: str | None = None, config: dict[str, Any] | None = None) -> FileResult:
    settings = settings_from_toml({"tool": {"mllint": config or {}}}, Path("pyproject.toml"))
    return check_source(
        textwrap.dedent(source), "pkg/loader.py", settings=settings, select=["ML002"], fix=fix
    )


PROPERTY_STACK = """\
    import functools

    class Loader:
        @property
        @functools.cache
        def index(self):
            return [1, 2]
    """


def test_reported_at_the_decorator_with_message() -> None:
    [v] = _run(PROPERTY_STACK).violations
    assert (v.line, v.column) == (5, 5)
    assert v.message == (
        "@functools.cache on method 'index' caches on self: instances stay alive until evicted "
        "(forever with maxsize=None) and the cache is shared by all instances"
    )


def test_noqa_on_the_decorator_line() -> None:
    src = PROPERTY_STACK.replace("@functools.cache", "@functools.cache  # noqa: ML002")
    assert _run(src).violations == []
    src = PROPERTY_STACK.replace(
        "@functools.cache", "@functools.cache  # mllint: ignore[lru-cache-on-method]"
    )
    assert _run(src).violations == []


def test_fix_requires_python_38() -> None:
    assert _run(PROPERTY_STACK, fix="unsafe").fixed_source is not None
    assert _run(PROPERTY_STACK, fix="unsafe", config={"python-version": "3.7"}).fixed_source is None


def test_no_safe_fix() -> None:
    assert _run(PROPERTY_STACK, fix="safe").fixed_source is None


def test_cached_property_name_taken_skips_fix() -> None:
    src = """\
        from functools import lru_cache
        cached_property = property

        class Loader:
            @property
            @lru_cache(maxsize=None)
            def index(self):
                return [1, 2]
        """
    assert len(_run(src).violations) == 1
    assert _run(src, fix="unsafe").fixed_source is None


def test_shadowed_decorator_name_is_not_functools() -> None:
    src = """\
        from functools import lru_cache

        def lru_cache(fn):
            return fn

        class Loader:
            @lru_cache
            def index(self):
                return [1, 2]
        """
    assert _run(src).violations == []


def test_slots_with_dict_allows_fix() -> None:
    src = """\
        import functools

        class Loader:
            __slots__ = ("root", "__dict__")

            @property
            @functools.cache
            def index(self):
                return [1, 2]
        """
    fixed = _run(src, fix="unsafe").fixed_source
    assert fixed is not None and "@functools.cached_property\n" in fixed


def test_dataclass_without_slots_allows_fix() -> None:
    src = """\
        import dataclasses
        import functools

        @dataclasses.dataclass(frozen=True, slots=False)
        class Loader:
            root: str

            @property
            @functools.cache
            def index(self):
                return [1, 2]
        """
    assert _run(src, fix="unsafe").fixed_source is not None


def test_documentation_sections() -> None:
    doc = all_rules()["ML002"].documentation()
    for section in (
        "## What it does",
        "## Why is this bad?",
        "## Example",
        "## Use instead",
        "## Fix safety",
    ):
        assert section in doc
    assert "true only for unbounded caches" in " ".join(doc.split())
