"""sklearn, data leakage, reproducibility and tests of ML code (ML5xx)."""
