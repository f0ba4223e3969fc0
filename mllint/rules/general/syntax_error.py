"""ML000 syntax-error: reported by the engine, not by a visitor."""

from __future__ import annotations

from mllint.rule import Rule


class SyntaxErrorRule(Rule):
    """
    ## What it does
    Reports a file that mllint cannot parse, with the line and column of the error, and goes
    on with the other files. The file is never modified.

    ## Why is this bad?
    A file that does not parse cannot be checked, and Python cannot import it either.

    ## Example
    ```python
    def train(model:
        ...
    ```

    ## Use instead
    Fix the syntax error; `python -m py_compile <file>` shows the same position.

    ## Fix safety
    No fix. This finding cannot be disabled with `--ignore` or `# noqa`.
    """

    code = "ML000"
    name = "syntax-error"
    summary = "The file cannot be parsed (reported by the engine; the run goes on)"
    tier = 1
