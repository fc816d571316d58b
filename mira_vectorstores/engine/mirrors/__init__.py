"""The in-process copies of Chroma: records, dense (FAISS), lexical (BM25), their snapshot files, catching up."""
