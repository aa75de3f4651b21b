"""A persistent dedup index: the state nightly incremental dedup keeps between runs."""
