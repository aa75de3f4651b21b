"""Survivors that cover (``--survivors cover``): the Rust kernel against its pure-Python reference, and
the kernel and the real CLI against a brute-force greedy cover over exact Jaccard of all pairs, written
here from first principles (``tests.corpus`` shingles, Python sets)."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate import kernel, kernel_reference
from curate.io.layout import rejects_dir, work_dir
from tests.conftest import invoke, read_dir, write_shard
from tests.corpus import WORDS, jaccard, mutate, random_document, word_shingles

# -- brute force -------------------------------------------------------------------------------------------


def brute_cover(sets: list[set[tuple[str, ...]]], threshold: float) -> tuple[list[int], list[float]]:
    """Greedy cover over exact Jaccard of all pairs, rows in rank order: repeatedly keep the uncovered row
    covering the most uncovered rows (itself included), ties to the best rank; O(n^3), obviously right."""
    n = len(sets)
    sim = {(a, b): jaccard(sets[a], sets[b]) for a, b in itertools.combinations(range(n), 2)}

    def similar(a: int, b: int) -> float:
        return sim[(min(a, b), max(a, b))]

    owner: list[int | None] = [None] * n
    similarity = [1.0] * n
    while any(o is None for o in owner):
        uncovered = [v for v in range(n) if owner[v] is None]

        def covers(v: int, uncovered: list[int] = uncovered) -> int:
            return sum(1 for u in uncovered if u == v or similar(u, v) >= threshold)

        best = max(uncovered, key=lambda v: (covers(v), -v))
        for u in uncovered:
            if u == best or similar(u, best) >= threshold:
                owner[u] = best
                similarity[u] = 1.0 if u == best else similar(u, best)
    return [o for o in owner if o is not None], similarity


def star_texts(rng: random.Random, sources: int, words: int = 200) -> list[str]:
    """Sources with 0-4 copies each, every copy edited independently: copies are near their source and
    often below the threshold to each other (the case where the survivor choice matters)."""
    texts = []
    for _ in range(sources):
        source = random_document(rng, words)
        texts.append(source)
        for _ in range(rng.choice([0, 1, 2, 3, 4])):
            texts.append(mutate(rng, source, rng.uniform(0.004, 0.02)))
    return texts


COVER = {"num_perm": 64, "seed": 1, "bands": 16, "rows": 4}


# -- kernel ------------------------------------------------------------------------------------------------

small_texts = st.lists(
    st.one_of(
        st.none(),
        st.lists(st.sampled_from(WORDS[:12]), min_size=0, max_size=30).map(" ".join),
    ),
    min_size=0,
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(
    texts=small_texts,
    cuts=st.lists(st.integers(0, 40), max_size=4),
    threshold=st.sampled_from([0.3, 0.5, 0.7, 0.8, 1.0]),
    ngram=st.integers(1, 3),
    exact_pairs_max=st.sampled_from([1, 2, 6, 1000]),
    lsh=st.sampled_from([(32, 3, 8, 4), (16, 7, 16, 1), (64, 1, 16, 4)]),
)
def test_kernel_matches_reference(
    texts: list[str | None],
    cuts: list[int],
    threshold: float,
    ngram: int,
    exact_pairs_max: int,
    lsh: tuple[int, int, int, int],
) -> None:
    """Both paths (all pairs exact; LSH buckets + estimate + exact check) agree row for row."""
    offsets = sorted({0, len(texts), *(c for c in cuts if c <= len(texts))})
    num_perm, seed, bands, rows = lsh
    params = {
        "threshold": threshold,
        "kind": "word",
        "ngram": ngram,
        "num_perm": num_perm,
        "seed": seed,
        "bands": bands,
        "rows": rows,
        "exact_pairs_max": exact_pairs_max,
    }
    survivor, similarity = kernel.cover_survivors(pa.array(texts, pa.large_string()), np.array(offsets), **params)
    expected_survivor, expected_similarity = kernel_reference.cover_survivors(texts, offsets, **params)  # type: ignore[arg-type]
    assert survivor.tolist() == expected_survivor
    assert similarity.tolist() == expected_similarity


@pytest.mark.parametrize("seed", range(6))
def test_exact_path_is_the_brute_force_cover(seed: int) -> None:
    rng = random.Random(seed)
    groups = [star_texts(rng, rng.randint(1, 4)) for _ in range(5)]
    texts = [t for g in groups for t in g]
    offsets = np.cumsum([0, *map(len, groups)])
    survivor, similarity = kernel.cover_survivors(
        pa.array(texts), offsets, threshold=0.8, kind="word", ngram=5, exact_pairs_max=256, **COVER
    )
    for start, end in itertools.pairwise(offsets.tolist()):
        sets = [word_shingles(t) for t in texts[start:end]]
        owner, sims = brute_cover(sets, 0.8)
        assert (survivor[start:end] - start).tolist() == owner
        assert similarity[start:end].tolist() == pytest.approx(sims, abs=1e-12)


def test_large_group_invariants_hold_on_the_estimated_path() -> None:
    """Forced onto the estimated path (exact_pairs_max=1): every removed row is exactly >= threshold to
    its survivor, survivors point at themselves, and it keeps about as few as the brute-force cover."""
    rng = random.Random(3)
    texts = star_texts(rng, 30)
    survivor, similarity = kernel.cover_survivors(
        pa.array(texts), np.array([0, len(texts)]), threshold=0.8, kind="word", ngram=5, exact_pairs_max=1, **COVER
    )
    sets = [word_shingles(t) for t in texts]
    for row, (s, sim) in enumerate(zip(survivor.tolist(), similarity.tolist(), strict=True)):
        assert survivor[s] == s
        if s != row:
            assert sim == pytest.approx(jaccard(sets[row], sets[s]), abs=1e-12) and sim >= 0.8
    kept = int((survivor == np.arange(len(texts))).sum())
    brute_kept = len(set(brute_cover(sets, 0.8)[0]))
    assert brute_kept <= kept <= brute_kept * 1.05 + 1


def test_arguments_are_checked() -> None:
    texts = pa.array(["a b", "a b"])
    base = {"threshold": 0.8, "kind": "word", "ngram": 1, "exact_pairs_max": 4, **COVER}
    with pytest.raises(ValueError, match="exact_pairs_max"):
        kernel.cover_survivors(texts, np.array([0, 2]), **{**base, "exact_pairs_max": 0})
    with pytest.raises(ValueError, match="group_offsets"):
        kernel.cover_survivors(texts, np.array([0, 3]), **base)
    with pytest.raises(ValueError, match="bands"):
        kernel.cover_survivors(texts, np.array([0, 2]), **{**base, "bands": 64, "rows": 2})
    with pytest.raises(ValueError, match="threshold"):
        kernel.cover_survivors(texts, np.array([0, 2]), **{**base, "threshold": 0.0})


# -- the real CLI ------------------------------------------------------------------------------------------

KEEP_RULES = ["first", "longest", "shortest", "max:score", "min:score"]
# 128 permutations in 32 bands of 4: P(candidate | J >= 0.8) > 1 - 1e-7, so every pair the brute force sees
# is in one LSH component and the CLI must find exactly the brute-force cover.
LSH = ("--bands", "32", "--rows", "4", "--num-perm", "128")


def corpus(seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    texts = star_texts(rng, 25)
    docs = [{"id": f"d{rng.getrandbits(40):010x}", "text": t, "score": rng.randint(0, 3)} for t in texts]
    rng.shuffle(docs)
    return docs


def write_split(docs: list[dict[str, object]], directory: Path, shards: int) -> Path:
    """Contiguous slices: the global order (shard file, then row) is the list's order."""
    size = -(-len(docs) // shards)
    for s in range(shards):
        write_shard(directory / f"part-{s:03d}.parquet", docs[s * size : (s + 1) * size])
    return directory


def rank_order(docs: list[dict[str, object]], keep: str) -> list[int]:
    """Indices of ``docs`` (input order) best survivor first, as --keep defines it: the rule's key, then
    id, then input position."""

    def key(i: int) -> tuple[object, ...]:
        doc = docs[i]
        value = {
            "first": 0,
            "longest": -len(str(doc["text"])),
            "shortest": len(str(doc["text"])),
            "max:score": -int(doc["score"]),  # type: ignore[call-overload]
            "min:score": int(doc["score"]),  # type: ignore[call-overload]
        }[keep]
        return (value, "" if keep == "first" else str(doc["id"]), i)

    return sorted(range(len(docs)), key=key)


def expected_dedup(docs: list[dict[str, object]], keep: str, threshold: float = 0.8) -> dict[str, str | None]:
    """Brute force over all documents: id -> dup_of (None when kept)."""
    order = rank_order(docs, keep)
    owner, _ = brute_cover([word_shingles(str(docs[i]["text"])) for i in order], threshold)
    ids = [str(docs[i]["id"]) for i in order]
    return {ids[i]: (None if o == i else ids[o]) for i, o in enumerate(owner)}


def run_dedup(src: Path, out: Path, keep: str) -> dict[str, str | None]:
    result = invoke("-q", "dedup", "minhash", str(src), str(out), "--keep", keep, "--workers", "2", *LSH)
    assert result.exit_code == 0, result.stderr
    decided: dict[str, str | None] = {str(i): None for i in read_dir(out).column("id").to_pylist()}
    for row in read_dir(rejects_dir(out)).to_pylist():
        decided[row["id"]] = row["dup_of"]
    return decided


def check_invariants(docs: list[dict[str, object]], decided: dict[str, str | None], threshold: float = 0.8) -> None:
    sets = {str(d["id"]): word_shingles(str(d["text"])) for d in docs}
    assert set(decided) == set(sets)  # nothing lost
    kept = [i for i, dup in decided.items() if dup is None]
    for doc, dup in decided.items():
        if dup is not None:
            assert decided[dup] is None, f"{doc} names {dup}, which was removed"
            assert jaccard(sets[doc], sets[dup]) >= threshold
    for a, b in itertools.combinations(kept, 2):
        assert jaccard(sets[a], sets[b]) < threshold, (a, b)


@pytest.mark.parametrize("keep", KEEP_RULES)
@pytest.mark.parametrize("seed", [11, 12])
def test_cli_cover_is_the_brute_force_cover(tmp_path: Path, keep: str, seed: int) -> None:
    docs = corpus(seed)
    decided = run_dedup(write_split(docs, tmp_path / "in", 3), tmp_path / "out", keep)
    check_invariants(docs, decided)
    expected = expected_dedup(docs, keep)
    assert sum(d is None for d in decided.values()) == sum(d is None for d in expected.values())
    assert decided == expected


@pytest.mark.parametrize("keep", KEEP_RULES)
def test_cli_cover_independent_of_order_and_sharding(tmp_path: Path, keep: str) -> None:
    """Rules that rank by a value (ties by id) give the same decisions whatever the order and sharding.
    ``first`` ranks by position, so: the same decisions whatever the sharding of one order, and for a
    shuffled order the brute-force cover of that order (the order only breaks ties in coverage)."""
    docs = corpus(21)
    baseline = run_dedup(write_split(docs, tmp_path / "a", 1), tmp_path / "oa", keep)
    assert run_dedup(write_split(docs, tmp_path / "b", 5), tmp_path / "ob", keep) == baseline
    shuffled = list(docs)
    random.Random(5).shuffle(shuffled)
    decided = run_dedup(write_split(shuffled, tmp_path / "c", 4), tmp_path / "oc", keep)
    check_invariants(shuffled, decided)
    if keep == "first":
        assert decided == expected_dedup(shuffled, keep)
    else:
        assert decided == baseline


def test_keep_rule_mode_keeps_the_ranked_best(tmp_path: Path) -> None:
    """--survivors keep-rule: the best-ranked member of a cluster always survives, even where the cover
    would keep fewer documents."""
    words = random_document(random.Random(4), 200).split(" ")
    copies = []
    for i in range(4):  # three words replaced far apart, at different places in every copy
        edited = list(words)
        for k in range(3):
            edited[10 + 45 * k + 10 * i] = f"edit{i}{k}"
        copies.append(" ".join(edited))
    docs = [{"id": f"c{i}", "text": t, "score": 9 - i} for i, t in enumerate(copies)]
    docs.append({"id": "src", "text": " ".join(words), "score": 0})
    sets = {str(d["id"]): word_shingles(str(d["text"])) for d in docs}
    assert all(jaccard(sets["src"], sets[f"c{i}"]) >= 0.8 for i in range(4))
    assert all(jaccard(sets[f"c{i}"], sets[f"c{j}"]) < 0.8 for i, j in itertools.combinations(range(4), 2))
    write_shard(tmp_path / "in" / "x.parquet", docs)
    for mode in ("cover", "keep-rule"):
        out = tmp_path / mode
        flags = ("--keep", "max:score", "--survivors", mode, *LSH)
        result = invoke("-q", "dedup", "minhash", str(tmp_path / "in"), str(out), "--workers", "1", *flags)
        assert result.exit_code == 0, result.stderr
        kept = set(read_dir(out).column("id").to_pylist())
        if mode == "cover":
            assert kept == {"src"}  # the centre covers all four copies
        else:
            assert kept == {"c0", "c1", "c2", "c3"}  # the highest score survives, the others are far from it


def test_no_verify_ignores_survivors_mode(tmp_path: Path) -> None:
    """Without verification a whole candidate component is one cluster, whichever --survivors."""
    docs = corpus(31)
    src = write_split(docs, tmp_path / "in", 2)
    outputs = []
    for mode in ("cover", "keep-rule"):
        out = tmp_path / mode
        flags = ("--no-verify", "--survivors", mode, *LSH)
        assert invoke("-q", "dedup", "minhash", str(src), str(out), "--workers", "1", *flags).exit_code == 0
        outputs.append(sorted(p.read_bytes() for p in out.rglob("part-*.parquet")))
    assert outputs[0] == outputs[1]


def test_survivors_option_is_validated(tmp_path: Path) -> None:
    write_shard(tmp_path / "in" / "x.parquet", [{"id": "a", "text": "one two three"}])
    result = invoke("dedup", "minhash", str(tmp_path / "in"), str(tmp_path / "out"), "--survivors", "best")
    assert result.exit_code == 2
    assert "cover" in result.stderr and "keep-rule" in result.stderr


def test_keep_rule_mode_matches_leader_clustering_reference(tmp_path: Path) -> None:
    """--survivors keep-rule is the leader clustering it always was (kernel_reference.leader_clusters on
    the rank order), so outputs made before --survivors existed are reproduced."""
    docs = corpus(41)
    src = write_split(docs, tmp_path / "in", 2)
    result = invoke(
        "-q", "dedup", "minhash", str(src), str(tmp_path / "out"), "--survivors", "keep-rule", "--workers", "1", *LSH
    )
    assert result.exit_code == 0, result.stderr
    decided = {str(i): None for i in read_dir(tmp_path / "out").column("id").to_pylist()}
    for row in read_dir(rejects_dir(tmp_path / "out")).to_pylist():
        decided[row["id"]] = row["dup_of"]
    order = rank_order(docs, "first")
    texts = [str(docs[i]["text"]) for i in order]
    ids = [str(docs[i]["id"]) for i in order]
    # One group holding everything gives the same leaders as per-component groups when every pair
    # >= threshold is a candidate (leader clustering never joins members below the threshold).
    leader, _ = kernel_reference.leader_clusters(
        texts, [0, len(texts)], threshold=0.8, kind="word", ngram=5, max_leaders=10**6
    )
    expected = {ids[i]: (None if leader[i] == i else ids[leader[i]]) for i in range(len(ids))}
    assert decided == expected


# -- a crawl-sized component -------------------------------------------------------------------------------


def boilerplate_site(shared_data: Path, directory: Path, pages: int, long_pages: int) -> Path:
    """One site's pages from the Common Crawl sample: a shared template (the first 150 words of the longest
    page, the last 250 of the second longest) around real text: ``pages`` pages carry a 12-20 word snippet
    (all near-duplicates of each other through the template), ``long_pages`` a distinct 400-word passage."""
    import gzip
    import json

    path = shared_data / "dolma-cc-samples" / "CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        texts = list(dict.fromkeys(json.loads(line)["text"] for line in handle))
    texts = sorted((t for t in texts if t.strip()), key=lambda t: -len(t.split()))
    header, footer = " ".join(texts[0].split()[:150]), " ".join(texts[1].split()[-250:])
    stream = [w for t in texts[2:] for w in t.split()]
    rng = random.Random(0)
    bodies = [" ".join(stream[k * 400 : (k + 1) * 400]) for k in range(long_pages)]
    rest = len(stream) - long_pages * 400 - 20
    for _ in range(pages):
        start = long_pages * 400 + rng.randrange(rest)
        bodies.append(" ".join(stream[start : start + rng.randint(12, 20)]))
    rng.shuffle(bodies)
    docs = [{"id": f"page-{i:06d}", "text": f"{header}\n{body}\n{footer}"} for i, body in enumerate(bodies)]
    return write_split(docs, directory, 4)


@pytest.mark.slow
def test_crawl_component_of_20k_pages_in_bounded_time_and_memory(shared_data: Path, tmp_path: Path) -> None:
    """20k boilerplate pages in one candidate component: the estimated path finishes in seconds and little
    memory, and its result is an exact cover: every removed page is >= 0.8 (exact) to a kept page it names,
    and no two kept pages are >= 0.8 to each other."""
    import json
    import subprocess
    import sys

    src = boilerplate_site(shared_data, tmp_path / "in", pages=20_000, long_pages=300)
    out = tmp_path / "out"
    script = (
        "import resource, subprocess, sys, time\n"
        "t = time.monotonic()\n"
        "r = subprocess.run([sys.executable, '-m', 'curate', '-q', 'dedup', 'minhash', sys.argv[1], sys.argv[2],"
        " '--json', '--workers', '2', '--keep-work'])\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.monotonic() - t, r.returncode)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(src), str(out)], capture_output=True, text=True)
    peak_kib, seconds, code = done.stdout.strip().splitlines()[-1].split()
    assert int(code) == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[0])["rows_in"] == 20_300
    assert int(peak_kib) < 1_000_000, f"peak RSS {int(peak_kib) // 1024} MiB"
    assert float(seconds) < 120
    members = pa.concat_tables([pq.read_table(p) for p in sorted((work_dir(out) / "members").glob("*.parquet"))])
    _, sizes = np.unique(members.column("root").to_numpy(), return_counts=True)
    assert sizes.max() >= 20_000  # one component, far above the exact all-pairs limit

    texts: dict[str, str] = {}
    for shard in sorted(src.glob("*.parquet")):
        table = pq.read_table(shard)
        texts.update(zip(table["id"].to_pylist(), table["text"].to_pylist(), strict=True))
    sets: dict[str, set[int]] = {}

    def shingles(doc: str) -> set[int]:
        # Python's tuple hashes, computed once: intersections of int sets are many times faster.
        if doc not in sets:
            sets[doc] = {hash(s) for s in word_shingles(texts[doc])}
        return sets[doc]

    kept = read_dir(out).column("id").to_pylist()
    rejects = read_dir(rejects_dir(out)).to_pylist()
    assert len(kept) + len(rejects) == 20_300
    kept_set = set(kept)
    for row in rejects:
        assert row["dup_of"] in kept_set
        exact = jaccard(shingles(row["id"]), shingles(row["dup_of"]))
        assert exact >= 0.8 and row["similarity"] == pytest.approx(exact, abs=1e-9)
    for a, b in itertools.combinations(kept, 2):
        assert jaccard(shingles(a), shingles(b)) < 0.8, (a, b)
    assert len(kept) < 300 + 20_000 // 100  # the snippet pages collapse to a handful of survivors
