"""ML791-ML794: rules that read ``.pre-commit-config.yaml``."""

from __future__ import annotations

import re
from typing import ClassVar

from mllint.project import precommit
from mllint.project.base import ProjectFix, ProjectRule
from mllint.project.deps import declared, import_name, normalise, parse_requirement
from mllint.project.precommit import Hook, append_to_list, set_key, yaml_quote
from mllint.project.pyscan import imports, top_modules
from mllint.rule import FixSafety

_TEST_RUNNERS = [
    (re.compile(r"(?<![\w./-])(?:python3?\s+-m\s+)?pytest(?![\w.-])"), "pytest"),
    (re.compile(r"(?<![\w./-])py\.test(?![\w.-])"), "pytest"),
    (re.compile(r"(?<![\w./-])hatch\s+(?:test|run\s+(?:[\w-]+:)?test)(?![\w.-])"), "hatch test"),
    (re.compile(r"(?<![\w./-])coverage\s+run(?![\w.-])"), "coverage"),
    (re.compile(r"(?<![\w./-])make\s+test(?![\w.-])"), "make test"),
    (re.compile(r"(?<![\w./-])tox(?![\w.-])"), "tox"),
    (re.compile(r"(?<![\w./-])nox(?![\w.-])"), "nox"),
]
#: pytest options that select a subset of the tests (not "the whole test suite")
_SUBSET_RE = re.compile(
    r"(?<![\w-])(?:-m|-k|--lf|--last-failed|--testmon|--picked|--sw|--stepwise)(?![\w-])"
)


def _command(hook: Hook) -> str:
    """What the hook runs: ``entry`` for local hooks, else the id; plus ``args``."""
    entry = hook.scalar("entry") if hook.is_local else None
    parts = [entry or hook.id, *(hook.strings("args") or [])]
    return " ".join(p for p in parts if p)


def _stages_run_on_commit(hook: Hook, default_stages: list[str] | None) -> bool:
    stages = hook.strings("stages")
    if stages is None:
        stages = default_stages
    if stages is None:
        return True
    return any(s in ("pre-commit", "commit") for s in stages)


class FullTestSuiteOnCommit(ProjectRule):
    """
    ## What it does
    Flags a `.pre-commit-config.yaml` hook that runs the test suite or coverage (`pytest`,
    `python -m pytest`, `py.test`, `tox`, `nox`, `hatch test`, `coverage run`, `make test` in a
    local hook's `entry`, or a hook id naming them) at the commit stage while ignoring which
    files changed (`pass_filenames: false` or `always_run: true`).

    Not flagged: hooks limited to other stages (`stages: [pre-push]`, or a `default_stages`
    without `pre-commit`), and pytest runs that select a subset (`-m`, `-k`, `--lf`,
    `--testmon`, `--picked`, `--sw`).

    ## Why is this bad?
    A commit hook that runs the whole suite takes tens of seconds; developers start
    committing with `--no-verify`, and then no hook runs at all. Fast checks belong on commit
    (1-2 s), the comprehensive ones on push.

    ## Example
    ```yaml
    - repo: local
      hooks:
        - id: pytest
          name: pytest
          entry: pytest tests/ --cov
          language: system
          pass_filenames: false
    ```

    ## Use instead
    ```yaml
    - repo: local
      hooks:
        - id: pytest
          name: pytest
          entry: pytest tests/ --cov
          language: system
          pass_filenames: false
          stages: [pre-push]
    ```

    ## Fix safety
    Unsafe: adds `stages: [pre-push]` to the hook (the tests then run on push, not on
    commit). The edit is made in place; comments and formatting are kept.
    """

    code = "ML791"
    name = "full-test-suite-on-commit"
    summary = "A pre-commit hook runs the whole test suite (or coverage) on every commit"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    reads: ClassVar[tuple[str, ...]] = (".pre-commit-config.yaml",)

    def check(self) -> None:
        cfg = precommit.load(self.project)
        if cfg is None:
            return
        for hook in cfg.hooks:
            if not (hook.flag("pass_filenames") is False or hook.flag("always_run") is True):
                continue
            if not _stages_run_on_commit(hook, cfg.default_stages):
                continue
            command = _command(hook)
            match = next(
                ((m, label) for rx, label in _TEST_RUNNERS if (m := rx.search(command))), None
            )
            if match is None:
                continue
            tool = match[1]
            if tool == "pytest" and _SUBSET_RE.search(command[match[0].end() :]):
                continue
            start, end = hook.id_span()
            fix = ProjectFix(FixSafety.UNSAFE, [set_key(hook, "stages", "[pre-push]")])
            self.report_at(
                hook.file,
                start,
                end,
                f"Hook '{hook.id}' runs {tool} on the whole project at the pre-commit stage; "
                "commit hooks must be fast (documents: < 2-10 s) — move it to stages: [pre-push]",
                fix,
            )


_CHECK_TOOLS = re.compile(
    r"(?<![\w.-])(pytest|py\.test|mypy|ruff|flake8|pylint|bandit|mllint|tox|nox|coverage)(?![\w.-])"
)
_EXIT_ZERO = re.compile(r"(?<![\w-])--exit-zero(?![\w-])")


def _unquoted_or(command: str) -> list[int]:
    """Offsets of ``||`` that are not inside a quoted argument of an inner command (one
    level of quoting, as in ``bash -c '...'``, still counts)."""
    out: list[int] = []
    stack: list[str] = []
    i = 0
    while i < len(command):
        c = command[i]
        if c == "\\":
            i += 2
            continue
        if c in "'\"":
            if stack and stack[-1] == c:
                stack.pop()
            elif len(stack) < 2:
                stack.append(c)
        elif command.startswith("||", i) and len(stack) <= 1:
            out.append(i)
            i += 2
            continue
        i += 1
    return out


def _masking_fragment(command: str) -> str | None:
    m = _EXIT_ZERO.search(command)
    if m:
        return "--exit-zero"
    for pos in _unquoted_or(command):
        rest = command[pos + 2 :]
        # the fallback, up to the end of this command list (quote, ;, && or end)
        fallback = re.split(r"['\"]|;|&&", rest, maxsplit=1)[0].strip()
        if re.fullmatch(r"\(?\s*(?:exit\s+[1-9]\d*|false)\s*\)?", fallback) or re.search(
            r"(?<![\w-])exit\s+[1-9]", fallback
        ):
            continue  # `|| exit 1` keeps the failure
        before = command[:pos].rstrip()
        prefix = "2>/dev/null " if before.endswith("2>/dev/null") else ""
        return f"{prefix}|| {fallback}".rstrip()
    tail = command.rstrip().rstrip("'\"").rstrip()
    m2 = re.search(r";\s*(exit\s+0|true)$", tail)
    if m2:
        return f"; {m2.group(1)}"
    return None


class HookMasksFailure(ProjectRule):
    """
    ## What it does
    Flags a `.pre-commit-config.yaml` hook that runs a test, lint or type-check tool (`pytest`,
    `mypy`, `ruff`, `flake8`, `pylint`, `bandit`, `mllint`, `tox`, `nox`, `coverage`) in a way
    that cannot fail: `|| <fallback>` (including `|| true`, `|| exit 0`, `2>/dev/null ||`),
    a trailing `; exit 0` / `; true`, or `--exit-zero` in its entry or args.

    Not flagged: `|| exit 1` (and other non-zero exits), and `||` inside a quoted argument
    of the inner command.

    ## Why is this bad?
    When the checks fail the command exits non-zero, the fallback runs and succeeds, and the
    hook reports success; `2>/dev/null` also discards the errors. The hook no longer gates
    anything. A well-known example recommends
    `bash -c 'pytest -n auto 2>/dev/null || python test_package.py'` to cope with a missing
    `pytest-xdist`: every real test failure then passes the hook. Declare `pytest-xdist` in
    the dev dependencies or hook environment, or drop `-n auto`.

    ## Example
    ```yaml
    - id: tests
      entry: bash -c 'pytest -n auto 2>/dev/null || python test_package.py'
    ```

    ## Use instead
    ```yaml
    - id: tests
      entry: pytest -n auto   # with pytest-xdist declared
    ```

    ## Fix safety
    No fix: only you know which failure the fallback was meant to tolerate.
    """

    code = "ML792"
    name = "hook-masks-failure"
    summary = (
        "A pre-commit hook's command cannot fail (`|| …`, `|| true`, `; exit 0`, `--exit-zero`)"
    )
    tier = 2
    reads: ClassVar[tuple[str, ...]] = (".pre-commit-config.yaml",)

    def check(self) -> None:
        cfg = precommit.load(self.project)
        if cfg is None:
            return
        for hook in cfg.hooks:
            command = _command(hook)
            if not _CHECK_TOOLS.search(command) and not _CHECK_TOOLS.search(hook.id):
                continue
            fragment = _masking_fragment(command)
            if fragment is None:
                continue
            start, end = hook.id_span()
            self.report_at(
                hook.file,
                start,
                end,
                f"Hook '{hook.id}' masks failures ('{fragment}'): when the checks fail the "
                "fallback runs and the hook still passes",
            )


_FORMATTERS = {
    "black": "black",
    "black-jupyter": "black",
    "ruff-format": "ruff-format",
    "autopep8": "autopep8",
    "yapf": "yapf",
    "blue": "blue",
    "pyink": "pyink",
}


class ConflictingFormatters(ProjectRule):
    """
    ## What it does
    Flags a `.pre-commit-config.yaml` that runs two different full Python code formatters:
    any two of `black` (with `black-jupyter`, the same tool), `ruff-format`, `autopep8`,
    `yapf`, `blue`, `pyink`. Reported at the second formatter's hook.

    Not flagged: `isort`, `ruff` (the linter, even with `--fix`), `docformatter` (not full
    formatters), and `black` together with `black-jupyter`.

    ## Why is this bad?
    Formatters with different styles undo each other's output, so every commit shows
    spurious diffs or the hooks fail alternately.

    ## Example
    ```yaml
    - repo: https://github.com/psf/black
      rev: 24.4.2
      hooks:
        - id: black
    - repo: https://github.com/hhatto/autopep8
      rev: v2.3.1
      hooks:
        - id: autopep8
    ```

    ## Use instead
    Keep one formatter (only `black`, or only `ruff-format`).

    ## Fix safety
    No fix: which formatter to keep is a team decision.
    """

    code = "ML793"
    name = "conflicting-formatters"
    summary = "Two full code formatters run in the same pre-commit configuration"
    tier = 2
    reads: ClassVar[tuple[str, ...]] = (".pre-commit-config.yaml",)

    def check(self) -> None:
        cfg = precommit.load(self.project)
        if cfg is None:
            return
        first: Hook | None = None
        for hook in cfg.hooks:
            tool = _FORMATTERS.get(hook.id)
            if tool is None:
                continue
            if first is None:
                first = hook
                continue
            if _FORMATTERS[first.id] == tool:
                continue
            start, end = hook.id_span()
            self.report_at(
                hook.file,
                start,
                end,
                f"Both '{first.id}' and '{hook.id}' reformat Python code; their outputs differ "
                "and they rewrite each other's changes — keep one",
            )


#: distributions whose types matter to mypy -> what to install in the hook environment
_TYPED: dict[str, tuple[str, ...]] = {
    "numpy": (),
    "pandas": ("pandas-stubs",),
    "torch": (),
    "pydantic": (),
    "attrs": (),
    "requests": ("types-requests",),
    "pyyaml": ("types-PyYAML",),
    "typing-extensions": (),
    "scipy": (),
    "jax": (),
}
#: stub-only installs that satisfy a distribution on their own
_STUB_ONLY = {"requests": "types-requests", "pyyaml": "types-pyyaml"}
#: stub packages that satisfy the check for a distribution
_SATISFIED_BY = {**_STUB_ONLY, "pandas": "pandas-stubs"}


class MypyHookMissingDependencies(ProjectRule):
    """
    ## What it does
    Flags the `mypy` hook from `https://github.com/pre-commit/mirrors-mypy` when its
    `additional_dependencies` lack a typed distribution that the project declares (in
    `[project] dependencies` or an extra) and that the files the hook checks (its `files` /
    `exclude` patterns) import: `numpy`, `pandas` (with `pandas-stubs`), `torch`, `pydantic`,
    `attrs`, `requests` (`types-requests`), `PyYAML` (`types-PyYAML`), `typing-extensions`,
    `scipy`, `jax`. With `--ignore-missing-imports` in `args` the message says so.

    ## Why is this bad?
    pre-commit installs each hook into its own virtualenv; mypy there cannot see the
    project's packages, so every numpy/pydantic type is unresolved: errors, or with
    `--ignore-missing-imports` silently `Any`, and the hook checks far less than the
    developer believes.

    ## Example
    ```yaml
    - repo: https://github.com/pre-commit/mirrors-mypy
      rev: v1.10.0
      hooks:
        - id: mypy
          args: [--ignore-missing-imports]
    ```

    ## Use instead
    ```yaml
        - id: mypy
          additional_dependencies: ["numpy>=1.24", "pydantic>=2", "pandas-stubs"]
    ```

    ## Fix safety
    Unsafe: appends the project's requirement strings (and the stub packages) for the
    missing distributions to `additional_dependencies`; the hook environment changes and
    mypy may report new errors. Comments and formatting are kept.
    """

    code = "ML794"
    name = "mypy-hook-missing-dependencies"
    summary = "The mypy pre-commit hook runs without the project's typed dependencies"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)
    reads: ClassVar[tuple[str, ...]] = (".pre-commit-config.yaml", "pyproject.toml")

    def check(self) -> None:
        cfg = precommit.load(self.project)
        if cfg is None:
            return
        hooks = [
            h
            for h in cfg.hooks
            if h.id == "mypy"
            and "pre-commit/mirrors-mypy" in h.repo.rstrip("/").removesuffix(".git")
        ]
        if not hooks:
            return
        wanted: dict[str, str] = {}  # dist -> requirement text
        for d in declared(self.project):
            if d.req.name in _TYPED and d.req.name not in wanted:
                wanted[d.req.name] = d.req.text
        if not wanted:
            return
        for hook in hooks:
            have: set[str] = set()
            for dep in hook.strings("additional_dependencies") or []:
                r = parse_requirement(dep)
                if r is not None:
                    have.add(r.name)
            used = self._imported(hook)
            missing = [
                dist
                for dist in wanted
                if import_name(dist).split(".")[0] in used
                and dist not in have
                and not (dist in _SATISFIED_BY and normalise(_SATISFIED_BY[dist]) in have)
            ]
            if not missing:
                continue
            items: list[str] = []
            for dist in missing:
                if dist not in _STUB_ONLY:
                    items.append(yaml_quote(wanted[dist]))
                items.extend(yaml_quote(s) for s in _TYPED[dist] if normalise(s) not in have)
            args = hook.strings("args") or []
            extra = ""
            if "--ignore-missing-imports" in args:
                extra = " (its --ignore-missing-imports turns this into silence)"
            start, end = hook.id_span()
            self.report_at(
                hook.file,
                start,
                end,
                f"The mypy hook runs in an isolated environment without {', '.join(missing)}; "
                f"their imports become Any (or errors){extra}. Add them to additional_dependencies",
                ProjectFix(
                    FixSafety.UNSAFE, [append_to_list(hook, "additional_dependencies", items)]
                ),
            )

    def _imported(self, hook: Hook) -> set[str]:
        files = hook.scalar("files") or ""
        exclude = hook.scalar("exclude") or "^$"
        try:
            files_re, exclude_re = re.compile(files), re.compile(exclude)
        except re.error:
            files_re, exclude_re = re.compile(""), re.compile("^$")
        out: set[str] = set()
        for rel in self.project.python_relpaths():
            if not files_re.search(rel) or exclude_re.search(rel):
                continue
            mod = self.project.module(rel)
            tree = mod.tree if mod is not None else None
            if tree is None:
                continue
            for info in imports(tree):
                out.update(top_modules(info))
        return out
