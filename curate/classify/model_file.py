"""A fastText ``.bin`` / ``.ftz`` model file, checked in pure Python before fastText sees it.

fastText's loader trusts its input: a file cut in half loads without complaint (its matrices
are left partly unread), and random bytes can end in ``std::bad_alloc`` or worse. So the
header, the dictionary and the sizes of both matrices are read here first, and the file must
end exactly where the format says it does. Only then is it handed to ``fasttext.load_model``.

The layout (fastText 0.9, ``FASTTEXT_VERSION`` 12; version 11 models read the same way):
magic int32 793712314, version int32; the training arguments (12 int32 and a float64); the
dictionary (size, nwords, nlabels int32; ntokens, pruneidx_size int64; ``size`` entries of a
NUL-terminated word, an int64 count and an int8 type; ``pruneidx_size`` pairs of int32); then
the input matrix and the output matrix, each dense (``m``, ``n`` int64 and ``m*n`` float32)
or, in a quantized ``.ftz``, product-quantized codes with their centroids.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from curate.errors import BadInputError, UsageError

MAGIC = 793712314
MAX_VERSION = 12
LABEL_PREFIX = "__label__"
LOSSES = {1: "hs", 2: "ns", 3: "softmax", 4: "ova"}
MODELS = {1: "cbow", 2: "sg", 3: "sup"}
KSUB = 256  # centroids per sub-quantizer (fastText's product quantizer, 8 bits)


@dataclass(frozen=True)
class ModelInfo:
    """What the file says about itself: labels without their ``__label__`` prefix, in the
    dictionary's order (most frequent first), and its shape."""

    path: str
    sha256: str
    labels: tuple[str, ...]
    words: int
    dim: int
    loss: str
    quantized: bool
    size: int


class _Reader:
    def __init__(self, path: str, data: bytes) -> None:
        self.path = path
        self.data = data
        self.pos = 0

    def bad(self, problem: str) -> BadInputError:
        return BadInputError(self.path, f"not a valid fastText model ({problem})")

    def take(self, size: int, what: str) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise self.bad(f"the file ends inside the {what}: truncated?")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple[int, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def skip(self, size: int, what: str) -> None:
        if size < 0 or self.pos + size > len(self.data):
            raise self.bad(f"the file ends inside the {what}: truncated?")
        self.pos += size  # no copy: a matrix is most of the file


def _dense(reader: _Reader, what: str) -> tuple[int, int]:
    m, n = reader.unpack("qq", what)
    if m < 0 or n <= 0 or m * n * 4 > len(reader.data):
        raise reader.bad(f"{what} of {m} x {n} does not fit in the file")
    reader.skip(m * n * 4, what)
    return m, n


def _product_quantizer(reader: _Reader, what: str) -> None:
    dim, nsubq, dsub, lastdsub = reader.unpack("iiii", what)
    if dim <= 0 or nsubq <= 0 or dsub <= 0 or lastdsub <= 0:
        raise reader.bad(f"{what} has a bad shape")
    reader.skip(dim * KSUB * 4, what)


def _quantized(reader: _Reader, what: str) -> tuple[int, int]:
    (qnorm,) = reader.unpack("?", what)
    m, n = reader.unpack("qq", what)
    (codesize,) = reader.unpack("i", what)
    if m < 0 or n <= 0 or codesize < 0:
        raise reader.bad(f"{what} has a bad shape")
    reader.skip(codesize, what)
    _product_quantizer(reader, what)
    if qnorm:
        reader.skip(m, what)
        _product_quantizer(reader, what)
    return m, n


def _digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def inspect_model(path: str | os.PathLike[str], sha256: str | None = None) -> ModelInfo:
    """Check ``path`` is a complete fastText supervised model (and, when given, that its SHA-256
    is ``sha256``) and say what it holds.

    A missing or unreadable file, or a digest other than the one given, is a usage error
    (exit 2); a file that is not a complete fastText supervised model is bad input (exit 3).
    """
    name = str(path)
    if not Path(name).is_file():
        raise UsageError(f"{name}: no such model file")
    try:
        data = Path(name).read_bytes()
    except OSError as exc:
        raise UsageError(f"{name}: cannot read the model ({exc.strerror or exc})") from exc
    digest = hashlib.sha256(data).hexdigest()
    if sha256 is not None and digest != sha256.lower():
        raise UsageError(f"{name}: SHA-256 is {digest}, not the {sha256} given by --model-sha256")
    reader = _Reader(name, data)
    magic, version = reader.unpack("ii", "header")
    if magic != MAGIC:
        raise reader.bad("wrong magic number: is it a fastText .bin or .ftz?")
    if version > MAX_VERSION:
        raise reader.bad(f"format version {version} is newer than {MAX_VERSION}")
    args = reader.unpack("12id", "training arguments")
    dim, loss, model = args[0], args[6], args[7]
    if model not in MODELS or loss not in LOSSES or dim <= 0:
        raise reader.bad("unknown model or loss kind in the header")
    if MODELS[model] != "sup":
        raise reader.bad(f"a {MODELS[model]} word-vector model, not a supervised classifier")
    size, nwords, nlabels = reader.unpack("iii", "dictionary")
    _ntokens, pruneidx_size = reader.unpack("qq", "dictionary")
    if size < 0 or nwords < 0 or nlabels <= 0 or nwords + nlabels != size or pruneidx_size < -1:
        raise reader.bad("inconsistent dictionary counts")
    labels: list[str] = []
    # A tight loop (lid.176.bin has ~1.6 M entries): word, NUL, int64 count, int8 type (1: label).
    find, position = data.find, reader.pos
    for _ in range(size):
        end = find(b"\0", position)
        if end < 0 or end + 10 > len(data):
            raise reader.bad("the file ends inside the dictionary: truncated?")
        if data[end + 9] == 1:
            try:
                labels.append(data[position:end].decode("utf-8").removeprefix(LABEL_PREFIX))
            except UnicodeDecodeError as exc:
                raise reader.bad("a label is not UTF-8") from exc
        position = end + 10
    reader.pos = position
    if len(labels) != nlabels:
        raise reader.bad(f"the dictionary lists {len(labels)} labels, its header {nlabels}")
    reader.skip(max(0, pruneidx_size) * 8, "dictionary")
    (quantized,) = reader.unpack("?", "input matrix")
    rows, columns = _quantized(reader, "input matrix") if quantized else _dense(reader, "input matrix")
    (qout,) = reader.unpack("?", "output matrix")
    out_rows, out_columns = (
        _quantized(reader, "output matrix") if quantized and qout else _dense(reader, "output matrix")
    )
    if columns != dim or out_columns != dim or out_rows != nlabels or rows < nwords:
        raise reader.bad("matrix shapes do not match the dictionary")
    if reader.pos != len(data):
        raise reader.bad(f"{len(data) - reader.pos} bytes after the end of the model")
    return ModelInfo(
        path=name,
        sha256=digest,
        labels=tuple(labels),
        words=nwords,
        dim=dim,
        loss=LOSSES[loss],
        quantized=quantized,
        size=len(data),
    )
