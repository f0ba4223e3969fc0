"""ML301-ML305 and ML931 (PyTorch): messages, positions, noqa, options, versions, fix skips."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from mllint.api import check_source
from mllint.config import settings_from_toml
from mllint.diagnostics import FileResult
from mllint.rule import all_rules


def _run(
    source: str, code: str, fix: str | None = None, config: dict[str, Any] | None = None
) -> FileResult:
    settings = settings_from_toml({"tool": {"mllint": config or {}}}, Path("pyproject.toml"))
    return check_source(
        textwrap.dedent(source), "pkg/model.py", settings=settings, select=[code], fix=fix
    )


# -- ML301 ------------------------------------------------------------------------------------

MLP = """\
    import torch.nn as nn

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = [nn.Linear(2, 2), nn.Linear(2, 2)]
    """


def test_ml301_message_and_position() -> None:
    [v] = _run(MLP, "ML301").violations
    assert (v.line, v.column) == (6, 9)
    assert v.message == (
        "self.layers is a plain list of modules: their parameters are not registered "
        "(missing from .parameters(), state_dict(), .to(device), train()/eval()) — use "
        "nn.ModuleList"
    )


def test_ml301_noqa_by_code_and_name() -> None:
    src = MLP.replace("nn.Linear(2, 2)]", "nn.Linear(2, 2)]  # noqa: ML301")
    assert _run(src, "ML301").violations == []
    src = MLP.replace(
        "nn.Linear(2, 2)]", "nn.Linear(2, 2)]  # mllint: ignore[module-container-not-registered]"
    )
    assert _run(src, "ML301").violations == []


def test_ml301_unsafe_fix_only() -> None:
    assert _run(MLP, "ML301", fix="safe").fixed_source is None
    fixed = _run(MLP, "ML301", fix="unsafe").fixed_source
    assert fixed is not None
    assert "self.layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])" in fixed


def test_ml301_dict_message_and_int_keys_have_no_fix() -> None:
    src = MLP.replace("[nn.Linear(2, 2), nn.Linear(2, 2)]", "{0: nn.Linear(2, 2)}")
    [v] = _run(src, "ML301").violations
    assert "plain dict of modules" in v.message and v.message.endswith("use nn.ModuleDict")
    assert _run(src, "ML301", fix="unsafe").fixed_source is None


def test_ml301_nn_name_taken_skips_fix() -> None:
    src = """\
        import torch

        nn = None

        class MLP(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = [torch.nn.Linear(2, 2)]
        """
    fixed = _run(src, "ML301", fix="unsafe").fixed_source
    assert fixed is not None and "torch.nn.ModuleList([torch.nn.Linear(2, 2)])" in fixed


def test_ml301_registered_only_when_sequential_result_is_stored() -> None:
    src = """\
        import torch.nn as nn

        class MLP(nn.Module):
            def __init__(self):
                super().__init__()
                self.parts = [nn.Linear(2, 2), nn.ReLU()]

            def forward(self, x):
                return nn.Sequential(*self.parts)(x)
        """
    assert len(_run(src, "ML301").violations) == 1


def test_ml301_not_in_torch_free_module() -> None:
    src = """\
        class Module:
            pass

        class MLP(Module):
            def __init__(self):
                self.layers = [Module(), Module()]
        """
    assert _run(src, "ML301").violations == []


# -- ML302 ------------------------------------------------------------------------------------

HEAD = """\
    import torch.nn.functional as F
    from torch import nn

    class Head(nn.Module):
        def forward(self, x):
            return F.dropout(x, p=0.2)
    """


def test_ml302_message_position_and_fix() -> None:
    [v] = _run(HEAD, "ML302").violations
    assert (v.line, v.column) == (6, 16)
    assert v.message == (
        "F.dropout(...) defaults to training=True and keeps dropping activations in eval "
        "mode; pass training=self.training (or use nn.Dropout)"
    )
    fixed = _run(HEAD, "ML302", fix="unsafe").fixed_source
    assert fixed is not None and "F.dropout(x, p=0.2, training=self.training)" in fixed
    assert _run(HEAD, "ML302", fix="safe").fixed_source is None


def test_ml302_noqa() -> None:
    src = HEAD.replace("p=0.2)", "p=0.2)  # noqa: ML302")
    assert _run(src, "ML302").violations == []


@pytest.mark.parametrize(
    "call",
    [
        "F.dropout(x, p=0.2, training=False)",
        "F.dropout(x, 0.2, self.training)",
        "F.dropout(*args)",
        "F.dropout(x, **kw)",
    ],
)
def test_ml302_not_flagged(call: str) -> None:
    assert _run(HEAD.replace("F.dropout(x, p=0.2)", call), "ML302").violations == []


def test_ml302_classmethod_and_nested_function_not_flagged() -> None:
    src = """\
        import torch.nn.functional as F
        from torch import nn

        class Head(nn.Module):
            @classmethod
            def noise(cls, x):
                return F.dropout(x, 0.5)

            def forward(self, x):
                def inner(y):
                    return F.dropout(y, 0.5)
                return inner(x)
        """
    assert _run(src, "ML302").violations == []


# -- ML303 ------------------------------------------------------------------------------------

LOOP = """\
    import torch

    def train(model, loader, criterion, optimizer):
        running = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            running += loss
        print(running)
    """


def test_ml303_message_position_and_fix() -> None:
    [v] = _run(LOOP, "ML303").violations
    assert (v.line, v.column) == (10, 9)
    assert v.message == (
        "'running += loss' keeps each iteration's autograd graph alive (memory grows every "
        "step); accumulate loss.item() or loss.detach()"
    )
    fixed = _run(LOOP, "ML303", fix="unsafe").fixed_source
    assert fixed is not None and "running += loss.detach()\n" in fixed
    assert _run(LOOP, "ML303", fix="safe").fixed_source is None


def test_ml303_loss_named_call_without_backward_on_it() -> None:
    src = LOOP.replace("loss.backward()", "(loss * 2).backward()")
    assert len(_run(src, "ML303").violations) == 1
    # no backward at all in the loop: nothing
    src = LOOP.replace("loss.backward()", "pass")
    assert _run(src, "ML303").violations == []


@pytest.mark.parametrize(
    "tail",
    [
        "return running",
        "history.append(running)",
        "running.backward()",
        "self_state = {'loss': running}",
        "avg = running / 3\n        return avg",
    ],
)
def test_ml303_escaping_accumulator_not_flagged(tail: str) -> None:
    src = LOOP.replace("print(running)", tail).replace(
        "def train(model, loader, criterion, optimizer):",
        "def train(model, loader, criterion, optimizer, history=None):",
    )
    assert _run(src, "ML303").violations == []


def test_ml303_accumulator_must_start_as_number() -> None:
    src = LOOP.replace("running = 0.0", "running = torch.zeros(())")
    assert _run(src, "ML303").violations == []


# -- ML304 ------------------------------------------------------------------------------------

LOAD = """\
    import torch

    state = torch.load("model.pt", map_location="cpu")
    """


def test_ml304_message_position_and_fix() -> None:
    [v] = _run(LOAD, "ML304").violations
    assert (v.line, v.column) == (3, 9)
    assert v.message == (
        "torch.load(...) without weights_only=True can execute code from the checkpoint "
        "(pickle); pass weights_only=True and load a state_dict"
    )
    fixed = _run(LOAD, "ML304", fix="unsafe").fixed_source
    assert fixed is not None
    assert 'torch.load("model.pt", map_location="cpu", weights_only=True)' in fixed
    assert _run(LOAD, "ML304", fix="safe").fixed_source is None


@pytest.mark.parametrize(
    ("version", "flagged"), [("1.13", True), ("2.5", True), ("2.6", False), ("2.13", False)]
)
def test_ml304_depends_on_declared_torch_version(version: str, flagged: bool) -> None:
    result = _run(LOAD, "ML304", config={"library-versions": {"torch": version}})
    assert bool(result.violations) is flagged


def test_ml304_flag_explicit_false_option() -> None:
    src = LOAD.replace('map_location="cpu"', "weights_only=False")
    assert _run(src, "ML304").violations == []
    config = {"torch-load-without-weights-only": {"flag-explicit-false": True}}
    [v] = _run(src, "ML304", config=config).violations
    assert v.fix is None
    # explicit False is reported whatever the torch version
    config["library-versions"] = {"torch": "2.6"}  # type: ignore[assignment]
    assert len(_run(src, "ML304", config=config).violations) == 1


def test_ml304_kwargs_and_other_load_not_flagged() -> None:
    src = """\
        import numpy as np
        import torch

        def load(path, **kw):
            return torch.load(path, **kw), np.load(path)
        """
    assert _run(src, "ML304").violations == []


# -- ML305 ------------------------------------------------------------------------------------

TRAIN = """\
    import torch

    def train(model, loader, criterion):
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
        for epoch in range(3):
            for xb, yb in loader:
                loss = criterion(model(xb), yb)
                loss.backward()
                optimizer.step()
    """


def test_ml305_innermost_loop_message_and_fix() -> None:
    [v] = _run(TRAIN, "ML305").violations
    assert (v.line, v.column) == (6, 9)
    assert v.message == (
        "This loop calls loss.backward() and optimizer.step() but never optimizer.zero_grad(): "
        "gradients accumulate across iterations"
    )
    fixed = _run(TRAIN, "ML305", fix="unsafe").fixed_source
    assert fixed is not None
    assert "for xb, yb in loader:\n            optimizer.zero_grad()\n            loss =" in fixed
    assert _run(TRAIN, "ML305", fix="safe").fixed_source is None


def test_ml305_scheduler_step_is_not_an_optimizer_step() -> None:
    src = TRAIN.replace(
        "optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)",
        "optimizer = torch.optim.lr_scheduler.StepLR(opt, 3)",
    )
    assert _run(src, "ML305").violations == []


def test_ml305_zero_grad_in_self_method_helper() -> None:
    src = """\
        import torch

        class Trainer:
            def __init__(self, model):
                self.model = model
                self.opt = torch.optim.SGD(model.parameters(), lr=0.1)

            def clear(self):
                self.opt.zero_grad()

            def run(self, batches):
                for xb in batches:
                    self.clear()
                    self.model(xb).sum().backward()
                    self.opt.step()
        """
    assert _run(src, "ML305").violations == []
    assert len(_run(src.replace("self.clear()", "pass"), "ML305").violations) == 1


PARAM_TRAIN = """\
    import torch

    def train(model, loader, optimizer, criterion):
        for x, y in loader:
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
    """


def test_ml305_optimizer_parameter_by_name() -> None:
    [v] = _run(PARAM_TRAIN, "ML305").violations
    assert (v.line, v.column) == (4, 5)
    assert "optimizer.step() but never optimizer.zero_grad()" in v.message
    fixed = _run(PARAM_TRAIN, "ML305", fix="unsafe").fixed_source
    assert fixed is not None and "for x, y in loader:\n        optimizer.zero_grad()\n" in fixed
    # another name, or a non-None default, is not enough
    assert _run(PARAM_TRAIN.replace("optimizer", "trainer"), "ML305").violations == []
    src = PARAM_TRAIN.replace("optimizer, criterion", "criterion, optimizer='adam'")
    assert _run(src, "ML305").violations == []
    # a rebinding of the parameter makes it unknown
    src = PARAM_TRAIN.replace("    for x,", "    optimizer = wrap(optimizer)\n    for x,")
    assert _run(src, "ML305").violations == []


@pytest.mark.parametrize(
    ("annotation", "flagged"),
    [
        ("torch.optim.Optimizer", True),
        ("'torch.optim.AdamW'", True),
        ("torch.optim.Optimizer | None", True),
        ("torch.optim.lr_scheduler.StepLR", False),
        ("int", False),
    ],
)
def test_ml305_annotated_parameter(annotation: str, flagged: bool) -> None:
    src = PARAM_TRAIN.replace("optimizer, criterion", f"step_fn: {annotation}, criterion")
    src = src.replace("optimizer.step()", "step_fn.step()")
    assert len(_run(src, "ML305").violations) == int(flagged)


def test_ml305_self_optimizer_attribute() -> None:
    src = """\
        import torch

        class Trainer:
            def __init__(self, model, optimizer):
                self.model = model
                self.optimizer = optimizer

            def run(self, batches):
                for xb in batches:
                    self.model(xb).sum().backward()
                    self.optimizer.step()
        """
    assert len(_run(src, "ML305").violations) == 1
    scheduler = src.replace(
        "self.optimizer = optimizer",
        "self.optimizer = torch.optim.lr_scheduler.StepLR(optimizer, 3)",
    )
    assert _run(scheduler, "ML305").violations == []


# -- ML931 ------------------------------------------------------------------------------------

EVAL = """\
    import torch

    def evaluate(model, x):
        model.eval()
        preds = model(x)
        return preds
    """


def test_ml931_off_by_default_and_message() -> None:
    assert all_rules()["ML931"].default_enabled is False
    assert check_source(textwrap.dedent(EVAL), "pkg/model.py").violations == []
    [v] = _run(EVAL, "ML931").violations
    assert (v.line, v.column) == (5, 13)
    assert v.message == (
        "'model.eval()' does not disable autograd; this forward pass still records the graph "
        "— wrap inference in torch.inference_mode() (or torch.no_grad())"
    )


def test_ml931_fix_wraps_statement() -> None:
    fixed = _run(EVAL, "ML931", fix="unsafe").fixed_source
    assert fixed is not None
    assert "    with torch.inference_mode():\n        preds = model(x)\n" in fixed


def test_ml931_other_receiver_not_flagged() -> None:
    src = EVAL.replace("preds = model(x)", "preds = other(x)")
    assert _run(src, "ML931").violations == []


def test_documentation_sections() -> None:
    for code in ("ML301", "ML302", "ML303", "ML304", "ML305", "ML931"):
        doc = all_rules()[code].documentation()
        for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
            assert section in doc, (code, section)
        assert "## Fix safety" in doc
