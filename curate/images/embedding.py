"""``curate embed images --model PATH``: image descriptors from an ONNX model (onnxruntime) or a
TorchScript model (torch; SSCD's published files), see :mod:`curate.images.engines`.

The model follows SSCD's input/output contract (Pizzi et al., CVPR 2022, the SSCD README):
input ``float32[N, 3, S, S]`` of RGB pixels resized to S x S (``--size``, 288 for SSCD's
``sscd_disc_mixup``: its README resizes the short side to 288; a square resize keeps batches of
one shape), scaled to 0..1 and normalised with ImageNet's mean (0.485, 0.456, 0.406) and
standard deviation (0.229, 0.224, 0.225); output ``float32[N, D]``, which curate L2-normalises
(SSCD descriptors are compared by cosine). The column ``embedding`` is a fixed-size list of D
float32 (D = 512 for SSCD's published models; whatever the model's output says otherwise).

The model's SHA-256 is part of the stage's fingerprint (a changed file is another stage), and
``--model-sha256`` refuses a file whose content is not the one expected. The model loads once
per worker (``setup()``); onnxruntime releases the GIL while it runs.

SSCD weights cannot be downloaded in curate's CI, so the tests build small models with the same
contract themselves (an ONNX one with the onnx package's helper API; a TorchScript one with torch,
checked against its own ONNX export).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from curate.errors import UsageError
from curate.images.decode import DEFAULT_MAX_PIXELS, open_image
from curate.images.engines import Engine, check_device, load_engine, resolve_device
from curate.images.hashing import image_column
from curate.pipelines.fingerprint import file_digest
from curate.pipelines.options import option
from curate.pipelines.stage import BatchContext, MapResult, MapStage, Resources

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
ALGORITHM_VERSION = 2  # 2: the model runs on 16 images at a time (float sums may differ in the last bits)
DEVICES = ("auto", "cpu", "cuda")
# Images per model call: also the unit of decode/inference overlap (a batch of 64 rows is four
# model calls, the decoding of each overlapping the inference of the one before).
INFERENCE_ROWS = 16


@dataclass(frozen=True)
class EmbedImages(MapStage):
    """Add an L2-normalised image descriptor (embedding: fixed-size list<float32>) from an ONNX or
    TorchScript model (SSCD's published .torchscript.pt files; TorchScript needs curate[images-torch]).

    Images that do not decode go to OUT.curate/rejects/ with _reason embed_images:<why> (or, with
    --undecodable keep, stay with a null embedding); counted in the manifest either way.
    """

    name: ClassVar[str] = "images"
    group: ClassVar[str] = "embed"
    summary: ClassVar[str] = "Add image descriptors (embedding) from an ONNX or TorchScript model with SSCD's contract."
    extra: ClassVar[str | None] = "images"
    extra_modules: ClassVar[tuple[str, ...]] = ("PIL", "onnxruntime")

    model: str = option("", "The ONNX or TorchScript model file (input float32[N,3,S,S], output float32[N,D]).")
    model_sha256: str = option("", "Refuse the model unless its SHA-256 is this (hex).", show_default=False)
    size: int = option(288, "Images are resized to SIZE x SIZE (SSCD: 288).", min=8, max=4096)
    image_column: str = option("image", "Column holding the encoded image (binary).")
    max_pixels: int = option(
        DEFAULT_MAX_PIXELS, "Images with more pixels are refused (too_large). 0 = no limit.", min=0
    )
    undecodable: str = option(
        "drop",
        "An image that does not decode: drop it (to OUT.curate/rejects/) or keep it with a null embedding.",
        choices=("drop", "keep"),
    )
    device: str = option(
        "auto",
        "Run the model on a CUDA GPU or the CPU. auto: the GPU where the model's runtime can use one "
        "(onnxruntime-gpu and a GPU, or torch seeing one), else the CPU. cuda where it cannot is refused "
        "before any work.",
        choices=DEVICES,
    )

    @property
    def resources(self) -> Resources:  # type: ignore[override]
        """On Ray, a task on the GPU asks for one (the local executor runs where it is)."""
        return Resources(gpus=1.0 if self.resolved_device() == "cuda" else 0.0, batch_rows=64)

    def resolved_device(self) -> str:
        # No model file: check_installed says so; until then nothing is resolved.
        return resolve_device(self.model, self.device) if Path(self.model).is_file() else self.device

    def check_installed(self) -> None:
        """Before any work (the CLI and pipelines call it when they build the stage): the extra,
        a model given, and its content the one --model-sha256 names."""
        super().check_installed()
        if not self.model:
            raise UsageError("embed images needs --model PATH (an ONNX or TorchScript file)")
        if not Path(self.model).is_file():
            raise UsageError(f"--model {self.model}: no such file")
        check_device(self.model, self.resolved_device())
        if self.model_sha256:
            actual = file_digest(self.model)
            if actual != self.model_sha256.lower():
                raise UsageError(f"--model {self.model}: SHA-256 is {actual}, not the --model-sha256 given")

    def reads(self, read: Any) -> tuple[str, ...]:
        return (self.image_column,)

    def files(self) -> tuple[str, ...]:
        return (self.model,) if self.model else ()  # no model: check_installed says so

    def config(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "size": self.size,
            "image_column": self.image_column,
            "max_pixels": self.max_pixels,
            "undecodable": self.undecodable,
            # A GPU's float rounding differs from the CPU's in the last bits: another output.
            "device": self.resolved_device(),
            "algorithm_version": ALGORITHM_VERSION,
        }

    def setup(self) -> Any:
        return load_engine(self.model, self.resolved_device(), self.size)

    def dimension(self) -> int:
        return int(self.worker_state().dimension)

    def apply(self, batch: pa.RecordBatch, context: BatchContext) -> MapResult:
        engine: Engine = context.state if context.state is not None else self.worker_state()
        dimension = engine.dimension
        images = image_column(batch, self.image_column).to_pylist()
        n = batch.num_rows
        failed = np.zeros(n, dtype=bool)
        why: list[str | None] = [None] * n
        vectors = np.zeros((n, dimension), dtype=np.float32)
        starts = range(0, n, INFERENCE_ROWS)
        # Decoding overlaps inference: one thread decodes chunk k + 1 (Pillow and numpy release
        # the GIL) while this one runs the model on chunk k (so does the model runtime).
        with ThreadPoolExecutor(1, thread_name_prefix="curate-decode") as decoder:
            chunks = [decoder.submit(self._pixels, images[start : start + INFERENCE_ROWS]) for start in starts]
            for start, chunk in zip(starts, chunks, strict=True):
                pixels, reasons = chunk.result()
                for offset, reason in enumerate(reasons):
                    if reason is not None:
                        failed[start + offset], why[start + offset] = True, f"embed_images:{reason}"
                good = np.flatnonzero([reason is None for reason in reasons])
                if len(good):
                    vectors[start + good] = self._embed(engine, pixels[good], dimension)
        flat = pa.array(vectors.reshape(-1), pa.float32())
        embedding = pa.FixedSizeListArray.from_arrays(flat, dimension, mask=pa.array(failed))
        counters = {f"undecodable:{r.removeprefix('embed_images:')}": why.count(r) for r in set(why) if r}
        keep = ~failed if self.undecodable == "drop" else None
        return MapResult(
            keep=keep, reasons=pa.array(why, pa.string()), columns={"embedding": embedding}, counters=counters
        )

    def _pixels(self, images: list[bytes | None]) -> tuple[np.ndarray, list[str | None]]:
        """The model's input for ``images`` (SSCD's preprocessing) and, per image, why it did not
        decode (None: it did; its pixels are zeros)."""
        from PIL import Image

        pixels = np.zeros((len(images), 3, self.size, self.size), dtype=np.float32)
        reasons: list[str | None] = [None] * len(images)
        for row, data in enumerate(images):
            decoded = open_image(data, max_pixels=self.max_pixels, draft=(self.size, self.size), mode="RGB")
            if decoded.image is None:
                reasons[row] = decoded.reason
                continue
            resized = decoded.image.resize((self.size, self.size), Image.Resampling.BILINEAR)
            array = np.asarray(resized, dtype=np.float32) / 255.0
            pixels[row] = ((array - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)
        return pixels, reasons

    def _embed(self, engine: Engine, pixels: np.ndarray, dimension: int) -> np.ndarray:
        """The model's descriptors of ``pixels``, L2-normalised (a zero output stays zero)."""
        out = engine.run(pixels)
        if out.shape[1] != dimension:
            raise UsageError(f"--model {self.model}: output has {out.shape[1]} values per image, not {dimension}")
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
