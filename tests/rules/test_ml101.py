"""ML101 float-equality: what the fixtures cannot express (messages, columns, options,
identifier tokenisation, import insertion, fix shapes and skipped fixes)."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mllint.api import check_source
from mllint.config import settings_from_toml
from mllint.diagnostics import FileResult
from mllint.rules.numerics.float_equality import (
    DEFAULT_METRIC_NAMES,
    DEFAULT_NON_METRIC_TOKENS,
    FloatEquality,
)


def _run(
    source: str,
    fix: str | None = None,
    config: dict[str, Any] | None = None,
    path: str = "pkg/train.py",
) -> FileResult:
    table = {"float-equality": config} if config else {}
    settings = settings_from_toml({"tool": {"mllint": table}}, Path("pyproject.toml"))
    return check_source(textwrap.dedent(source), path, settings=settings, select=["ML101"], fix=fix)


def _findings(source: str, **kw: Any) -> list[tuple[int, int, str]]:
    return [(v.line, v.column, v.message) for v in _run(source, **kw).violations]


def _flagged(expr: str, prelude: str = "", **kw: Any) -> bool:
    src = f"{prelude}\ndef f(*args):\n    return {expr}\n"
    return bool(_findings(src, **kw))


def _fixed(source: str, **kw: Any) -> str:
    result = _run(source, fix="unsafe", **kw)
    assert result.fixed_source is not None
    ast.parse(result.fixed_source)
    return result.fixed_source


# -- messages and positions ---------------------------------------------------------------


def test_message_scalar() -> None:
    [(line, col, msg)] = _findings(
        "def f(val_loss, best_loss):\n    if val_loss == best_loss:\n        pass\n"
    )
    assert (line, col) == (2, 8)
    assert msg == (
        "Exact float comparison 'val_loss == best_loss'; use math.isclose(a, b) "
        "(floating-point results are rarely exactly equal)"
    )


def test_message_test_file_and_elementwise() -> None:
    [(_, _, msg)] = _findings("def test_x(acc):\n    assert acc == 0.5\n", path="tests/test_x.py")
    assert "; use pytest.approx (" in msg
    [(_, col, msg)] = _findings("import numpy as np\ndef f(p):\n    return p[p == 0.5]\n")
    assert col == 14  # 1-based
    assert "; use np.isclose(a, b) (" in msg


def test_chain_reported_once_at_its_start() -> None:
    src = "def f(a_loss, b_loss):\n    return 0 < a_loss == b_loss == 0.5\n"
    assert [(line, col) for line, col, _ in _findings(src)] == [(2, 12)]
    assert _run(src, fix="unsafe").fixed_source is None  # chains are never fixed


def test_multiline_parenthesised_reported_on_first_line() -> None:
    src = "def f(val_loss):\n    return (\n        val_loss\n        == 0.5\n    )\n"
    assert [line for line, _, _ in _findings(src)] == [2]


# -- triggers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr",
    [
        "args[0] == 0.95",
        "args[0] != -0.3",
        "1e-6 == args[0]",
        "args[0] == .5",
        "args[0] == +0.5",
        "args[0] / args[1] == 2",
        "float(args[0]) == 1",
        "math.sqrt(args[0]) == 1",
        "math.log(args[0]) == 0",
        "statistics.fmean(args) == 2",
        "np.mean(args[0]) == 1",
        "np.nanstd(args[0]) == 0",
        "np.linalg.norm(args[0]) == 1",
        "np.linalg.norm(args[0], 2) == 1",
        "torch.mean(args[0]) == 1",
        "accuracy_score(args[0], args[1]) == 1",
        "mean_squared_error(args[0], args[1]) == 0",
        "log_loss(args[0], args[1]) == 0",
        "matthews_corrcoef(args[0], args[1]) == 1",
        "args[0].mean() == 1",
        "args[0].median() == 1",
        "args[0].score(args[1], args[2]) == 1",
        "loss.item() == 0",
        "val_loss == 0",
        "1.0 == best_f1",
        "self_acc == args[0]",
        "history['val_acc'] == 1",
        "history['val_f1'][-1] == 1",
        "logs['loss'][0][1] == 1",
        "val_losses[-1] == val_losses[-2]",
        "model.best_auc == 1",
    ],
)
def test_triggers(expr: str) -> None:
    prelude = (
        "import math, statistics\nimport numpy as np\nimport torch\n"
        "from sklearn.metrics import accuracy_score, mean_squared_error, log_loss, "
        "matthews_corrcoef\nloss = val_loss = best_f1 = self_acc = history = logs = 0\n"
        "val_losses = model = 0"
    )
    assert _flagged(expr, prelude)


@pytest.mark.parametrize(
    "expr",
    [
        "args[0] == 1.0",  # integral literal vs unknown
        "args[0] == 1",
        "np.mean(args[0], axis=1) == 1",
        "np.mean(args[0], 1) == 1",
        "np.linalg.norm(args[0], 2, 1) == 1",
        "torch.mean(args[0], dim=0) == 1",
        "torch.mean(args[0], 0) == 1",
        "args[0].mean(0) == 1",
        "args[0] // 2 == 1",
        "Matcher.score(args[0]) == 0",
        "args[0].item() == 0",
        "accuracy_score == args[0]",  # an imported function, not a computed value
        "confusion_matrix(args[0], args[1]) == 3",
        "round(val_loss) == 1",
    ],
)
def test_does_not_trigger(expr: str) -> None:
    prelude = (
        "import numpy as np\nimport torch\n"
        "from sklearn.metrics import accuracy_score, confusion_matrix\nval_loss = 0"
    )
    assert not _flagged(expr, prelude)


def test_round_with_digits_is_not_excluded() -> None:
    assert _flagged("round(args[0], 2) == 0.25")


@pytest.mark.parametrize(
    "expr",
    [
        "val_loss == None",
        "val_loss == True",
        "val_loss == 'nan'",
        "val_loss == b'x'",
        "val_loss == f'{args}'",
        "val_loss == ...",
        "val_loss == [0.5]",
        "val_loss == (0.5,)",
        "val_loss == {0.5}",
        "val_loss == {'a': 0.5}",
        "val_loss == [x for x in args]",
        "(val_loss > 0.5) == args[0]",
        "(val_loss and 0.5) == args[0]",
        "(not val_loss) == 0.5",
        "len(args) == 0.5",
        "int(val_loss) == 0.5",
        "str(val_loss) == args[0]",
        "bool(val_loss) == args[0]",
        "id(val_loss) == args[0]",
        "hash(val_loss) == args[0]",
        "type(val_loss) == float",
        "isinstance(val_loss, float) == args[0]",
        "round(val_loss) == 0.5",
        "val_loss == pytest.approx(0.5)",
        "math.isclose(val_loss, 0.5) == args[0]",
        "np.isclose(val_loss, 0.5) == args[0]",
        "torch.isclose(val_loss, args[0]) == args[1]",
        "val_loss.shape == 0.5",
        "val_loss.ndim == 0.5",
        "val_loss.size == 0.5",
        "val_loss.dtype == np.float32",
        "val_loss.dtypes == args[0]",
        "val_loss.device == args[0]",
        "val_loss.name == args[0]",
        "val_loss.__class__ == args[0]",
        "val_loss.shape[-1] == args[0]",
        "val_loss == np.nan",
        "val_loss == float('NaN')",
        "val_loss == np.inf",
        "val_loss == -math.inf",
        "val_loss == float('-inf')",
        "val_loss == torch.inf",
        "val_loss == INF",
        "val_loss == Mode.TRAIN",
        "val_loss == np.float32",
        "val_loss == torch.float16",
        "val_loss == float",
        "val_loss == np",
        "val_loss == val_loss",
        "val_loss != val_loss",
        "val_loss == val_loss.max()",
        "val_loss == np.max(val_loss, axis=1)",
        "val_loss == max_pool(val_loss)",
        "val_loss == val_loss.max(dim=1).values",
    ],
)
def test_excluded_operands(expr: str) -> None:
    prelude = (
        "import math\nimport numpy as np\nimport pytest\nimport torch\n"
        "INF = float('inf')\nval_loss = Mode = max_pool = 0"
    )
    assert not _flagged(expr, prelude)


def test_never_in_eq_ne_hash() -> None:
    for method in ("__eq__", "__ne__", "__hash__"):
        src = f"class C:\n    def {method}(self, o):\n        return self.loss == o.loss\n"
        assert _findings(src) == []
    src = "class C:\n    def same(self, o):\n        return self.loss == o.loss\n"
    assert len(_findings(src)) == 1


def test_ordering_and_identity_not_flagged() -> None:
    src = "def f(val_loss):\n    return val_loss < 0.5 or val_loss >= 0.1 or val_loss is 0.5\n"
    assert _findings(src) == []


def test_ml102_owns_nan_comparisons() -> None:
    src = "import numpy as np\ndef f(val_loss):\n    return val_loss == 0.5 == np.nan\n"
    assert _findings(src) == []


def test_loop_targets() -> None:
    src = """\
    def f(val_losses, names, scores_by_fold, train_accs):
        for v in val_losses:
            if v == 0:
                pass
        for i, v2 in enumerate(val_losses):
            if v2 == 0:
                pass
        for name, tr in zip(names, train_accs):
            if name == 0 or tr == 0:
                pass
        for fold, fold_value in scores_by_fold.items():
            if fold == 0 or fold_value == 0:
                pass
        for idx in val_losses:
            if idx == 0:
                pass
        for n in names:
            if n == 0:
                pass
        return [x for x in val_losses if x == 1]
    """
    lines = [line for line, _, _ in _findings(src)]
    assert lines == [3, 6, 9, 12, 20]


def test_loop_target_rebound_elsewhere_is_not_metric_like() -> None:
    src = (
        "def f(val_losses):\n    for v in val_losses:\n        pass\n    v = 3\n    return v == 0\n"
    )
    assert _findings(src) == []


def test_config_objects_hold_user_set_values() -> None:
    src = """\
    def f(args, cfg, self):
        a = args.precision == 16
        b = cfg["loss"] == 0
        c = self.config.dice == 1
        d = args.threshold == 0.5
        return a, b, c, d
    """
    assert [line for line, _, _ in _findings(src)] == [5]


def test_path_join_is_not_division() -> None:
    src = """\
    from pathlib import Path
    def f(tmp_path, client_dir, name, expected):
        a = tmp_path / "data.csv" == expected
        b = client_dir / name == expected
        c = Path("x") / name == expected
        d = name / 2 == expected
        return a, b, c, d
    """
    assert [line for line, _, _ in _findings(src)] == [6]


# -- identifier tokenisation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "metric_like"),
    [
        ("f1", True),
        ("r2", True),
        ("train_loss", True),
        ("best_f1", True),
        ("losses", True),
        ("accs", True),
        ("acc5", True),
        ("top1_acc", True),
        ("precisions", True),
        ("bestValLoss", True),
        ("valAcc", True),
        ("ROC_AUC", True),
        ("mAP", False),
        ("valF1Score", True),
        ("n_samples", False),
        ("loss_name", False),
        ("recall_mode", False),
        ("warmup_steps", False),
        ("best_iter", False),
        ("batch_idx", False),
        ("num_losses", False),
        ("loss_fns", False),
        ("lossFn", False),
        ("is_best_score", False),
        ("metric", False),
        ("lr", False),
        ("threshold", False),
        ("loss_weight", False),
        ("beta_loss", False),
        ("accuracy", True),
        ("lossy", False),
        ("scoring", False),
    ],
)
def test_metric_like_tokens(name: str, metric_like: bool) -> None:
    src = f"def f({name}, other):\n    return {name} == other\n"
    assert bool(_findings(src)) is metric_like, name


def test_default_lists_match_the_catalogue() -> None:
    assert DEFAULT_METRIC_NAMES[:5] == ("acc", "accuracy", "auc", "auroc", "roc")
    assert "metric" not in DEFAULT_METRIC_NAMES and "lr" not in DEFAULT_METRIC_NAMES
    for token in ("n", "num", "idx", "step", "epoch", "name", "fn", "is", "has"):
        assert token in DEFAULT_NON_METRIC_TOKENS
    assert FloatEquality.requires_text == ("==", "!=")
    assert FloatEquality.name == "float-equality"


# -- options ------------------------------------------------------------------------------


def test_option_metric_names_replaces_defaults() -> None:
    src = "def f(val_loss, val_wer, other):\n    return val_loss == other, val_wer == other\n"
    assert len(_findings(src)) == 2 - 1  # only val_loss by default
    found = _findings(src, config={"metric-names": ["wer"]})
    assert [msg.split("'")[1] for _, _, msg in found] == ["val_wer == other"]


def test_option_extend_metric_names() -> None:
    src = "def f(val_loss, val_wer, other):\n    return val_loss == other, val_wer == other\n"
    assert len(_findings(src, config={"extend-metric-names": ["wer"]})) == 2


def test_option_extend_metric_names_case_insensitive_and_plural() -> None:
    src = "def f(cer_values, valCER, other):\n    return valCER == other, cer_values == other\n"
    assert _findings(src) == []
    assert len(_findings(src, config={"extend-metric-names": ["CER"]})) == 2


def test_option_non_metric_tokens() -> None:
    src = "def f(loss_step, loss_name, other):\n    return loss_step == other, loss_name == other\n"
    assert _findings(src) == []
    found = _findings(src, config={"non-metric-tokens": ["name"]})
    assert [msg.split("'")[1] for _, _, msg in found] == ["loss_step == other"]


def test_option_rel_tol_and_abs_tol() -> None:
    src = "import math\ndef f(val_loss, best):\n    if val_loss == best or val_loss != 0.0:\n        pass\n"
    assert (
        "math.isclose(val_loss, best) or not math.isclose(val_loss, 0.0, abs_tol=1e-12)"
        in _fixed(src)
    )
    fixed = _fixed(src, config={"rel-tol": 1e-6, "abs-tol": 1e-9})
    assert (
        "math.isclose(val_loss, best, rel_tol=1e-06) or "
        "not math.isclose(val_loss, 0.0, rel_tol=1e-06, abs_tol=1e-09)"
    ) in fixed


def test_zero_detection_for_abs_tol() -> None:
    src = "import math\ndef f(val_loss):\n    if 0 == val_loss:\n        pass\n"
    assert "math.isclose(0, val_loss, abs_tol=1e-12)" in _fixed(src)
    src = "import math\ndef f(val_loss):\n    if val_loss == -0.0:\n        pass\n"
    assert "abs_tol=1e-12" in _fixed(src)


# -- fix shapes and imports ---------------------------------------------------------------


def test_math_import_added() -> None:
    src = '"""Doc."""\nimport numpy as np\n\n\ndef f(val_loss):\n    if val_loss == 0.5:\n        pass\n'
    fixed = _fixed(src)
    assert "import math\n" in fixed
    assert "if math.isclose(val_loss, 0.5):" in fixed


def test_math_alias_and_from_import_reused() -> None:
    fixed = _fixed("import math as m\ndef f(val_loss):\n    return val_loss == 0.5\n")
    assert "return m.isclose(val_loss, 0.5)" in fixed and "import math\n" not in fixed
    fixed = _fixed("from math import isclose\ndef f(val_loss):\n    return val_loss == 0.5\n")
    assert "return isclose(val_loss, 0.5)" in fixed


def test_math_name_taken_skips_fix() -> None:
    src = "math = object()\ndef f(val_loss):\n    return val_loss == 0.5\n"
    assert len(_findings(src)) == 1
    assert _run(src, fix="unsafe").fixed_source is None


def test_pytest_import_added_in_test_file() -> None:
    src = "def test_acc(acc):\n    assert acc == 0.5\n"
    fixed = _fixed(src, path="tests/test_acc.py")
    assert "import pytest\n" in fixed
    assert "assert acc == pytest.approx(0.5)" in fixed


def test_pytest_approx_wraps_literal_side_or_right() -> None:
    src = "import pytest\ndef test_a(acc, b_acc):\n    assert 0.5 != acc\n    assert acc == b_acc\n"
    fixed = _fixed(src, path="tests/test_a.py")
    assert "assert acc != pytest.approx(0.5)" in fixed
    assert "assert acc == pytest.approx(b_acc)" in fixed


def test_assert_outside_test_file_uses_math() -> None:
    src = "import math\ndef f(acc):\n    assert acc == 0.5\n"
    assert "assert math.isclose(acc, 0.5)" in _fixed(src)


def test_not_not_simplified() -> None:
    src = "import math\ndef f(acc):\n    if not acc != 0.5:\n        pass\n"
    assert "if math.isclose(acc, 0.5):" in _fixed(src)


def test_negated_elementwise_and_invert_simplified() -> None:
    src = "import numpy as np\ndef f(p):\n    return p[~(p != 0.5)], p[p != 0.5]\n"
    fixed = _fixed(src)
    assert "p[np.isclose(p, 0.5)], p[~np.isclose(p, 0.5)]" in fixed


def test_parenthesised_operands_are_unwrapped_in_calls() -> None:
    src = "import math\ndef f(a, b):\n    if (a / b) == 0.5:\n        pass\n"
    assert "if math.isclose(a / b, 0.5):" in _fixed(src)


def test_assignment_used_as_mask_skips_fix() -> None:
    src = "import numpy as np\ndef f(scores, X):\n    is_half = scores == 0.5\n    return X[is_half]\n"
    [(_, _, msg)] = _findings(src)
    assert "use np.isclose(a, b)" in msg
    assert _run(src, fix="unsafe").fixed_source is None


def test_assignment_passed_to_a_call_skips_fix() -> None:
    src = "import math\ndef f(val_loss, log):\n    same = val_loss == 0.5\n    log(same)\n"
    assert _run(src, fix="unsafe").fixed_source is None


def test_assignment_used_as_condition_is_fixed() -> None:
    src = "import math\ndef f(val_loss):\n    same = val_loss == 0.5\n    if same:\n        pass\n"
    assert "same = math.isclose(val_loss, 0.5)" in _fixed(src)


def test_other_context_not_fixed() -> None:
    src = "import math\ndef f(val_loss, out):\n    out.append(val_loss == 0.5)\n    g = lambda: val_loss == 0.5\n"
    assert len(_findings(src)) == 2
    assert _run(src, fix="unsafe").fixed_source is None


def test_numpy_required_for_elementwise_fix() -> None:
    src = "def f(p):\n    return p[p == 0.5]\n"
    [(_, _, msg)] = _findings(src)
    assert "np.isclose(a, b)" in msg
    assert _run(src, fix="unsafe").fixed_source is None


def test_array_kind_in_scalar_context_uses_numpy() -> None:
    src = "import numpy as np\ndef f(n):\n    probs = np.zeros(n)\n    return probs == 0.5\n"
    assert "return np.isclose(probs, 0.5)" in _fixed(src)


def test_series_uses_numpy() -> None:
    src = "import numpy as np\nimport pandas as pd\nframe = pd.read_csv('x.csv')\nties = frame[frame['score'] == 0.5]\n"
    assert "ties = frame[np.isclose(frame['score'], 0.5)]" in _fixed(src)


def test_tensor_fixes() -> None:
    src = """\
    import torch
    def f(n):
        val_losses = torch.zeros(n)
        best_losses = torch.ones(n)
        if val_losses == 0.5:
            pass
        worse = val_losses[val_losses != best_losses]
        same = val_losses[val_losses == 0.5]
        return worse, same
    """
    found = _findings(src)
    assert [line for line, _, _ in found] == [5, 7, 8]
    assert "use math.isclose(a, b)" in found[0][2]  # tensor in scalar context: .item() first
    assert "use torch.isclose(a, b)" in found[1][2]
    fixed = _fixed(src)
    assert "if val_losses == 0.5:" in fixed
    assert "worse = val_losses[~torch.isclose(val_losses, best_losses)]" in fixed
    assert "same = val_losses[val_losses == 0.5]" in fixed  # torch.isclose needs two tensors


def test_unknown_operands_in_torch_module_not_fixed() -> None:
    src = "import numpy as np\nimport torch\ndef f(p):\n    return p[p == 0.5]\n"
    assert len(_findings(src)) == 1
    assert _run(src, fix="unsafe").fixed_source is None


def test_no_safe_fix() -> None:
    src = "import math\ndef f(val_loss):\n    if val_loss == 0.5:\n        pass\n"
    assert _run(src, fix="safe").fixed_source is None


def test_noqa_by_code_and_name() -> None:
    src = "def f(val_loss):\n    a = val_loss == 0.5  # noqa: ML101\n    b = val_loss == 0.5  # mllint: ignore[float-equality]\n"
    assert _findings(src) == []


def test_comparison_with_a_stored_maximum_is_exact() -> None:
    src = """\
    def mutual_nn(scores):
        max_0 = scores.max(2, keepdim=True).values
        best = scores.mean()
        return (scores == max_0) * (scores == best)
    """
    assert [msg.split("'")[1] for _, _, msg in _findings(src)] == ["(scores == best)"]
