"""The flake8 plugin (``mllint.flake8_plugin``), always through the real flake8 in a subprocess.

Equivalence with the CLI: every ``fixtures/ML*/bad*.py`` is copied into its own temporary
project, laid out at its virtual path (the ``# mllint-fixture: path=...`` directive, default
``src/fixture_pkg/<name>``, as in the fixture tests) so that file roles (tests, scripts,
package ``__init__``) are the same for both tools; a ``config=`` directive becomes that
project's ``[tool.mllint]`` table, minus the keys that select rules or files (``select``,
``ignore``, ``per-file-ignores``, ``exclude``, ...: in flake8, flake8's own options do the
selection, so those keys are not read by the plugin). A ``package=`` directive is not
reproduced: both tools derive the package from the same copied layout on disk. flake8 runs
once over every project (so the per-directory configuration lookup is exercised too) and
``mllint check --output-format json`` once per project; the (path, line, column, code) sets
must be equal. ML000 (mllint's syntax error) is not compared: flake8 reports E999 instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, run_cli
from tests.fixture_support import FixtureCase, cases

Finding = tuple[str, int, int, str]

_FLAKE8_LINE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) (?P<text>.*)$"
)
#: [tool.mllint] keys that choose rules or files: the plugin leaves that to flake8
_SELECTION_KEYS = {
    "select",
    "extend-select",
    "ignore",
    "per-file-ignores",
    "exclude",
    "extend-exclude",
    "fixable",
    "unfixable",
    "unsafe-fixes",
}

TWO_RULES = textwrap.dedent(
    """\
    import numpy as np


    def pick(val_loss, reading):
        if val_loss == 0.5:
            return 1
        return reading == np.nan
    """
)


def run_flake8(
    *args: str,
    cwd: Path,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """The real flake8 (``python -m flake8``), with ``--isolated`` unless a config is wanted."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "flake8", *args],
        cwd=cwd,
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def flake8_findings(stdout: str, code_prefix: str = "ML") -> set[Finding]:
    out: set[Finding] = set()
    for line in stdout.splitlines():
        m = _FLAKE8_LINE.match(line)
        assert m, f"unexpected flake8 output line: {line!r}"
        if m.group("code").startswith(code_prefix):
            path = m.group("path").replace(os.sep, "/").removeprefix("./")
            out.add((path, int(m.group("line")), int(m.group("col")), m.group("code")))
    return out


def cli_findings(cwd: Path, *paths: str) -> set[Finding]:
    r = run_cli("check", "--output-format", "json", *paths, cwd=cwd)
    assert r.returncode in (0, 1), r.stderr
    return {
        (item["filename"].removeprefix("./"), item["line"], item["column"], item["code"])
        for item in json.loads(r.stdout)
        if item["code"] != "ML000"
    }


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    raise TypeError(f"cannot write {value!r} as TOML")


def pyproject_for(config: dict[str, Any]) -> str:
    lines = ["[tool.mllint]"]
    for key, value in config.items():
        if key not in _SELECTION_KEYS and value is not None:
            lines.append(f"{json.dumps(key)} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


BAD = cases("bad")


def _case_dir(case: FixtureCase) -> str:
    return f"{case.code}__{case.path.stem}"


@dataclass
class FixtureRun:
    flake8: dict[str, set[Finding]]  # case folder -> findings (paths relative to the case)
    cli: dict[str, set[Finding]]


@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory: pytest.TempPathFactory) -> FixtureRun:
    """Every bad fixture in its own project under one folder; flake8 runs once over all of
    them, the CLI once per project (in parallel)."""
    top = tmp_path_factory.mktemp("flake8_fixtures")
    for case in BAD:
        project = top / _case_dir(case)
        target = project / case.virtual_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(case.path, target)
        if case.package and not (target.parent / "__init__.py").exists():
            # the `package=` directive: on disk, a package is a folder with an __init__.py
            (target.parent / "__init__.py").write_text("", encoding="utf-8")
        (project / "pyproject.toml").write_text(pyproject_for(case.config), encoding="utf-8")
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        cli_jobs = {
            _case_dir(case): pool.submit(cli_findings, top / _case_dir(case), case.virtual_path)
            for case in BAD
        }
        r = run_flake8("--isolated", "--select", "ML", "--format=default", ".", cwd=top)
        cli = {name: job.result() for name, job in cli_jobs.items()}
    assert r.returncode in (0, 1), r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert "mllint (flake8 plugin)" not in r.stderr, r.stderr
    per_case: dict[str, set[Finding]] = defaultdict(set)
    for path, line, col, code in flake8_findings(r.stdout):
        case_dir, _, rest = path.partition("/")
        per_case[case_dir].add((rest, line, col, code))
    return FixtureRun(dict(per_case), cli)


def test_there_are_fixtures_to_compare() -> None:
    assert BAD, "no fixtures/ML*/bad*.py found"


@pytest.mark.parametrize("case", BAD, ids=[c.id for c in BAD])
def test_fixture_same_findings_as_cli(case: FixtureCase, fixture_run: FixtureRun) -> None:
    name = _case_dir(case)
    expected = fixture_run.cli[name]
    from mllint.catalog import catalog

    rule = catalog().get(case.code)
    if rule is not None and rule.default_enabled:
        assert expected, f"the CLI reports nothing on {case.id}: the comparison would be empty"
    assert fixture_run.flake8.get(name, set()) == expected


def test_example_project_same_findings_as_cli(tmp_path: Path) -> None:
    project = tmp_path / "example_project"
    shutil.copytree(
        ROOT / "fixtures" / "example_project",
        project,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".mllint_cache"),
    )
    r = run_flake8("--isolated", "--select", "ML", "--format=default", ".", cwd=project)
    assert r.returncode in (0, 1), r.stderr
    assert "Traceback" not in r.stderr and "mllint (flake8 plugin)" not in r.stderr, r.stderr
    got = flake8_findings(r.stdout)
    # flake8 reads .py files only: the notebook and the project files are the CLI's alone
    everything = cli_findings(project, ".")
    expected = {f for f in everything if f[0].endswith(".py")}
    assert {f[0] for f in everything - expected} == {
        "notebooks/explore.ipynb",
        ".pre-commit-config.yaml",
    }
    assert len(expected) >= 5
    assert got == expected
    # flake8 prints the same 1-based columns and the code, name and message of the CLI
    cli_concise = run_cli("check", "--output-format", "concise", "-q", ".", cwd=project)
    flake8_lines = {line.removeprefix("./") for line in r.stdout.splitlines()}
    cli_lines = {
        line for line in cli_concise.stdout.splitlines() if line.split(":", 1)[0].endswith(".py")
    }
    assert flake8_lines == cli_lines


# -- selection and suppression are flake8's --------------------------------------------------


def test_message_format_and_default_selection(project: Callable[..., Path]) -> None:
    root = project({"pick.py": TWO_RULES})
    r = run_flake8("--isolated", "pick.py", cwd=root)  # no --select: every plugin's codes
    assert r.returncode == 1, r.stderr
    assert [line for line in r.stdout.splitlines() if ": ML" in line] == [
        "pick.py:5:8: ML101 [float-equality] Exact float comparison 'val_loss == 0.5'; use "
        "math.isclose(a, b) (floating-point results are rarely exactly equal)",
        "pick.py:7:12: ML102 [nan-equality] 'reading == np.nan' is always False: NaN never "
        "equals anything (itself included); use math.isnan(x)",
    ]
    assert r.stderr == ""


def test_noqa_and_extend_ignore(project: Callable[..., Path]) -> None:
    root = project(
        {
            "pick.py": TWO_RULES,
            "noqa.py": TWO_RULES.replace("== np.nan", "== np.nan  # noqa: ML102"),
            "noqa_prefix.py": TWO_RULES.replace("== 0.5:", "== 0.5:  # noqa:ML1"),
        }
    )
    r = run_flake8("--isolated", "--select", "ML", "noqa.py", "noqa_prefix.py", cwd=root)
    assert {(p, c) for p, _, _, c in flake8_findings(r.stdout)} == {
        ("noqa.py", "ML101"),
        ("noqa_prefix.py", "ML102"),
    }
    r = run_flake8("--isolated", "--select", "ML", "--extend-ignore", "ML102", "pick.py", cwd=root)
    assert {c for _, _, _, c in flake8_findings(r.stdout)} == {"ML101"}
    r = run_flake8("--isolated", "--select", "ML", "--ignore", "ML1", "pick.py", cwd=root)
    assert r.returncode == 0 and r.stdout == "", r.stdout
    r = run_flake8(
        "--isolated", "--select", "ML", "--per-file-ignores", "pick.py:ML101", "pick.py", cwd=root
    )
    assert {c for _, _, _, c in flake8_findings(r.stdout)} == {"ML102"}


def test_other_selection_never_loads_the_rules(project: Callable[..., Path]) -> None:
    """With only other codes selected the plugin returns at once: no registry, no libcst."""
    root = project({"pick.py": TWO_RULES})
    code = (
        "import sys\n"
        "from flake8.main.cli import main\n"
        "rc = main(['--isolated', '--select', 'E,W,F', '-j', '1', 'pick.py'])\n"
        "print('LIBCST', 'libcst' in sys.modules)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert "ML1" not in r.stdout
    assert r.stdout.strip().splitlines()[-1] == "LIBCST False"


def test_stdin(project: Callable[..., Path]) -> None:
    root = project({"pyproject.toml": '[tool.mllint]\ntest-paths = ["checks/**"]\n'})
    source = "def check(val_loss):\n    assert val_loss == 0.5\n"
    r = run_flake8("--isolated", "--select", "ML", "-", cwd=root, stdin=source)
    assert r.stdout.splitlines() == [
        "stdin:2:12: ML101 [float-equality] Exact float comparison 'val_loss == 0.5'; use "
        "math.isclose(a, b) (floating-point results are rarely exactly equal)"
    ]
    # --stdin-display-name gives the file its role (a test file: pytest.approx)
    r = run_flake8(
        "--isolated",
        "--select",
        "ML",
        "--stdin-display-name",
        "checks/test_a.py",
        "-",
        cwd=root,
        stdin=source,
    )
    assert r.stdout.startswith("checks/test_a.py:2:12: ML101 [float-equality]"), r.stdout
    assert "use pytest.approx" in r.stdout


# -- syntax errors and internal errors ---------------------------------------------------------


def test_syntax_error_is_flake8s_e999(project: Callable[..., Path]) -> None:
    root = project({"broken.py": "import numpy as np\nx = y == np.nan\ndef f(:\n    pass\n"})
    r = run_flake8("--isolated", "broken.py", cwd=root)
    assert r.returncode == 1
    codes = [line.split()[1] for line in r.stdout.splitlines()]
    assert codes == ["E999"], r.stdout
    assert "ML" not in r.stdout
    assert r.stderr == ""


def test_broken_configuration_warns_once_and_flake8_goes_on(project: Callable[..., Path]) -> None:
    root = project(
        {
            "pyproject.toml": "[tool.mllint]\nno-such-key = 1\n",
            "a.py": TWO_RULES,
            "b.py": TWO_RULES + "import os\n",
        }
    )
    r = run_flake8("--isolated", "-j", "1", "a.py", "b.py", cwd=root)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1, r.stderr
    assert warnings[0].startswith("mllint (flake8 plugin): ")
    assert "no-such-key" in warnings[0]
    assert "ML" not in r.stdout
    assert "b.py:8:1: E402" in r.stdout or "b.py:8:1: F401" in r.stdout  # flake8 still ran


# -- [tool.mllint] options and file roles --------------------------------------------------------


def test_rule_options_and_roles_come_from_tool_mllint(project: Callable[..., Path]) -> None:
    source = (
        "def pick(val_quality, best_quality, val_loss):\n"
        "    assert val_loss == 0.5\n"
        "    return val_quality == best_quality\n"
    )
    root = project({"proj/a.py": source, "proj/checks/b.py": source})
    base = run_flake8("--isolated", "--select", "ML", "proj", cwd=root)
    assert flake8_findings(base.stdout) == {
        ("proj/a.py", 2, 12, "ML101"),
        ("proj/checks/b.py", 2, 12, "ML101"),
    }
    assert "pytest.approx" not in base.stdout

    (root / "proj" / "pyproject.toml").write_text(
        '[tool.mllint]\ntest-paths = ["checks/**"]\n\n'
        '[tool.mllint.float-equality]\nextend-metric-names = ["quality"]\n',
        encoding="utf-8",
    )
    # run from above the project: roles are matched against the project root, not the cwd
    r = run_flake8("--isolated", "--select", "ML", "proj", cwd=root)
    assert flake8_findings(r.stdout) == {
        ("proj/a.py", 2, 12, "ML101"),
        ("proj/a.py", 3, 12, "ML101"),
        ("proj/checks/b.py", 2, 12, "ML101"),
        ("proj/checks/b.py", 3, 12, "ML101"),
    }
    lines = {
        line.split(":", 2)[0] + ":" + line.split(":", 2)[1]: line for line in r.stdout.splitlines()
    }
    assert "use pytest.approx" in lines["proj/checks/b.py:2"]
    assert "use math.isclose" in lines["proj/a.py:2"]
    # the CLI agrees
    assert cli_findings(root / "proj", ".") == {
        (p.removeprefix("proj/"), line, col, c) for p, line, col, c in flake8_findings(r.stdout)
    }


def test_tool_mllint_selection_keys_are_not_used(project: Callable[..., Path]) -> None:
    root = project(
        {
            "pyproject.toml": '[tool.mllint]\nignore = ["ML101"]\nper-file-ignores = { "pick.py" = ["ML102"] }\n',
            "pick.py": TWO_RULES,
        }
    )
    r = run_flake8("--isolated", "--select", "ML", "pick.py", cwd=root)
    assert {c for _, _, _, c in flake8_findings(r.stdout)} == {"ML101", "ML102"}


# -- default-off rules (ML9xx) -------------------------------------------------------------------


def test_ml9_is_a_default_ignore_of_the_real_option_manager(tmp_path: Path) -> None:
    code = (
        "from flake8.options.parse_args import parse_args\n"
        "from flake8.style_guide import DecisionEngine\n"
        "from mllint.flake8_plugin import MLLintChecker\n"
        "import sys\n"
        "plugins, options = parse_args(['--isolated', *sys.argv[1:], 'x.py'])\n"
        "print(options.extended_default_ignore)\n"
        "print(DecisionEngine(options).decision_for('ML901').name)\n"
        "print(MLLintChecker.selection.runs('ML901', False), MLLintChecker.selection.runs('ML101', True))\n"
    )

    def ask(*args: str) -> list[str]:
        r = subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, r.stderr
        return r.stdout.splitlines()

    out = ask()
    assert "'ML9'" in out[0]
    assert out[1:] == ["Ignored", "False True"]
    assert ask("--extend-select", "ML9")[1:] == ["Selected", "True True"]
    assert ask("--select", "ML901")[1:] == ["Selected", "True False"]
    # flake8: an explicit --select beats a default ignore; the plugin still keeps them off
    assert ask("--select", "ML")[1:] == ["Selected", "False True"]


def test_default_off_rules_need_an_explicit_selection(project: Callable[..., Path]) -> None:
    """ML900 unused-noqa, a real default-off rule."""
    from mllint.catalog import catalog

    info = catalog().get("ML900")
    if info is None or info.default_enabled:  # pragma: no cover - the rule changed
        pytest.skip("ML900 is no longer a default-off rule; use another ML9xx rule here")
    source = TWO_RULES.replace("        return 1\n", "        return 1  # noqa: ML102\n")
    root = project({"pick.py": source})

    def codes(*args: str) -> set[str]:
        r = run_flake8("--isolated", *args, "pick.py", cwd=root)
        assert "Traceback" not in r.stderr and "mllint (flake8 plugin)" not in r.stderr, r.stderr
        return {c for _, _, _, c in flake8_findings(r.stdout)}

    assert codes() == {"ML101", "ML102"}
    assert codes("--select", "ML") == {"ML101", "ML102"}
    assert codes("--ignore", "E501") == {"ML101", "ML102"}  # --ignore replaces flake8's defaults
    assert codes("--select", "ML,ML9") == {"ML101", "ML102", "ML900"}
    assert codes("--extend-select", "ML9") == {"ML101", "ML102", "ML900"}
    assert codes("--extend-select", "ML900") == {"ML101", "ML102", "ML900"}
    r = run_flake8("--isolated", "--extend-select", "ML9", "pick.py", cwd=root)
    assert "pick.py:6:19: ML900 [unused-noqa] Unused suppression (unused: ML102)" in r.stdout
    cli = run_cli(
        "check", "--extend-select", "ML900", "--output-format", "json", "pick.py", cwd=root
    )
    assert flake8_findings(r.stdout) == {
        (d["filename"], d["line"], d["column"], d["code"]) for d in json.loads(cli.stdout)
    }


_CRASHING_PACK = '''\
"""A third-party rule pack whose rule crashes on every call."""

import libcst as cst

from mllint.rule import Rule


class Crash(Rule):
    """
    ## What it does
    Crashes (test rule).
    """

    code = "ML899"
    name = "crash-demo"
    summary = "crashes (test rule)"
    requires_text = ("crash",)

    def visit_Call(self, node: cst.Call) -> None:
        raise RuntimeError("boom in a rule")
'''


def test_an_internal_error_is_one_warning_and_no_findings(project: Callable[..., Path]) -> None:
    """A rule that raises (from a rule pack, through the ``mllint.rules`` entry-point group)."""
    root = project(
        {
            "site/crash_pack.py": _CRASHING_PACK,
            "site/crash_pack-1.0.dist-info/METADATA": (
                "Metadata-Version: 2.1\nName: crash-pack\nVersion: 1.0\n"
            ),
            "site/crash_pack-1.0.dist-info/entry_points.txt": "[mllint.rules]\ncrash = crash_pack\n",
            "work/crashing.py": TWO_RULES + "crash()\n",
            "work/fine.py": TWO_RULES,
        }
    )
    env = {"PYTHONPATH": os.pathsep.join([str(root / "site"), os.environ.get("PYTHONPATH", "")])}
    r = run_flake8(
        "--isolated", "-j", "1", "--select", "ML,E", "crashing.py", "fine.py",
        cwd=root / "work", env=env,
    )  # fmt: skip
    assert r.returncode == 1
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stderr.splitlines() == [
        "mllint (flake8 plugin): internal error while checking crashing.py "
        "(RuntimeError: boom in a rule); no ML findings are reported for this file"
    ]
    found = flake8_findings(r.stdout, code_prefix="")
    assert {(p, c) for p, _, _, c in found if c.startswith("ML")} == {
        ("fine.py", "ML101"),
        ("fine.py", "ML102"),
    }
    assert ("crashing.py", 8, 1, "E305") in found  # flake8's other checks still ran on it


def test_disable_noqa_shows_suppressed_findings(tmp_path: Path) -> None:
    src = "import numpy as np\nx = y == np.nan  # noqa: ML102\n"
    (tmp_path / "m.py").write_text(src)
    cmd = [sys.executable, "-m", "flake8", "--select", "ML", "m.py"]
    quiet = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert quiet.stdout == ""
    loud = subprocess.run([*cmd, "--disable-noqa"], cwd=tmp_path, capture_output=True, text=True)
    assert loud.stdout.startswith("m.py:2:5: ML102 [nan-equality]")
