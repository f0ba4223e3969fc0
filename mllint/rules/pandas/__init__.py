"""mllint rules."""
