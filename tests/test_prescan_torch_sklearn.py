"""The ast gates of the torch (ML301-ML305, ML931) and sklearn (ML501-ML510, ML951) rules:
realistic near misses the gate rejects before libcst parses the file, and unusual forms of
each trigger (aliases, relative imports, async, nested blocks, options, conftest.py files)
that the gate must let through and the rule flags."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from mllint.api import check_source, make_request
from mllint.config import Settings
from mllint.engine import rules_for
from mllint.semantics import project_index


@pytest.fixture(autouse=True)
def _fresh_index() -> Iterator[None]:
    project_index.clear_cache()
    yield
    project_index.clear_cache()


def _gated_out(src: str, code: str, path: str = "pkg/mod.py", **kwargs: object) -> bool:
    """The text stage lets ``code`` through, the ast gate does not."""
    source = textwrap.dedent(src)
    settings = kwargs.pop("settings", None) or Settings()
    assert isinstance(settings, Settings)
    default_on = code in [er.rule.code for er in make_request(Settings(), path).rules]
    codes = None if default_on else [code]
    request = make_request(settings, path, codes=codes, **kwargs)  # type: ignore[arg-type]
    text_only = [er.rule.code for er in rules_for(source, request.facts, request.rules, False)]
    assert code in text_only, f"{code}: the text stage already rejects this source"
    return code not in [er.rule.code for er in rules_for(source, request.facts, request.rules)]


def _lines(src: str, code: str, path: str = "pkg/mod.py", **kwargs: object) -> list[int]:
    result = check_source(textwrap.dedent(src), path, select=[code], **kwargs)  # type: ignore[arg-type]
    return [v.line for v in result.violations if v.code == code]


# -- ML301 module-container-not-registered -------------------------------------------------------
def test_ml301_gate_rejects_plain_lists_of_values() -> None:
    src = """\
        import torch
        from torch import nn

        class Trainer(nn.Module):
            def __init__(self):
                super().__init__()
                self.history = []
                self.sizes = [1, 2, 3]
                self.stats = {"loss": float("nan")}

            def step(self, loss):
                self.history.append(loss.item())
        """
    assert _gated_out(src, "ML301")


def test_ml301_lowercase_local_module_class_through_aliased_base() -> None:
    src = """\
        import torch
        from torch import nn as N

        class block(N.Module):
            pass

        class Base(N.Module):
            pass

        class Net(Base):
            def __init__(self):
                super().__init__()
                if True:
                    self.blocks = [block() for _ in range(3)]
        """
    assert _lines(src, "ML301") == [14]


# -- ML302 functional-dropout-always-on ----------------------------------------------------------
def test_ml302_gate_rejects_dropout_submodules_and_explicit_training() -> None:
    src = """\
        import torch.nn.functional as F
        from torch import nn

        class Head(nn.Module):
            def __init__(self):
                super().__init__()
                self.dropout = nn.Dropout(0.1)

            def forward(self, x):
                x = self.dropout(x)
                return F.dropout(x, 0.2, self.training)
        """
    assert _gated_out(src, "ML302")


def test_ml302_aliased_function_in_aliased_module_class() -> None:
    src = """\
        import torch.nn as tnn
        from torch.nn.functional import alpha_dropout as drop

        class Head(tnn.Module):
            async def forward(self, x):
                return drop(x, p=0.5)
        """
    assert _lines(src, "ML302") == [6]


# -- ML303 loss-accumulated-with-graph ---------------------------------------------------------
def test_ml303_gate_rejects_item_and_counter_accumulation() -> None:
    src = """\
        import torch

        def train(model, loader, criterion, optimizer):
            running, seen = 0.0, 0
            total = 0.0
            for xb, yb in loader:
                loss = criterion(model(xb), yb)
                loss.backward()
                optimizer.step()
                total += loss.item()
                seen += len(xb)
            return total / seen
        """
    assert _gated_out(src, "ML303")


def test_ml303_async_for_and_self_concatenation() -> None:
    src = """\
        import torch

        async def train(model, loader, loss_fn):
            total = 0
            async for xb, yb in loader:
                err = loss_fn(model(xb), yb)
                err.backward()
                total = total + err
            print(total)
        """
    assert _lines(src, "ML303") == [8]


# -- ML304 torch-load-without-weights-only -----------------------------------------------------
def test_ml304_gate_rejects_other_loads_and_explicit_weights_only() -> None:
    src = """\
        import json
        import pickle

        import torch

        def restore(path, meta):
            state = torch.load(path, weights_only=True)
            with open(meta) as f:
                info = json.load(f)
            return state, info, pickle.load(open(meta + ".pkl", "rb"))
        """
    assert _gated_out(src, "ML304")


def test_ml304_gate_rejects_when_declared_torch_makes_it_the_default() -> None:
    src = """\
        import torch

        state = torch.load("model.pt")
        """
    settings = Settings(library_versions={"torch": (2, 6)})
    assert _gated_out(src, "ML304", settings=settings)


def test_ml304_import_alias_and_explicit_false_option() -> None:
    src = """\
        from torch import load as tload

        a = tload("a.pt")
        b = tload("b.pt", weights_only=False)
        """
    assert _lines(src, "ML304") == [3]
    settings = Settings(
        rule_options={"torch-load-without-weights-only": {"flag-explicit-false": True}}
    )
    result = check_source(textwrap.dedent(src), "pkg/mod.py", select=["ML304"], settings=settings)
    assert [v.line for v in result.violations] == [3, 4]


# -- ML305 missing-zero-grad ---------------------------------------------------------------------
def test_ml305_gate_rejects_loops_that_clear_gradients() -> None:
    src = """\
        import torch

        def train(model, loader, optimizer):
            for xb, yb in loader:
                optimizer.zero_grad(set_to_none=True)
                loss = model(xb, yb)
                loss.backward()
                optimizer.step()
            for p in model.parameters():
                p.grad = None
        """
    assert _gated_out(src, "ML305")


def test_ml305_while_loop_with_self_optimizer_beside_a_clearing_loop() -> None:
    src = """\
        import torch

        class Trainer:
            def __init__(self, model):
                self.optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

            def warmup(self, batches):
                for b in batches:
                    self.optimizer.zero_grad()
                    b.loss().backward()
                    self.optimizer.step()

            def run(self, batches):
                while batches:
                    batches.pop().loss().backward()
                    self.optimizer.step()
        """
    assert _lines(src, "ML305") == [14]


# -- ML931 eval-without-no-grad (off by default) -------------------------------------------------
def test_ml931_gate_rejects_eval_without_a_forward_call() -> None:
    src = """\
        import torch

        def freeze(model, head):
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
            return head(model)
        """
    assert _gated_out(src, "ML931")


def test_ml931_self_attribute_receiver_and_forward_method() -> None:
    src = """\
        import torch

        class Runner:
            def predict(self, x):
                self.net.eval()
                return self.net.forward(x)
        """
    assert _lines(src, "ML931") == [6]


# -- ML501 estimator-fit-not-returning-self ------------------------------------------------------
def test_ml501_gate_rejects_delegation_and_foreign_fit() -> None:
    src = """\
        from sklearn.base import BaseEstimator
        from lightning import Trainer as LTrainer

        class Scaler(BaseEstimator):
            def fit(self, X, y=None):
                return self._fit(X)

            def _fit(self, X):
                self.mean_ = X.mean()
                return self

            def partial_fit(self, X, y=None):
                if X is None:
                    return super().partial_fit(X)
                return self.fit(X)

        class Loop(LTrainer):
            def fit(self, model, data):
                self.model = model

            def predict(self, x):
                return x
        """
    assert _gated_out(src, "ML501")


def test_ml501_fit_in_a_class_level_if_through_an_aliased_base() -> None:
    src = """\
        from sklearn.base import BaseEstimator as BE

        class Mixin(BE):
            pass

        class Est(Mixin):
            if True:
                def fit(self, X, y=None):
                    if X is None:
                        return self
                    self.n_ = len(X)
        """
    assert _lines(src, "ML501") == [8]


# -- ML502 estimator-init-attribute-mismatch -----------------------------------------------------
def test_ml502_gate_rejects_parameters_stored_unchanged() -> None:
    src = """\
        from sklearn.base import BaseEstimator

        class Forest(BaseEstimator):
            def __init__(self, n_estimators=100, *, max_depth=None):
                self.n_estimators = n_estimators
                self.max_depth = max_depth

            def fit(self, X, y=None):
                self.n_trees = self.n_estimators
                return self
        """
    assert _gated_out(src, "ML502")


def test_ml502_relative_import_and_tuple_assignment() -> None:
    src = """\
        "Forests for sklearn."
        from ..base import BaseEstimator

        class Forest(BaseEstimator):
            def __init__(self, alpha=1.0, beta=2.0):
                self.alpha, self.beta_ = alpha, beta
        """
    lines = _lines(src, "ML502", "sklearn/ensemble/forest.py", package="sklearn.ensemble")
    assert lines == [6]
    # without the package the relative import resolves to nothing: no estimator class
    assert _gated_out(src, "ML502", "sklearn/ensemble/forest.py")


# -- ML503 estimator-init-has-logic --------------------------------------------------------------
def test_ml503_gate_rejects_plain_stores_and_forwarding() -> None:
    src = """\
        from sklearn.ensemble import BaggingClassifier
        from sklearn.tree import DecisionTreeClassifier

        class Bag(BaggingClassifier):
            def __init__(self, n_estimators=10, *, max_samples=1.0):
                "A bagging ensemble."
                super().__init__(
                    estimator=DecisionTreeClassifier(), n_estimators=n_estimators
                )
                self.max_samples = max_samples
                self.fit_path = True
        """
    assert _gated_out(src, "ML503")


def test_ml503_keyword_only_parameter_annotated_with_an_aliased_frame() -> None:
    src = """\
        from pandas import DataFrame as DF
        from sklearn.base import TransformerMixin

        class Lookup(TransformerMixin):
            def __init__(self, *, table: DF = None):
                self.table = table
        """
    assert _lines(src, "ML503") == [5]


# -- ML504 estimator-param-overwritten ----------------------------------------------------------
def test_ml504_gate_rejects_fitted_attributes_and_set_params() -> None:
    src = """\
        from sklearn.base import BaseEstimator

        class Center(BaseEstimator):
            def __init__(self, mean=None, steps=()):
                self.mean = mean
                self.steps = steps

            def set_params(self, **params):
                self.mean = params.get("mean", self.mean)
                return self

            def fit(self, X, y=None):
                self.steps = list(self.steps)
                self.mean_ = X.mean() if self.mean is None else self.mean
                return self

        def report(est):
            est.mean = 0.0
        """
    assert _gated_out(src, "ML504")


def test_ml504_augmented_assignment_and_setattr_through_a_local_base() -> None:
    src = """\
        from sklearn import base

        class Core:
            def __init__(self, alpha=1.0, tol=1e-3):
                self.alpha = alpha
                self.tol = tol

        class Model(Core, base.RegressorMixin):
            def fit(this, X, y=None):
                this.alpha *= 2
                setattr(this, "tol", 0.1)
                return this
        """
    assert _lines(src, "ML504") == [10, 11]


# -- ML505 preprocessing-before-split -----------------------------------------------------------
def test_ml505_gate_rejects_fit_and_split_in_different_scopes() -> None:
    src = """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        def prepare(X):
            return StandardScaler().fit_transform(X)

        def split(X, y):
            return train_test_split(X, y, random_state=0)
        """
    assert _gated_out(src, "ML505")


def test_ml505_gate_rejects_split_before_fit() -> None:
    src = """\
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
        scaler = StandardScaler().fit(X_train)
        """
    assert _gated_out(src, "ML505")


def test_ml505_aliased_split_and_transformer_at_module_level() -> None:
    src = """\
        from sklearn.model_selection import train_test_split as tts
        from sklearn.preprocessing import StandardScaler as SS

        X = SS().fit_transform(X)
        parts = tts(X, y, random_state=0)
        """
    assert _lines(src, "ML505") == [4]


def test_ml505_extended_transformer_option() -> None:
    src = """\
        from category_encoders import TargetEncoder
        from sklearn.model_selection import cross_val_score

        async def evaluate(model, df, y):
            enc = TargetEncoder()
            df = enc.fit_transform(df, y)
            return cross_val_score(model, df, y)
        """
    assert _gated_out(src, "ML505")
    options = {"extend-stateful-transformers": ["category_encoders.TargetEncoder"]}
    settings = Settings(rule_options={"preprocessing-before-split": options})
    result = check_source(textwrap.dedent(src), "pkg/mod.py", select=["ML505"], settings=settings)
    assert [v.line for v in result.violations] == [6]


# -- ML506 unseeded-split --------------------------------------------------------------------------
def test_ml506_gate_rejects_seeded_and_unshuffled_splits() -> None:
    src = """\
        import sklearn
        from sklearn.model_selection import KFold, train_test_split

        cv = KFold(n_splits=5)
        cv2 = KFold(n_splits=5, shuffle=True, random_state=0)
        parts = train_test_split(X, y, random_state=0)
        ordered = train_test_split(X, y, shuffle=False)
        words = "a b".split()
        """
    assert _gated_out(src, "ML506")


def test_ml506_module_attribute_and_import_alias() -> None:
    src = """\
        from sklearn import model_selection as ms
        from sklearn.model_selection import StratifiedKFold as SKF

        cv = ms.ShuffleSplit(n_splits=3)
        cv2 = SKF(n_splits=3, shuffle=True)
        """
    assert _lines(src, "ML506") == [4, 5]


# -- ML507 unsorted-directory-listing -------------------------------------------------------------
def test_ml507_gate_rejects_sorted_or_order_free_listings() -> None:
    src = """\
        import glob
        import os

        files = sorted(glob.glob("data/*.png"))
        train = files[:800]
        for name in os.listdir("data"):
            print(name)
        count = len(os.listdir("data"))
        only = glob.glob("model/*.pt")[0]
        """
    assert _gated_out(src, "ML507")


def test_ml507_pathlib_rglob_through_list_and_aliased_listdir() -> None:
    src = """\
        from os import listdir as ls
        from pathlib import Path

        images = list(Path("data").rglob("*.jpg"))
        train = images[:800]
        for i, name in enumerate(ls("labels")):
            print(i, name)
        """
    assert _lines(src, "ML507") == [4, 6]


# -- ML508 set-order-dependent-ids -------------------------------------------------------------
def test_ml508_gate_rejects_sorted_sets_and_order_free_uses() -> None:
    src = """\
        labels = sorted(set(y))
        label2id = {label: i for i, label in enumerate(labels)}
        seen = set()
        for item in items:
            if item not in seen:
                seen.add(item)
        keys = d.keys() - other.keys()
        total = len(keys)
        """
    assert _gated_out(src, "ML508")


def test_ml508_string_annotated_parameter_zipped() -> None:
    src = """\
        def to_ids(names: "set[str]"):
            return dict(zip(names, range(len(names))))
        """
    assert _lines(src, "ML508") == [2]


def test_ml508_name_bound_to_a_starred_list_of_a_set() -> None:
    src = """\
        async def vocab(tokens):
            uniq = {t.lower() for t in tokens}
            words = [*uniq]
            return [words.index(t) for t in tokens]
        """
    assert _lines(src, "ML508") == [3]


# -- ML509 unseeded-random-in-tests ------------------------------------------------------------
def test_ml509_gate_rejects_seeded_generators_and_non_test_files() -> None:
    src = """\
        import numpy as np

        def test_noise():
            rng = np.random.default_rng(0)
            assert rng.normal(size=3).shape == (3,)
        """
    assert _gated_out(src, "ML509", "tests/test_noise.py")
    legacy = """\
        import numpy as np

        noise = np.random.rand(3)
        """
    assert _gated_out(legacy, "ML509", "pkg/noise.py")


def test_ml509_gate_rejects_legacy_samplers_in_a_module_that_seeds() -> None:
    src = """\
        import numpy as np
        import torch

        torch.manual_seed(0)

        def test_noise():
            assert np.random.rand(3).shape == (3,)
        """
    assert _gated_out(src, "ML509", "tests/test_noise.py")


def test_ml509_aliased_generator_class_without_seed() -> None:
    src = """\
        from numpy.random import RandomState as RS

        def test_noise():
            assert RS().rand(3).shape == (3,)
        """
    assert _lines(src, "ML509", "tests/test_noise.py") == [4]


def test_ml509_gate_reads_the_conftest_chain(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "conftest.py").write_text("import random\n\nrandom.seed(0)\n")
    src = """\
        import random

        def test_pick():
            assert random.choice([1, 2]) in (1, 2)
        """
    (tests / "test_pick.py").write_text(textwrap.dedent(src))
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert _gated_out(src, "ML509", "tests/test_pick.py")
        (tests / "conftest.py").write_text("import random\n")
        project_index.clear_cache()
        assert _lines(src, "ML509", "tests/test_pick.py") == [4]
    finally:
        os.chdir(old)


# -- ML510 shared-fixture-mutated -------------------------------------------------------------
def test_ml510_gate_rejects_mutating_function_scoped_fixtures() -> None:
    src = """\
        import pandas as pd
        import pytest

        @pytest.fixture
        def df():
            return pd.DataFrame({"a": [1, 2]})

        def test_adds(df):
            df["b"] = df["a"] * 2
            assert "b" in df
        """
    assert _gated_out(src, "ML510", "tests/test_frame.py")


def test_ml510_fixture_renamed_with_name_and_inplace_call() -> None:
    src = """\
        import pandas as pd
        import pytest

        @pytest.fixture(scope="module", name="frame")
        def _frame():
            return pd.DataFrame({"a": [1, 2]})

        class TestFrame:
            def test_drops(self, frame):
                frame.drop(columns=["a"], inplace=True)
        """
    assert _lines(src, "ML510", "tests/test_frame.py") == [10]


def test_ml510_shared_fixture_from_conftest(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "conftest.py").write_text(
        "import pytest\n\n\n@pytest.fixture(scope='session')\ndef rows():\n    return [1, 2]\n"
    )
    src = """\
        async def test_rows(rows):
            rows.append(3)
        """
    near_miss = """\
        def test_rows(other):
            other.append(3)
        """
    (tests / "test_rows.py").write_text(textwrap.dedent(src))
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert _gated_out(near_miss, "ML510", "tests/test_rows.py")
        assert _lines(src, "ML510", "tests/test_rows.py") == [2]
    finally:
        os.chdir(old)


# -- ML951 estimator-without-random-state (off by default) -------------------------------------
def test_ml951_gate_rejects_seeded_or_deterministic_estimators() -> None:
    src = """\
        from sklearn.cluster import KMeans
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.svm import SVC

        forest = RandomForestClassifier(n_estimators=10, random_state=0)
        svc = SVC(kernel="rbf")
        km = KMeans(n_clusters=3, init=centers)
        """
    assert _gated_out(src, "ML951")


def test_ml951_import_alias_and_module_attribute() -> None:
    src = """\
        from sklearn import svm
        from sklearn.ensemble import RandomForestClassifier as RFC

        forest = RFC(n_estimators=10)
        svc = svm.SVC(probability=True)
        """
    assert _lines(src, "ML951") == [4, 5]
