"""ML951 estimator-without-random-state (off by default)."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

import libcst as cst

from mllint.prescan import Scan
from mllint.rule import Fix, FixSafety, Option, Rule
from mllint.rules.sklearn.unseeded_split import (
    _double_star,
    _keyword,
    _resolved_calls,
)
from mllint.semantics.calledit import render_here, with_keyword
from mllint.semantics.context import FileFacts
from mllint.semantics.cstutil import call_arg
from mllint.semantics.seeds import seed_expression

_PATTERNS: dict[str, re.Pattern[str]] = {
    "sklearn.ensemble": re.compile(
        r"^(RandomForest\w*|ExtraTrees\w*|GradientBoosting\w*|HistGradientBoosting\w*"
        r"|IsolationForest|Bagging\w*|AdaBoost\w*)$"
    ),
    "sklearn.tree": re.compile(r"^[A-Z]\w*Tree(Classifier|Regressor)$"),
    "sklearn.linear_model": re.compile(r"^(SGD\w*|Perceptron|PassiveAggressive\w*)$"),
    "sklearn.neural_network": re.compile(r"^MLP\w*$"),
    "sklearn.cluster": re.compile(r"^(KMeans|MiniBatchKMeans)$"),
    "sklearn.decomposition": re.compile(r"^(TruncatedSVD|NMF|FastICA|LatentDirichletAllocation)$"),
    "sklearn.manifold": re.compile(r"^TSNE$"),
    "sklearn.svm": re.compile(r"^SVC$"),
}
#: any class name of _PATTERNS, whatever its module
_ANY_RANDOMISED = re.compile("|".join(f"(?:{p.pattern})" for p in _PATTERNS.values()))


def randomised_estimator(qualname: str | None) -> str | None:
    """The class name when ``qualname`` is one of the randomised estimators (also through a
    private sub-module such as ``sklearn.ensemble._forest``)."""
    if qualname is None or not qualname.startswith("sklearn."):
        return None
    parts = qualname.split(".")
    if len(parts) == 4 and parts[2].startswith("_"):
        parts = [*parts[:2], parts[3]]
    if len(parts) != 3:
        return None
    pattern = _PATTERNS.get(".".join(parts[:2]))
    if pattern is None or not pattern.match(parts[2]):
        return None
    return parts[2]


class EstimatorWithoutRandomState(Rule):
    """
    ## What it does
    Flags a call constructing a randomised scikit-learn estimator without `random_state=`
    (and without `**kwargs`): `sklearn.ensemble` `RandomForest*`, `ExtraTrees*`,
    `GradientBoosting*`, `HistGradientBoosting*`, `IsolationForest`, `Bagging*`,
    `AdaBoost*`; `sklearn.tree` `*Tree*` classes; `sklearn.linear_model` `SGD*`,
    `Perceptron`, `PassiveAggressive*`; `sklearn.neural_network` `MLP*`; `KMeans`,
    `MiniBatchKMeans`; `TruncatedSVD`, `NMF`, `FastICA`, `LatentDirichletAllocation`; `TSNE`;
    and `SVC(probability=True)`. Off by default: many projects seed globally or accept
    run-to-run variation.

    Not flagged: base estimators handed to an `sklearn.ensemble` class (or to
    `super().__init__(estimator=...)`) as `estimator=`/`base_estimator=` or positionally,
    and estimators built inside a subclass of an `sklearn.ensemble` class, because the
    ensemble seeds them from its own `random_state`; `KMeans` with an explicit
    (non-string) `init=`; `NMF` with `init="nndsvd"`/`"nndsvda"`.

    ## Why is this bad?
    With `random_state=None` these estimators draw from NumPy's global random state, so
    refitting on the same data gives different models and metrics, and differences between
    experiments mix real changes with noise.

    ## Example
    ```python
    from sklearn.ensemble import RandomForestClassifier

    model = RandomForestClassifier(n_estimators=300)
    ```

    ## Use instead
    ```python
    SEED = 13
    model = RandomForestClassifier(n_estimators=300, random_state=SEED)
    ```

    ## Fix safety
    Unsafe: the fix adds `random_state=<name>`, where `<name>` is a parameter of the
    enclosing function or a module-level name called `random_state`, `seed`, `RANDOM_STATE`
    or `SEED`, and otherwise `random_state=<default-seed>`. The model becomes deterministic,
    and different from any previous run. Calls with `*args` have no fix.

    ## Options
    - `default-seed`: the `random_state=` value the fix adds when no seed name is in scope
      (default 42).
    """

    code = "ML951"
    name = "estimator-without-random-state"
    summary = "A randomised sklearn estimator constructed without `random_state`"
    tier = 3
    default_enabled = False
    fix_safety = (FixSafety.UNSAFE,)
    requires_text = ("sklearn",)
    options = (
        Option(
            "default-seed",
            "int",
            42,
            "the random_state= the fix adds when no seed name is in scope",
        ),
    )

    @classmethod
    def ast_gate(cls, scan: Scan, facts: FileFacts, options: Mapping[str, Any]) -> bool:
        # a call that may resolve to a randomised estimator class, without random_state= and
        # **kwargs (KMeans: no explicit init array; SVC: probability=True)
        wanted = {n for n in scan.called() if _ANY_RANDOMISED.match(n)} | _aliased(scan)
        if not wanted:
            return False
        for call, quals in _resolved_calls(scan, facts, wanted):
            if _double_star(call) or _keyword(call, "random_state") is not None:
                continue
            for q in quals:
                est = randomised_estimator(q)
                if est is None:
                    continue
                init = _keyword(call, "init")
                if (
                    est == "KMeans"
                    and init is not None
                    and not isinstance(init.value, (ast.Constant, ast.JoinedStr))
                ):
                    continue  # an explicit init array: deterministic
                if est == "SVC":
                    prob = _keyword(call, "probability")
                    if prob is None or not (
                        isinstance(prob.value, ast.Constant) and prob.value.value is True
                    ):
                        continue
                return True
        return False

    def visit_Call(self, node: cst.Call) -> None:
        est = randomised_estimator(self.ctx.qualname(node.func))
        if est is None:
            return
        if any(a.star == "**" for a in node.args) or call_arg(node, "random_state") is not None:
            return
        if self._seeded_by_ensemble() or _deterministic_init(est, node):
            return
        if est == "SVC":
            prob = call_arg(node, "probability")
            if prob is None or not (
                isinstance(prob.value, cst.Name) and prob.value.value == "True"
            ):
                return
        fix = None
        if not any(a.star for a in node.args):
            new = with_keyword(node, "random_state", self._seed_expression())
            fix = Fix(FixSafety.UNSAFE, [(node, render_here(self.ctx, new))])
        self.report(
            node,
            f"{self.ctx.snippet(node.func, 40)}(…) is randomised and has no random_state: "
            "results change between runs",
            fix,
        )

    def _seeded_by_ensemble(self) -> bool:
        """``BaggingClassifier(estimator=DecisionTreeClassifier())`` or
        ``super().__init__(estimator=...)`` in an ensemble: the ensemble seeds its base
        estimators from its own random_state."""
        cls = self.ctx.enclosing_class()
        if cls is not None and any(
            q.startswith("sklearn.ensemble.") for q in self.ctx.class_bases(cls)
        ):
            return True  # default base estimators inside an ensemble class
        stack = self.ctx.stack
        if len(stack) < 3:
            return False
        arg, outer = stack[-2], stack[-3]
        if not isinstance(arg, cst.Arg) or not isinstance(outer, cst.Call):
            return False
        if arg.keyword is not None and arg.keyword.value not in ("estimator", "base_estimator"):
            return False
        func = outer.func
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value == "__init__"
            and isinstance(func.value, cst.Call)
            and isinstance(func.value.func, cst.Name)
            and func.value.func.value == "super"
        ):
            return arg.keyword is not None
        q = self.ctx.qualname(func) or ""
        return q.startswith("sklearn.ensemble.")

    def _seed_expression(self) -> str:
        return seed_expression(self.ctx, int(self.option("default-seed")))


def _aliased(scan: Scan) -> set[str]:
    """Randomised class names imported under another name (``from sklearn.svm import SVC as
    Svm`` gives ``SVC``)."""
    out: set[str] = set()
    for imp in scan.of(ast.ImportFrom, ast.Import):
        for alias in imp.names:
            last = alias.name.rsplit(".", 1)[-1]
            if alias.asname and _ANY_RANDOMISED.match(last):
                out.add(last)
    return out


def _deterministic_init(est: str, call: cst.Call) -> bool:
    """``KMeans(init=<array>, n_init=1)``-like calls and NMF with an SVD-based init draw no
    random numbers."""
    init = call_arg(call, "init")
    if init is None:
        return False
    value = init.value
    if est == "KMeans":
        return not isinstance(value, (cst.SimpleString, cst.ConcatenatedString))
    if est == "NMF":
        return isinstance(value, cst.SimpleString) and value.evaluated_value in (
            "nndsvd",
            "nndsvda",
        )
    return False
