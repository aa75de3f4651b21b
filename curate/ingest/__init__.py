"""Source stages: raw web archives (WARC, ARC, WET) in, text shards out (``curate ingest``)."""
