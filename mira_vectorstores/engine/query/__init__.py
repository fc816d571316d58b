"""Pure query logic: filter parsing and evaluation, fusion, boosting, the search pipeline (no I/O)."""
