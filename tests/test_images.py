"""Image datasets end to end: ingest a folder, hash, dedup by hash or embedding, bad images.

Expectations are computed independently: imagehash on the same pictures, brute-force Hamming
distances and cosines over every pair, a union-find of our own over those pairs, and the
ground truth of the imagededup test images (their file names)."""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.io.layout import manifest_path, rejects_dir
from tests.conftest import invoke, manifest_json, read_dir, write_shard
from tests.corpus import brute_components

Image = pytest.importorskip("PIL.Image")
ImageOps = pytest.importorskip("PIL.ImageOps")
imagehash = pytest.importorskip("imagehash")

UKBENCH = "imagededup-ukbench-transforms"


def _jpeg(seed: int, size: tuple[int, int] = (96, 64), **save: object) -> bytes:
    """A smooth random picture (hashes of noise are unstable) as JPEG."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(4, 6, 3), dtype=np.uint8)
    picture = Image.fromarray(small, "RGB").resize(size, Image.Resampling.BICUBIC)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90, **save)
    return out.getvalue()


def _png(picture: object) -> bytes:
    out = io.BytesIO()
    picture.save(out, "PNG")  # type: ignore[attr-defined]
    return out.getvalue()


def _huge_png_header(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR claiming width x height, with a tiny IDAT: Pillow reads
    its size from the header; decoding it would need width x height bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _bits(value: int) -> int:
    return bin(value).count("1")


# -- ingest ------------------------------------------------------------------------------------------------------


def test_ingest_real_folder_counts_and_rejects(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / UKBENCH
    result = invoke("ingest", "images", str(source), str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    files = sorted(str(p.relative_to(source)) for p in source.rglob("*") if p.is_file())
    kept = read_dir(tmp_path / "out")
    rejects = read_dir(rejects_dir(tmp_path / "out"))
    assert sorted(kept.column("id").to_pylist() + rejects.column("id").to_pylist()) == files
    assert summary["rows_in"] == len(files) == kept.num_rows + rejects.num_rows
    # The two truncated JPEGs and SOURCE.md are not images; everything else decodes.
    assert sorted(rejects.column("id").to_pylist()) == [
        "SOURCE.md",
        "mixed_images/ukbench09268_corrupt.jpg",
        "mixed_nested_images/ukbench09268_corrupt.jpg",
    ]
    assert set(rejects.column("_reason").to_pylist()) == {"ingest_images:unidentified"}
    assert rejects.column("image").to_pylist()[0] == (source / rejects.column("id")[0].as_py()).read_bytes()
    by_id = {row["id"]: row for row in kept.to_pylist()}
    assert by_id["base_images/ukbench00120.jpg"]["format"] == "JPEG"
    assert (by_id["base_images/ukbench00120.jpg"]["width"], by_id["base_images/ukbench00120.jpg"]["height"]) == (
        640,
        480,
    )
    assert by_id["formats_images/giphy.gif"]["format"] == "GIF"
    assert (
        by_id["formats_images/ukbench09380.png"]["image"] == (source / "formats_images/ukbench09380.png").read_bytes()
    )
    manifest = manifest_json(tmp_path / "out")
    assert manifest["counters"] == {"removed:ingest_images:unidentified": 3}
    assert invoke("verify", str(tmp_path / "out")).exit_code == 0


def test_ingest_symlinks_bad_files_and_hidden(tmp_path: Path) -> None:
    source = tmp_path / "in"
    (source / "a" / "b").mkdir(parents=True)
    (source / "a" / "b" / "photo.jpg").write_bytes(_jpeg(1))
    full = _jpeg(2, size=(256, 256))
    (source / "truncated.jpg").write_bytes(full[: len(full) // 2])
    (source / "empty.png").write_bytes(b"")
    (source / "drawing.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    (source / "bomb.png").write_bytes(_huge_png_header(20000, 20000))
    (source / ".hidden.jpg").write_bytes(_jpeg(3))
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(_jpeg(4))
    os.symlink(outside, source / "escape.jpg")
    os.symlink(source / "a" / "b" / "photo.jpg", source / "inside.jpg")
    os.symlink(source / "a", source / "loop")
    os.mkfifo(source / "pipe.jpg")
    result = invoke("ingest", "images", str(source), str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.stderr
    kept = {row["id"]: row for row in read_dir(tmp_path / "out").to_pylist()}
    assert sorted(kept) == ["a/b/photo.jpg", "inside.jpg"]
    rejects = {row["id"]: row["_reason"] for row in read_dir(rejects_dir(tmp_path / "out")).to_pylist()}
    assert rejects == {
        "bomb.png": "ingest_images:too_large",
        "drawing.svg": "ingest_images:unidentified",
        "empty.png": "ingest_images:empty",
        "escape.jpg": "ingest_images:outside_root",
        "pipe.jpg": "ingest_images:not_a_file",
        "truncated.jpg": "ingest_images:corrupt",
    }
    counters = json.loads(result.stdout)["counters"]
    assert counters["skipped:hidden"] == 1 and counters["skipped:symlinked_directory"] == 1
    secret = read_dir(rejects_dir(tmp_path / "out")).filter(pa.compute.equal(pa.compute.field("id"), "escape.jpg"))
    assert secret.column("image").to_pylist() == [None]  # never read


def test_ingest_refuses_a_non_empty_output(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.jpg").write_bytes(_jpeg(1))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    result = invoke("ingest", "images", str(tmp_path / "in"), str(tmp_path / "out"))
    assert result.exit_code == 2 and "not empty" in result.stderr
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"


# -- hash --------------------------------------------------------------------------------------------------------


def test_hash_equals_imagehash_and_handles_every_mode(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    base = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), "RGB").resize((120, 80))
    rgba = base.convert("RGBA")
    rgba.putalpha(200)
    deep = Image.fromarray(np.asarray(base.convert("L"), dtype=np.uint16) * 257)
    frames = [base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    gif = io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    cmyk = io.BytesIO()
    base.convert("CMYK").save(cmyk, "JPEG", quality=95)
    rotated = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    base.save(rotated, "JPEG", quality=95, exif=exif.tobytes())
    images = {
        "rgb.png": _png(base),
        "rgba.png": _png(rgba),
        "palette.png": _png(base.convert("P")),
        "grey16.png": _png(deep),
        "animated.gif": gif.getvalue(),
        "cmyk.jpg": cmyk.getvalue(),
        "exif6.jpg": rotated.getvalue(),
        "bits.png": _png(base.convert("1")),
    }
    write_shard(tmp_path / "in" / "a.parquet", [{"id": k, "image": v} for k, v in images.items()])
    result = invoke("hash", "images", str(tmp_path / "in"), str(tmp_path / "out"))
    assert result.exit_code == 0, result.stderr
    out = {row["id"]: row for row in read_dir(tmp_path / "out").to_pylist()}
    assert sorted(out) == sorted(images)

    def expected(picture: object) -> tuple[int, int]:
        return int(str(imagehash.phash(picture)), 16), int(str(imagehash.dhash(picture)), 16)

    grey = base.convert("L")
    assert (out["rgb.png"]["phash"], out["rgb.png"]["dhash"]) == expected(grey)
    assert (out["palette.png"]["phash"], out["palette.png"]["dhash"]) == expected(base.convert("P").convert("L"))
    # 16-bit grey scaled to 8 bits is the 8-bit picture again (Pillow's convert("L") would clip it white).
    assert out["grey16.png"]["phash"] == expected(grey)[0]
    # Alpha is composited on white, not dropped.
    white = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("L")
    assert out["rgba.png"]["phash"] == expected(white)[0]
    assert out["animated.gif"]["phash"] == expected(Image.open(io.BytesIO(images["animated.gif"])).convert("L"))[0]
    # EXIF orientation 6 is applied: the hash is the upright picture's (rotated 90 degrees clockwise).
    upright = base.transpose(Image.Transpose.ROTATE_270).convert("L")
    assert _bits(out["exif6.jpg"]["phash"] ^ expected(upright)[0]) <= 6
    assert _bits(out["exif6.jpg"]["phash"] ^ expected(grey)[0]) > 12
    assert _bits(out["cmyk.jpg"]["phash"] ^ expected(grey)[0]) <= 6
    assert pq.read_schema(sorted((tmp_path / "out").glob("part-*.parquet"))[0]).field("phash").type == pa.uint64()


def test_hash_rejects_bad_images_with_reasons_or_keeps_them_null(tmp_path: Path) -> None:
    full = _jpeg(5, size=(300, 300))
    rows = [
        {"id": "ok", "image": _jpeg(6)},
        {"id": "truncated", "image": full[: len(full) // 3]},
        {"id": "empty", "image": b""},
        {"id": "null", "image": None},
        {"id": "svg", "image": b'<svg xmlns="http://www.w3.org/2000/svg"/>'},
        {"id": "bomb", "image": _huge_png_header(20000, 20000)},
    ]
    write_shard(tmp_path / "in" / "a.parquet", rows, pa.schema([("id", pa.string()), ("image", pa.binary())]))
    result = invoke("hash", "images", str(tmp_path / "in"), str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.stderr
    assert read_dir(tmp_path / "out").column("id").to_pylist() == ["ok"]
    rejects = {r["id"]: r["_reason"] for r in read_dir(rejects_dir(tmp_path / "out")).to_pylist()}
    assert rejects == {
        "truncated": "hash_images:corrupt",
        "empty": "hash_images:empty",
        "null": "hash_images:empty",
        "svg": "hash_images:unidentified",
        "bomb": "hash_images:too_large",
    }
    assert json.loads(result.stdout)["undecodable"] == {"corrupt": 1, "empty": 2, "too_large": 1, "unidentified": 1}
    kept = invoke("hash", "images", str(tmp_path / "in"), str(tmp_path / "kept"), "--undecodable", "keep")
    assert kept.exit_code == 0, kept.stderr
    table = read_dir(tmp_path / "kept")
    assert table.num_rows == 6 and table.column("phash").null_count == 5
    # --max-pixels 0 lifts the limit: the fake 20000 x 20000 header then fails to decode instead.
    lifted = invoke("hash", "images", str(tmp_path / "in"), str(tmp_path / "lifted"), "--max-pixels", "0")
    assert lifted.exit_code == 0, lifted.stderr
    reasons = {r["id"]: r["_reason"] for r in read_dir(rejects_dir(tmp_path / "lifted")).to_pylist()}
    assert reasons["bomb"] == "hash_images:corrupt"


def test_hash_names_a_missing_image_column(tmp_path: Path) -> None:
    write_shard(tmp_path / "in" / "a.parquet", [{"id": "x", "picture": _jpeg(1)}])
    result = invoke("hash", "images", str(tmp_path / "in"), str(tmp_path / "out"))
    assert result.exit_code == 2 and "no image column 'image'" in result.stderr
    ok = invoke("hash", "images", str(tmp_path / "in"), str(tmp_path / "out2"), "--image-column", "picture")
    assert ok.exit_code == 0, ok.stderr


# -- dedup -------------------------------------------------------------------------------------------------------


def test_hamming_pairs_equal_brute_force() -> None:
    """The Rust kernel and the numpy reference against every pair compared."""
    from curate.dedup.images.hamming import hamming_pairs, hamming_pairs_reference

    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 2**64 - 1, size=1500, dtype=np.uint64, endpoint=True)
    for k in range(300):  # planted copies at 0..14 bits
        flips = rng.choice(64, size=int(rng.integers(0, 15)), replace=False)
        hashes[750 + k] = hashes[k] ^ np.uint64(sum(1 << int(b) for b in flips))
    hashes[1400:1410] = hashes[0]  # a cluster of exact copies
    as_int = [int(h) for h in hashes]
    for distance in (0, 3, 4, 7, 10, 13):
        i, j = hamming_pairs(hashes, distance)
        ref_i, ref_j = hamming_pairs_reference(hashes, distance)
        assert np.array_equal(i, ref_i) and np.array_equal(j, ref_j)
        brute = [
            (a, b)
            for a in range(len(as_int))
            for b in range(a + 1, len(as_int))
            if _bits(as_int[a] ^ as_int[b]) <= distance
        ]
        assert list(zip(i.tolist(), j.tolist(), strict=True)) == brute, distance


def _hashed_dataset(tmp_path: Path, shared_data: Path) -> Path:
    source = shared_data / UKBENCH
    assert invoke("ingest", "images", str(source), str(tmp_path / "ingested")).exit_code == 0
    assert invoke("hash", "images", str(tmp_path / "ingested"), str(tmp_path / "hashed")).exit_code == 0
    return tmp_path / "hashed"


@pytest.mark.parametrize("by", ["phash", "dhash"])
def test_dedup_by_hash_equals_brute_force_components(tmp_path: Path, shared_data: Path, by: str) -> None:
    hashed = _hashed_dataset(tmp_path, shared_data)
    result = invoke("dedup", "images", str(hashed), str(tmp_path / "out"), "--by", by, "--json")
    assert result.exit_code == 0, result.stderr
    table = read_dir(hashed)
    ids, values = table.column("id").to_pylist(), table.column(by).to_pylist()
    pairs = [(a, b) for a in range(len(ids)) for b in range(a + 1, len(ids)) if _bits(values[a] ^ values[b]) <= 10]
    roots = brute_components(len(ids), pairs)
    sizes = {r: roots.count(r) for r in roots}
    # --keep first: the first row of each component (input order) survives.
    expected_kept = sorted(ids[x] for x in range(len(ids)) if roots[x] == x)
    kept = read_dir(tmp_path / "out")
    assert sorted(kept.column("id").to_pylist()) == expected_kept
    rejects = read_dir(rejects_dir(tmp_path / "out")).to_pylist()
    assert len(rejects) == len(ids) - len(expected_kept)
    for row in rejects:
        member = ids.index(row["id"])
        assert row["dup_of"] == ids[roots[member]]
        assert row["dup_cluster"] == ids[roots[member]] and row["dup_cluster_size"] == sizes[roots[member]]
        assert row["similarity"] == pytest.approx(1 - _bits(values[member] ^ values[roots[member]]) / 64)
        assert row["_reason"] == f"images:duplicate_{by}" and row["_stage"] == "dedup_images"
    assert json.loads(result.stdout)["pairs"] == len(pairs)


def _kind(name: str) -> tuple[str, str]:
    """(original photo, transform kind) of an imagededup test file, from its name."""
    stem = Path(name).stem
    if name.startswith("formats_images/") and stem.startswith("ukbench"):
        return stem, f"format:{Path(name).suffix[1:]}"
    if name == "alpha_channel_image.png":
        return "ukbench00120", "alpha"
    for suffix in ("_hflip", "_resize", "_rotation", "_gray"):
        if stem.endswith(suffix):
            return stem.removesuffix(suffix), suffix[1:]
    return stem, "copy" if not name.startswith("base_images/") else "original"


def test_phash_survives_resize_and_jpeg_but_not_flips_on_real_photos(tmp_path: Path, shared_data: Path) -> None:
    """The recall floors of the seeded bench set (bench/make_image_set.py), on three real photos
    edited here with Pillow: a resize (x0.5, x1.3) and a JPEG re-encode at quality 30 keep pHash
    within distance 10 of the original (the DCT's low frequencies barely move); a mirror image is
    another hash (its distance is far beyond 10). Hashed by the real CLI."""
    photos = sorted((shared_data / UKBENCH / "base_images").glob("*.jpg"))[:3]
    folder = tmp_path / "photos"
    folder.mkdir()
    edits = {
        "resize-half": lambda p: p.resize((p.width // 2, p.height // 2), Image.Resampling.BICUBIC),
        "resize-up": lambda p: p.resize((p.width * 13 // 10, p.height * 13 // 10), Image.Resampling.BICUBIC),
        "jpeg30": lambda p: p,
        "hflip": lambda p: p.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "vflip": lambda p: p.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
    }
    for path in photos:
        (folder / path.name).write_bytes(path.read_bytes())
        with Image.open(path) as opened:
            picture = ImageOps.exif_transpose(opened).convert("RGB")
        for kind, edit in edits.items():
            edit(picture).save(folder / f"{path.stem}__{kind}.jpg", "JPEG", quality=30 if kind == "jpeg30" else 95)
    assert invoke("ingest", "images", str(folder), str(tmp_path / "ingested")).exit_code == 0
    assert invoke("hash", "images", str(tmp_path / "ingested"), str(tmp_path / "hashed")).exit_code == 0
    hashes = {r["id"]: r["phash"] for r in read_dir(tmp_path / "hashed").to_pylist()}
    assert len(hashes) == len(photos) * (1 + len(edits))
    for path in photos:
        original = hashes[path.name]
        distance = {kind: _bits(original ^ hashes[f"{path.stem}__{kind}.jpg"]) for kind in edits}
        assert max(distance["resize-half"], distance["resize-up"], distance["jpeg30"]) <= 10, (path.name, distance)
        assert min(distance["hflip"], distance["vflip"]) > 20, (path.name, distance)


@pytest.mark.parametrize("by", ["phash", "dhash"])
def test_precision_recall_per_transform_on_ukbench(tmp_path: Path, shared_data: Path, by: str) -> None:
    """Every transformed copy should land in its original's cluster; distinct photos never do.
    Measured (docs/images.md): resize, re-encode, format, grey, alpha found; flips and rotations
    are not (a perceptual hash of a mirrored picture is another hash)."""
    hashed = _hashed_dataset(tmp_path, shared_data)
    assert invoke("dedup", "images", str(hashed), str(tmp_path / "out"), "--by", by, "--cluster-columns").exit_code == 0
    cluster: dict[str, str] = {}
    for row in read_dir(tmp_path / "out").to_pylist():
        cluster[row["id"]] = row["dup_cluster"] or row["id"]
    for row in read_dir(rejects_dir(tmp_path / "out")).to_pylist():
        cluster[row["id"]] = row["dup_cluster"]
    original = {(_kind(i)[0]): i for i in cluster if i.startswith("base_images/")}
    found: dict[str, list[bool]] = {}
    for name, where in cluster.items():
        photo, kind = _kind(name)
        odd_format = name.startswith("formats_images/") and "ukbench" not in name
        if kind == "original" or photo not in original or odd_format:
            continue
        found.setdefault(kind, []).append(where == cluster[original[photo]])
    recall = {kind: sum(hits) / len(hits) for kind, hits in found.items()}
    for kind in ("resize", "gray", "alpha", "copy", "format:png", "format:bmp", "format:webp", "format:jpeg"):
        assert recall[kind] == 1.0, (kind, recall)
    assert recall["hflip"] == 0.0 and recall["rotation"] == 0.0
    # Precision: no two different base photos share a cluster.
    assert len({cluster[i] for i in original.values()}) == len(original)


def test_dedup_by_embedding_equals_brute_force_cosine(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(400, 24)).astype(np.float32)
    vectors[200:260] = vectors[:60] + rng.normal(scale=0.15, size=(60, 24)).astype(np.float32)
    rows = [{"id": f"i{n:03d}", "embedding": v.tolist(), "score": float(n % 7)} for n, v in enumerate(vectors)]
    schema = pa.schema([("id", pa.string()), ("embedding", pa.list_(pa.float32(), 24)), ("score", pa.float64())])
    write_shard(tmp_path / "in" / "a.parquet", rows[:250], schema)
    write_shard(tmp_path / "in" / "b.parquet", rows[250:], schema)
    args = ["--by", "embedding", "--threshold", "0.95", "--keep", "max:score", "--neighbours", "400"]
    result = invoke("dedup", "images", str(tmp_path / "in"), str(tmp_path / "out"), *args, "--json")
    assert result.exit_code == 0, result.stderr
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    cosine = unit @ unit.T
    pairs = [(a, b) for a in range(400) for b in range(a + 1, 400) if cosine[a, b] >= 0.95]
    assert pairs, "the planted copies are near enough"
    roots = brute_components(400, pairs)
    members: dict[int, list[int]] = {}
    for x, r in enumerate(roots):
        members.setdefault(r, []).append(x)
    # max:score, ties by id: the survivor of each component.
    survivors = {r: min(m, key=lambda x: (-rows[x]["score"], rows[x]["id"])) for r, m in members.items()}
    kept = sorted(read_dir(tmp_path / "out").column("id").to_pylist())
    assert kept == sorted(rows[s]["id"] for s in survivors.values())
    for row in read_dir(rejects_dir(tmp_path / "out")).to_pylist():
        member = int(row["id"][1:])
        survivor = survivors[roots[member]]
        assert row["dup_of"] == rows[survivor]["id"]
        assert row["similarity"] == pytest.approx(float(cosine[member, survivor]), abs=1e-5)


def test_embedding_rows_from_chunks_equal_numpy_and_zero_rows_stay_zero() -> None:
    from curate.dedup.images import knn

    rng = np.random.default_rng(8)
    vectors = rng.normal(size=(50, 6)).astype(np.float32)
    vectors[7] = 0.0
    chunks = [vectors[:20], vectors[20:21], vectors[21:]]
    column = pa.chunked_array(
        [pa.FixedSizeListArray.from_arrays(pa.array(c.reshape(-1), pa.float32()), 6) for c in chunks]
    )
    matrix = np.empty((50, 6), dtype=np.float32)
    knn.copy_rows(matrix, column)
    knn.normalise_in_place(matrix)
    norms = np.linalg.norm(vectors.astype(np.float64), axis=1, keepdims=True)
    expected = np.divide(vectors, norms, out=np.zeros_like(vectors, dtype=np.float64), where=norms > 0)
    assert matrix.dtype == np.float32 and matrix.flags.c_contiguous
    assert matrix == pytest.approx(expected, abs=1e-6)
    assert not matrix[7].any()
    # A zero row is nobody's duplicate, even of another zero row.
    padded = np.vstack([matrix, np.zeros((1, 6), np.float32)])
    i, j = knn.cosine_pairs(padded, 0.5, neighbours=8, exact_max=100, nprobe=1)
    assert len(i) and {7, 50}.isdisjoint(i.tolist() + j.tolist())


def test_dedup_by_embedding_ivf_beyond_exact_max_finds_planted_copies(tmp_path: Path) -> None:
    pytest.importorskip("faiss")
    from curate.dedup.images.knn import cosine_pairs

    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(3000, 32)).astype(np.float32)
    vectors[2000:2100] = vectors[:100] + rng.normal(scale=0.05, size=(100, 32)).astype(np.float32)
    i, j = cosine_pairs(vectors, 0.95, neighbours=8, exact_max=1000, nprobe=16)
    found = set(zip(i.tolist(), j.tolist(), strict=True))
    planted = {(k, 2000 + k) for k in range(100)}
    assert len(planted & found) >= 95  # approximate, but a near copy is in its own list almost always
    exact_i, exact_j = cosine_pairs(vectors, 0.95, neighbours=8, exact_max=10_000, nprobe=16)
    assert found <= set(zip(exact_i.tolist(), exact_j.tolist(), strict=True))


def test_ivf_rows_added_list_by_list_search_as_faiss_own_add() -> None:
    faiss = pytest.importorskip("faiss")
    from curate.dedup.images.knn import add_by_list, normalised

    vectors = normalised(np.random.default_rng(9).normal(size=(6000, 16)))
    indexes = []
    for by_list in (False, True):
        quantizer = faiss.IndexFlatIP(16)
        index = faiss.IndexIVFFlat(quantizer, 16, 40, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors[:2560])
        index.nprobe = 3
        if by_list:
            add_by_list(faiss, index, quantizer, vectors)
        else:
            index.add(vectors)
        indexes.append((index, quantizer))
    plain, listed = (index.search(vectors, 6) for index, _ in indexes)
    assert np.array_equal(plain[1], listed[1]) and np.array_equal(plain[0], listed[0])


@pytest.mark.parametrize(
    ("embedding", "message"),
    [
        ([[0.1, 0.2], [float("nan"), 0.3]], "row 1: embedding holds NaN"),
        ([[0.1, 0.2], [0.3, 0.4, 0.5]], "row 1: embedding of dimension 3"),
    ],
)
def test_dedup_by_embedding_refuses_bad_embeddings(tmp_path: Path, embedding: list[list[float]], message: str) -> None:
    rows = [{"id": str(n), "embedding": v} for n, v in enumerate(embedding)]
    write_shard(
        tmp_path / "in" / "a.parquet", rows, pa.schema([("id", pa.string()), ("embedding", pa.list_(pa.float32()))])
    )
    result = invoke("dedup", "images", str(tmp_path / "in"), str(tmp_path / "out"), "--by", "embedding")
    assert result.exit_code == 3 and message in result.stderr and "a.parquet" in result.stderr


def test_dedup_images_without_hash_column_says_how_to_make_it(tmp_path: Path) -> None:
    write_shard(tmp_path / "in" / "a.parquet", [{"id": "x", "image": _jpeg(1)}])
    result = invoke("dedup", "images", str(tmp_path / "in"), str(tmp_path / "out"))
    assert result.exit_code == 2 and "curate hash images" in result.stderr


def test_hash_then_dedup_pipeline_equals_shell_chain(tmp_path: Path) -> None:
    rows = [{"id": f"p{n}", "image": _jpeg(n % 5, size=(80 + n, 60 + n))} for n in range(12)]
    write_shard(tmp_path / "in" / "a.parquet", rows)
    assert invoke("hash", "images", str(tmp_path / "in"), str(tmp_path / "h")).exit_code == 0
    assert invoke("dedup", "images", str(tmp_path / "h"), str(tmp_path / "chain")).exit_code == 0
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("stages:\n  - hash images: {}\n  - dedup images: {by: phash}\n")
    result = invoke("run", str(pipeline), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "run"))
    assert result.exit_code == 0, result.stderr
    chained = read_dir(tmp_path / "chain")
    assert read_dir(tmp_path / "run").equals(chained)
    assert 5 <= chained.num_rows < 12


# -- embed -------------------------------------------------------------------------------------------------------


def _tiny_sscd_like_model(path: Path, size: int, weights: np.ndarray) -> Path:
    """An ONNX model with SSCD's contract: float32[N,3,S,S] in, float32[N,D] out (the channel
    means times ``weights``, 3 x D), built with onnx's helper API."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("MatMul", ["flat", "w"], ["output"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", weights.shape[1]])],
        initializer=[numpy_helper.from_array(weights.astype(np.float32), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_embed_images_with_an_onnx_model_of_sscd_contract(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    weights = np.random.default_rng(2).normal(size=(3, 6))
    model = _tiny_sscd_like_model(tmp_path / "m.onnx", 32, weights)
    # 70 rows: two batches of 64 and several model calls of 16 rows each (decoded ahead of the
    # model), with undecodable images at a call's first and last row and inside one.
    bad = {0, 15, 16, 40, 69}
    rows = [{"id": f"p{n:02d}", "image": b"not an image" if n in bad else _jpeg(n, size=(70, 50))} for n in range(70)]
    write_shard(tmp_path / "in" / "a.parquet", rows)
    args = ["--model", str(model), "--size", "32"]
    result = invoke("embed", "images", str(tmp_path / "in"), str(tmp_path / "out"), *args, "--json")
    assert result.exit_code == 0, result.stderr
    table = read_dir(tmp_path / "out")
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), 6)
    good = [row for n, row in enumerate(rows) if n not in bad]
    assert table.column("id").to_pylist() == [row["id"] for row in good]
    got = np.array(table.column("embedding").to_pylist(), dtype=np.float64)
    for row, vector in zip(good, got, strict=True):
        picture = Image.open(io.BytesIO(row["image"])).convert("RGB").resize((32, 32), Image.Resampling.BILINEAR)
        pixels = (np.asarray(picture, dtype=np.float64) / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
        expected = pixels.mean(axis=(0, 1)) @ weights
        assert vector == pytest.approx(expected / np.linalg.norm(expected), abs=1e-4)
    assert np.linalg.norm(got, axis=1) == pytest.approx(np.ones(len(good)), abs=1e-5)
    rejects = read_dir(rejects_dir(tmp_path / "out"))
    assert sorted(rejects.column("id").to_pylist()) == [f"p{n:02d}" for n in sorted(bad)]
    assert set(rejects.column("_reason").to_pylist()) == {"embed_images:unidentified"}
    manifest = manifest_json(tmp_path / "out")
    digest = manifest["config"]["files"][str(model)]
    # The model's content is in the fingerprint: another file at the same path is another run.
    _tiny_sscd_like_model(model, 32, weights * 2)
    again = invoke("embed", "images", str(tmp_path / "in"), str(tmp_path / "out"), *args)
    assert again.exit_code == 2 and "another configuration" in again.stderr
    wrong = invoke("embed", "images", str(tmp_path / "in"), str(tmp_path / "o2"), *args, "--model-sha256", digest)
    assert wrong.exit_code == 2 and "SHA-256" in wrong.stderr


def test_embed_images_refuses_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    (tmp_path / "m.onnx").write_bytes(b"neither a zip (TorchScript) nor ONNX")
    write_shard(tmp_path / "in" / "a.parquet", [{"id": "x", "image": _jpeg(1)}])
    result = invoke("embed", "images", str(tmp_path / "in"), str(tmp_path / "out"), "--model", str(tmp_path / "m.onnx"))
    assert result.exit_code == 2 and "not TorchScript, nor an ONNX model" in result.stderr


def test_embed_images_device_cuda_is_refused_without_a_cuda_provider(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has a CUDA provider")
    model = _tiny_sscd_like_model(tmp_path / "m.onnx", 32, np.ones((3, 4)))
    write_shard(tmp_path / "in" / "a.parquet", [{"id": "x", "image": _jpeg(1)}])
    args = ["embed", "images", str(tmp_path / "in"), str(tmp_path / "out"), "--model", str(model), "--size", "32"]
    result = invoke(*args, "--device", "cuda")
    assert result.exit_code == 2 and "no CUDA provider" in result.stderr and "--device cpu" in result.stderr
    assert not (tmp_path / "out").exists()
    assert invoke(*args, "--device", "cpu").exit_code == 0
    # The default, auto, is the CPU here, and what it chose is in the fingerprint: the same run as cpu.
    again = invoke(*args, "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["rows_kept"] == 1, again.stderr
    assert '"device": "cpu"' in json.dumps(manifest_json(tmp_path / "out")["config"])


def test_embed_then_dedup_by_embedding(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    model = _tiny_sscd_like_model(tmp_path / "m.onnx", 16, np.random.default_rng(4).normal(size=(3, 8)))
    rows = [{"id": f"p{n}", "image": _jpeg(n % 3, size=(60 + n, 40 + n))} for n in range(9)]
    write_shard(tmp_path / "in" / "a.parquet", rows)
    assert (
        invoke(
            "embed", "images", str(tmp_path / "in"), str(tmp_path / "e"), "--model", str(model), "--size", "16"
        ).exit_code
        == 0
    )
    result = invoke(
        "dedup", "images", str(tmp_path / "e"), str(tmp_path / "d"), "--by", "embedding", "--threshold", "0.99"
    )
    assert result.exit_code == 0, result.stderr
    assert sorted(read_dir(tmp_path / "d").column("id").to_pylist()) == ["p0", "p1", "p2"]


def test_image_pipeline_on_ray_gives_the_bytes_of_the_local_run(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """hash -> embed (the model loaded once per Ray worker) -> dedup, over three shards with a bad
    image: the same files from Ray as from local threads."""
    pytest.importorskip("onnxruntime")
    model = _tiny_sscd_like_model(tmp_path / "m.onnx", 16, np.random.default_rng(6).normal(size=(3, 8)))
    for shard in range(3):
        rows = [{"id": f"s{shard}p{n}", "image": _jpeg(n % 4, size=(60 + n, 40 + shard))} for n in range(10)]
        rows.append({"id": f"s{shard}bad", "image": b"\xff\xd8 cut"})
        write_shard(tmp_path / "in" / f"part-{shard}.parquet", rows)
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        f"stages:\n  - hash images: {{}}\n  - embed images: {{model: {model}, size: 16}}\n"
        "  - dedup images: {by: embedding, threshold: 0.999}\n"
    )
    outputs = {}
    for executor in ("local", "ray"):
        if executor == "ray":
            request.getfixturevalue("ray_cluster")
        out = tmp_path / executor
        args = ["--input", str(tmp_path / "in"), "--output", str(out), "--executor", executor, "--workers", "2"]
        result = invoke("run", str(pipeline), *args)
        assert result.exit_code == 0, result.stderr
        kept = {f"kept/{p.name}": p.read_bytes() for p in out.glob("*.parquet")}
        rejects = {
            f"rejects/{p.relative_to(rejects_dir(out))}": p.read_bytes() for p in rejects_dir(out).rglob("*.parquet")
        }
        outputs[executor] = kept | rejects
        undecodable = read_dir(rejects_dir(out) / "01-hash_images")
        assert sorted(undecodable.column("id").to_pylist()) == ["s0bad", "s1bad", "s2bad"]
    assert len(outputs["local"]) == 9 and outputs["local"] == outputs["ray"]  # 3 kept, 3 + 3 rejects
    assert 4 <= read_dir(tmp_path / "local").num_rows < 30


# -- webdataset --------------------------------------------------------------------------------------------------


def _tar(path: Path, members: list[tuple[str, bytes]]) -> Path:
    import tarfile

    with tarfile.open(path, "w") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_ingest_webdataset_groups_members_and_keeps_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    _tar(
        tmp_path / "in" / "00000.tar",
        [
            ("000000000.jpg", _jpeg(1)),
            ("000000000.txt", b"a red thing"),
            ("000000000.json", b'{"url": "http://x/1"}'),
            ("000000001.jpg", _jpeg(2)),
            ("000000001.json", b'{"url": "http://x/2"}'),  # no caption
            ("000000002.txt", b"caption without image"),
            ("000000002.json", b'{"url": "http://x/3"}'),
            ("000000003.jpg", b"garbage"),
            ("000000003.txt", b"broken"),
        ],
    )
    result = invoke("ingest", "webdataset", str(tmp_path / "in"), str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.stderr
    kept = read_dir(tmp_path / "out").to_pylist()
    assert [(r["id"], r["text"], r["json"]) for r in kept] == [
        ("00000.tar/000000000", "a red thing", '{"url": "http://x/1"}'),
        ("00000.tar/000000001", None, '{"url": "http://x/2"}'),
    ]
    assert kept[0]["image"] == _jpeg(1) and kept[0]["format"] == "JPEG" and kept[0]["width"] == 96
    rejects = read_dir(rejects_dir(tmp_path / "out")).to_pylist()
    assert [(r["id"], r["_reason"], r["text"]) for r in rejects] == [
        ("00000.tar/000000002", "ingest_webdataset:missing_image", "caption without image"),
        ("00000.tar/000000003", "ingest_webdataset:unidentified", "broken"),
    ]
    counters = json.loads(result.stdout)["counters"]
    assert counters["counted:missing_txt"] == 1 and counters["counted:missing_json"] == 1


def test_ingest_webdataset_truncated_tar_is_bad_input(tmp_path: Path) -> None:
    whole = _tar(tmp_path / "x.tar", [("a.jpg", _jpeg(1, size=(400, 400))), ("a.txt", b"t")]).read_bytes()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cut.tar").write_bytes(whole[:700])
    result = invoke("ingest", "webdataset", str(tmp_path / "in"), str(tmp_path / "out"))
    assert result.exit_code == 3 and "cut.tar" in result.stderr
    assert not manifest_path(tmp_path / "out").exists()


def test_embed_images_without_a_model_is_a_usage_error_before_any_work(tmp_path: Path) -> None:
    write_shard(tmp_path / "in" / "a.parquet", [{"id": "x", "image": _jpeg(1)}])
    result = invoke("embed", "images", str(tmp_path / "in"), str(tmp_path / "out"))
    assert result.exit_code == 2 and "--model" in result.stderr
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("stages:\n  - embed images: {}\n")
    piped = invoke("run", str(pipeline), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "run"))
    assert piped.exit_code == 2 and "--model" in piped.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "run").exists()
