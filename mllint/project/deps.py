"""Declared dependencies (PEP 508 strings in ``pyproject.toml``) and their import names."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mllint.project.files import ProjectIndex

#: distribution -> import name where they differ (RULES.md ML781), normalised dist names
IMPORT_NAMES: dict[str, str] = {
    "scikit-learn": "sklearn",
    "opencv-python": "cv2",
    "opencv-python-headless": "cv2",
    "opencv-contrib-python": "cv2",
    "opencv-contrib-python-headless": "cv2",
    "pyyaml": "yaml",
    "pillow": "PIL",
    "scikit-image": "skimage",
    "beautifulsoup4": "bs4",
    "protobuf": "google.protobuf",
    "pytorch-lightning": "pytorch_lightning",
}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def import_name(dist: str, extra: Mapping[str, str] | None = None) -> str:
    d = normalise(dist)
    if extra:
        for k, v in extra.items():
            if normalise(k) == d:
                return v
    return IMPORT_NAMES.get(d, d.replace("-", "_"))


@dataclass
class Req:
    text: str
    name: str  # normalised
    specifier: str
    url: str | None
    marker: Any  # packaging.markers.Marker | None
    extras: frozenset[str]


def parse_requirement(text: str) -> Req | None:
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # pragma: no cover - packaging is a dependency
        return None
    try:
        r = Requirement(text)
    except InvalidRequirement:
        return None
    return Req(text, normalise(r.name), str(r.specifier), r.url, r.marker, frozenset(r.extras))


@dataclass
class Declared:
    """One requirement string in ``pyproject.toml`` with its table path (for positions)."""

    req: Req
    key: tuple[
        Any, ...
    ]  # ("project", "dependencies") or ("project", "optional-dependencies", extra)
    index: int  # position in the array

    @property
    def extra(self) -> str | None:
        return (
            self.key[2] if len(self.key) == 3 and self.key[1] == "optional-dependencies" else None
        )


def declared(index: ProjectIndex) -> Iterator[Declared]:
    """``[project.dependencies]`` then every ``[project.optional-dependencies]`` extra."""
    project = index.project_table()
    deps = project.get("dependencies")
    if isinstance(deps, list):
        for i, d in enumerate(deps):
            if isinstance(d, str) and (r := parse_requirement(d)) is not None:
                yield Declared(r, ("project", "dependencies"), i)
    opt = project.get("optional-dependencies")
    if isinstance(opt, dict):
        for extra, items in opt.items():
            if not isinstance(items, list):
                continue
            for i, d in enumerate(items):
                if isinstance(d, str) and (r := parse_requirement(d)) is not None:
                    yield Declared(r, ("project", "optional-dependencies", extra), i)


def dev_dependency_names(index: ProjectIndex) -> set[str]:
    """Every distribution the project declares anywhere: dependencies, extras, PEP 735
    groups, Poetry/PDM/uv dev groups and ``requirements*.txt`` at the root."""
    names: set[str] = {d.req.name for d in declared(index)}
    data = index.pyproject()

    def add_list(items: Any) -> None:
        if isinstance(items, list):
            for it in items:
                if isinstance(it, str) and (r := parse_requirement(it)) is not None:
                    names.add(r.name)

    groups = data.get("dependency-groups")
    if isinstance(groups, dict):
        for items in groups.values():
            add_list(items)
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    assert isinstance(tool, dict)
    poetry = tool.get("poetry")
    if isinstance(poetry, dict):
        for key in ("dependencies", "dev-dependencies"):
            if isinstance(poetry.get(key), dict):
                names.update(normalise(k) for k in poetry[key])
        if isinstance(poetry.get("group"), dict):
            for g in poetry["group"].values():
                if isinstance(g, dict) and isinstance(g.get("dependencies"), dict):
                    names.update(normalise(k) for k in g["dependencies"])
    pdm = tool.get("pdm")
    if isinstance(pdm, dict) and isinstance(pdm.get("dev-dependencies"), dict):
        for items in pdm["dev-dependencies"].values():
            add_list(items)
    uv = tool.get("uv")
    if isinstance(uv, dict):
        add_list(uv.get("dev-dependencies"))
    try:
        reqs = sorted(index.root.glob("requirements*.txt")) + sorted(
            index.root.glob("requirements/*.txt")
        )
    except OSError:  # pragma: no cover
        reqs = []
    for p in reqs:
        try:
            text = p.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                r = parse_requirement(line)
                if r is not None:
                    names.add(r.name)
    return names
