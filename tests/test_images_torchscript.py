"""``curate embed images`` with a TorchScript model (SSCD publishes its descriptors as
``.torchscript.pt`` files; their weights cannot be downloaded here). The test builds a small
scripted network with SSCD's contract (float32[N,3,S,S] in, float32[N,D] out) and checks curate's
embeddings against the network run by hand on the documented preprocessing, and against the same
network exported to ONNX and run by curate's onnxruntime path."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from tests.conftest import invoke, read_dir, write_shard

torch = pytest.importorskip("torch")

SIZE = 40
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


class Descriptor(torch.nn.Module):  # type: ignore[misc]
    """A small convolutional descriptor: conv, ReLU, global average pool, linear to 6 values."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.conv = torch.nn.Conv2d(3, 8, kernel_size=3, stride=2)
        self.head = torch.nn.Linear(8, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.relu(self.conv(x)).mean(dim=(2, 3))
        return self.head(pooled)


def _jpeg(seed: int, size: tuple[int, int] = (64, 48)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _picture(seed: int) -> bytes:
    """A photo-like picture: smooth colour gradients, another direction and palette per seed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:48, 0:64] / 64.0
    angle = rng.uniform(0, np.pi)
    ramp = np.cos(angle) * x + np.sin(angle) * y
    channels = [
        np.clip(rng.uniform(0.2, 1) * np.sin(rng.uniform(2, 9) * ramp + rng.uniform(0, 6)), -1, 1) for _ in range(3)
    ]
    pixels = ((np.stack(channels, axis=2) + 1) * 127.5).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Descriptor]:
    root = tmp_path_factory.mktemp("torchscript")
    network = Descriptor().eval()
    scripted = root / "descriptor.torchscript.pt"
    exported = root / "descriptor.onnx"
    # torch deprecates TorchScript and the legacy ONNX exporter; SSCD's files are TorchScript.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.script(network).save(str(scripted))
        torch.onnx.export(
            network,
            (torch.zeros(1, 3, SIZE, SIZE),),
            str(exported),
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "n"}, "output": {0: "n"}},
            dynamo=False,
        )
    return scripted, exported, network


def _embed(source: Path, model: Path, out: Path, *extra: str) -> np.ndarray:
    result = invoke("embed", "images", str(source), str(out), "--model", str(model), "--size", str(SIZE), *extra)
    assert result.exit_code == 0, result.stderr
    return np.array(read_dir(out).column("embedding").to_pylist(), dtype=np.float64)


def test_a_torchscript_model_embeds_as_the_network_run_by_hand(
    models: tuple[Path, Path, Descriptor], tmp_path: Path
) -> None:
    scripted, exported, network = models
    rows = [{"id": f"p{n}", "image": _jpeg(n, size=(50 + 7 * n, 40 + 3 * n))} for n in range(6)]
    write_shard(tmp_path / "in" / "a.parquet", rows)
    got = _embed(tmp_path / "in", scripted, tmp_path / "out")
    assert read_dir(tmp_path / "out").schema.field("embedding").type == pa.list_(pa.float32(), 6)
    for n, row in enumerate(got):
        picture = Image.open(io.BytesIO(rows[n]["image"])).convert("RGB")
        picture = picture.resize((SIZE, SIZE), Image.Resampling.BILINEAR)
        pixels = ((np.asarray(picture, dtype=np.float64) / 255 - MEAN) / STD).transpose(2, 0, 1)
        with torch.inference_mode():
            expected = network(torch.tensor(pixels[None], dtype=torch.float32)).numpy()[0].astype(np.float64)
        assert row == pytest.approx(expected / np.linalg.norm(expected), abs=1e-5)
    # The same network exported to ONNX, through curate's onnxruntime path: the same descriptors.
    assert _embed(tmp_path / "in", exported, tmp_path / "onnx") == pytest.approx(got, abs=1e-5)


def test_a_torchscript_model_dedups_edited_copies(models: tuple[Path, Path, Descriptor], tmp_path: Path) -> None:
    scripted, _, _ = models
    originals = [_picture(n) for n in range(4)]
    rows = [{"id": f"o{n}", "image": data} for n, data in enumerate(originals)]
    # A re-encoded copy of the first original: the same picture at JPEG quality 60.
    copy = io.BytesIO()
    Image.open(io.BytesIO(originals[0])).save(copy, format="JPEG", quality=60)
    rows.append({"id": "copy", "image": copy.getvalue()})
    write_shard(tmp_path / "in" / "a.parquet", rows)
    _embed(tmp_path / "in", scripted, tmp_path / "emb")
    result = invoke("dedup", "images", str(tmp_path / "emb"), str(tmp_path / "out"), "--by", "embedding",
                    "--threshold", "0.999")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert sorted(read_dir(tmp_path / "out").column("id").to_pylist()) == ["o0", "o1", "o2", "o3"]


@pytest.mark.parametrize("damage", ["truncated", "wrong_input"])
def test_a_bad_torchscript_file_is_a_usage_error_before_any_output(
    models: tuple[Path, Path, Descriptor], tmp_path: Path, damage: str
) -> None:
    scripted, _, _ = models
    model = tmp_path / "bad.pt"
    if damage == "truncated":
        model.write_bytes(scripted.read_bytes()[: scripted.stat().st_size // 2])
    else:  # a valid TorchScript file whose network wants one channel, not three
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.jit.script(torch.nn.Conv2d(1, 4, kernel_size=3)).save(str(model))
    write_shard(tmp_path / "in" / "a.parquet", [{"id": "x", "image": _jpeg(1)}])
    result = invoke("embed", "images", str(tmp_path / "in"), str(tmp_path / "out"), "--model", str(model),
                    "--size", str(SIZE))  # fmt: skip
    assert result.exit_code == 2, result.stderr
    assert str(model) in result.stderr
    assert not read_dir_exists(tmp_path / "out")


def read_dir_exists(out: Path) -> bool:
    return out.exists() and any(out.glob("*.parquet"))


def test_device_cuda_with_a_torchscript_model_is_refused_without_a_gpu(
    models: tuple[Path, Path, Descriptor], tmp_path: Path
) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    scripted, _, _ = models
    write_shard(tmp_path / "in" / "a.parquet", [{"id": "x", "image": _jpeg(1)}])
    args = ["embed", "images", str(tmp_path / "in"), str(tmp_path / "out"), "--model", str(scripted)]
    result = invoke(*args, "--size", str(SIZE), "--device", "cuda")
    assert result.exit_code == 2 and "no CUDA GPU" in result.stderr
    assert not (tmp_path / "out").exists()
