"""ML704 import-from-src."""

from __future__ import annotations

import ast
import os
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Rule
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import dotted_name

#: files that mark the folder holding ``src/`` as a project root
_ROOT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg")


def _through_src(module: str | None) -> bool:
    return module is not None and (module == "src" or module.startswith("src."))


class ImportFromSrc(Rule):
    """
    ## What it does
    Flags absolute imports whose first dotted component is `src`: `from src.models.train
    import train_model`, `import src.utils as utils`. Also flags a file `src/__init__.py`
    next to a project's `pyproject.toml`/`setup.py`/`setup.cfg` (once, at line 1): it is what
    makes `src` importable as a package.

    ## Why is this bad?
    With a src layout, `src/` is a source root, not a package. Importing `src.x` works only
    from the repository root (where `src` happens to be on `sys.path`), bypasses the
    installed distribution - so packaging errors such as missing package data are never
    caught - and breaks as soon as the code is installed elsewhere.

    ## Example
    ```python
    from src.ml_toolkit.models.train import train_model
    ```

    ## Use instead
    ```python
    from ml_toolkit.models.train import train_model
    ```
    with `src/ml_toolkit/__init__.py` and an editable install (`pip install -e .`).

    ## Fix safety
    Unsafe: `src.<pkg>.<rest>` becomes `<pkg>.<rest>` when `src/<pkg>/__init__.py` exists
    next to the checked file's project; the import then resolves to the installed package,
    which must be installed (and may differ from the working tree). Not fixed: `import
    src.<pkg>` without `as` (it binds the name `src`), `from src import <pkg>`, modules
    directly under `src/` without a package folder, and `src/__init__.py`.
    """

    code = "ML704"
    name = "import-from-src"
    summary = "Imports that go through a `src` package (`from src.models import …`)"
    tier = 2
    fix_safety = (FixSafety.UNSAFE,)

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # the file src/__init__.py itself, or an absolute import of `src` / `src.<...>`
        path = facts.path.replace("\\", "/")
        if path == "src/__init__.py" or path.endswith("/src/__init__.py"):
            return True
        if "src" not in scan.source:
            return False
        for imp in scan.of(ast.Import):
            if any(_through_src(a.name) for a in imp.names):
                return True
        return any(not imp.level and _through_src(imp.module) for imp in scan.of(ast.ImportFrom))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._src_dir: str | bool | None = False  # False: not looked up yet

    # -- src/__init__.py ---------------------------------------------------------------
    def visit_Module(self, node: cst.Module) -> None:
        path = self.ctx.facts.path.replace("\\", "/")
        if path != "src/__init__.py" and not path.endswith("/src/__init__.py"):
            return
        absolute = self.ctx.facts.abspath or os.path.abspath(self.ctx.facts.path)
        root = os.path.dirname(os.path.dirname(absolute))
        if not any(os.path.isfile(os.path.join(root, m)) for m in _ROOT_MARKERS):
            return
        self.report(
            node,
            "'src/__init__.py' makes the source root an importable package named 'src', so "
            "'import src.…' works from the repository root only; delete it, install the project "
            "(pip install -e .) and import the package itself",
        )

    # -- imports ------------------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            name = dotted_name(alias.name)
            if not _through_src(name):
                continue
            assert name is not None
            fix = None
            target = name.partition(".")[2]
            if alias.asname is not None and len(node.names) == 1 and self._package_exists(target):
                fix = Fix(FixSafety.UNSAFE).replace(alias.name, cst.parse_expression(target))
            self.report(node, self._message(target), fix)
            return

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None:
            return
        name = dotted_name(node.module)
        if not _through_src(name):
            return
        assert name is not None
        target = name.partition(".")[2]
        fix = None
        if target and self._package_exists(target):
            fix = Fix(FixSafety.UNSAFE).replace(node.module, cst.parse_expression(target))
        shown = target
        if not shown and not isinstance(node.names, cst.ImportStar) and len(node.names) == 1:
            shown = dotted_name(node.names[0].name) or ""
        self.report(node, self._message(shown), fix)

    @staticmethod
    def _message(target: str) -> str:
        shown = target or "<package>"
        return (
            "Import through 'src' imports the working tree instead of the installed package; "
            f"install the project (pip install -e .) and import '{shown}'"
        )

    def _package_exists(self, target: str) -> bool:
        """Whether ``src/<pkg>/__init__.py`` exists for the first component of ``target``,
        in the nearest folder above the checked file that has a ``src`` folder."""
        pkg = target.split(".")[0]
        if not pkg or not pkg.isidentifier():
            return False
        src = self._find_src()
        return src is not None and os.path.isfile(os.path.join(src, pkg, "__init__.py"))

    def _find_src(self) -> str | None:
        if self._src_dir is False:
            found: str | None = None
            absolute = self.ctx.facts.abspath or os.path.abspath(self.ctx.facts.path)
            d = os.path.dirname(absolute)
            while True:
                if os.path.basename(d) == "src" and os.path.isdir(d):
                    found = d
                    break
                if os.path.isdir(os.path.join(d, "src")):
                    found = os.path.join(d, "src")
                    break
                parent = os.path.dirname(d)
                if parent == d:
                    break
                d = parent
            self._src_dir = found
        return self._src_dir if isinstance(self._src_dir, str) else None
