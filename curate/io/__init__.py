"""Shard directories: finding input files, reading them as Arrow batches, writing shards atomically."""
