"""The CI output formats: github, sarif, gitlab, junit, json-lines, grouped."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema
import pytest

from mllint import __version__
from mllint.diagnostics import FileResult, FixInfo, TextEdit, Violation
from mllint.reporters import FORMATS, Report, get_reporter
from mllint.reporters.common import artifact_uri, fingerprints
from mllint.reporters.github import escape_data, escape_property
from mllint.reporters.gitlab import category
from mllint.reporters.sarif import FINGERPRINT_KEY, build_sarif
from tests.conftest import NAN_SOURCE, run_cli

SCHEMA_PATH = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"

NAN_FIX = FixInfo("unsafe", (TextEdit(".isna()", 5, 23, 5, 33),))
V_SYNTAX = Violation(
    "ML000", "syntax-error", "SyntaxError: invalid syntax", "broken.py", 1, 7, 1, 7, None, "def f(:"
)
V_NAN = Violation(
    "ML102",
    "nan-equality",
    "'df[\"bmi\"] == np.nan' is always False: use x.isna()",
    "src/my pipeline.py",
    5,
    14,
    5,
    33,
    NAN_FIX,
    'missing = df[df["bmi"] == np.nan]',
)
V_ODD = Violation(
    "ML101",
    "float-equality",
    '100% sure: a, b\nand <c> & "d"\r',
    "src/my pipeline.py",
    9,
    4,
    9,
    20,
    None,
    "if loss == best:",
)
FILE_ERROR = FileResult("data/blob.py", error="cannot read: permission denied, sorry")


def make_report(*violations: Violation, errors: tuple[FileResult, ...] = ()) -> Report:
    return Report(sorted(violations, key=lambda v: v.sort_key()), list(errors), files_checked=4)


FULL = make_report(V_SYNTAX, V_NAN, V_ODD, errors=(FILE_ERROR,))


def render(fmt: str, report: Report, quiet: bool = False, statistics: bool = False) -> str:
    out = io.StringIO()
    get_reporter(fmt)(report, out, quiet, statistics)
    return out.getvalue()


@lru_cache(maxsize=1)
def sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["id"].endswith("/sarif-schema-2.1.0.json")
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )


def assert_valid_sarif(log: dict[str, Any]) -> None:
    errors = sorted(sarif_validator().iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


# -- registration ----------------------------------------------------------------------------


def test_every_format_is_registered_and_offered_by_the_cli() -> None:
    from mllint.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    check = sub.choices["check"]  # type: ignore[index]
    choices = next(a for a in check._actions if a.dest == "output_format").choices
    assert set(FORMATS) == set(choices)
    for fmt in FORMATS:
        assert callable(get_reporter(fmt))
    with pytest.raises(KeyError):
        get_reporter("xml")


def test_ci_reporters_import_neither_rich_nor_libcst() -> None:
    code = (
        "import sys\n"
        "import mllint.reporters.github, mllint.reporters.sarif, mllint.reporters.gitlab\n"
        "import mllint.reporters.junit, mllint.reporters.json_lines, mllint.reporters.grouped\n"
        "import io\n"
        "from mllint.diagnostics import Violation\n"
        "from mllint.reporters import Report, get_reporter\n"
        "v = Violation('ML102', 'nan-equality', 'm', 'a.py', 1, 1, 1, 2, None, 'x == y')\n"
        "for fmt in ('github', 'gitlab', 'junit', 'json-lines', 'grouped'):\n"
        "    get_reporter(fmt)(Report([v]), io.StringIO(), False, False)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'libcst'))\n"
        "assert not bad, bad\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


# -- github ----------------------------------------------------------------------------------


def test_github_exact_output() -> None:
    assert render("github", FULL) == (
        "::error file=broken.py,line=1,col=7,endLine=1,endColumn=7,title=ML000 syntax-error"
        "::SyntaxError: invalid syntax\n"
        "::error file=src/my pipeline.py,line=5,col=14,endLine=5,endColumn=33,title=ML102 nan-equality"
        "::'df[\"bmi\"] == np.nan' is always False: use x.isna()\n"
        "::error file=src/my pipeline.py,line=9,col=4,endLine=9,endColumn=20,title=ML101 float-equality"
        '::100%25 sure: a, b%0Aand <c> & "d"%0D\n'
        "::error file=data/blob.py::cannot read: permission denied, sorry\n"
    )
    # quiet and statistics change nothing: the output is for the Actions runner
    assert render("github", FULL, quiet=True, statistics=True) == render("github", FULL)
    assert render("github", make_report()) == ""


def test_github_escaping() -> None:
    assert escape_data("50%: a,b\r\nc") == "50%25: a,b%0D%0Ac"
    assert escape_property("50%: a,b\r\nc") == "50%25%3A a%2Cb%0D%0Ac"
    odd = replace(V_NAN, filename="odd:dir,1%/my file.py", fix=None)
    line = render("github", make_report(odd))
    assert line.startswith("::error file=odd%3Adir%2C1%25/my file.py,line=5,col=14,")


# -- json-lines ------------------------------------------------------------------------------


def test_json_lines_exact_output() -> None:
    out = render("json-lines", FULL)
    lines = out.splitlines()
    assert len(lines) == 3 and out.endswith("\n")
    assert lines[1] == (
        '{"code": "ML102", "name": "nan-equality", "message": "\'df[\\"bmi\\"] == np.nan\' is '
        'always False: use x.isna()", "filename": "src/my pipeline.py", "line": 5, "column": 14, '
        '"end_line": 5, "end_column": 33, "fix": {"applicability": "unsafe", "edits": '
        '[{"content": ".isna()", "line": 5, "column": 23, "end_line": 5, "end_column": 33}]}}'
    )
    # the same keys and values as the json format, one object per line
    assert [json.loads(line) for line in lines] == json.loads(render("json", FULL))
    assert render("json-lines", make_report()) == ""


# -- grouped ---------------------------------------------------------------------------------


def test_text_exact_output_and_carets_under_tabs() -> None:
    tabbed = Violation(
        "ML101", "float-equality", "exact float comparison", "t.py", 4, 5, 4, 13, None,
        "\tif x == 0.1:  # \ttab",
    )  # fmt: skip
    spanning = replace(V_ODD, line=9, end_line=11)
    out = render("text", make_report(V_NAN, tabbed, spanning, errors=(FILE_ERROR,)))
    assert out == (
        "src/my pipeline.py:5:14: ML102 [nan-equality] 'df[\"bmi\"] == np.nan' is always False: "
        "use x.isna() [unsafe fix]\n"
        '    5 | missing = df[df["bmi"] == np.nan]\n'
        "                     ^^^^^^^^^^^^^^^^^^^\n"
        "src/my pipeline.py:9:4: ML101 [float-equality] 100% sure: a, b\n"
        'and <c> & "d"\n'  # rich drops the carriage return (a control character)
        "    9 | if loss == best:\n"
        "           ^^^^^^^^^^^^^\n"
        "t.py:4:5: ML101 [float-equality] exact float comparison\n"
        "    4 |     if x == 0.1:  #     tab\n"
        "               ^^^^^^^^\n"
        "data/blob.py: error: cannot read: permission denied, sorry\n"
        "3 findings, 1 with --unsafe-fixes, 1 file could not be checked.\n"
    )
    assert render("text", make_report(V_NAN), quiet=True) == (
        "src/my pipeline.py:5:14: ML102 [nan-equality] 'df[\"bmi\"] == np.nan' is always False: "
        "use x.isna() [unsafe fix]\n"
    )
    assert render("text", make_report()) == "All checks passed (4 files).\n"
    assert render("text", make_report(), quiet=True) == ""


def test_grouped_exact_output() -> None:
    assert render("grouped", FULL) == (
        "broken.py:\n"
        "  1:7 ML000 [syntax-error] SyntaxError: invalid syntax\n"
        "\n"
        "src/my pipeline.py:\n"
        "  5:14 ML102 [nan-equality] 'df[\"bmi\"] == np.nan' is always False: use x.isna()\n"
        '  9:4 ML101 [float-equality] 100% sure: a, b\nand <c> & "d"\r\n'
        "\n"
        "data/blob.py:\n"
        "  error: cannot read: permission denied, sorry\n"
        "\n"
        "3 findings, 1 with --unsafe-fixes, 1 file could not be checked.\n"
    )
    quiet = render("grouped", make_report(V_NAN), quiet=True)
    assert quiet == (
        "src/my pipeline.py:\n"
        "  5:14 ML102 [nan-equality] 'df[\"bmi\"] == np.nan' is always False: use x.isna()\n"
        "\n"
    )
    stats = render("grouped", make_report(V_NAN, V_ODD), statistics=True)
    assert stats.splitlines()[0] == "1\tML101\t    float-equality"
    assert "2 findings" in stats.splitlines()[-1]
    assert render("grouped", make_report()) == ""


# -- gitlab ----------------------------------------------------------------------------------


def test_gitlab_exact_output() -> None:
    report = make_report(V_SYNTAX, V_NAN, V_ODD)
    expected = [
        {
            "description": "ML000 [syntax-error] SyntaxError: invalid syntax",
            "check_name": "ML000",
            # pinned: changing the recipe would make GitLab see every finding as new
            "fingerprint": "69a64f9fdac2d05892a3874863d9658bd01ca975782fb7703574a58f30fac22b",
            "severity": "blocker",
            "categories": ["Bug Risk"],
            "location": {"path": "broken.py", "lines": {"begin": 1, "end": 1}},
        },
        {
            "description": "ML102 [nan-equality] 'df[\"bmi\"] == np.nan' is always False: use x.isna()",
            "check_name": "ML102",
            "fingerprint": "67077943cfae23de22dfb8fe1a513f45a52c0aa9cb85dfc2ab6cb369ea17e98b",
            "severity": "major",
            "categories": ["Bug Risk"],
            "location": {"path": "src/my pipeline.py", "lines": {"begin": 5, "end": 5}},
        },
        {
            "description": 'ML101 [float-equality] 100% sure: a, b\nand <c> & "d"\r',
            "check_name": "ML101",
            "fingerprint": "458486b190f7bd52c16088b2d6c50ff5dfdd97b05fd3f8f4111c7c681f79d373",
            "severity": "major",
            "categories": ["Bug Risk"],
            "location": {"path": "src/my pipeline.py", "lines": {"begin": 9, "end": 9}},
        },
    ]
    assert render("gitlab", report) == json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
    categories = {code: category(code) for code in ("ML001", "ML201", "ML601", "ML701", "ML900")}
    assert categories == {
        "ML001": "Bug Risk",
        "ML201": "Bug Risk",
        "ML601": "Performance",
        "ML701": "Performance",
        "ML900": "Style",
    }
    assert render("gitlab", make_report()) == "[]\n"


# -- junit -----------------------------------------------------------------------------------


def test_junit_parses_and_escapes() -> None:
    out = render("junit", FULL)
    assert out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(out.encode("utf-8"))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    assert suite.get("name") == "mllint"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "2", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["broken.py", "src/my pipeline.py", "data/blob.py"]
    failures = cases["src/my pipeline.py"].findall("failure")
    assert [f.get("type") for f in failures] == ["ML102", "ML101"]
    # the library escaped <, &, quotes and the newline: everything round-trips
    assert failures[1].get("message") == 'ML101 [float-equality] 100% sure: a, b\nand <c> & "d"\r'
    # (a bare CR cannot survive in XML character data: it is written as a line feed)
    assert failures[1].text == (
        'src/my pipeline.py:9:4: ML101 [float-equality] 100% sure: a, b\nand <c> & "d"\n'
    )
    assert failures[0].text is not None
    assert failures[0].text.startswith("src/my pipeline.py:5:14: ML102 [nan-equality]")
    error = cases["data/blob.py"].find("error")
    assert error is not None
    assert error.get("message") == "cannot read: permission denied, sorry"


def test_junit_drops_characters_xml_cannot_hold() -> None:
    weird = replace(V_NAN, message="bell \x07 and nul \x00")
    root = ET.fromstring(render("junit", make_report(weird)))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == "ML102 [nan-equality] bell \\x07 and nul \\x00"


def test_junit_empty_report() -> None:
    root = ET.fromstring(render("junit", make_report()))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), list(suite)) == ("0", "0", [])


# -- sarif -----------------------------------------------------------------------------------


def test_sarif_is_valid_and_complete() -> None:
    log = json.loads(render("sarif", FULL))
    assert_valid_sarif(log)
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-schema-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "mllint"
    assert driver["version"] == __version__
    assert driver["informationUri"].startswith("https://")
    rules = driver["rules"]
    assert [r["id"] for r in rules] == ["ML000", "ML101", "ML102"]
    by_id = {r["id"]: r for r in rules}
    nan = by_id["ML102"]
    assert nan["name"] == "nan-equality"
    assert nan["shortDescription"]["text"].startswith("Testing for NaN")
    assert nan["fullDescription"]["text"].startswith("Flags tests for NaN/NA")
    assert "## Why is this bad?" in nan["help"]["markdown"]
    assert "Why is this bad?" in nan["help"]["text"] and "##" not in nan["help"]["text"]
    assert nan["helpUri"] == "https://github.com/mllint/mllint/blob/main/docs/rules/ML102.md"
    assert nan["defaultConfiguration"]["level"] == "warning"
    assert by_id["ML000"]["defaultConfiguration"]["level"] == "error"

    results = run["results"]
    assert [r["ruleId"] for r in results] == ["ML000", "ML102", "ML101"]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert FINGERPRINT_KEY in r["partialFingerprints"]
    syntax, nan_result, odd = results
    assert syntax["level"] == "error" and nan_result["level"] == "warning"
    assert odd["message"]["text"] == V_ODD.message
    loc = nan_result["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "src/my%20pipeline.py", "uriBaseId": "%SRCROOT%"}
    assert loc["region"] == {"startLine": 5, "startColumn": 14, "endLine": 5, "endColumn": 33}
    assert syntax["locations"][0]["physicalLocation"]["region"]["endColumn"] == 7

    (fix,) = nan_result["fixes"]
    (change,) = fix["artifactChanges"]
    assert change["artifactLocation"]["uri"] == "src/my%20pipeline.py"
    assert change["replacements"] == [
        {
            "deletedRegion": {"startLine": 5, "startColumn": 23, "endLine": 5, "endColumn": 33},
            "insertedContent": {"text": ".isna()"},
        }
    ]
    assert "fixes" not in odd and "fixes" not in syntax

    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and "permission denied" in note["message"]["text"]


def test_sarif_empty_report_is_valid() -> None:
    log = build_sarif(make_report())
    assert_valid_sarif(log)
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["tool"]["driver"]["rules"] == []
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_sarif_unknown_rule_and_odd_paths() -> None:
    plugin = Violation("ML999", "team-rule", "custom", "pkg/ünï cødé#1?.py", 2, 1, 3, 5)
    log = build_sarif(make_report(plugin))
    assert_valid_sarif(log)
    (rule,) = log["runs"][0]["tool"]["driver"]["rules"]
    assert rule["id"] == "ML999" and rule["name"] == "team-rule" and "helpUri" not in rule
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"][
        "uri"
    ]
    assert re.fullmatch(r"[A-Za-z0-9/._~%-]+", uri), uri
    assert unquote(uri) == "pkg/ünï cødé#1?.py"


def test_artifact_uri() -> None:
    assert artifact_uri("src/a b.py") == ("src/a%20b.py", True)
    assert artifact_uri("c:odd.py") == ("c%3Aodd.py", True)  # never read as a URI scheme
    absolute = Path("/abs dir/x.py").resolve()
    uri, relative = artifact_uri(absolute.as_posix())
    assert not relative
    parts = urlsplit(uri)
    assert parts.scheme == "file" and unquote(parts.path).endswith("/abs dir/x.py")
    log = build_sarif(make_report(replace(V_NAN, filename=absolute.as_posix())))
    assert_valid_sarif(log)
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert "uriBaseId" not in location


# -- fingerprints ----------------------------------------------------------------------------


def _moved(v: Violation, lines: int) -> Violation:
    fix = v.fix
    if fix is not None:
        fix = FixInfo(
            fix.applicability,
            tuple(replace(e, line=e.line + lines, end_line=e.end_line + lines) for e in fix.edits),
        )
    return replace(v, line=v.line + lines, end_line=v.end_line + lines, fix=fix)


def _sarif_fps(report: Report) -> list[str]:
    return [
        r["partialFingerprints"][FINGERPRINT_KEY] for r in build_sarif(report)["runs"][0]["results"]
    ]


def _gitlab_fps(report: Report) -> list[str]:
    return [issue["fingerprint"] for issue in json.loads(render("gitlab", report))]


def test_fingerprints_survive_moves() -> None:
    before = make_report(V_NAN, V_ODD)
    after = make_report(_moved(V_NAN, 12), _moved(V_ODD, 12))  # lines added above both
    between = make_report(V_NAN, _moved(V_ODD, 5))  # lines added between them
    reindented = make_report(
        replace(V_NAN, column=18, source_line="    " + V_NAN.source_line), V_ODD
    )
    for fps in (_sarif_fps, _gitlab_fps):
        assert fps(before) == fps(after) == fps(between) == fps(reindented)
    assert fingerprints(before.violations) == _sarif_fps(before) == _gitlab_fps(before)


def test_fingerprints_tell_identical_findings_apart() -> None:
    twice = make_report(V_NAN, _moved(V_NAN, 10))
    for fps in (_sarif_fps, _gitlab_fps):
        first, second = fps(twice)
        assert first != second
    # the first occurrence keeps the fingerprint it had when it was alone
    assert _sarif_fps(twice)[0] == _sarif_fps(make_report(V_NAN))[0]
    # the same line of code in another file, or for another rule, is another finding
    other_file = replace(V_NAN, filename="src/other.py")
    other_rule = replace(V_NAN, code="ML101", name="float-equality")
    assert len(set(fingerprints([V_NAN, other_file, other_rule]))) == 3
    # a finding whose source line is unknown falls back on its message
    a, b = fingerprints([replace(V_NAN, source_line=""), replace(V_ODD, source_line="")])
    assert a != b


def test_fingerprints_do_not_depend_on_input_order() -> None:
    one, two = V_NAN, _moved(V_NAN, 10)
    assert fingerprints([one, two]) == list(reversed(fingerprints([two, one])))


# -- end to end ------------------------------------------------------------------------------


def test_cli_github_and_sarif(project: Callable[..., Path]) -> None:
    root = project({"src/my pipe.py": NAN_SOURCE})
    r = run_cli("check", "--output-format", "github", ".", cwd=root)
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(
        "::error file=src/my pipe.py,line=5,col=17,endLine=5,endColumn=39,title=ML102 nan-equality::"
    )
    assert lines[1].startswith("::error file=src/my pipe.py,line=6,col=4,")
    assert all("\n" not in line and "%0A" not in line for line in lines)

    r = run_cli("check", "--output-format", "sarif", "--output-file", "report.sarif", ".", cwd=root)
    assert r.returncode == 1, r.stderr
    assert "2 findings" in r.stdout  # the terminal shows the text report
    log = json.loads((root / "report.sarif").read_text(encoding="utf-8"))
    assert_valid_sarif(log)
    (run,) = log["runs"]
    assert [res["ruleId"] for res in run["results"]] == ["ML102", "ML102"]
    assert [
        res["locations"][0]["physicalLocation"]["region"]["startLine"] for res in run["results"]
    ] == [5, 6]
    uris = {
        res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for res in run["results"]
    }
    assert uris == {"src/my%20pipe.py"}
    assert all("fixes" in res for res in run["results"])  # ML102 has unsafe fixes

    # a second run (served from the result cache) reports exactly the same results
    again = run_cli("check", "--output-format", "sarif", ".", cwd=root)
    assert json.loads(again.stdout)["runs"][0]["results"] == run["results"]

    # the fingerprints survive lines added above the findings
    (root / "src/my pipe.py").write_text("# a header\n\n" + NAN_SOURCE, encoding="utf-8")
    r = run_cli("check", "--output-format", "sarif", ".", cwd=root)
    moved = json.loads(r.stdout)["runs"][0]["results"]
    assert [res["locations"][0]["physicalLocation"]["region"]["startLine"] for res in moved] == [
        7,
        8,
    ]
    assert [res["partialFingerprints"] for res in moved] == [
        res["partialFingerprints"] for res in run["results"]
    ]


# -- documentation ---------------------------------------------------------------------------


def test_documented_github_workflow() -> None:
    import yaml

    docs = Path(__file__).resolve().parent.parent / "docs"
    workflow_text = (docs / "github-workflow.yml").read_text(encoding="utf-8")
    # docs/integrations.md shows the same file, verbatim
    assert f"```yaml\n{workflow_text}```" in (docs / "integrations.md").read_text(encoding="utf-8")
    workflow = yaml.safe_load(workflow_text)
    job = workflow["jobs"]["mllint"]
    assert job["permissions"]["security-events"] == "write"
    steps = job["steps"]
    runs = [s.get("run", "") for s in steps]
    assert "pip install mllinter" in runs
    assert "mllint check --output-format github ." in runs
    sarif_step = next(s for s in steps if "--output-format sarif" in s.get("run", ""))
    assert "--output-file mllint.sarif" in sarif_step["run"] and sarif_step["if"] == "always()"
    upload = next(
        s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@")
    )
    assert upload["uses"].endswith("@v3") and upload["if"] == "always()"
    assert upload["with"]["sarif_file"] == "mllint.sarif"
    # every documented format exists
    for fmt in re.findall(r"--output-format ([a-z-]+)", (docs / "integrations.md").read_text()):
        assert fmt in FORMATS, fmt
