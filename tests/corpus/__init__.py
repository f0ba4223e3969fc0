"""Whole-corpus robustness checks (``python tests/corpus/fix_corpus.py --help``)."""
