"""``curate hash images``: 64-bit perceptual hashes (pHash, dHash) of every image, by imagehash.

pHash (the DCT hash: grey, 32 x 32 Lanczos, 2-D DCT, the 8 x 8 lowest frequencies against their
median) survives resizing, re-encoding and mild colour changes; dHash (grey, 9 x 8, each pixel
brighter than its left neighbour?) is cheaper and nearly as good on resizes. Neither survives a
flip or a rotation: those are a different picture to a hash (``docs/images.md`` measures it).
Each is stored as a ``uint64`` whose bits, most significant first, are imagehash's bits in row
order (so ``f"{value:016x}"`` is imagehash's ``str(hash)``).

Decoding is one Pillow call per image (C code; JPEG at 1/8 scale where that still leaves 64 px);
there is no vectorised image decoder to call instead. Undecodable images are a reason code
(``curate.images.decode``): dropped to ``OUT.curate/rejects/`` (default) or kept with null hashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from curate.errors import UsageError
from curate.images.decode import DEFAULT_MAX_PIXELS, open_image
from curate.pipelines.options import option
from curate.pipelines.stage import BatchContext, MapResult, MapStage, Resources

HASH_KINDS = ("phash", "dhash")
# JPEG draft target: pHash resizes to 32 x 32, dHash to 9 x 8; decoding at >= 64 px keeps the
# Lanczos resize a true downscale.
DRAFT = (64, 64)
ALGORITHM_VERSION = 1


def pack_bits(bits: np.ndarray) -> int:
    """64 booleans (row order) as one integer, the first bit most significant."""
    return int.from_bytes(np.packbits(np.asarray(bits, dtype=bool).reshape(-1)).tobytes(), "big")


def image_hashes(picture: Any) -> tuple[int, int]:
    """(pHash, dHash) of a decoded greyscale picture."""
    import imagehash

    return pack_bits(imagehash.phash(picture).hash), pack_bits(imagehash.dhash(picture).hash)


def image_column(batch: pa.RecordBatch, column: str) -> pa.Array:
    if column not in batch.schema.names:
        raise UsageError(f"no image column {column!r} (columns: {batch.schema.names}); set --image-column")
    values = batch.column(column)
    if not (pa.types.is_binary(values.type) or pa.types.is_large_binary(values.type)):
        raise UsageError(f"image column {column!r} has type {values.type}, not binary (the encoded file)")
    return values


@dataclass(frozen=True)
class HashImages(MapStage):
    """Add 64-bit perceptual hashes (phash, dhash: uint64) of the image column.

    Images that do not decode (empty, not a raster image, corrupt, above --max-pixels) go to
    OUT.curate/rejects/ with _reason hash_images:<why>, or with --undecodable keep stay with null
    hashes; either way the manifest counts them per reason.
    """

    name: ClassVar[str] = "images"
    group: ClassVar[str] = "hash"
    summary: ClassVar[str] = "Add pHash / dHash (64-bit) columns of the images."
    extra: ClassVar[str | None] = "images"
    extra_modules: ClassVar[tuple[str, ...]] = ("PIL", "imagehash")
    resources: ClassVar[Resources] = Resources(batch_rows=256)

    image_column: str = option("image", "Column holding the encoded image (binary).")
    max_pixels: int = option(
        DEFAULT_MAX_PIXELS,
        "Images with more pixels are refused from their header (too_large) before decoding; Pillow's "
        "decompression-bomb limit by default. 0 = no limit.",
        min=0,
    )
    undecodable: str = option(
        "drop",
        "An image that does not decode: drop it (to OUT.curate/rejects/) or keep it with null hashes.",
        choices=("drop", "keep"),
    )

    def reads(self, read: Any) -> tuple[str, ...]:
        return (self.image_column,)

    def config(self) -> dict[str, Any]:
        return {
            "image_column": self.image_column,
            "max_pixels": self.max_pixels,
            "undecodable": self.undecodable,
            "algorithm_version": ALGORITHM_VERSION,
        }

    def apply(self, batch: pa.RecordBatch, context: BatchContext) -> MapResult:
        images = image_column(batch, self.image_column)
        n = batch.num_rows
        phash = np.zeros(n, dtype=np.uint64)
        dhash = np.zeros(n, dtype=np.uint64)
        failed = np.zeros(n, dtype=bool)
        why: list[str | None] = [None] * n
        # One decode per image is the work itself (Pillow, in C); the loop only dispatches.
        for row, data in enumerate(images.to_pylist()):
            decoded = open_image(data, max_pixels=self.max_pixels, draft=DRAFT, mode="L")
            if decoded.image is None:
                failed[row] = True
                why[row] = f"hash_images:{decoded.reason}"
                continue
            phash[row], dhash[row] = image_hashes(decoded.image)
        reasons = pa.array(why, pa.string())
        counters = {f"undecodable:{r.removeprefix('hash_images:')}": why.count(r) for r in set(why) if r}
        columns = {"phash": pa.array(phash, mask=failed), "dhash": pa.array(dhash, mask=failed)}
        keep = ~failed if self.undecodable == "drop" else None
        return MapResult(keep=keep, reasons=reasons, columns=columns, counters=counters)
