"""``dedup exact --index``: tonight's content hashes against the survivors of earlier nights.

One ``single`` phase after the hashes. Tonight's distinct low halves are searched in each sorted
"band" run of the index (streamed, ``Index.probe_buckets``: memory is tonight's hashes and one batch);
a hit is confirmed on the high half, stored in the docs runs, so a match is the same 128-bit equality
one run over every night makes. A tonight document equal to a survivor is removed as its duplicate,
``dup_of`` naming the best-ranked such survivor (earliest night, then id): the survivor one run with
``--keep min:night`` keeps, since earlier nights rank first. Removed documents leave the within-night
resolve (``drop_hits``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.dedup.decisions import DECISION_SCHEMA
from curate.dedup.index.probe import write_hits
from curate.dedup.index.store import Index


def _first_per_doc(doc: np.ndarray) -> np.ndarray:
    """Rows of a table sorted by doc where a new doc starts."""
    if len(doc) == 0:
        return np.zeros(0, np.int64)
    return np.flatnonzero(np.concatenate([[True], doc[1:] != doc[:-1]]))


def exact_probe_task(plan: Any, _: int) -> tuple[dict[str, Any], list[Path]]:
    from curate.dedup.exact.hashing import hash_name

    root = plan.workspace.root
    index = Index(Path(plan.config.index))
    state = index.state()
    decisions = DECISION_SCHEMA.empty_table()
    matched_rows = 0
    if state is not None and state.runs:
        tables = [
            pq.read_table(root / hash_name(p, s.index), columns=["hi", "lo", "doc"])
            for s in plan.active_shards
            for p in range(plan.partitions)
        ]
        tonight = pa.concat_tables(tables) if tables else None
        if tonight is not None and tonight.num_rows:
            buckets = np.unique(tonight.column("lo").to_numpy())
            found = index.live(index.probe_buckets(state, buckets))
            found = found.select(["bucket", "key"]).rename_columns(["lo", "key"])
            joined = tonight.join(found, "lo", join_type="inner")
            if joined.num_rows:
                docs = index.live(index.docs_for(state, joined.column("key").to_numpy()))
                docs = docs.select(["key", "id", "night", "hi"]).rename_columns(["key", "id", "night", "index_hi"])
                joined = joined.join(docs, "key", join_type="inner")
                joined = joined.filter(pc.equal(joined.column("hi"), joined.column("index_hi")))
                matched_rows = joined.num_rows
                joined = joined.sort_by([("doc", "ascending"), ("night", "ascending"), ("id", "ascending")])
                first = _first_per_doc(joined.column("doc").to_numpy())
                hits = joined.take(pa.array(first))
                ids = hits.column("id").combine_chunks().cast(pa.string())
                decisions = pa.table(
                    {
                        "doc": hits.column("doc").combine_chunks(),
                        "removed": pa.array(np.ones(hits.num_rows, bool)),
                        "dup_of": ids,
                        "similarity": pa.array(np.ones(hits.num_rows)),
                        "dup_cluster": ids,
                        "dup_cluster_size": pa.nulls(hits.num_rows, pa.int64()),
                    },
                    schema=DECISION_SCHEMA,
                )
    outputs = write_hits(plan, decisions)
    return {"index_pairs": matched_rows, "index_matches": decisions.num_rows}, outputs
