"""Errors of the rule registry (kept apart so the CLI can catch them without importing libcst)."""


class RegistryError(Exception):
    """A rule or rule pack cannot be loaded or is malformed."""
