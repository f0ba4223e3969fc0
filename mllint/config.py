"""``[tool.mllint]`` in ``pyproject.toml`` -> a validated, frozen :class:`Settings`.

Every problem (unknown key, wrong type, unknown rule code, invalid option value) raises
:class:`ConfigError` naming the key and the file; the CLI turns it into exit code 2.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".bzr",
    ".direnv",
    ".eggs",
    ".git",
    ".hg",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".nox",
    ".pants.d",
    ".pytest_cache",
    ".ruff_cache",
    ".mllint_cache",
    ".svn",
    ".tox",
    ".venv",
    "venv",
    "__pypackages__",
    "_build",
    "buck-out",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    "__pycache__",
)
DEFAULT_TEST_PATHS: tuple[str, ...] = (
    "tests/**",
    "test/**",
    "**/test_*.py",
    "**/*_test.py",
    "**/conftest.py",
)
DEFAULT_SCRIPT_PATHS: tuple[str, ...] = (
    "scripts/**",
    "examples/**",
    "notebooks/**",
    "**/__main__.py",
)
TRACKED_LIBRARIES = ("pandas", "torch", "numpy", "scikit-learn")
#: files found when walking a directory (files named on the command line are always checked)
DEFAULT_INCLUDE = ("*.py", "*.pyi", "*.ipynb")
DEFAULT_MAX_FILE_SIZE_KB = 2048


class ConfigError(Exception):
    """A configuration problem; the message names the file and the key."""


@dataclass(frozen=True)
class Settings:
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    #: the files a directory walk picks up (globs on the project-relative path)
    include: tuple[str, ...] = DEFAULT_INCLUDE
    extend_include: tuple[str, ...] = ()
    fixable: tuple[str, ...] | None = None
    unfixable: tuple[str, ...] = ()
    unsafe_fixes: bool = False
    python_version: tuple[int, int] | None = None
    min_python: tuple[int, int] | None = None
    library_versions: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    test_paths: tuple[str, ...] = DEFAULT_TEST_PATHS
    script_paths: tuple[str, ...] = DEFAULT_SCRIPT_PATHS
    rule_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    cache_dir: str = ".mllint_cache"
    #: files larger than this (KiB) are reported and skipped (libcst needs ~500 bytes of memory
    #: per byte of source); 0 = no limit
    max_file_size_kb: int = DEFAULT_MAX_FILE_SIZE_KB
    root: Path = field(default_factory=Path.cwd)
    config_file: Path | None = None

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


_GLOBAL_KEYS = {
    "select": "list[str]",
    "extend-select": "list[str]",
    "ignore": "list[str]",
    "per-file-ignores": "dict[str,list[str]]",
    "exclude": "list[str]",
    "extend-exclude": "list[str]",
    "include": "list[str]",
    "extend-include": "list[str]",
    "fixable": "list[str]",
    "unfixable": "list[str]",
    "unsafe-fixes": "bool",
    "python-version": "str",
    "library-versions": "dict[str,str]",
    "test-paths": "list[str]",
    "script-paths": "list[str]",
    "cache-dir": "str",
    "max-file-size-kb": "int",
}


def _type_ok(kind: str, value: Any) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if kind == "list[str]":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "dict[str,list[str]]":
        return isinstance(value, dict) and all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in value.values()
        )
    if kind == "dict[str,str]":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    return False  # pragma: no cover


def parse_version(text: str) -> tuple[int, ...] | None:
    m = re.match(r"^\s*v?(\d+(?:\.\d+)*)", text)
    if not m:
        return None
    return tuple(int(x) for x in m.group(1).split("."))


_REQ_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(\(?[^;]*\)?)?\s*(;.*)?$")


def lower_bound(specifier: str) -> tuple[int, ...] | None:
    """The lower bound of a version specifier (``>=3.10``, ``~=2.1``, ``==1.5.*``)."""
    best: tuple[int, ...] | None = None
    for part in specifier.strip().strip("()").split(","):
        part = part.strip()
        m = re.match(r"^(>=|~=|==|>|===)\s*([0-9][0-9.*]*)", part)
        if not m:
            continue
        v = parse_version(m.group(2).replace("*", "0"))
        if v is not None and (best is None or v > best):
            best = v
    return best


def normalise_dist(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lower_bounds(requirements: Sequence[str]) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for req in requirements:
        m = _REQ_RE.match(req)
        if not m:
            continue
        name = normalise_dist(m.group(1))
        lb = lower_bound(m.group(3) or "")
        if lb is not None:
            out[name] = lb
    return out


def _lib_key(dist: str) -> str:
    return {"scikit-learn": "sklearn", "sklearn": "sklearn"}.get(dist, dist)


def find_pyproject(start: Path) -> tuple[Path | None, Path | None]:
    """(nearest pyproject.toml with [tool.mllint], nearest pyproject.toml at all)."""
    start = start.resolve()
    if start.is_file() or not start.exists():
        start = start.parent
    nearest: Path | None = None
    for d in (start, *start.parents):
        candidate = d / "pyproject.toml"
        if candidate.is_file():
            if nearest is None:
                nearest = candidate
            try:
                data = _read_toml(candidate)
            except ConfigError:
                if candidate == nearest:
                    raise
                continue
            if isinstance(data.get("tool"), dict) and "mllint" in data["tool"]:
                return candidate, nearest
    return None, nearest


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None


def load_settings(paths: Sequence[Path] | None = None, config: Path | None = None) -> Settings:
    """Find and read the configuration for a run over ``paths``."""
    if config is not None:
        if not config.is_file():
            raise ConfigError(f"{config}: configuration file not found")
        data = _read_toml(config)
        return settings_from_toml(data, config, facts_from=data)
    start = Path(paths[0]) if paths else Path.cwd()
    found, nearest = find_pyproject(start)
    if found is None:
        if nearest is None:
            return Settings(root=Path.cwd().resolve())
        data = _read_toml(nearest)
        return settings_from_toml({}, nearest, facts_from=data, has_section=False)
    data = _read_toml(found)
    facts = data if nearest is None or nearest == found else _read_toml(nearest)
    return settings_from_toml(data, found, facts_from=facts)


def settings_from_toml(
    data: Mapping[str, Any],
    path: Path,
    facts_from: Mapping[str, Any] | None = None,
    has_section: bool = True,
) -> Settings:
    from mllint.catalog import catalog, full_catalog, resolve_selector

    table: Any = {}
    if has_section:
        tool = data.get("tool", {})
        table = tool.get("mllint", {}) if isinstance(tool, dict) else {}
        if path.name != "pyproject.toml" and not table and "mllint" not in (tool or {}):
            # a standalone mllint.toml-like file holds the table at top level
            table = {k: v for k, v in data.items() if k != "tool"}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.mllint] must be a table")
    rules: dict[str, Any] = dict(catalog())
    by_name = {r.name: r for r in rules.values()}
    kwargs: dict[str, Any] = {"root": path.parent.resolve(), "config_file": path}
    rule_options: dict[str, dict[str, Any]] = {}

    def codes(key: str, values: list[str]) -> tuple[str, ...]:
        for v in values:
            try:
                resolve_selector(v)
            except KeyError:
                raise ConfigError(
                    f"{path}: [tool.mllint] {key}: unknown rule code or name {v!r}"
                ) from None
        return tuple(values)

    for key, value in table.items():
        if key in _GLOBAL_KEYS:
            kind = _GLOBAL_KEYS[key]
            if not _type_ok(kind, value):
                raise ConfigError(
                    f"{path}: [tool.mllint] {key} must be a whole number of KiB (0 = no limit), "
                    f"got {value!r}"
                    if kind == "int"
                    else f"{path}: [tool.mllint] {key} must be of type {kind}, "
                    f"got {type(value).__name__}"
                )
            attr = key.replace("-", "_")
            if key in ("select", "extend-select", "ignore", "unfixable") or key == "fixable":
                kwargs[attr] = codes(key, value)
            elif key == "per-file-ignores":
                kwargs[attr] = tuple(
                    (glob, codes(f"per-file-ignores.{glob!r}", v)) for glob, v in value.items()
                )
            elif key in (
                "exclude",
                "extend-exclude",
                "include",
                "extend-include",
                "test-paths",
                "script-paths",
            ):
                kwargs[attr] = tuple(value)
            elif key == "python-version":
                v = parse_version(value)
                if v is None or len(v) < 2:
                    raise ConfigError(
                        f'{path}: [tool.mllint] python-version must look like "3.10", got {value!r}'
                    )
                kwargs[attr] = (v[0], v[1])
            elif key == "library-versions":
                lv: dict[str, tuple[int, ...]] = {}
                for lib, ver in value.items():
                    parsed = parse_version(ver)
                    if parsed is None:
                        raise ConfigError(
                            f"{path}: [tool.mllint] library-versions.{lib} is not a version: {ver!r}"
                        )
                    lv[_lib_key(normalise_dist(lib))] = parsed
                kwargs[attr] = lv
            else:
                kwargs[attr] = value
        elif key not in by_name and key not in rules and _known_rule(key, full_catalog()):
            # the generated catalog predates this rule: use the rule classes themselves
            rules = dict(full_catalog())
            by_name = {r.name: r for r in rules.values()}
            rule = by_name.get(key) or rules[key]
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: [tool.mllint.{key}] must be a table of rule options")
            rule_options[rule.name] = _rule_options(path, rule, value)
        elif key in by_name or key in rules:
            rule = by_name.get(key) or rules[key]
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: [tool.mllint.{key}] must be a table of rule options")
            rule_options[rule.name] = _rule_options(path, rule, value)
        else:
            hint = ""
            if key in ("rules", "git", "code-quality", "testing"):
                hint = " (that key belongs to an unrelated project also called mllint)"
            raise ConfigError(f"{path}: unknown key [tool.mllint] {key!r}{hint}")
    kwargs["rule_options"] = rule_options
    settings = Settings(**kwargs)
    return _with_project_facts(settings, facts_from if facts_from is not None else data)


def _known_rule(key: str, rules: Mapping[str, Any]) -> bool:
    return key in rules or any(r.name == key for r in rules.values())


def _rule_options(path: Path, rule: Any, value: Mapping[str, Any]) -> dict[str, Any]:
    known = {o.name: o for o in rule.options}
    out: dict[str, Any] = {}
    for opt_name, opt_value in value.items():
        opt = known.get(opt_name)
        if opt is None:
            valid = ", ".join(sorted(known)) or "none"
            raise ConfigError(
                f"{path}: [tool.mllint.{rule.name}] unknown option {opt_name!r} "
                f"(valid options: {valid})"
            )
        try:
            out[opt_name] = opt.validate(opt_value)
        except ValueError as exc:
            raise ConfigError(f"{path}: [tool.mllint.{rule.name}] {opt_name} {exc}") from None
    return out


def _with_project_facts(settings: Settings, data: Mapping[str, Any]) -> Settings:
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    assert isinstance(project, dict)
    min_python: tuple[int, int] | None = None
    rp = project.get("requires-python")
    if isinstance(rp, str):
        lb = lower_bound(rp)
        if lb is not None and len(lb) >= 2:
            min_python = (lb[0], lb[1])
    if min_python is None:
        tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
        ruff = tool.get("ruff") if isinstance(tool, dict) else None
        tv = ruff.get("target-version") if isinstance(ruff, dict) else None
        if isinstance(tv, str):
            m = re.match(r"^py(\d)(\d+)$", tv)
            if m:
                min_python = (int(m.group(1)), int(m.group(2)))
    if min_python is None:
        min_python = settings.python_version
    versions: dict[str, tuple[int, ...]] = {}
    deps = project.get("dependencies")
    if isinstance(deps, list):
        bounds = requirement_lower_bounds([d for d in deps if isinstance(d, str)])
        for dist in TRACKED_LIBRARIES:
            if dist in bounds:
                versions[_lib_key(dist)] = bounds[dist]
    versions.update(settings.library_versions)
    return replace(settings, min_python=min_python, library_versions=versions)


# -- the effective rule set -------------------------------------------------------------------


def effective_codes(settings: Settings) -> frozenset[str]:
    from mllint.catalog import catalog, resolve_selector

    if settings.select is None:
        selected = {c for c, r in catalog().items() if r.default_enabled}
    else:
        selected = set()
        for s in settings.select:
            selected.update(resolve_selector(s))
    for s in settings.extend_select:
        selected.update(resolve_selector(s))
    for s in settings.ignore:
        selected.difference_update(resolve_selector(s))
    return frozenset(selected)


def fixable_codes(settings: Settings) -> frozenset[str]:
    from mllint.catalog import catalog, resolve_selector

    if settings.fixable is None:
        codes = set(catalog())
    else:
        codes = set()
        for s in settings.fixable:
            codes.update(resolve_selector(s))
    for s in settings.unfixable:
        codes.difference_update(resolve_selector(s))
    return frozenset(codes)


def rule_option_values(settings: Settings, rule: Any) -> dict[str, Any]:
    """Defaults merged with the configured values; ``extend-*`` options are added to their
    base option (``extend-heavy-modules`` extends ``heavy-modules``)."""
    configured = settings.rule_options.get(rule.name, {})
    values: dict[str, Any] = {}
    for opt in rule.options:
        default = opt.default
        if isinstance(default, list):
            default = tuple(default)
        values[opt.name] = configured.get(opt.name, default)
    return values


def per_file_ignored(settings: Settings, relpath: str) -> frozenset[str]:
    from mllint.catalog import resolve_selector
    from mllint.globs import matches

    out: set[str] = set()
    for glob, codes in settings.per_file_ignores:
        if matches(relpath, glob):
            for c in codes:
                out.update(resolve_selector(c))
    return frozenset(out)
