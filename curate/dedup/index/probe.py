"""``dedup minhash --index``: tonight's documents against the survivors of earlier nights.

One ``single`` phase after the signatures: tonight's band buckets (memory ∝ tonight) are searched in
each sorted band run of the index, streamed in batches (``Index.probe_buckets``), so the index is never
loaded whole. Every (tonight doc, index survivor) pair sharing a bucket is checked on exact Jaccard
(the survivor's text is in the index) unless ``--no-verify``; a tonight document matching one is removed
as a duplicate of the best-ranked such survivor (earliest night, then id) — the survivor a single run
over every night with ``--keep min:night --survivors keep-rule`` would name, since earlier nights'
survivors rank first. Removed documents leave the within-night dedup (their buckets are dropped from
the candidates phase), and their decisions are written per shard for the apply phase.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import kernel
from curate.dedup.decisions import DECISION_SCHEMA, ROW_BITS
from curate.dedup.index.store import Index
from curate.io.layout import WORK
from curate.io.writers import write_table_atomically

INDEX_SUFFIX = "_of_index"
INDEX_REASON = "minhash:near_duplicate" + INDEX_SUFFIX


def index_reason(reason: str) -> str:
    """The reason of a row removed as a copy of an index survivor: the stage's own, ``_of_index``."""
    return reason + INDEX_SUFFIX


def hits_name(shard_index: int) -> str:
    return f"{WORK}/index_hits/s{shard_index:05d}.parquet"


def write_hits(plan: Any, decisions: pa.Table) -> list[Path]:
    """The decisions of documents removed against the index, one file per input shard."""
    root = plan.workspace.root
    outputs = []
    doc_shard = decisions.column("doc").to_numpy() >> np.uint64(ROW_BITS)
    for shard in plan.active_shards:
        picked = np.flatnonzero(doc_shard == np.uint64(shard.index))
        write_table_atomically(root, hits_name(shard.index), decisions.take(pa.array(picked)))
        outputs.append(root / hits_name(shard.index))
    return outputs


def load_hit_docs(root: Path, shards: Any) -> np.ndarray:
    """Sorted doc keys removed as duplicates of the index (for the candidates phase)."""
    parts = [pq.read_table(root / hits_name(s.index), columns=["doc"]).column("doc").to_numpy() for s in shards]
    return np.sort(np.concatenate(parts)) if parts else np.empty(0, np.uint64)


def probe_task(plan: Any, _: int) -> tuple[dict[str, Any], list[Path]]:
    from curate.dedup.minhash.clusters import _member_texts
    from curate.dedup.minhash.signatures import band_name

    config = plan.config
    root = plan.workspace.root
    index = Index(Path(config.index))
    state = index.state()
    tables = [
        pq.read_table(root / band_name(p, s.index)) for s in plan.active_shards for p in range(plan.band_partitions)
    ]
    tonight = pa.concat_tables(tables) if tables else None
    pairs = pa.table({"doc": pa.array([], pa.uint64()), "key": pa.array([], pa.uint64())})
    if state is not None and state.runs and tonight is not None and tonight.num_rows:
        buckets = np.unique(tonight.column("bucket").to_numpy())
        matched = index.live(index.probe_buckets(state, buckets))
        joined = tonight.join(matched.select(["bucket", "key"]), "bucket", join_type="inner")
        pairs = joined.group_by(["doc", "key"]).aggregate([]).sort_by([("doc", "ascending"), ("key", "ascending")])
    del tonight, tables
    decisions = DECISION_SCHEMA.empty_table()
    if pairs.num_rows:
        docs = index.live(index.docs_for(state, pairs.column("key").to_numpy()))  # type: ignore[arg-type]
        pairs = pairs.join(docs, "key", join_type="inner")
        # Best-ranked survivor first within each tonight doc: earliest night, then id.
        pairs = pairs.sort_by([("doc", "ascending"), ("night", "ascending"), ("id", "ascending")])
        doc = pairs.column("doc").to_numpy()
        shard_of = doc >> np.uint64(ROW_BITS)
        texts = []
        for shard in sorted(plan.active_shards, key=lambda s: s.index):
            picked = doc[shard_of == np.uint64(shard.index)]
            unique, inverse = np.unique(picked, return_inverse=True)
            texts.append(_member_texts(plan, shard.index, unique).take(pa.array(inverse)))
        tonight_texts = pa.concat_arrays(texts).cast(pa.large_string())
        index_texts = pairs.column("text").combine_chunks().cast(pa.large_string())
        # Groups of two (survivor, tonight doc): the kernel's leader clustering says whether the doc
        # joins the survivor, and its exact Jaccard.
        n = pairs.num_rows
        interleaved = pa.concat_arrays([index_texts, tonight_texts]).take(
            pa.array(np.stack([np.arange(n), np.arange(n) + n], axis=1).reshape(-1))
        )
        offsets = np.arange(0, 2 * n + 1, 2, dtype=np.int64)
        leaders, similarity = kernel.leader_clusters(
            interleaved, offsets, threshold=config.threshold, kind=config.shingle, ngram=config.ngram, max_leaders=1
        )
        joined_leader = leaders[1::2] == np.arange(0, 2 * n, 2)
        match = joined_leader if config.verify else np.ones(n, bool)
        # Without --verify a shared bucket is enough (as in one run); the similarity is known only when
        # it reached the threshold.
        sim = np.where(joined_leader, similarity[1::2], np.nan)
        rows = np.flatnonzero(match)
        first = rows[np.concatenate([[True], doc[rows][1:] != doc[rows][:-1]])] if len(rows) else rows
        ids = pairs.column("id").combine_chunks().take(pa.array(first))
        decisions = pa.table(
            {
                "doc": pa.array(doc[first], pa.uint64()),
                "removed": pa.array(np.ones(len(first), bool)),
                "dup_of": ids,
                "similarity": pa.array(sim[first], mask=np.isnan(sim[first])),
                "dup_cluster": ids,
                "dup_cluster_size": pa.nulls(len(first), pa.int64()),
            },
            schema=DECISION_SCHEMA,
        )
    outputs = write_hits(plan, decisions)
    return {"candidate_pairs": pairs.num_rows, "index_matches": decisions.num_rows}, outputs


def drop_hits(table: pa.Table, hits: np.ndarray) -> pa.Table:
    """Band rows of ``table`` (column doc) without the documents the index already removed."""
    if len(hits) == 0:
        return table
    return table.filter(pc.invert(pc.is_in(table.column("doc"), value_set=pa.array(hits, pa.uint64()))))
