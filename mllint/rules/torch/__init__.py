"""ML3xx PyTorch rules (and the torch ML93x rules)."""
