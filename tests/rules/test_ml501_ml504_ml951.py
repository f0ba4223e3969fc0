"""ML501-ML504 and ML951 (sklearn estimators): messages, positions, noqa, options, fix skips."""

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
        textwrap.dedent(source), "pkg/estimators.py", settings=settings, select=[code], fix=fix
    )


# -- ML501 ------------------------------------------------------------------------------------

SCALER = """\
    from sklearn.base import BaseEstimator, TransformerMixin

    class Standardize(BaseEstimator, TransformerMixin):
        def fit(self, X, y=None):
            self.mean_ = X.mean(axis=0)

        def transform(self, X):
            return X - self.mean_
    """


def test_ml501_message_position_and_safe_fix() -> None:
    [v] = _run(SCALER, "ML501").violations
    assert (v.line, v.column) == (4, 5)
    assert v.message == (
        "Standardize.fit must return self (sklearn contract; enables est.fit(X).transform(X), "
        "Pipeline, clone)"
    )
    fixed = _run(SCALER, "ML501", fix="safe").fixed_source
    assert fixed is not None
    assert "self.mean_ = X.mean(axis=0)\n        return self\n" in fixed


def test_ml501_noqa_on_def_line() -> None:
    src = SCALER.replace("def fit(self, X, y=None):", "def fit(self, X, y=None):  # noqa: ML501")
    assert _run(src, "ML501").violations == []


def test_ml501_no_fix_when_some_return_exists() -> None:
    src = SCALER.replace(
        "self.mean_ = X.mean(axis=0)",
        "if X is None:\n                return\n            self.mean_ = 1",
    )
    [v] = _run(src, "ML501").violations
    assert v.fix is None


def test_ml501_helper_delegate_must_return_self() -> None:
    src = """\
        from sklearn.base import BaseEstimator

        class Est(BaseEstimator):
            def fit(self, X, y=None):
                return self._fit(X)

            def _fit(self, X):
                self.n_ = len(X)
                return self.n_
        """
    assert len(_run(src, "ML501").violations) == 1
    assert _run(src.replace("return self.n_", "return self"), "ML501").violations == []


def test_ml501_duck_typed_class_with_foreign_base_is_skipped() -> None:
    src = """\
        from mylib.base import Model

        class Est(Model):
            def fit(self, X):
                self.n_ = len(X)

            def predict(self, X):
                return X
        """
    assert _run(src, "ML501").violations == []
    assert len(_run(src.replace("(Model)", ""), "ML501").violations) == 1


# -- ML502 ------------------------------------------------------------------------------------

FOREST = """\
    from sklearn.base import BaseEstimator

    class Forest(BaseEstimator):
        def __init__(self, n_trees=100):
            self.n_estimators = n_trees

        def fit(self, X, y):
            self.trees_ = list(range(self.n_estimators))
            return self
    """


def test_ml502_message_position_and_unsafe_fix() -> None:
    [v] = _run(FOREST, "ML502").violations
    assert (v.line, v.column) == (5, 9)
    assert v.message == (
        "__init__ parameter 'n_trees' must be stored as self.n_trees (get_params/clone read "
        "attributes by parameter name)"
    )
    assert _run(FOREST, "ML502", fix="safe").fixed_source is None
    fixed = _run(FOREST, "ML502", fix="unsafe").fixed_source
    assert fixed is not None
    assert "self.n_trees = n_trees" in fixed and "range(self.n_trees)" in fixed


def test_ml502_fix_skipped_when_attribute_used_outside_class() -> None:
    src = FOREST + "\nprint(Forest().n_estimators)\n"
    [v] = _run(src, "ML502").violations
    assert v.fix is None


def test_ml502_missing_parameter_reported_at_parameter() -> None:
    src = FOREST.replace("self.n_estimators = n_trees", "pass").replace("self.n_estimators", "3")
    [v] = _run(src, "ML502").violations
    assert (v.line, v.column) == (4, 24)


def test_ml502_forwarded_to_super_is_fine() -> None:
    src = """\
        from sklearn.ensemble import RandomForestClassifier

        class Forest(RandomForestClassifier):
            def __init__(self, n_estimators=100, max_depth=None):
                super().__init__(n_estimators=n_estimators, max_depth=max_depth)
        """
    assert _run(src, "ML502").violations == []


# -- ML503 ------------------------------------------------------------------------------------

LOG = """\
    import numpy as np
    from sklearn.base import BaseEstimator

    class LogScaler(BaseEstimator):
        def __init__(self, offset=1.0):
            self.offset = offset
            self.log_offset = np.log(offset)
    """


def test_ml503_messages() -> None:
    [v] = _run(LOG, "ML503").violations
    assert (v.line, v.column) == (7, 9)
    assert v.message == (
        "sklearn __init__ may only store its parameters unchanged (self.<param> = <param>); "
        "move attribute 'log_offset' to fit()"
    )
    src = LOG.replace("self.log_offset = np.log(offset)", "self.offset = offset * 2")
    [v] = _run(src, "ML503").violations
    assert v.message == (
        "sklearn __init__ may only store its parameters unchanged (self.offset = offset); "
        "move computation to fit()"
    )
    src = LOG.replace(
        "self.log_offset = np.log(offset)", "assert offset > 0, 'offset must be positive'"
    )
    [v] = _run(src, "ML503").violations
    assert v.message.endswith("move validation to fit()")
    assert v.fix is None


def test_ml503_varargs_and_data_parameters() -> None:
    src = LOG.replace("def __init__(self, offset=1.0):", "def __init__(self, X, offset=1.0, **kw):")
    src = src.replace("self.log_offset = np.log(offset)", "self.X = X")
    messages = sorted(v.message for v in _run(src, "ML503").violations)
    assert len(messages) == 2
    assert messages[0].endswith(
        "*args/**kwargs cannot be introspected by get_params — list the parameters explicitly"
    )
    assert messages[1].endswith("move data argument 'X' to fit()")


def test_ml503_trailing_underscore_attribute() -> None:
    src = LOG.replace("self.log_offset = np.log(offset)", "self.bounds_ = None")
    [v] = _run(src, "ML503").violations
    assert (v.line, v.column) == (7, 9)
    assert v.message == (
        "sklearn __init__ may only store its parameters unchanged (self.<param> = <param>); "
        "move attribute 'bounds_' to fit() — a trailing-underscore attribute makes "
        "check_is_fitted() consider the unfitted estimator fitted"
    )
    # a constant without the underscore, and a dunder, stay allowed
    assert _run(src.replace("bounds_", "bounds"), "ML503").violations == []
    assert _run(src.replace("bounds_", "__bounds__"), "ML503").violations == []
    # an estimator answering check_is_fitted itself
    own = src + (
        "\n        def __sklearn_is_fitted__(self):\n            return self.bounds_ is not None\n"
    )
    assert _run(own, "ML503").violations == []


def test_ml503_noqa() -> None:
    src = LOG.replace("np.log(offset)", "np.log(offset)  # noqa: ML503")
    assert _run(src, "ML503").violations == []


# -- ML504 ------------------------------------------------------------------------------------

CENTER = """\
    from sklearn.base import BaseEstimator

    class Center(BaseEstimator):
        def __init__(self, mean=None):
            self.mean = mean

        def fit(self, X, y=None):
            self.mean = X.mean()
            return self

        def predict(self, X):
            return X - self.mean
    """


def test_ml504_message_position_and_fix() -> None:
    [v] = _run(CENTER, "ML504").violations
    assert (v.line, v.column) == (8, 9)
    assert v.message == (
        "'self.mean' is the hyper-parameter 'mean'; fit() overwrites it (get_params/clone now "
        "return the fitted value) — store fitted state as self.mean_"
    )
    fixed = _run(CENTER, "ML504", fix="unsafe").fixed_source
    assert fixed is not None
    assert "self.mean = mean" in fixed
    assert "self.mean_ = X.mean()" in fixed and "return X - self.mean_" in fixed


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # read before the first write in the writing method
        ("self.mean = X.mean()", "if self.mean is None:\n                self.mean = X.mean()"),
        # the writing method calls another method that reads the attribute
        ("self.mean = X.mean()", "self.mean = X.mean()\n            self.predict(X)"),
        # the new name is taken
        ("return X - self.mean", "return X - self.mean - self.mean_"),
    ],
)
def test_ml504_fix_skips(before: str, after: str) -> None:
    src = CENTER.replace(before, after)
    violations = _run(src, "ML504").violations
    assert violations and all(v.fix is None for v in violations)


def test_ml504_set_params_allowed() -> None:
    src = CENTER.replace("def fit(self, X, y=None):", "def set_params(self, X, y=None):")
    assert _run(src, "ML504").violations == []


# -- ML951 ------------------------------------------------------------------------------------

RF = """\
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=300)
    """


def test_ml951_off_by_default_message_and_fix() -> None:
    assert all_rules()["ML951"].default_enabled is False
    assert check_source(textwrap.dedent(RF), "pkg/estimators.py").violations == []
    [v] = _run(RF, "ML951").violations
    assert (v.line, v.column) == (3, 9)
    assert v.message == (
        "RandomForestClassifier(…) is randomised and has no random_state: results change "
        "between runs"
    )
    fixed = _run(RF, "ML951", fix="unsafe").fixed_source
    assert (
        fixed is not None and "RandomForestClassifier(n_estimators=300, random_state=42)" in fixed
    )


def test_ml951_seed_defined_later_is_not_used_at_module_level() -> None:
    fixed = _run(RF + "SEED = 3\n", "ML951", fix="unsafe").fixed_source
    assert fixed is not None and "random_state=42" in fixed
    fixed = _run("SEED = 3\n" + textwrap.dedent(RF), "ML951", fix="unsafe").fixed_source
    assert fixed is not None and "random_state=SEED" in fixed


def test_ml951_default_seed_option() -> None:
    config = {"estimator-without-random-state": {"default-seed": 7}}
    fixed = _run(RF, "ML951", fix="unsafe", config=config).fixed_source
    assert fixed is not None and "random_state=7" in fixed


def test_ml951_svc_only_with_probability() -> None:
    src = "from sklearn.svm import SVC\na = SVC()\nb = SVC(probability=True)\n"
    [v] = _run(src, "ML951").violations
    assert v.line == 3


def test_documentation_sections() -> None:
    for code in ("ML501", "ML502", "ML503", "ML504", "ML951"):
        doc = all_rules()[code].documentation()
        for section in (
            "## What it does",
            "## Why is this bad?",
            "## Example",
            "## Use instead",
            "## Fix safety",
        ):
            assert section in doc, (code, section)


def test_ml502_ml504_inside_sklearn_through_relative_imports() -> None:
    """A module of scikit-learn itself imports its bases relatively and may never spell
    "sklearn": the text pre-scan must not skip it."""
    src = textwrap.dedent(
        """\
        from ..base import BaseEstimator


        class Scaler(BaseEstimator):
            def __init__(self, with_mean=True, copy=True):
                self.mean = with_mean
                self.copy = copy if copy else True

            def fit(self, X, y=None):
                self.with_mean = False
                return self
        """
    )
    path = "sklearn/preprocessing/_scaler.py"

    def found(package: str) -> list[tuple[str, int]]:
        codes = ["ML502", "ML503", "ML504"]
        result = check_source(src, path, select=codes, package=package)
        return [(v.code, v.line) for v in result.violations]

    assert found("sklearn.preprocessing") == [("ML502", 6), ("ML503", 7), ("ML504", 10)]
    assert found("mypkg.preprocessing") == []  # ..base is not sklearn's
