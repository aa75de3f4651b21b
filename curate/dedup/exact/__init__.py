"""Exact deduplication of documents (or of a column such as the URL) by a 128-bit content hash:
hashes (map over shards, hash-partitioned) → survivors per partition (reduce) → filter (map)."""
