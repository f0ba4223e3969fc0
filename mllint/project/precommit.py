"""``.pre-commit-config.yaml`` as positioned hooks, and comment-preserving edits.

The file is composed (not loaded) with PyYAML's safe loader, so every node keeps its start and
end marks; rules report at the hook's ``id`` key and fixes are surgical text edits at those
marks, so comments and formatting elsewhere survive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mllint.project.base import FileEdit
from mllint.project.files import ProjectFile, ProjectIndex

CONFIG_NAMES = (".pre-commit-config.yaml", ".pre-commit-config.yml")


@dataclass
class Hook:
    file: ProjectFile
    repo: str
    node: Any  # yaml.MappingNode
    fields: dict[str, tuple[Any, Any]]  # key -> (key node, value node)

    @property
    def id(self) -> str:
        return self.scalar("id") or ""

    def scalar(self, key: str) -> str | None:
        kv = self.fields.get(key)
        if kv is None:
            return None
        value = kv[1]
        if value.tag.endswith(":seq") or value.tag.endswith(":map"):
            return None
        return str(value.value)

    def flag(self, key: str) -> bool | None:
        v = self.scalar(key)
        if v is None:
            return None
        return v.strip().lower() in ("true", "yes", "on")

    def strings(self, key: str) -> list[str] | None:
        kv = self.fields.get(key)
        if kv is None:
            return None
        value = kv[1]
        if not value.tag.endswith(":seq"):
            return [str(value.value)] if isinstance(value.value, str) and value.value else []
        return [str(item.value) for item in value.value if isinstance(item.value, str)]

    def id_span(self) -> tuple[int, int]:
        """Character offsets of the ``id: value`` pair (the reported location)."""
        kv = self.fields.get("id")
        if kv is None:
            return self.node.start_mark.index, self.node.start_mark.index
        return kv[0].start_mark.index, kv[1].end_mark.index

    @property
    def is_local(self) -> bool:
        return self.repo in ("local", "meta")


@dataclass
class PreCommitConfig:
    file: ProjectFile
    hooks: list[Hook]
    default_stages: list[str] | None


def load(index: ProjectIndex) -> PreCommitConfig | None:
    for name in CONFIG_NAMES:
        pf = index.config(name)
        if pf is None:
            continue
        root = index.parsed(name)
        if root is None or not root.tag.endswith(":map"):
            return None
        top = _fields(root)
        default_stages = None
        if "default_stages" in top:
            v = top["default_stages"][1]
            if v.tag.endswith(":seq"):
                default_stages = [str(i.value) for i in v.value if isinstance(i.value, str)]
        hooks: list[Hook] = []
        repos = top.get("repos")
        if repos is not None and repos[1].tag.endswith(":seq"):
            for repo_node in repos[1].value:
                if not repo_node.tag.endswith(":map"):
                    continue
                rf = _fields(repo_node)
                repo = (
                    str(rf["repo"][1].value)
                    if "repo" in rf and isinstance(rf["repo"][1].value, str)
                    else ""
                )
                hk = rf.get("hooks")
                if hk is None or not hk[1].tag.endswith(":seq"):
                    continue
                for hook_node in hk[1].value:
                    if hook_node.tag.endswith(":map"):
                        hooks.append(Hook(pf, repo, hook_node, _fields(hook_node)))
        return PreCommitConfig(pf, hooks, default_stages)
    return None


def _fields(node: Any) -> dict[str, tuple[Any, Any]]:
    out: dict[str, tuple[Any, Any]] = {}
    for k, v in node.value:
        if isinstance(k.value, str):
            out.setdefault(k.value, (k, v))
    return out


def yaml_quote(value: str) -> str:
    """A YAML flow scalar for ``value`` (double-quoted JSON is valid YAML)."""
    return json.dumps(value)


def _line_end(text: str, offset: int) -> int:
    nl = text.find("\n", offset)
    return len(text) if nl < 0 else nl


def _flow_insert_before_close(text: str, end_index: int) -> int:
    """Offset of the closing bracket of a flow collection ending at ``end_index``."""
    i = end_index - 1
    while i > 0 and text[i] in " \t\r\n":
        i -= 1
    return i


def set_key(hook: Hook, key: str, value_text: str) -> FileEdit:
    """Add ``key: value`` to a hook (replace the value when the key exists)."""
    text = hook.file.text
    if key in hook.fields:
        v = hook.fields[key][1]
        return FileEdit(hook.file.relpath, v.start_mark.index, v.end_mark.index, value_text)
    if hook.node.flow_style:
        close = _flow_insert_before_close(text, hook.node.end_mark.index)
        return FileEdit(hook.file.relpath, close, close, f", {key}: {value_text}")
    id_kv = hook.fields.get("id")
    anchor = id_kv[1] if id_kv is not None else hook.node.value[0][1]
    key_node = id_kv[0] if id_kv is not None else hook.node.value[0][0]
    indent = key_node.start_mark.column
    at = _line_end(
        text,
        anchor.end_mark.index
        if anchor.end_mark.line == key_node.start_mark.line
        else key_node.start_mark.index,
    )
    newline = "\r\n" if text[at : at + 2] == "\r\n" or text.find("\r\n") >= 0 else "\n"
    if text[at - 1 : at] == "\r":
        at -= 1
    return FileEdit(hook.file.relpath, at, at, f"{newline}{' ' * indent}{key}: {value_text}")


def append_to_list(hook: Hook, key: str, items: list[str]) -> FileEdit:
    """Append ``items`` (already YAML scalars) to the list value of ``key`` (created as a
    flow list when absent)."""
    text = hook.file.text
    kv = hook.fields.get(key)
    if kv is None or not kv[1].tag.endswith(":seq"):
        return set_key(hook, key, "[" + ", ".join(items) + "]")
    seq = kv[1]
    if seq.flow_style:
        close = _flow_insert_before_close(text, seq.end_mark.index)
        sep = ", " if seq.value else ""
        # keep a trailing comma style: `[a, b,]`
        before = text[:close].rstrip()
        if before.endswith(","):
            sep = " "
        return FileEdit(hook.file.relpath, close, close, sep + ", ".join(items))
    last = seq.value[-1]
    first = seq.value[0]
    dash_col = first.start_mark.column - 2 if first.start_mark.column >= 2 else 0
    # find the real dash column on the first item's line
    line_start = text.rfind("\n", 0, first.start_mark.index) + 1
    dash = text.find("-", line_start, first.start_mark.index)
    if dash >= 0:
        dash_col = dash - line_start
    at = _line_end(text, last.end_mark.index - 1 if last.end_mark.index > 0 else 0)
    if text[at - 1 : at] == "\r":
        at -= 1
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = "".join(f"{newline}{' ' * dash_col}- {item}" for item in items)
    return FileEdit(hook.file.relpath, at, at, lines)
