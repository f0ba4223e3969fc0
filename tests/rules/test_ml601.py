"""ML601 list-membership-in-loop: messages, positions, loop context and the fix's edge cases."""

from __future__ import annotations

import ast
import textwrap

from mllint.api import check_source
from mllint.diagnostics import FileResult


def _run(source: str, fix: str | None = None) -> FileResult:
    return check_source(textwrap.dedent(source), "pkg/data.py", select=["ML601"], fix=fix)


def _findings(source: str) -> list[tuple[int, int, str]]:
    return [(v.line, v.column, v.message) for v in _run(source).violations]


def _fixed(source: str) -> str:
    result = _run(source, fix="unsafe")
    assert result.fixed_source is not None
    ast.parse(result.fixed_source)
    return result.fixed_source


def test_messages_and_positions() -> None:
    found = _findings(
        """
        def f(tokens, vocab: list[str]):
            for tok in tokens:
                if tok not in vocab or tok in ["<pad>", "<unk>"]:
                    pass
        """
    )
    assert found == [
        (
            4,
            12,
            "'tok not in vocab' scans the list on every iteration (O(len) per test); build a set "
            "once before the loop: vocab_set = set(vocab)",
        ),
        (
            4,
            32,
            '\'tok in ["<pad>", "<unk>"]\' scans the list on every iteration (O(len) per test); '
            "use a set literal {…}",
        ),
    ]


def test_loop_context_follows_rules_section_0_1() -> None:
    source = """
    def f(xs, ys, L: list[int]):
        a = [x for x in (1 in L, 2) if x]
        b = [x for x in xs for y in (3 in L, 4)]
        c = [[y for y in (5 in L,)] for x in xs]
        for x in (6 in L,):
            pass
        else:
            _ = 7 in L
        while 8 in L:
            break
        d = lambda: [1 for x in xs if 9 in L]
        e = [lambda: 10 in L for x in xs]
    """
    lines = sorted(line for line, _, _ in _findings(source))
    # flagged: the second `for` clause (b), a comprehension nested in an element (c), a
    # comprehension inside a lambda (d); not: first iterables, for/else, while tests, lambdas
    assert lines == [4, 5, 12]


def test_fix_inserts_before_outermost_loop_and_reuses_previous_set() -> None:
    source = """
    def f(epochs, tokens, vocab: list[str]):
        n = 0
        for _ in range(epochs):
            for tok in tokens:
                n += tok in vocab
        return n
    """
    fixed = _fixed(source)
    assert fixed == textwrap.dedent(
        """
        def f(epochs, tokens, vocab: list[str]):
            n = 0
            vocab_set = set(vocab)
            for _ in range(epochs):
                for tok in tokens:
                    n += tok in vocab_set
            return n
        """
    )
    # a test left on the old name next to an existing `vocab_set = set(vocab)` reuses it
    partial = fixed.replace("n += tok in vocab_set", "n += tok in vocab")
    assert _fixed(partial) == fixed


def test_fresh_name_gets_a_suffix() -> None:
    fixed = _fixed(
        """
        def f(rows, labels: list[str], labels_set):
            return [r for r in rows if r in labels], labels_set
        """
    )
    assert "labels_set2 = set(labels)" in fixed
    assert "if r in labels_set2]" in fixed


def test_no_fix_without_trailing_newline() -> None:
    source = "def f(rows, labels: list[str]):\n    return [r for r in rows if r in labels]"
    assert len(_findings(source)) == 1
    assert _run(source, fix="unsafe").fixed_source is None


def test_no_fix_when_statement_mutates_the_list() -> None:
    source = """
    def f(pending: list[int], done):
        while any(p in pending for p in done):
            pending.pop()
    """
    assert len(_findings(source)) == 1
    assert _run(source, fix="unsafe").fixed_source is None


def test_self_attribute_fixed_when_bound_in_the_same_method() -> None:
    fixed = _fixed(
        """
        class Encoder:
            def fit(self, y):
                self.classes_ = sorted(y)
                return [v for v in y if v in self.classes_]
        """
    )
    assert "classes__set = set(self.classes_)" in fixed
    assert "if v in classes__set]" in fixed


def test_mutating_functions_and_global_rebinding_count_as_changes() -> None:
    source = """
    import heapq

    def f(items, heap: list[int]):
        for x in items:
            if x in heap:
                continue
            heapq.heappush(heap, x)
    """
    assert _findings(source) == []
