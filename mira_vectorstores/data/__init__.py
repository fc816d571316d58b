"""The bundled sample corpus (``sample.jsonl``), used by the demo when SciFact is absent."""
