"""mllint rules that read project files (ML704, ML78x, ML79x, ML971); CLI only."""
