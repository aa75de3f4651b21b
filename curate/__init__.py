"""curate: web-scale data curation and deduplication over directories of Parquet shards."""

__version__ = "0.1.0"
