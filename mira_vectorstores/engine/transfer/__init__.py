"""Whole-store operations over ``HybridStore``'s parts: export / import files, backup / restore, migration, doctor."""
