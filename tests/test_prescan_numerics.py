"""The ast pre-scan gates of the numerics rules (ML101-ML109, ML911-ML913): near misses the
gate rejects, and unusual spellings of each trigger that it must let through (the rule then
reports them on the expected lines)."""

from __future__ import annotations

from tests.prescan_support import check, flagged_lines, gated, rejected, settings_from


# -- ML101 float-equality ---------------------------------------------------------------------
def test_ml101_rejects_config_strings_counts_and_certain_exclusions() -> None:
    src = """\
        import numpy as np
        import pytest


        class Model:
            def fit(self, X, n_iter):
                if self.loss == "hinge" or self.best_score is None:
                    return n_iter == 0
                assert len(self.losses) == n_iter
                assert X.shape[0] == self.n_features
                assert self.loss_.std() == pytest.approx(1.0)
                return X.size(0) != self.mse_
        """
    assert rejected(src, "ML101")


def test_ml101_accepts_aliases_nested_loops_async_and_options() -> None:
    src = """\
        from sklearn.metrics import f1_score as f1


        async def watch(history, y, p, best):
            async def inner():
                for i, (tr, va) in enumerate(zip(history.train_losses, history.val_losses)):
                    if tr == va:
                        return i
                return f1(y, p) != best

            return inner


        def check(val_wer):
            return (lambda: val_wer == 0)()
        """
    check(src, "ML101", [7, 9])
    wer = settings_from({"float-equality": {"extend-metric-names": ["wer"]}})
    assert gated(src, "ML101", settings=wer)
    assert flagged_lines(src, "ML101", settings=wer) == [7, 9, 15]


def test_ml101_pytest_approx_exclusion_needs_a_module_level_import() -> None:
    # `pytest` imported in another function only: here `pytest.approx` does not resolve
    src = """\
        def helper():
            import pytest
            return pytest


        def check(pytest, model):
            assert model.val_loss == pytest.approx(0.5)
        """
    check(src, "ML101", [7])


# -- ML102 nan-equality -----------------------------------------------------------------------
def test_ml102_rejects_nan_named_values_and_proper_tests() -> None:
    src = """\
        import numpy as np

        nan_count = 0


        def clean(values, NA):
            mask = np.isnan(values)
            if values.dtype == np.float64 and nan_count == 0:
                return np.nan_to_num(values) != NA.nan_policy
            return mask is None
        """
    assert rejected(src, "ML102")


def test_ml102_accepts_aliases_tuple_bound_constants_and_membership() -> None:
    src = """\
        from numpy import nan as MISSING

        _, NAN_VALUE = 0, float(" NaN ")


        def check(x):
            def inner(y):
                return y != NAN_VALUE

            if x in [None, *(), MISSING]:
                return inner
            return x is MISSING
        """
    check(src, "ML102", [8, 10, 12])


# -- ML103 reduction-without-keepdims ---------------------------------------------------------
def test_ml103_rejects_leading_axes_keepdims_and_other_arrays() -> None:
    src = """\
        import numpy as np


        def centre(X, Y):
            a = X - X.mean(axis=0)
            b = X / X.sum(axis=1, keepdims=True)
            mu = X.mean(axis=1)
            c = Y - mu
            return a, b, c, Y - np.max(X, axis=-1)
        """
    assert rejected(src, "ML103")


def test_ml103_accepts_aliases_tuple_bindings_and_augmented_forms() -> None:
    src = """\
        import numpy as np
        from numpy import average as avg


        async def standardise(M):
            mu, sd = M.mean(axis=1), M.std(axis=1)
            centred = M - mu
            M /= np.sum(M, (1, 2))
            return centred, sd, M > avg(M, axis=-1)
        """
    check(src, "ML103", [7, 8, 9])


# -- ML104 true-division-as-size ------------------------------------------------------------
def test_ml104_rejects_divisions_outside_sizes() -> None:
    src = """\
        import math

        import numpy as np


        def halve(n, xs, size):
            half = n / 2
            grid = np.linspace(0, 1, size)
            return range(n // 2), math.floor(n / 2), int(len(xs) / 2), half, grid * (n / 2)


        def lookup(table, n):
            return table[n / 2], {0.5: "half"}[n / 2]
        """
    assert rejected(src, "ML104")


def test_ml104_accepts_aliases_lambdas_and_methods() -> None:
    src = """\
        from itertools import islice as take


        def batches(it, n, x):
            first = list(take(it, n / 2))
            pad = (lambda: [0] * (n / 2))()
            return first, pad, x.view(n / 2, -1)
        """
    check(src, "ML104", [5, 6, 7])


def test_ml104_accepts_list_and_iloc_subscripts() -> None:
    src = """\
        import pandas as pd


        def middle(xs, frame: pd.DataFrame, n):
            items = list(xs)
            first = items[: n / 2]
            return first, frame.iloc[n / 2], [1, 2, 3][n / 2]
        """
    check(src, "ML104", [6, 7, 7])


# -- ML105 inverse-then-multiply ----------------------------------------------------------------
def test_ml105_rejects_inverse_without_product_and_unimported_inv() -> None:
    src = """\
        import numpy as np


        class Solver:
            def precision(self, A, b):
                P = np.linalg.inv(A)
                return P, self.inv(A) @ b, np.linalg.pinv(A) @ b
        """
    assert rejected(src, "ML105")


def test_ml105_accepts_aliased_inverse_with_dot_method() -> None:
    src = """\
        from scipy.linalg import inv as matinv


        def solve(A, b):
            return matinv(A).dot(b)
        """
    check(src, "ML105", [5])


# -- ML106 eig-on-symmetric-matrix --------------------------------------------------------------
def test_ml106_rejects_eigh_and_local_eig() -> None:
    src = """\
        import numpy as np


        def eigvals(m):
            return m


        def spectrum(X):
            C = np.cov(X.T)
            return np.linalg.eigh(C), eigvals(C), np.linalg.eigvalsh(C)
        """
    assert rejected(src, "ML106")


def test_ml106_accepts_module_alias() -> None:
    src = """\
        import torch
        import torch.linalg as tla


        def spectrum(x):
            return tla.eigvals(torch.cov(x))
        """
    check(src, "ML106", [6])


# -- ML107 unstable-softmax ---------------------------------------------------------------------
def test_ml107_rejects_kernels_math_exp_and_no_normalisation() -> None:
    src = """\
        import math

        import numpy as np


        def kernel(d, x, total):
            k = np.exp(-0.5 * d**2)
            w = k / k.sum()
            g = math.exp(x) / total
            return w, g, np.exp(x).sum()
        """
    assert rejected(src, "ML107")


def test_ml107_accepts_aliases_and_names_bound_in_a_tuple() -> None:
    src = """\
        import torch
        from torch import exp as texp


        def probs(z):
            e, n = texp(z), 0
            total = e.sum(dim=1, keepdim=True)
            return e / total, torch.log(texp(z).sum(1)), n
        """
    check(src, "ML107", [8, 8])


def test_ml107_accepts_function_form_log_sum_exp() -> None:
    # `np.sum(...)` is also an attribute call named sum: its operand is the argument
    src = """\
        import numpy as np


        def lse(x):
            return np.log(np.sum(np.exp(x), axis=1))
        """
    check(src, "ML107", [5])


# -- ML108 write-to-indexing-copy ---------------------------------------------------------------
def test_ml108_rejects_nested_lists_and_copies_that_are_read() -> None:
    src = """\
        import numpy as np


        def fill(n, mask):
            grid = [[0] * n for _ in range(n)]
            for i in range(n):
                grid[i][i] = 1
            A = np.zeros((n, n))
            B = A[mask]
            B[0] = 1
            return grid, B
        """
    assert rejected(src, "ML108")


def test_ml108_accepts_string_annotated_tensors() -> None:
    src = """\
        import torch


        def clip(x: "torch.Tensor", keep):
            x[keep > 0][0] = 0.0
            return x
        """
    check(src, "ML108", [5])


def test_ml108_accepts_async_functions_list_indices_and_fill() -> None:
    src = """\
        import numpy as np


        async def reset(n):
            A = np.ones((n, n))
            idx = [0, 1]
            A[idx][0] = 5
            B = A[[2, 3]]
            B.fill(0)
            return A
        """
    check(src, "ML108", [7, 9])


# -- ML109 array-in-boolean-context -------------------------------------------------------------
def test_ml109_rejects_unannotated_parameters_and_shapes() -> None:
    src = """\
        from typing import Literal

        import numpy as np


        def prepare(X, solver):
            X = np.asarray(X)
            if solver == "auto" and X.shape[0] > 1:
                return X
            return None


        def other(solver):
            solver = np.zeros(3)
            return solver.dtype == np.float64 or not solver.size


        def pick(mode: Literal["fast", "exact"] | None, arr: "list[np.ndarray]"):
            return mode == "fast" or not arr
        """
    assert rejected(src, "ML109")


def test_ml109_accepts_string_annotations_attributes_and_closures() -> None:
    src = """\
        import numpy as np
        import pandas as pd


        def check(a: "np.ndarray", threshold):
            return "high" if a > threshold else "low"


        class Report:
            def load(self, path):
                self.frame = pd.read_csv(path)

            def ok(self):
                return not self.frame["x"]


        def outer():
            scores = np.zeros(3)

            def inner():
                assert scores
            return inner
        """
    check(src, "ML109", [6, 14, 21])


# -- ML911 np-dot-on-matrices -------------------------------------------------------------------
def test_ml911_rejects_unknown_operands_and_methods() -> None:
    src = """\
        import numpy as np


        def forward(x, W):
            v = np.ones(3)
            return np.dot(x, W), x.dot(W), np.dot(v, v)
        """
    assert rejected(src, "ML911")


def test_ml911_accepts_aliases_and_tuple_bound_matrices() -> None:
    src = """\
        import numpy as np
        from numpy import dot as mult


        def forward(v):
            W, b = np.random.randn(3, 4), 0
            return mult(W, v) + b
        """
    check(src, "ML911", [7])


# -- ML912 unguarded-normalisation-division -----------------------------------------------------
def test_ml912_rejects_sums_and_files_without_numpy() -> None:
    src = """\
        import numpy as np


        def share(X):
            return X / X.sum(axis=1, keepdims=True), np.linalg.norm(X)
        """
    assert rejected(src, "ML912")
    assert rejected("def unit(v):\n    return v / v.norm()\n", "ML912")


def test_ml912_accepts_aliases_and_bound_denominators() -> None:
    src = """\
        import numpy as np
        from numpy.linalg import norm as l2


        def unit(v, x):
            den = x.std()
            return v / l2(v), (x - np.mean(x)) / den
        """
    check(src, "ML912", [7, 7])


# -- ML913 full-sort-for-topk -------------------------------------------------------------------
def test_ml913_rejects_reversals_middle_slices_and_indexing() -> None:
    src = """\
        import numpy as np


        def ranks(xs, a):
            return sorted(xs)[::-1], np.sort(a)[1:3], sorted(xs)[-1], a.sort()
        """
    assert rejected(src, "ML913")


def test_ml913_accepts_aliases_and_chained_slices() -> None:
    src = """\
        from numpy import argsort as order


        def top(a, xs, k):
            return order(a)[::-1][:5], sorted(xs, reverse=True)[0:k]
        """
    check(src, "ML913", [5, 5])
