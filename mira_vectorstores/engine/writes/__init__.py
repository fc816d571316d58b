"""Before anything is written: input validation and the write batch sent to Chroma and the mirrors."""
