"""[tool.mllint] loading and validation: every mistake is a clear error (exit 2)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mllint.config import (
    ConfigError,
    Settings,
    effective_codes,
    load_settings,
    lower_bound,
    requirement_lower_bounds,
    rule_option_values,
    settings_from_toml,
)
from mllint.rule import all_rules
from tests.conftest import NAN_SOURCE, run_cli


def _settings(table: dict[str, object], extra: dict[str, object] | None = None) -> Settings:
    data: dict[str, object] = {"tool": {"mllint": table}}
    data.update(extra or {})
    return settings_from_toml(data, Path("/proj/pyproject.toml"))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"selekt": ["ML1"]}, "unknown key [tool.mllint] 'selekt'"),
        ({"select": "ML101"}, "[tool.mllint] select must be of type list[str], got str"),
        ({"ignore": ["ML777"]}, "[tool.mllint] ignore: unknown rule code or name 'ML777'"),
        ({"unsafe-fixes": "yes"}, "[tool.mllint] unsafe-fixes must be of type bool"),
        ({"python-version": "three"}, "python-version must look like"),
        ({"per-file-ignores": {"tests/**": ["nope"]}}, "unknown rule code or name 'nope'"),
        ({"nan-equality": {"x": 1}}, "[tool.mllint.nan-equality] unknown option 'x'"),
        ({"nan-equality": 3}, "[tool.mllint.nan-equality] must be a table of rule options"),
        ({"rules": {}}, "unrelated project also called mllint"),
    ],
)
def test_config_errors_name_key_and_file(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _settings(table)
    assert message in str(info.value)
    assert "/proj/pyproject.toml" in str(info.value)


def test_project_facts_from_pyproject() -> None:
    s = _settings(
        {},
        {
            "project": {
                "requires-python": ">=3.9,<4",
                "dependencies": ["pandas>=2.2.1", "torch (>=2.6)", "numpy", "scikit-learn~=1.5"],
            }
        },
    )
    assert s.min_python == (3, 9)
    assert s.library_versions == {"pandas": (2, 2, 1), "torch": (2, 6), "sklearn": (1, 5)}
    s = _settings(
        {"library-versions": {"pandas": "3.0"}}, {"project": {"dependencies": ["pandas>=2.2"]}}
    )
    assert s.library_versions["pandas"] == (3, 0)
    s = _settings({}, {"tool": {"ruff": {"target-version": "py311"}, "mllint": {}}})
    assert s.min_python == (3, 11)
    s = _settings({"python-version": "3.12"})
    assert s.min_python == (3, 12)


def test_specifier_parsing() -> None:
    assert lower_bound(">=3.10") == (3, 10)
    assert lower_bound("~=2.1.0") == (2, 1, 0)
    assert lower_bound("==1.5.*") == (1, 5, 0)
    assert lower_bound("<2") is None
    assert requirement_lower_bounds(["Scikit_Learn[alldeps] >= 1.4 ; python_version>'3.9'"]) == {
        "scikit-learn": (1, 4)
    }


def test_selection_semantics() -> None:
    default = effective_codes(Settings())
    assert "ML102" in default
    assert all(all_rules()[c].default_enabled for c in default)
    assert "ML102" not in effective_codes(Settings(ignore=("ML1",)))
    assert effective_codes(Settings(select=("nan-equality",))) == frozenset({"ML102"})


def test_rule_options_defaults_and_overrides() -> None:
    from mllint.rule import Option, Rule

    class Demo(Rule):
        code = "ML998"
        name = "demo"
        summary = "demo"
        options = (
            Option("names", "list[str]", ["a"], "names"),
            Option("tol", "float", None, "tol"),
        )

    s = Settings(rule_options={"demo": {"tol": 1e-6}})
    assert rule_option_values(s, Demo) == {"names": ("a",), "tol": 1e-6}
    assert Demo.options[1].validate(1) == 1.0
    with pytest.raises(ValueError, match="must be of type float"):
        Demo.options[1].validate("x")


def test_nearest_pyproject_with_section(project: Callable[..., Path]) -> None:
    root = project(
        {
            "pyproject.toml": '[tool.mllint]\nignore = ["ML102"]\n[project]\nrequires-python = ">=3.11"\n',
            "sub/pyproject.toml": '[project]\nname = "sub"\nrequires-python = ">=3.12"\n',
            "sub/m.py": NAN_SOURCE,
        }
    )
    s = load_settings([root / "sub" / "m.py"])
    assert s.config_file == root / "pyproject.toml"
    assert s.ignore == ("ML102",)
    assert s.min_python == (3, 12)  # project facts from the nearest pyproject.toml


def test_cli_config_error_exit_2(project: Callable[..., Path]) -> None:
    root = project({"pyproject.toml": "[tool.mllint]\nselct = []\n", "m.py": "x = 1\n"})
    r = run_cli("check", "m.py", cwd=root)
    assert r.returncode == 2
    assert "pyproject.toml: unknown key [tool.mllint] 'selct'" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_invalid_toml_exit_2(project: Callable[..., Path]) -> None:
    root = project({"pyproject.toml": "[tool.mllint\nselect = [\n", "m.py": "x = 1\n"})
    r = run_cli("check", "m.py", cwd=root)
    assert r.returncode == 2
    assert "pyproject.toml: invalid TOML" in r.stderr


def test_cli_explicit_config(project: Callable[..., Path]) -> None:
    root = project({"cfg/custom.toml": '[tool.mllint]\nignore = ["ML102"]\n', "m.py": NAN_SOURCE})
    r = run_cli("check", "--config", "cfg/custom.toml", "m.py", cwd=root)
    assert r.returncode == 0, r.stdout
    r = run_cli("check", "--config", "missing.toml", "m.py", cwd=root)
    assert r.returncode == 2
    assert "missing.toml: configuration file not found" in r.stderr
