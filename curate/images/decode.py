"""Decoding encoded images: one outcome per image, never an exception.

Every image is an encoded file (the ``image`` binary column). Decoding it ends in a picture or
in one of these reason codes, which the image stages write to ``OUT.curate/rejects/`` (or count, where a
stage keeps the row):

- ``empty``: zero bytes (or null);
- ``unidentified``: not a raster format Pillow reads (SVG, HTML, text, a PDF);
- ``too_large``: more than ``max_pixels`` pixels, refused from the header before any pixel is
  decoded. The default is Pillow's own decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``,
  89,478,485 px, about 9459 x 9459): a 20000 x 20000 PNG of a few hundred KiB would need 1.2 GB
  of RGB pixels;
- ``corrupt``: the header was read but the pixels were not (a truncated JPEG, damaged data).

What a decoded picture is: the first frame of an animation; rotated as its EXIF orientation
says (what a viewer shows); transparent pixels composited on white; CMYK converted with
Pillow's conversion; 16-bit and 32-bit grey scaled to 8 bits (Pillow's own ``convert("L")``
clips them to 255 instead, which makes every bright 16-bit image white).

JPEG is decoded at reduced size where the caller allows it (``draft``: the DCT scales by 1/2, 1/4
or 1/8 while decoding, several times cheaper than a full decode then a resize).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from curate.errors import UsageError

if TYPE_CHECKING:
    from PIL.Image import Image

# Pillow's Image.MAX_IMAGE_PIXELS default (1024 * 1024 * 1024 // 4 // 3).
DEFAULT_MAX_PIXELS = 89_478_485
REASONS = ("empty", "unidentified", "too_large", "corrupt")


def pillow() -> Any:
    """Pillow's Image module, or a usage error naming the extra that installs it.

    curate checks the pixel count itself (``max_pixels``, per stage), from the header and before
    decoding, so Pillow's process-wide check is turned off: it warns (an exception under
    ``-W error``) or raises from inside ``Image.open``, and changing it per call is not
    thread-safe."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise UsageError("image stages need Pillow, which is not installed: pip install 'curate[images]'") from exc
    Image.MAX_IMAGE_PIXELS = None
    return Image


@dataclass(frozen=True)
class Decoded:
    """A decoded picture (None when it failed) with the file's format and oriented size, or
    the reason it failed."""

    image: Image | None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    reason: str | None = None


def _oriented_size(image: Image, size: tuple[int, int]) -> tuple[int, int]:
    """The full-size (not draft) width and height as displayed, after EXIF rotation."""
    orientation = image.getexif().get(0x0112, 1)
    width, height = size
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def open_image(data: bytes | None, *, max_pixels: int, draft: tuple[int, int] | None, mode: str | None) -> Decoded:
    """Decode ``data``. ``draft``: the smallest size the caller needs (JPEG may be decoded
    down to it). ``mode``: ``"RGB"`` or ``"L"`` for a picture in that mode, oriented and
    composited; None only verifies that the pixels decode (the picture is not returned)."""
    if not data:
        return Decoded(None, reason="empty")
    image_module = pillow()
    from PIL import ImageOps, UnidentifiedImageError

    try:
        image = image_module.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return Decoded(None, reason="unidentified")
    with image:
        kind = image.format
        width, height = image.size
        if max_pixels > 0 and width * height > max_pixels:
            return Decoded(None, kind, width, height, reason="too_large")
        try:
            if draft is not None and kind == "JPEG":
                image.draft("RGB" if image.mode != "L" else "L", draft)
            image.load()
            # After load: reading a PNG's EXIF reads the chunks after its pixels.
            width, height = _oriented_size(image, (width, height))
            if mode is None:
                return Decoded(None, kind, width, height)
            picture = ImageOps.exif_transpose(image)
            picture = canonical_mode(picture, mode)
        except (OSError, ValueError, SyntaxError, EOFError, MemoryError):
            # Pillow reports truncation, bad Huffman codes and broken chunks as OSError/ValueError.
            return Decoded(None, kind, width, height, reason="corrupt")
    return Decoded(picture, kind, width, height)


def canonical_mode(image: Image, mode: str) -> Image:
    """``image`` as 8-bit ``mode`` ("RGB" or "L"): transparency on white, high bit depths scaled."""
    image_module = pillow()
    source = image.mode
    if source in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        if source != "F":
            pixels = pixels / 257.0  # 0..65535 -> 0..255
        grey = image_module.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8), mode="L")
        return grey if mode == "L" else grey.convert(mode)
    if source in ("RGBA", "LA", "PA", "RGBa", "La") or (source == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = image_module.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = image_module.alpha_composite(white, rgba).convert("RGB")
    return image if image.mode == mode else image.convert(mode)
