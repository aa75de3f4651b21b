"""The two ways ``curate embed images`` runs a descriptor model: an ONNX file through onnxruntime
(the ``curate[images]`` extra), or a TorchScript file (SSCD's published ``.torchscript.pt``) through
torch (the ``curate[images-torch]`` extra: torch's PyPI wheel brings ~3 GB of CUDA libraries, so it
is an extra of its own). Which one is decided by the file: a TorchScript file is a zip archive.

Both take ``float32[N, 3, S, S]`` and give ``float32[N, D]``; both are loaded once per worker and
release the GIL while they run.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from curate.errors import UsageError

ZIP_MAGIC = b"PK\x03\x04"
ONNX_PROVIDERS = {"cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider"]}


class Engine(Protocol):
    dimension: int

    def run(self, pixels: np.ndarray) -> np.ndarray: ...


def is_torchscript(path: str) -> bool:
    with Path(path).open("rb") as handle:
        return handle.read(4) == ZIP_MAGIC


def gpu_device_present() -> bool:
    """A CUDA GPU's device node exists (the NVIDIA driver creates ``/dev/nvidiaN``): onnxruntime-gpu
    lists its CUDA provider on machines without any GPU, so the provider alone does not say."""
    return any(Path("/dev").glob("nvidia[0-9]*"))


@functools.cache
def resolve_device(path: str, device: str) -> str:
    """``auto`` becomes ``cuda`` where the model's runtime can use a GPU here (torch sees one, or
    onnxruntime has its CUDA provider and a GPU is present), else ``cpu``; decided once, on the
    machine that starts the run (its choice is part of the fingerprint)."""
    if device != "auto":
        return device
    if is_torchscript(path):
        return "cuda" if import_torch().cuda.is_available() else "cpu"
    import onnxruntime

    usable = "CUDAExecutionProvider" in onnxruntime.get_available_providers() and gpu_device_present()
    return "cuda" if usable else "cpu"


def check_device(path: str, device: str) -> None:
    """Before any work: ``--device cuda`` only where the model's runtime has CUDA."""
    if device != "cuda":
        return
    if is_torchscript(path):
        torch = import_torch()
        if not torch.cuda.is_available():
            raise UsageError("--device cuda: torch sees no CUDA GPU here; use --device cpu")
        return
    import onnxruntime

    available = onnxruntime.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        raise UsageError(
            f"--device cuda: this onnxruntime has no CUDA provider (it has {', '.join(available)}); "
            "install onnxruntime-gpu where a GPU and CUDA are present, or use --device cpu"
        )


def import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise UsageError("a TorchScript model needs torch: pip install 'curate[images-torch]'") from None
    return torch


class OnnxEngine:
    def __init__(self, path: str, device: str, size: int) -> None:
        import onnxruntime

        try:
            options = onnxruntime.SessionOptions()
            # Idle pool threads sleep instead of spinning: a spinning pool takes the cores the
            # decoding thread needs between two model calls.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self.session = onnxruntime.InferenceSession(path, options, providers=ONNX_PROVIDERS[device])
        except Exception as exc:  # onnxruntime raises its own exception types for a bad file
            raise UsageError(f"--model {path}: not TorchScript, nor an ONNX model onnxruntime loads ({exc})") from exc
        if device == "cuda" and "CUDAExecutionProvider" not in self.session.get_providers():
            # onnxruntime-gpu lists the provider where the CUDA libraries or the GPU are missing too.
            raise UsageError(
                f"--device cuda: onnxruntime could not start its CUDA provider ({self.session.get_providers()})"
            )
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise UsageError(f"--model {path}: want one input float32[N,3,S,S], got {[i.shape for i in inputs]}")
        self.input = inputs[0].name
        dimension = outputs[0].shape[-1]
        self.dimension = dimension if isinstance(dimension, int) else self.run(np.zeros((1, 3, size, size))).shape[-1]

    def run(self, pixels: np.ndarray) -> np.ndarray:
        out = self.session.run(None, {self.input: pixels.astype(np.float32, copy=False)})[0]
        return np.asarray(out, dtype=np.float32).reshape(len(pixels), -1)


class TorchScriptEngine:
    def __init__(self, path: str, device: str, size: int) -> None:
        torch = import_torch()
        self.torch = torch
        self.device = torch.device(device)
        try:
            # torch deprecates TorchScript in favour of torch.export, but SSCD publishes TorchScript files.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                warnings.simplefilter("ignore", DeprecationWarning)
                self.module = torch.jit.load(path, map_location=self.device).eval()
        except Exception as exc:  # torch raises RuntimeError and others for a damaged archive
            raise UsageError(f"--model {path}: a zip archive torch.jit.load cannot load ({exc})") from exc
        try:
            self.dimension = int(self.run(np.zeros((1, 3, size, size), np.float32)).shape[-1])
        except Exception as exc:
            raise UsageError(f"--model {path}: does not take float32[N,3,{size},{size}] ({exc})") from exc

    def run(self, pixels: np.ndarray) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            batch = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)).to(self.device)
            out = self.module(batch)
        return out.detach().to("cpu").numpy().astype(np.float32, copy=False).reshape(len(pixels), -1)


def load_engine(path: str, device: str, size: int) -> Engine:
    engine: Engine = TorchScriptEngine(path, device, size) if is_torchscript(path) else OnnxEngine(path, device, size)
    return engine
