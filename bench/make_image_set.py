"""Build the seeded image copy-detection set: real photos and edited copies of each, truth saved.

    python bench/make_image_set.py --out bench/data/images [--variants 3] [--seed 0]

Source: the photos of ``../shared/data/imagededup-ukbench-transforms`` (beside the checkout, or
under ``$CURATE_SHARED_DATA``): its 10 ``base_images/`` (UKBench, 640 x 480, 10 different UKBench
groups) and the two standard test pictures ``formats_images/baboon.pgm`` and ``Iggy.1024.ppm``. The
photos are read from there and written only under ``--out`` (``bench/data/`` is gitignored: the
photos are UKBench's, distributed for research, and never enter the project).

Each original gets, per edit kind, ``--variants`` copies with seeded parameters (flips: one each):

* ``crop``: keep 50-90 % of each side (uniform), at a random position;
* ``resize``: scale 0.3-1.5 (aspect kept);
* ``jpeg``: re-encoded at quality 30-90;
* ``jitter``: brightness, contrast and saturation each x 0.7-1.3, hue shifted by up to 18 degrees;
* ``text``: a caption of 2-4 words, 8-14 % of the height, white with a black outline, at a random
  place;
* ``hflip``, ``vflip``: mirrored left-right, top-bottom.

Copies are JPEG (quality 95, except ``jpeg``'s own quality) of the picture as displayed (EXIF
orientation applied, as curate decodes it); originals are copied byte for byte.
Output: ``photos/*.{jpg,pgm,ppm}`` (flat; a copy is ``ORIGINAL__KIND-N.jpg``) and ``truth.json``:
one entry per file with ``original`` (its original's file), ``edit`` (``original`` or the kind)
and ``params``.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shared_data import SHARED

UKBENCH = SHARED / "imagededup-ukbench-transforms"
EXTRA_PHOTOS = ("formats_images/baboon.pgm", "formats_images/Iggy.1024.ppm")
WORDS = ("holiday", "sale", "copyright", "photo", "2024", "best", "view", "shared", "via", "meme")
Edit = Callable[[Image.Image, np.random.Generator], tuple[Image.Image, dict[str, Any]]]


def crop(picture: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, Any]]:
    keep = float(rng.uniform(0.5, 0.9))
    width, height = picture.size
    w, h = round(width * keep), round(height * keep)
    left, top = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    return picture.crop((left, top, left + w, top + h)), {"keep": round(keep, 3), "box": [left, top, w, h]}


def resize(picture: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, Any]]:
    scale = float(rng.uniform(0.3, 1.5))
    size = (max(8, round(picture.width * scale)), max(8, round(picture.height * scale)))
    return picture.resize(size, Image.Resampling.BICUBIC), {"scale": round(scale, 3)}


def jitter(picture: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, Any]]:
    brightness, contrast, saturation = (float(x) for x in rng.uniform(0.7, 1.3, size=3))
    hue = int(rng.integers(-13, 14))  # of 256 steps: up to ~18 degrees
    out = ImageEnhance.Brightness(picture).enhance(brightness)
    out = ImageEnhance.Contrast(out).enhance(contrast)
    out = ImageEnhance.Color(out).enhance(saturation)
    hsv = np.asarray(out.convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + hue) % 256
    out = Image.fromarray(hsv, "HSV").convert("RGB")
    params = {"brightness": brightness, "contrast": contrast, "saturation": saturation, "hue": hue}
    return out, {k: round(v, 3) for k, v in params.items()}


def text(picture: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, Any]]:
    caption = " ".join(rng.choice(WORDS, size=int(rng.integers(2, 5))).tolist()).upper()
    size = max(8, round(picture.height * float(rng.uniform(0.08, 0.14))))
    font = ImageFont.load_default(size=size)
    out = picture.copy()
    draw = ImageDraw.Draw(out)
    left, top, right, bottom = draw.textbbox((0, 0), caption, font=font, stroke_width=2)
    x = int(rng.integers(0, max(1, out.width - (right - left))))
    y = int(rng.integers(0, max(1, out.height - (bottom - top))))
    draw.text((x, y), caption, font=font, fill="white", stroke_width=2, stroke_fill="black")
    return out, {"caption": caption, "size": size, "at": [x, y]}


def hflip(picture: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, Any]]:
    return picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT), {}


def vflip(picture: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, dict[str, Any]]:
    return picture.transpose(Image.Transpose.FLIP_TOP_BOTTOM), {}


EDITS: dict[str, Edit] = {"crop": crop, "resize": resize, "jitter": jitter, "text": text}
SINGLE: dict[str, Edit] = {"hflip": hflip, "vflip": vflip}  # deterministic: one copy each
KINDS = ("crop", "resize", "jpeg", "jitter", "text", "hflip", "vflip")


def jpeg_bytes(picture: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    picture.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def originals(source: Path) -> list[Path]:
    found = sorted((source / "base_images").glob("*.jpg")) + [source / p for p in EXTRA_PHOTOS]
    missing = [p for p in found if not p.is_file()]
    if not (source / "base_images").is_dir() or missing:
        raise SystemExit(f"{source}: not the imagededup test set (missing {missing or 'base_images/'})")
    return found


def build(source: Path, out: Path, variants: int, seed: int) -> list[dict[str, Any]]:
    photos = out / "photos"
    if photos.exists():
        shutil.rmtree(photos)
    photos.mkdir(parents=True)
    truth: list[dict[str, Any]] = []
    for number, path in enumerate(originals(source)):
        shutil.copyfile(path, photos / path.name)
        truth.append({"file": path.name, "original": path.name, "edit": "original", "params": {}})
        with Image.open(path) as opened:
            # Edit the picture as displayed: ukbench09268.jpg is stored sideways with an EXIF
            # orientation tag, which the saved copies would otherwise lose.
            picture = ImageOps.exif_transpose(opened).convert("RGB")
        stem = path.stem
        for kind in KINDS:
            for k in range(1 if kind in SINGLE else variants):
                rng = np.random.default_rng([seed, number, KINDS.index(kind), k])
                if kind == "jpeg":
                    quality = int(rng.integers(30, 91))
                    data, params = jpeg_bytes(picture, quality), {"quality": quality}
                else:
                    edited, params = {**EDITS, **SINGLE}[kind](picture, rng)
                    data = jpeg_bytes(edited, 95)
                name = f"{stem}__{kind}-{k}.jpg"
                (photos / name).write_bytes(data)
                truth.append({"file": name, "original": path.name, "edit": kind, "params": params})
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", type=Path, default=UKBENCH)
    parser.add_argument("--out", type=Path, default=Path("bench/data/images"))
    parser.add_argument("--variants", type=int, default=3, help="copies per original per edit kind (flips: 1)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    truth = build(args.source, args.out, args.variants, args.seed)
    (args.out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    originals_count = sum(t["edit"] == "original" for t in truth)
    print(f"{args.out}: {originals_count} originals, {len(truth) - originals_count} copies, truth.json")


if __name__ == "__main__":
    main()
