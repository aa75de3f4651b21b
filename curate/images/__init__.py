"""Image datasets: ingest, decode, hash and embed (``curate[images]``, imported lazily)."""
