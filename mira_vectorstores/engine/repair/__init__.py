"""Repairing an embedded collection Chroma can no longer read, from every surviving copy."""
