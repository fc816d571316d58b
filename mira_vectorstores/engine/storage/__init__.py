"""Durable data: Chroma access (client modes, chunked writes, paged reads), object codecs, payload stores."""
