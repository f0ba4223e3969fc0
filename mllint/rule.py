"""The rule API: :class:`Rule`, :class:`Fix`, :class:`Option` and the rule registry.

A rule is a libcst ``BatchableCSTVisitor``: it defines ``visit_<Node>`` / ``leave_<Node>``
methods and calls :meth:`Rule.report`. The engine runs every enabled rule in ONE read-only
traversal per file (see :mod:`mllint.engine`); rules never walk the tree themselves and never
re-implement name resolution: they ask ``self.ctx`` (a :class:`mllint.semantics.FileContext`).

Rule metadata are class attributes; the class docstring is the rule's documentation and is
rendered into ``docs/rules/<CODE>.md`` and ``mllint explain``. Its sections are, in order::

    What it does / Why is this bad? / Example / Use instead / Fix safety

Rules are found by importing every module under :mod:`mllint.rules` and every entry point in
the ``mllint.rules`` group (a module or a Rule subclass), so a team can ship its own rule pack.
"""

from __future__ import annotations

import enum
import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import libcst as cst

from mllint.options import Option
from mllint.rule_errors import RegistryError

__all__ = ["Fix", "FixSafety", "Option", "RawViolation", "Rule", "all_rules"]

if TYPE_CHECKING:
    from mllint.prescan import Scan
    from mllint.semantics.context import FileContext, FileFacts, ImportPlan

CODE_RE = re.compile(r"^ML\d{3}$")
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class FixSafety(str, enum.Enum):
    """How a rule's fix may be applied (RULES.md §0.2)."""

    SAFE = "safe"
    UNSAFE = "unsafe"
    NONE = "none"


@dataclass
class Fix:
    """A fix: node replacements plus import side-edits, applied together or not at all.

    ``replacements`` maps an existing node of the parsed module to its replacement, either a
    new libcst node or literal source text. ``imports`` are :class:`ImportPlan` objects obtained
    from ``ctx.import_name(...)``; the engine inserts the ones that need an import statement.
    """

    safety: FixSafety
    replacements: list[tuple[cst.CSTNode, cst.CSTNode | str]] = field(default_factory=list)
    imports: list[ImportPlan] = field(default_factory=list)

    def replace(self, old: cst.CSTNode, new: cst.CSTNode | str) -> Fix:
        self.replacements.append((old, new))
        return self


@dataclass
class RawViolation:
    """What a rule reports: the node, the message and an optional fix (positions come later)."""

    code: str
    name: str
    node: cst.CSTNode
    message: str
    fix: Fix | None
    #: the module-level statement being walked when the rule reported: where the position
    #: pass looks first (a hint only; a node found elsewhere costs a full pass)
    hint: cst.CSTNode | None = None


class Rule(cst.BatchableCSTVisitor):
    """Base class of every mllint rule. Subclasses set the class attributes below."""

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    default_enabled: ClassVar[bool] = True
    #: the fix classes this rule can produce (empty = report only)
    fix_safety: ClassVar[tuple[FixSafety, ...]] = ()
    options: ClassVar[tuple[Option, ...]] = ()
    #: pre-scan: the rule can only fire when the source contains at least one of these strings
    #: (empty = no text requirement). Keep them necessary, never merely likely.
    requires_text: ClassVar[tuple[str, ...]] = ()
    #: pre-scan: only files with exactly this base name (e.g. ``__init__.py``)
    requires_filename: ClassVar[str | None] = None
    #: RULES.md tier and the rule's band directory, for the docs
    tier: ClassVar[int] = 2

    _dispatch_cache: ClassVar[dict[type, dict[str, tuple[str, ...]]]] = {}

    def __init__(self, ctx: FileContext, options: Mapping[str, Any]) -> None:
        super().__init__()
        self.ctx = ctx
        self.opts = options
        self.violations: list[RawViolation] = []

    # -- reporting -----------------------------------------------------------------------
    def report(self, node: cst.CSTNode, message: str, fix: Fix | None = None) -> None:
        stack = self.ctx.stack
        hint = stack[1] if len(stack) > 1 else None
        self.violations.append(RawViolation(self.code, self.name, node, message, fix, hint))

    def option(self, name: str) -> Any:
        return self.opts[name]

    # -- dispatch (class-level cache instead of libcst's per-instance inspection) ---------
    @classmethod
    def handled_methods(cls) -> dict[str, tuple[str, ...]]:
        """``{"visit_Call": ("visit_Call",), ...}``: this class's non-stub visitor methods."""
        cached = Rule._dispatch_cache.get(cls)
        if cached is None:
            cached = {}
            for attr in dir(cls):
                if not (attr.startswith("visit_") or attr.startswith("leave_")):
                    continue
                func = getattr(cls, attr, None)
                if func is None or getattr(func, "_is_no_op", False):
                    continue
                if attr.count("_") != 1:  # visit_Node_attribute forms are not supported
                    continue
                cached[attr] = (attr,)
            Rule._dispatch_cache[cls] = cached
        return cached

    @classmethod
    def can_match(cls, source: str) -> bool:
        """A finer pre-scan than ``requires_text`` (e.g. a regular expression); it must only
        return False when the rule certainly cannot fire on this source."""
        return True

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        """The second pre-scan stage (:mod:`mllint.prescan`): given the file's CPython ``ast``,
        can this rule's trigger be present? Return False only when the rule certainly cannot
        fire; the file is then not parsed by libcst for this rule. Runs after
        ``requires_text``/``can_match`` have matched."""
        return True

    ast_gate.__func__._is_no_op = True  # type: ignore[attr-defined]

    @classmethod
    def has_ast_gate(cls) -> bool:
        return not getattr(cls.ast_gate, "_is_no_op", False)

    def finish(self) -> None:
        """Called once after the traversal (for rules that collect first and judge later)."""

    @classmethod
    def documentation(cls) -> str:
        import inspect

        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def fix_label(cls) -> str:
        if not cls.fix_safety:
            return "none"
        return " / ".join(s.value for s in cls.fix_safety)


# -- registry ----------------------------------------------------------------------------


_REGISTRY: dict[str, type[Rule]] | None = None


def _collect_from_module(module: Any, found: dict[str, type[Rule]]) -> None:
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and value.__module__ == module.__name__  # cheap checks first: Rule is an ABC
            and Rule in value.__mro__
            and value is not Rule
            and getattr(value, "code", None)
        ):
            _add(value, found)


def _add(rule: type[Rule], found: dict[str, type[Rule]]) -> None:
    if not CODE_RE.match(rule.code):
        raise RegistryError(
            f"rule {rule.__qualname__}: code {rule.code!r} is not of the form ML123"
        )
    if not NAME_RE.match(rule.name):
        raise RegistryError(f"rule {rule.code}: name {rule.name!r} is not kebab-case")
    other = found.get(rule.code)
    if other is not None and other is not rule:
        raise RegistryError(
            f"rule code {rule.code} is defined twice ({other.__module__} and {rule.__module__})"
        )
    found[rule.code] = rule


def _walk_package(
    package_name: str, found: dict[str, type[Rule]], skip: tuple[str, ...] = ()
) -> None:
    package = importlib.import_module(package_name)
    for info in pkgutil.walk_packages(package.__path__, package_name + "."):
        if skip and info.name.startswith(skip):
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception as exc:
            raise RegistryError(
                f"cannot load rule module {info.name}: {type(exc).__name__}: {exc}"
            ) from exc
        _collect_from_module(module, found)


def _load_entry_points(found: dict[str, type[Rule]]) -> None:
    from mllint.catalog import has_rule_packs

    if not has_rule_packs():
        return  # importlib.metadata alone costs more than a small run
    from importlib.metadata import entry_points

    for ep in entry_points(group="mllint.rules"):
        try:
            obj = ep.load()
        except Exception as exc:  # a broken third-party pack must not kill the run
            raise RegistryError(f"cannot load rule pack {ep.name!r} ({ep.value}): {exc}") from exc
        if isinstance(obj, type) and issubclass(obj, Rule):
            _add(obj, found)
        else:
            _collect_from_module(obj, found)


def all_rules() -> dict[str, type[Rule]]:
    """Every known rule, built-in and from entry points, keyed by code, sorted by code."""
    global _REGISTRY
    if _REGISTRY is None:
        found: dict[str, type[Rule]] = {}
        _walk_package("mllint.rules", found)
        _load_entry_points(found)
        _REGISTRY = dict(sorted(found.items()))
    return _REGISTRY


#: project rules (pyproject.toml, pre-commit and pytest configuration) live here; they run once
#: per project, never per file, and their modules import the TOML/YAML/INI machinery
PROJECT_RULES_PACKAGE = "mllint.rules.project"
_PROJECT_RULE_MARK = "\0project-rule"
_PER_FILE: dict[str, type[Rule]] | None = None


def per_file_rules() -> dict[str, type[Rule]]:
    """The rules the per-file engine runs: every rule except the project rules, whose modules
    are not even imported (a run over a few files then starts ~40% faster)."""
    global _PER_FILE
    if _REGISTRY is not None:
        return {c: r for c, r in _REGISTRY.items() if r.requires_filename != _PROJECT_RULE_MARK}
    if _PER_FILE is None:
        found: dict[str, type[Rule]] = {}
        _walk_package("mllint.rules", found, skip=(PROJECT_RULES_PACKAGE + ".",))
        _load_entry_points(found)
        _PER_FILE = {
            c: r for c, r in sorted(found.items()) if r.requires_filename != _PROJECT_RULE_MARK
        }
    return _PER_FILE


def rule_by_name() -> dict[str, type[Rule]]:
    return {r.name: r for r in all_rules().values()}


def resolve_selector(selector: str, rules: Mapping[str, type[Rule]] | None = None) -> list[str]:
    """Codes matched by a selector: a code (``ML101``), a prefix (``ML1``, ``ML``, ``ALL``) or a
    rule name (``float-equality``). Raise ``KeyError`` for a selector that matches nothing."""
    from mllint.catalog import resolve_selector as _resolve

    return _resolve(selector, all_rules() if rules is None else rules)


RuleFactory = Callable[["FileContext", Mapping[str, Any]], Rule]
Codes = Sequence[str]
