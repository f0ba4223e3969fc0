"""JUnit XML: one test suite ``mllint``, one test case per file with findings or an error, a
``<failure>`` per finding and an ``<error>`` per file that could not be checked."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TextIO

from mllint.reporters import Report

#: characters XML 1.0 cannot contain at all, not even escaped (ElementTree does not check)
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: str) -> str:
    return _XML_ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _clean_text(text: str) -> str:
    """Element text: XML parsers turn a bare CR into LF anyway, so write it as one."""
    return _clean(text.replace("\r\n", "\n").replace("\r", "\n"))


def render_junit(report: Report, out: TextIO, quiet: bool, statistics: bool) -> None:
    cases: dict[str, ET.Element] = {}

    def case(filename: str) -> ET.Element:
        element = cases.get(filename)
        if element is None:
            element = ET.Element(
                "testcase", name=_clean(filename), classname="mllint", file=_clean(filename)
            )
            cases[filename] = element
        return element

    for v in report.violations:
        failure = ET.SubElement(
            case(v.filename),
            "failure",
            message=_clean(f"{v.code} [{v.name}] {v.message}"),
            type=v.code,
        )
        failure.text = _clean_text(f"{v.location()}: {v.code} [{v.name}] {v.message}")
    for e in report.file_errors:
        error = ET.SubElement(
            case(e.filename), "error", message=_clean(str(e.error)), type="file-error"
        )
        error.text = _clean_text(f"{e.filename}: error: {e.error}")

    # JUnit counts test cases: a file with three findings is one failed test case
    counts = {
        "tests": str(len(cases)),
        "failures": str(sum(1 for c in cases.values() if c.find("failure") is not None)),
        "errors": str(sum(1 for c in cases.values() if c.find("error") is not None)),
        "skipped": "0",
    }
    root = ET.Element("testsuites", {"name": "mllint", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": "mllint", **counts})
    suite.extend(cases.values())
    ET.indent(root)
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(ET.tostring(root, encoding="unicode"))
    out.write("\n")
