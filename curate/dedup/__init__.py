"""Deduplication stages (global stages: they need every shard before deciding)."""
