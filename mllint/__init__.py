"""mllint: a linter for the pitfalls that silently corrupt ML models and metrics.

Importing this package is deliberately cheap: it imports neither libcst, rich nor any rule
(not even ``typing``). The programmatic entry points live in :mod:`mllint.api` and are
loaded on first use.
"""

__version__ = "0.1.0"

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from mllint.api import check_source, fix_source

__all__ = ["__version__", "check_source", "fix_source"]


def __getattr__(name: str) -> object:
    if name in ("check_source", "fix_source"):
        from mllint import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
