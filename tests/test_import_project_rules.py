"""ML704, ML781, ML782, ML783, ML971: exact messages, positions and fix conditions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mllint.rules.project.stdlib_versions import ADDED


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def _run(root: Path, code: str, *extra: str, project_only: bool = True) -> list[dict[str, object]]:
    args = ["check", "--no-cache", "--select", code, "--output-format", "json", *extra, "."]
    if project_only:
        args.insert(1, "--project-only")
    r = subprocess.run(
        [sys.executable, "-m", "mllint", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def _short(findings: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [
        (f["filename"], f["line"], f["column"], f["message"], f["fix"] is not None)
        for f in findings
    ]


def _pyproject(requires: str | None, deps: list[str], extras: str = "") -> str:
    rp = f'requires-python = "{requires}"\n' if requires else ""
    return (
        f'[project]\nname = "pkg"\nversion = "0.1"\n{rp}dependencies = {json.dumps(deps)}\n{extras}'
    )


# -- ML783 ------------------------------------------------------------------------------


def test_version_table_has_the_required_names() -> None:
    required = {
        "typing.Literal": (3, 8), "typing.Final": (3, 8), "typing.Protocol": (3, 8),
        "typing.TypedDict": (3, 8), "typing.runtime_checkable": (3, 8), "typing.Annotated": (3, 9),
        "functools.cache": (3, 9), "zoneinfo": (3, 9), "graphlib": (3, 9), "asyncio.to_thread": (3, 9),
        "math.lcm": (3, 9), "typing.ParamSpec": (3, 10), "typing.TypeAlias": (3, 10),
        "typing.TypeGuard": (3, 10), "typing.Concatenate": (3, 10), "itertools.pairwise": (3, 10),
        "contextlib.aclosing": (3, 10), "dataclasses.KW_ONLY": (3, 10), "typing.Self": (3, 11),
        "typing.Never": (3, 11), "typing.LiteralString": (3, 11), "typing.assert_never": (3, 11),
        "typing.reveal_type": (3, 11), "typing.Required": (3, 11), "typing.NotRequired": (3, 11),
        "typing.TypeVarTuple": (3, 11), "typing.Unpack": (3, 11), "typing.dataclass_transform": (3, 11),
        "tomllib": (3, 11), "asyncio.TaskGroup": (3, 11), "asyncio.timeout": (3, 11),
        "asyncio.Runner": (3, 11), "enum.StrEnum": (3, 11), "datetime.UTC": (3, 11),
        "contextlib.chdir": (3, 11), "builtins.ExceptionGroup": (3, 11), "typing.override": (3, 12),
        "itertools.batched": (3, 12), "collections.abc.Buffer": (3, 12), "typing.TypeIs": (3, 13),
        "typing.ReadOnly": (3, 13), "concurrent.futures.InterpreterPoolExecutor": (3, 14),
    }  # fmt: skip
    assert {k: ADDED.get(k) for k in required} == required
    # names that exist on every Python 3 are not in the table
    for name in ("typing.Any", "typing.List", "functools.lru_cache", "asyncio.run", "os.path"):
        assert name not in ADDED


def test_ml783_messages_positions_and_guards(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "pyproject.toml": _pyproject(">=3.9", ["numpy"]),
            "pkg/__init__.py": (
                "import sys, tomllib\n"
                "import itertools as it\n"
                "from typing import Any, Self, override\n"
                "pairs = it.pairwise([1, 2])\n"
                "try:\n"
                "    from datetime import UTC\n"
                "except ImportError:\n"
                "    UTC = None\n"
                "if sys.version_info >= (3, 12):\n"
                "    from itertools import batched\n"
                "def f():\n"
                "    raise ExceptionGroup('x', [])\n"
            ),
        },
    )
    assert _short(_run(root, "ML783")) == [
        (
            "pkg/__init__.py",
            1,
            13,
            "'tomllib' was added in Python 3.11, but requires-python allows 3.9",
            False,
        ),
        (
            "pkg/__init__.py",
            3,
            25,
            "'typing.Self' was added in Python 3.11, but requires-python allows 3.9",
            False,
        ),
        (
            "pkg/__init__.py",
            3,
            31,
            "'typing.override' was added in Python 3.12, but requires-python allows 3.9",
            False,
        ),
        (
            "pkg/__init__.py",
            4,
            9,
            "'itertools.pairwise' was added in Python 3.10, but requires-python allows 3.9",
            False,
        ),
        (
            "pkg/__init__.py",
            12,
            11,
            "'ExceptionGroup' was added in Python 3.11, but requires-python allows 3.9",
            False,
        ),
    ]


def test_ml783_is_silent_for_mllint_style_projects_and_unknown_min_python(tmp_path: Path) -> None:
    src = "from typing import ParamSpec, TypeAlias\nimport tomllib\n"
    root = _write(
        tmp_path / "a", {"pyproject.toml": _pyproject(">=3.11", []), "pkg/__init__.py": src}
    )
    assert _run(root, "ML783") == []
    root = _write(tmp_path / "b", {"pyproject.toml": _pyproject(None, []), "pkg/__init__.py": src})
    assert _run(root, "ML783") == []


@pytest.mark.parametrize(
    ("deps", "has_fix"),
    [
        (["typing-extensions>=4.6"], True),
        (["typing-extensions>=4.6; python_version < '3.11'"], False),  # not unconditional
        ([], False),
    ],
)
def test_ml783_fix_needs_an_unconditional_typing_extensions(
    tmp_path: Path, deps: list[str], has_fix: bool
) -> None:
    root = _write(
        tmp_path,
        {
            "pyproject.toml": _pyproject(">=3.9", deps),
            "pkg/__init__.py": "from typing import Any, Self  # keep\nimport tomllib\n",
        },
    )
    found = _short(_run(root, "ML783"))
    assert [(f[1], f[4]) for f in found] == [(1, has_fix), (2, False)]
    _run(root, "ML783", "--fix", "--unsafe-fixes")
    expected = (
        "from typing import Any\nfrom typing_extensions import Self  # keep\n"
        if has_fix
        else "from typing import Any, Self  # keep\n"
    )
    assert (root / "pkg/__init__.py").read_text() == expected + "import tomllib\n"


def test_ml783_fix_skips_statements_sharing_a_line(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "pyproject.toml": _pyproject(">=3.9", ["typing-extensions"]),
            "pkg/__init__.py": "import os; from typing import Self\n",
        },
    )
    assert [f[4] for f in _short(_run(root, "ML783"))] == [False]


# -- ML781 ------------------------------------------------------------------------------


def test_ml781_message_and_reachability(tmp_path: Path) -> None:
    extras = (
        '[project.optional-dependencies]\nml = ["scikit-learn>=1.3", "PyYAML"]\nall = ["pkg[ml]"]\n'
    )
    root = _write(
        tmp_path,
        {
            "pyproject.toml": _pyproject(">=3.10", ["numpy"], extras),
            "src/pkg/__init__.py": "from .a import f\n",
            "src/pkg/a.py": "from pkg.b import g\nimport yaml\ndef f():\n    import sklearn\n",
            "src/pkg/b.py": "from sklearn.linear_model import Ridge\n",
            "src/pkg/c.py": "import sklearn\n",  # not reachable
        },
    )
    assert _short(_run(root, "ML781")) == [
        (
            "src/pkg/a.py",
            2,
            1,
            "'PyYAML' is only in [project.optional-dependencies].ml, but 'pkg.a' imports it at "
            "import time and is imported by 'pkg/__init__.py': 'import pkg' fails without the extra",
            False,
        ),
        (
            "src/pkg/b.py",
            1,
            1,
            "'scikit-learn' is only in [project.optional-dependencies].ml, but 'pkg.b' imports it "
            "at import time and is imported by 'pkg/__init__.py': 'import pkg' fails without the extra",
            False,
        ),
    ]


def test_ml781_import_names_option_and_required_dists(tmp_path: Path) -> None:
    extras = (
        '[project.optional-dependencies]\nx = ["my-sdk", "numpy"]\n'
        '[tool.mllint.optional-dependency-imported-eagerly]\nimport-names = {my-sdk = "mysdk"}\n'
    )
    root = _write(
        tmp_path,
        {
            "pyproject.toml": _pyproject(">=3.10", ["numpy"], extras),
            "pkg/__init__.py": "import numpy\nimport mysdk\n",
        },
    )
    assert [(f[1], f[3][:9]) for f in _short(_run(root, "ML781"))] == [(2, "'my-sdk' ")]


# -- ML782 ------------------------------------------------------------------------------


def test_ml782_message_and_min_python(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "pyproject.toml": _pyproject(
                ">=3.10", ["typing_extensions>=4; python_version < '3.10'"]
            ),
            "pkg/__init__.py": "import sys\nif sys.version_info < (3, 10):\n    from typing_extensions import Self\n",
            "tests/test_a.py": "from typing_extensions import Self\n",
        },
    )
    # with requires-python >= 3.10 the guard never holds: nothing to flag
    assert _run(root, "ML782") == []
    (root / "pkg/__init__.py").write_text("from typing_extensions import Self\n")
    assert _short(_run(root, "ML782")) == [
        (
            "pkg/__init__.py",
            1,
            1,
            "'typing_extensions' is required only when python_version < \"3.10\", but "
            "'from typing_extensions import Self' runs on every Python version; guard it with "
            "'if sys.version_info …' or declare it without the marker",
            False,
        ),
    ]


# -- ML971 ------------------------------------------------------------------------------


def test_ml971_uses_ml701_heavy_settings(tmp_path: Path) -> None:
    files = {
        "pyproject.toml": _pyproject(">=3.10", []),
        "pkg/__init__.py": "from .m import Model\n",
        "pkg/m.py": "from .n import helper\nclass Model: ...\n",
        "pkg/n.py": "import my_big_sdk.core\ndef helper(): ...\n",
    }
    root = _write(tmp_path, files)
    assert _run(root, "ML971") == []
    (root / "pyproject.toml").write_text(
        _pyproject(">=3.10", [])
        + '[tool.mllint.eager-heavy-import]\nextend-heavy-modules = ["my_big_sdk"]\n'
    )
    assert _short(_run(root, "ML971")) == [
        (
            "pkg/__init__.py",
            1,
            1,
            "'from .m import Model' in pkg/__init__.py imports pkg.m, which imports "
            "my_big_sdk at import time (chain: pkg.m → pkg.n → my_big_sdk); serve 'Model' lazily via __getattr__",
            True,
        ),
    ]


_ML971_FAKE_TORCH = "import sys\nsys.stderr.write('HEAVY LOADED\\n')\nclass Module: ...\n"


def _ml971_project(tmp_path: Path, init: str) -> Path:
    return _write(tmp_path, {
        "pyproject.toml": _pyproject(">=3.10", ["torch>=2.2"]),
        "pkg/__init__.py": init,
        "pkg/models.py": "import torch\n\n\nclass Model(torch.Module):\n    pass\n\n\ndef build() -> Model:\n    return Model()\n",
        "pkg/util.py": "def helper() -> int:\n    return 1\n",
        "fakes/torch.py": _ML971_FAKE_TORCH,
    })  # fmt: skip


def _fix971(root: Path) -> list[dict[str, object]]:
    return _run(root, "ML971", "--fix", "--unsafe-fixes")


def test_ml971_fix_serves_unused_reexports_lazily(tmp_path: Path) -> None:
    init = (
        '"""pkg."""\n\nfrom .util import helper\nfrom .models import Model, build as make_model\n\n'
        '__all__ = ["Model", "helper", "make_model"]\n'
    )
    root = _ml971_project(tmp_path, init)
    findings = _run(root, "ML971")
    assert [(f["line"], f["fix"] is not None) for f in findings] == [(4, True)]
    assert findings[0]["fix"]["applicability"] == "unsafe"  # type: ignore[index]
    assert _run(root, "ML971", "--fix") == findings  # safe fixes only: nothing changes
    assert (root / "pkg/__init__.py").read_text() == init
    assert _fix971(root) == []
    fixed = (root / "pkg/__init__.py").read_text()
    assert fixed == (
        '"""pkg."""\n'
        "\n"
        "import importlib\n"
        "from typing import TYPE_CHECKING, Any\n"
        "\n"
        "from .util import helper\n"
        "\n"
        "if TYPE_CHECKING:\n"
        "    from .models import Model, build as make_model\n"
        "\n"
        '__all__ = ["Model", "helper", "make_model"]\n'
        "\n"
        "\n"
        "_LAZY_IMPORTS = {\n"
        '    "Model": ("pkg.models", "Model"),\n'
        '    "make_model": ("pkg.models", "build"),\n'
        "}\n"
        "\n"
        "\n"
        "def __getattr__(name: str) -> Any:\n"
        "    if name in _LAZY_IMPORTS:\n"
        "        module_name, attr = _LAZY_IMPORTS[name]\n"
        "        return getattr(importlib.import_module(module_name), attr)\n"
        '    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")\n'
    )
    compile(fixed, "pkg/__init__.py", "exec")
    # a second run changes nothing
    assert _fix971(root) == []
    assert (root / "pkg/__init__.py").read_text() == fixed
    # `import pkg` no longer loads the (fake) heavy module; the names still resolve
    script = (
        "import sys\nimport pkg\nassert 'torch' not in sys.modules\nassert pkg.helper() == 1\n"
        "assert 'torch' not in sys.modules\nm = pkg.make_model()\nassert isinstance(m, pkg.Model)\n"
        "assert 'torch' in sys.modules\nprint('ok')\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=60,
        env={"PYTHONPATH": os.pathsep.join([str(root / "fakes"), str(root)])},
    )  # fmt: skip
    assert (r.returncode, r.stdout, r.stderr) == (0, "ok\n", "HEAVY LOADED\n")


@pytest.mark.parametrize(
    ("init", "line"),
    [
        # a name used in __init__.py (at import time, in a function, in an annotation)
        ("from .models import Model\n\nDEFAULT = Model\n", 1),
        ("from .models import Model, build\n\n\ndef make() -> object:\n    return build()\n", 1),
        ('from .models import Model\n\n\ndef check(m: "Model") -> bool:\n    return True\n', 1),
        # a hand-written module __getattr__ (ML701 does not merge with it)
        (
            "from typing import Any\n\nfrom .models import Model\n\n\n"
            "def __getattr__(name: str) -> Any:\n    raise AttributeError(name)\n",
            3,
        ),
        # a computed __all__
        ('from .models import Model\n\n__all__ = ["Model"] + []\n', 1),
        # a name that is also a submodule of the package
        ("from .models import models\n", 1),
        # `from . import mod` and `import pkg.mod`
        ("from . import models\n", 1),
        ("import pkg.models\n", 1),
    ],
)
def test_ml971_no_fix_when_names_are_used_or_the_rewrite_is_unsound(
    tmp_path: Path, init: str, line: int
) -> None:
    root = _ml971_project(tmp_path, init)
    (root / "pkg/models.py").write_text("import torch\n\nModel = models = build = object\n")
    findings = _run(root, "ML971")
    assert [(f["line"], f["fix"]) for f in findings] == [(line, None)]
    assert _fix971(root) == findings
    assert (root / "pkg/__init__.py").read_text() == init


def test_ml971_fix_covers_only_the_statements_it_can_rewrite(tmp_path: Path) -> None:
    init = "from .models import Model\nfrom .models import build\n\nDEFAULT = build\n"
    root = _ml971_project(tmp_path, init)
    findings = _run(root, "ML971")
    assert [(f["line"], f["fix"] is not None) for f in findings] == [(1, True), (2, False)]
    remaining = _fix971(root)
    assert [(f["line"], f["fix"]) for f in remaining] == [(3, None)]
    # ML701's layout: no blank line is added where the removed statement was the first import
    assert (root / "pkg/__init__.py").read_text() == (
        "import importlib\n"
        "from typing import TYPE_CHECKING, Any\n"
        "from .models import build\n"
        "\n"
        "if TYPE_CHECKING:\n"
        "    from .models import Model\n"
        "\n"
        "DEFAULT = build\n"
        "\n"
        "\n"
        "_LAZY_IMPORTS = {\n"
        '    "Model": ("pkg.models", "Model"),\n'
        "}\n"
        "\n"
        "\n"
        "def __getattr__(name: str) -> Any:\n"
        "    if name in _LAZY_IMPORTS:\n"
        "        module_name, attr = _LAZY_IMPORTS[name]\n"
        "        return getattr(importlib.import_module(module_name), attr)\n"
        '    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")\n'
    )


# -- ML704 ------------------------------------------------------------------------------


def test_ml704_fix_only_with_a_package_folder(tmp_path: Path) -> None:
    root = _write(
        tmp_path,
        {
            "pyproject.toml": _pyproject(">=3.10", []),
            "src/ml_toolkit/__init__.py": "",
            "src/ml_toolkit/models.py": "X = 1\n",
            "src/helpers.py": "Y = 1\n",
            "scripts/train.py": (
                "import src.ml_toolkit.models as models\n"
                "import src.ml_toolkit\n"
                "from src.ml_toolkit.models import X\n"
                "from src.helpers import Y\n"
            ),
        },
    )
    found = _run(root, "ML704", project_only=False)
    assert [(f["filename"], f["line"], f["fix"] is not None) for f in found] == [
        ("scripts/train.py", 1, True),
        ("scripts/train.py", 2, False),
        ("scripts/train.py", 3, True),
        ("scripts/train.py", 4, False),
    ]
    assert found[2]["message"] == (
        "Import through 'src' imports the working tree instead of the installed package; install the "
        "project (pip install -e .) and import 'ml_toolkit.models'"
    )
    _run(root, "ML704", "--fix", "--unsafe-fixes", project_only=False)
    assert (root / "scripts/train.py").read_text() == (
        "import ml_toolkit.models as models\n"
        "import src.ml_toolkit\n"
        "from ml_toolkit.models import X\n"
        "from src.helpers import Y\n"
    )


def test_ml704_reports_src_init(tmp_path: Path) -> None:
    root = _write(
        tmp_path, {"pyproject.toml": _pyproject(">=3.10", []), "src/__init__.py": '"""src."""\n'}
    )
    found = _run(root, "ML704", project_only=False)
    assert [(f["filename"], f["line"], f["column"]) for f in found] == [("src/__init__.py", 1, 1)]
    (root / "pyproject.toml").unlink()
    (root / "setup.cfg").write_text("[metadata]\nname = pkg\n")
    assert len(_run(root, "ML704", project_only=False)) == 1
    (root / "setup.cfg").unlink()
    assert _run(root, "ML704", project_only=False) == []
