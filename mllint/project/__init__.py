"""Project files: ``pyproject.toml``, ``.pre-commit-config.yaml``, pytest configuration.

:mod:`mllint.project.files` locates the project root and loads its files once per run;
:mod:`mllint.project.base` is the :class:`ProjectRule` API; :mod:`mllint.project.runner`
runs the project rules (``mllint check`` on the project root, and ``mllint check
--project-only`` for the ``mllint-project`` pre-commit hook). See ``docs/project-files.md``.
"""

from __future__ import annotations
