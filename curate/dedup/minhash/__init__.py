"""MinHash-LSH near-duplicate removal, as phases over shards and hash partitions:

signatures (map over shards) → candidate edges (reduce per band partition) → connected
components → gather clusters (map over shards) → resolve survivors, verifying each member
against its survivor (reduce per cluster partition) → filter (map over shards).
"""
