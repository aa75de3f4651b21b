"""Decode + embed throughput of ``curate embed images`` (CPU): images/s on one core and on every
core, decoding alone, the model alone, the two one after the other per batch (as before the
overlap), and the stage's own ``apply`` (decoding of the next 16 images overlapping the model).
Per CPU second counts every thread of the process (onnxruntime's pool pins its threads to
cores itself, so a one-core affinity does not hold it to one core).

    python bench/make_backbone_model.py 320n.onnx bench/data/yolov8n-backbone.onnx   # see its docstring
    python bench/images_embed.py --model bench/data/yolov8n-backbone.onnx [--photos DIR] [--images 640]

The photos are the 640 x 480 UKBench JPEGs of ``../shared/data/imagededup-ukbench-transforms``
(``base_images/``), repeated to ``--images``; the model is whatever ONNX or TorchScript file with
SSCD's contract is given. SSCD's ResNet-50 is about 6.8 G multiply-adds per 288 x 288 image
(ResNet-50's 4.1 at 224); the YOLOv8n backbone of ``make_backbone_model.py`` is well under one
(YOLOv8n is 8.7 GFLOPs at 640 x 640, whole): expect SSCD's model to cost ten times more.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pyarrow as pa

from curate.images.embedding import INFERENCE_ROWS, EmbedImages
from curate.io.readers import ReadOptions
from curate.pipelines.stage import BatchContext

BATCH_ROWS = 64


def no_shard(engine: object) -> BatchContext:
    """The context ``apply`` gets (the embedding stage reads only its worker state from it)."""
    return BatchContext(None, 0, ReadOptions(), engine)  # type: ignore[arg-type]


class Clock:
    """Wall and CPU seconds (every thread of the process) of a block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def measure(stage: EmbedImages, engine: object, images: list[bytes]) -> dict[str, Clock]:
    """Wall and CPU time of each way of running the stage over ``images``."""
    batches = [images[start : start + BATCH_ROWS] for start in range(0, len(images), BATCH_ROWS)]
    dimension = engine.dimension  # type: ignore[attr-defined]
    clocks: dict[str, Clock] = {}
    with Clock() as clocks["decode + preprocess only"]:
        decoded = [stage._pixels(batch)[0] for batch in batches]
    with Clock() as clocks["model only"]:
        for pixels in decoded:
            for start in range(0, len(pixels), INFERENCE_ROWS):
                stage._embed(engine, pixels[start : start + INFERENCE_ROWS], dimension)
    del decoded
    with Clock() as clocks["decode, then model (no overlap)"]:
        for batch in batches:
            pixels = stage._pixels(batch)[0]
            for start in range(0, len(pixels), INFERENCE_ROWS):
                stage._embed(engine, pixels[start : start + INFERENCE_ROWS], dimension)
    context = no_shard(engine)
    with Clock() as clocks["stage apply (decode overlapping the model)"]:
        for batch in batches:
            stage.apply(pa.record_batch({"image": pa.array(batch, pa.binary())}), context)
    return clocks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--photos", type=Path, default=Path("../shared/data/imagededup-ukbench-transforms/base_images"))
    parser.add_argument("--images", type=int, default=640)
    parser.add_argument("--size", type=int, default=288)
    args = parser.parse_args()
    files = [p.read_bytes() for p in sorted(args.photos.glob("*.jpg"))]
    images = (files * (args.images // len(files) + 1))[: args.images]
    every = sorted(os.sched_getaffinity(0))
    for cores in ({every[0]}, set(every)):
        os.sched_setaffinity(0, cores)
        # A fresh engine per setting: onnxruntime sizes its thread pool when the session starts.
        stage = EmbedImages(model=str(args.model), size=args.size)
        engine = stage.setup()
        stage.apply(pa.record_batch({"image": pa.array(images[:4], pa.binary())}), no_shard(engine))  # warm-up
        print(f"{args.model.name}, {args.images} JPEGs 640x480 -> {args.size}x{args.size}, {len(cores)} core(s):")
        for label, clock in measure(stage, engine, images).items():
            print(
                f"  {label:45s} {len(images) / clock.wall:7.1f} images/s, {len(images) / clock.cpu:7.1f} per CPU second"
            )


if __name__ == "__main__":
    main()
