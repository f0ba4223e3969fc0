"""ML701 eager-heavy-import: what the fixtures cannot express (options, messages, columns,
file roles, suppressed statements and skipped fixes)."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mllint.api import check_source
from mllint.config import settings_from_toml
from mllint.diagnostics import FileResult
from mllint.rules.imports.eager_heavy_import import DEFAULT_HEAVY_MODULES


def _run(
    source: str,
    fix: str | None = None,
    config: dict[str, Any] | None = None,
    path: str = "textkit/__init__.py",
    package: str | None = None,
) -> FileResult:
    table = {"eager-heavy-import": config} if config else {}
    settings = settings_from_toml({"tool": {"mllint": table}}, Path("pyproject.toml"))
    return check_source(
        textwrap.dedent(source), path, settings=settings, select=["ML701"], fix=fix,
        package=package,
    )  # fmt: skip


def _lines(source: str, **kw: Any) -> list[int]:
    return [v.line for v in _run(source, **kw).violations]


def _fixed(source: str, **kw: Any) -> str | None:
    result = _run(source, fix="unsafe", **kw)
    if result.fixed_source is not None:
        ast.parse(result.fixed_source)
        again = _run(result.fixed_source, fix="unsafe", **kw)
        assert again.fixed_source is None, "a second --fix changed the file again"
    return result.fixed_source


def test_message_and_position() -> None:
    [v] = _run("import os\nif True:\n    import torch\n").violations
    assert (v.line, v.column) == (3, 5)
    assert v.message == (
        "'import torch' in textkit/__init__.py loads torch (can take seconds and hundreds of "
        "MB) for every 'import textkit'; import it lazily (inside the functions that use it, "
        "under TYPE_CHECKING, or via a module __getattr__)"
    )


def test_message_uses_the_dotted_package() -> None:
    [v] = _run("from transformers.models.bert import BertModel\n", path="src/nlp/models/__init__.py",
               package="nlp.models").violations  # fmt: skip
    assert v.message.startswith(
        "'import transformers.models.bert' in nlp/models/__init__.py loads transformers "
    )
    assert "for every 'import nlp.models';" in v.message


def test_one_finding_per_statement_naming_heavy_modules() -> None:
    [v] = _run("import os, torch, json, tensorflow as tf, jax\n").violations
    assert v.message.startswith("'import torch, tensorflow, jax' in textkit/__init__.py loads "
                                "torch, tensorflow and jax ")  # fmt: skip


def test_multiline_from_import_reported_on_first_line() -> None:
    assert _lines("x = 1\nfrom sklearn.base import (\n    BaseEstimator,\n    clone,\n)\n") == [2]


def test_only_package_inits() -> None:
    assert _lines("import torch\n", path="textkit/models.py") == []
    assert _lines("import torch\n", path="scripts/train.py") == []


def test_default_heavy_set() -> None:
    assert "numpy" not in DEFAULT_HEAVY_MODULES
    assert _lines("import numpy as np\nimport requests\nimport pandas as pd\n") == [3]


def test_heavy_modules_replaces_the_default_set() -> None:
    src = "import torch\nimport my_sdk.client\n"
    assert _lines(src, config={"heavy-modules": ["my_sdk"]}) == [2]


def test_extend_heavy_modules() -> None:
    src = "import torch\nimport my_big_sdk\nimport requests\n"
    assert _lines(src, config={"extend-heavy-modules": ["my_big_sdk"]}) == [1, 2]


def test_allowed_modules() -> None:
    src = "import torch\nimport torchvision\nfrom torch import nn\n"
    assert _lines(src, config={"allowed-modules": ["torch"]}) == [2]


def test_first_party_imports_of_the_heavy_library_itself() -> None:
    src = "from sklearn.svm._classes import SVC\n__all__ = ['SVC']\n"
    assert _lines(src, path="sklearn/svm/__init__.py") == []
    assert _lines(src, path="src/svm/__init__.py", package="sklearn.svm") == []


@pytest.mark.parametrize(
    "source",
    ["from . import models\n", "from .encoders import torch_encoder\n",
     "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n",
     "import typing\nif typing.TYPE_CHECKING:\n    import torch\n",
     "import typing_extensions\nif typing_extensions.TYPE_CHECKING:\n    import torch\n",
     "def f():\n    import torch\n    return torch\n",
     "import importlib\ndef f():\n    return importlib.import_module('torch')\n",
     "import importlib\nmod = importlib.import_module(name)\n",
     "import importlib\nmod = importlib.import_module('.models', __package__)\n",
     "if __name__ == '__main__':\n    import torch\n"],
)  # fmt: skip
def test_never_flagged(source: str) -> None:
    assert _lines(source) == []


@pytest.mark.parametrize(
    "source",
    ["from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    pass\nelse:\n    import torch\n",
     "class A:\n    import torch\n",
     "import importlib\nm = importlib.import_module('torch.nn')\n",
     "m = __import__('tensorflow')\n",
     "try:\n    import torch\nexcept ImportError:\n    torch = None\n"],
)  # fmt: skip
def test_flagged_contexts(source: str) -> None:
    assert len(_lines(source)) == 1


def test_suppressed_statement_is_not_moved_by_the_shared_fix() -> None:
    src = "import pandas as pd  # noqa: ML701\nimport torch\n\ndef f():\n    return torch.ones(1), pd\n"
    fixed = _fixed(src)
    assert fixed == (
        "import pandas as pd  # noqa: ML701\n\ndef f():\n    import torch\n"
        "    return torch.ones(1), pd\n"
    )


def test_trailing_comment_moves_with_the_import() -> None:
    src = "from torch import Tensor  # type hints only\n\ndef f(x: 'Tensor') -> None:\n    pass\n"
    assert _fixed(src) == (
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
        "    from torch import Tensor  # type hints only\n\ndef f(x: 'Tensor') -> None:\n    pass\n"
    )


def test_future_import_added_for_evaluated_annotations() -> None:
    src = '"""Doc."""\nimport torch\n\n\ndef f(x: torch.Tensor) -> torch.Tensor:\n    return x\n'
    assert _fixed(src) == (
        '"""Doc."""\n\nfrom __future__ import annotations\n\nfrom typing import TYPE_CHECKING\n\n'
        "if TYPE_CHECKING:\n    import torch\n\n\ndef f(x: torch.Tensor) -> torch.Tensor:\n"
        "    return x\n"
    )


def test_function_only_into_each_outermost_function() -> None:
    src = (
        "import torch\n\n\n"
        "def outer():\n    def inner():\n        return torch.zeros(1)\n    return inner\n\n\n"
        "class Model:\n    def forward(self, x):\n        '''Doc.'''\n        return torch.relu(x)\n"
    )
    assert _fixed(src) == (
        "\n\n"
        "def outer():\n    import torch\n    def inner():\n        return torch.zeros(1)\n"
        "    return inner\n\n\n"
        "class Model:\n    def forward(self, x):\n        '''Doc.'''\n        import torch\n"
        "        return torch.relu(x)\n"
    )


@pytest.mark.parametrize(
    "source",
    [  # used at module level: class base, decorator, default value, module call, lambda
     "import torch\nclass M(torch.nn.Module):\n    pass\n",
     "import torch\n@torch.no_grad()\ndef f():\n    pass\n",
     "import torch\ndef f(dtype=torch.float32):\n    pass\n",
     "import torch\ntorch.manual_seed(0)\n",
     "import torch\nact = lambda x: torch.relu(x)\n",
     # used in annotations and in function bodies
     "import torch\ndef f(x: 'torch.Tensor'):\n    return torch.relu(x)\n",
     # exported and used
     "from torch import Tensor\n__all__ = ['Tensor', 'f']\ndef f(x: 'Tensor'):\n    pass\n",
     # __all__ computed
     "from torch import Tensor\n__all__ = [n for n in dir() if n[0] != '_']\n",
     # runtime annotation libraries and dataclass fields
     "import pydantic\nfrom torch import Tensor\ndef f(x: Tensor):\n    pass\n",
     "from dataclasses import dataclass\nfrom torch import Tensor\n@dataclass\nclass B:\n    x: Tensor\n",
     # a hand-written __getattr__, a re-exported plain module import
     "from torch import Tensor\ndef __getattr__(name):\n    raise AttributeError(name)\n",
     "import torch\n__all__ = ['torch']\n",
     # TYPE_CHECKING bound to something else; several bindings of the name
     "TYPE_CHECKING = False\nfrom torch import Tensor\ndef f(x: 'Tensor'):\n    pass\n",
     "import torch\nimport torch.nn\ndef f():\n    return torch.nn\n",
     # a non-string cast() type argument is evaluated at run time
     "from typing import cast\nfrom torch import Tensor\nX = cast(Tensor, None)\n"],
)  # fmt: skip
def test_no_fix(source: str) -> None:
    assert _lines(source)
    assert _fixed(source) is None


def test_cast_string_is_an_annotation() -> None:
    src = "from typing import cast\nfrom torch import Tensor\nX = cast('Tensor', None)\n"
    fixed = _fixed(src)
    assert fixed is not None and "if TYPE_CHECKING:\n    from torch import Tensor\n" in fixed


def test_file_without_trailing_newline_is_not_fixed() -> None:
    assert _fixed("import torch\ndef f():\n    return torch") is None
