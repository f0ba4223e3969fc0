"""ML900 unused-noqa: implemented by the engine (it needs every other rule's findings)."""

from __future__ import annotations

from mllint.rule import FixSafety, Rule


class UnusedNoqa(Rule):
    """
    ## What it does
    Reports `# noqa: ML…` codes and `# mllint: ignore[…]` items that suppress nothing on their
    line: the rule they name reported nothing there in this run, or the code does not exist.
    Only codes of rules enabled in the run (and unknown `ML` codes) are judged; a blanket
    `# noqa` and other tools' codes (`E501`, `B006`) are left alone.

    ## Why is this bad?
    A stale suppression hides the next real finding on that line, and it tells readers that
    the line has a problem it no longer has — typically after the code was fixed or a rule was
    made more precise.

    ## Example
    ```python
    best = max(scores)  # noqa: ML101
    ```

    ## Use instead
    ```python
    best = max(scores)
    ```

    ## Fix safety
    Safe: only the unused items are removed (the whole comment when nothing else is left in
    it); behaviour cannot change. Off by default, like ruff's RUF100; enable it with
    `extend-select = ["ML900"]`. ruff users keep `external = ["ML"]` in `[tool.ruff.lint]`, so
    that ruff's RUF100 leaves `# noqa: ML…` to mllint.
    """

    code = "ML900"
    name = "unused-noqa"
    summary = "A `# noqa: ML…` or `# mllint: ignore[…]` suppression that suppresses nothing"
    default_enabled = False
    fix_safety = (FixSafety.SAFE,)
    requires_text = ("noqa", "NOQA", "mllint:")
    tier = 3
