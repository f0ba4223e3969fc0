"""ML702 module-getattr-falls-through and ML703 lazy-export-untyped: messages, positions,
fix conditions."""

from __future__ import annotations

import textwrap

from mllint.api import check_source
from mllint.diagnostics import FileResult


def _run(
    source: str, code: str, fix: str | None = None, path: str = "pkg/__init__.py"
) -> FileResult:
    return check_source(textwrap.dedent(source), path, select=[code], fix=fix)


FALLS = """\
    def __getattr__(name):
        if name == "Model":
            from .model import Model
            return Model
    """


def test_ml702_message_position_and_safe_fix() -> None:
    [v] = _run(FALLS, "ML702").violations
    assert (v.line, v.column) == (1, 1)
    assert v.message.startswith("Module __getattr__ can fall through and return None")
    fixed = _run(FALLS, "ML702", fix="safe").fixed_source
    assert fixed is not None
    assert fixed.endswith(
        '    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")\n'
    )
    assert _run(fixed, "ML702").violations == []


def test_ml702_wrong_exception_has_own_message_and_no_fix() -> None:
    src = """\
        def __getattr__(name):
            raise ImportError(name)
        """
    result = _run(src, "ML702", fix="unsafe")
    [v] = result.violations
    assert v.message.startswith("Module __getattr__ raises ImportError for unknown names")
    assert result.fixed_source is None


def test_ml702_explicit_return_none_has_no_fix() -> None:
    src = """\
        def __getattr__(name):
            if name == "x":
                return 1
            return None
        """
    result = _run(src, "ML702", fix="safe")
    assert len(result.violations) == 1
    assert result.fixed_source is None


def test_ml702_shadowed_attribute_error_skips_fix() -> None:
    src = FALLS + "AttributeError = KeyError\n"
    result = _run(src, "ML702", fix="safe")
    assert len(result.violations) == 1
    assert result.fixed_source is None


def test_ml702_exhaustive_paths_are_quiet() -> None:
    src = """\
        def __getattr__(name):
            try:
                return _load(name)
            except KeyError:
                raise AttributeError(name) from None


        def _load(name):
            return name
        """
    assert _run(src, "ML702").violations == []


def test_ml703_reported_at_the_literal_with_message() -> None:
    src = """\
        def __getattr__(name):
            if name == "Trainer":
                from .trainer import Trainer
                return Trainer
            raise AttributeError(name)
        """
    [v] = _run(src, "ML703").violations
    assert (v.line, v.column) == (2, 16)
    assert v.message == (
        "'Trainer' is provided lazily by __getattr__ but not imported under 'if TYPE_CHECKING:'; "
        "type checkers see it as Any and cannot catch typos"
    )


def test_ml703_fix_creates_block_with_typing_import() -> None:
    src = """\
        import importlib


        def __getattr__(name):
            if name == "Trainer":
                from .trainer import Trainer
                return Trainer
            raise AttributeError(name)
        """
    fixed = _run(src, "ML703", fix="safe").fixed_source
    assert fixed == textwrap.dedent(
        """\
        import importlib
        from typing import TYPE_CHECKING


        if TYPE_CHECKING:
            from .trainer import Trainer


        def __getattr__(name):
            if name == "Trainer":
                from .trainer import Trainer
                return Trainer
            raise AttributeError(name)
        """
    )


def test_ml703_relative_table_entry_outside_package_init_has_no_fix() -> None:
    src = """\
        import importlib

        _LAZY = {"Model": (".model", "Model")}


        def __getattr__(name):
            module, attr = _LAZY[name]
            return getattr(importlib.import_module(module, __package__), attr)
        """
    result = _run(src, "ML703", fix="safe", path="pkg/models.py")
    assert len(result.violations) == 1
    assert result.fixed_source is None
    assert _run(src, "ML703", fix="safe").fixed_source is not None


def test_ml703_no_getattr_no_finding() -> None:
    src = """\
        _LAZY = {"Model": (".model", "Model")}
        """
    assert _run(src, "ML703").violations == []
