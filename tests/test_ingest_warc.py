"""``curate ingest warc``: real WARC and ARC files end to end, and damaged or hostile input.

WARC files are written here with warcio's writer (third-party: the reader under test is
curate's), then damaged byte by byte (a gzip member cut in half, a Content-Length edited);
what must come out is worked out from what was written.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.io.layout import manifest_path, rejects_dir
from tests.conftest import invoke, read_dir

pytest.importorskip("warcio")
pytest.importorskip("resiliparse")


ARTICLE = (
    "<html lang='en'><head><title>River news</title></head><body><nav><a href='/'>Home</a></nav>"
    "<article><h1>The river rose</h1><p>The river rose overnight after three days of heavy rain in the "
    "valley, and the old stone bridge was closed to traffic by the morning.</p><p>Residents of the harbor "
    "district moved their boats upstream, and the council opened the school gym as a shelter.</p>"
    "</article><footer>Copyright 2024</footer></body></html>"
)


def warc_record(rec_type: str, url: str, block: bytes, number: int, content_type: str) -> tuple[bytes, str]:
    """One WARC/1.0 record written by hand, and its WARC-Record-ID."""
    record_id = f"<urn:uuid:00000000-0000-4000-8000-{number:012d}>"
    headers = (
        f"WARC/1.0\r\nWARC-Type: {rec_type}\r\nWARC-Record-ID: {record_id}\r\n"
        f"WARC-Date: 2024-04-25T16:24:44Z\r\nWARC-Target-URI: {url}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(block)}\r\n\r\n"
    )
    return headers.encode() + block + b"\r\n\r\n", record_id


def warc_records(
    pages: list[tuple[str, bytes, str, str]], *, gzipped: bool = True, request_records: bool = False
) -> tuple[list[bytes], list[str]]:
    """Each record's bytes (one gzip member each when ``gzipped``) and its WARC-Record-ID."""
    chunks: list[bytes] = []
    ids: list[str] = []
    for url, body, content_type, status in pages:
        if request_records:
            request = f"GET {url} HTTP/1.1\r\nHost: example.org\r\n\r\n".encode()
            record, record_id = warc_record("request", url, request, len(ids), "application/http; msgtype=request")
            chunks.append(record)
            ids.append(record_id)
        http = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        record, record_id = warc_record(
            "response", url, http.encode() + body, len(ids), "application/http; msgtype=response"
        )
        chunks.append(record)
        ids.append(record_id)
    return ([gzip.compress(c) for c in chunks] if gzipped else chunks), ids


def page(n: int) -> tuple[str, bytes, str, str]:
    return (
        f"http://example.org/{n}",
        ARTICLE.replace("river rose", f"river rose {n} times").encode(),
        "text/html",
        "200 OK",
    )


def ingest(src: Path, out: Path, *args: str) -> tuple[int, str, dict[str, int]]:
    result = invoke("ingest", "warc", str(src), str(out), *args)
    manifest = json.loads(manifest_path(out).read_text()) if manifest_path(out).exists() else {}
    return result.exit_code, result.stderr, manifest.get("counters", {})


def kept_and_rejected(out: Path) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    kept = read_dir(out).to_pylist()
    rejects = read_dir(rejects_dir(out)).to_pylist() if rejects_dir(out).exists() else []
    return kept, rejects


def test_good_records_written_with_their_columns(tmp_path: Path) -> None:
    chunks, ids = warc_records([page(1), page(2)], request_records=True)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.warc.gz").write_bytes(b"".join(chunks))
    code, err, counters = ingest(tmp_path / "in", tmp_path / "out")
    assert code == 0, err
    kept, rejects = kept_and_rejected(tmp_path / "out")
    assert [r["id"] for r in kept] == [ids[1], ids[3]]
    assert list(kept[0]) == ["id", "url", "date", "text", "content_type", "charset", "html_lang"]
    assert kept[0]["url"] == "http://example.org/1" and kept[0]["html_lang"] == "en"
    assert "river rose 1 times overnight" in str(kept[0]["text"]) and "Copyright" not in str(kept[0]["text"])
    assert [r["_reason"] for r in rejects] == ["ingest:not_response", "ingest:not_response"]
    assert counters["dropped:ingest:not_response"] == 2
    assert "html" not in kept[0] and "_payload" not in rejects[0]


def test_keep_html_and_resume(tmp_path: Path) -> None:
    chunks, _ = warc_records([page(1)])
    src = tmp_path / "a.warc.gz"
    src.write_bytes(b"".join(chunks))
    assert ingest(src, tmp_path / "out", "--keep-html")[0] == 0
    kept, _ = kept_and_rejected(tmp_path / "out")
    assert kept[0]["html"] == ARTICLE.replace("river rose", "river rose 1 times")
    before = manifest_path(tmp_path / "out").read_bytes()
    result = invoke("ingest", "warc", str(src), str(tmp_path / "out"), "--keep-html")
    assert result.exit_code == 0 and manifest_path(tmp_path / "out").read_bytes() == before


def test_truncated_gzip_member_mid_file(tmp_path: Path) -> None:
    """The second of three records is cut in half: the first and third are kept, the cut one counted."""
    chunks, ids = warc_records([page(1), page(2), page(3)])
    damaged = chunks[0] + chunks[1][: len(chunks[1]) // 2] + chunks[2]
    (tmp_path / "a.warc.gz").write_bytes(damaged)
    code, err, counters = ingest(tmp_path / "a.warc.gz", tmp_path / "out")
    assert code == 0, err
    kept, rejects = kept_and_rejected(tmp_path / "out")
    assert [r["id"] for r in kept] == [ids[0], ids[2]]
    assert len(rejects) == 1 and rejects[0]["_reason"] in ("ingest:truncated_record", "ingest:corrupt_record")
    assert sum(v for k, v in counters.items() if k.startswith("dropped:")) == 1


def test_file_cut_inside_its_last_record(tmp_path: Path) -> None:
    """A download cut short: the records before the cut are kept, the cut one is counted."""
    chunks, ids = warc_records([page(1), page(2)])
    (tmp_path / "a.warc.gz").write_bytes(chunks[0] + chunks[1][: len(chunks[1]) - 40])
    code, err, counters = ingest(tmp_path / "a.warc.gz", tmp_path / "out")
    assert code == 0, err
    kept, rejects = kept_and_rejected(tmp_path / "out")
    assert [r["id"] for r in kept] == [ids[0]]
    assert [r["_reason"] for r in rejects] == ["ingest:truncated_record"]
    assert counters["dropped:ingest:truncated_record"] == 1


def test_content_length_too_short_in_a_plain_warc(tmp_path: Path) -> None:
    """Record 2 claims 200 bytes fewer than it holds: records 1 and 3 are kept, 2 is counted
    as truncated and the 200 bytes left over as one corrupt stretch."""
    chunks, ids = warc_records([page(1), page(2), page(3)], gzipped=False)
    length = int(re.search(rb"Content-Length: (\d+)", chunks[1]).group(1))  # type: ignore[union-attr]
    chunks[1] = chunks[1].replace(f"Content-Length: {length}".encode(), f"Content-Length: {length - 200}".encode())
    (tmp_path / "a.warc").write_bytes(b"".join(chunks))
    code, err, counters = ingest(tmp_path / "a.warc", tmp_path / "out")
    assert code == 0, err
    kept, rejects = kept_and_rejected(tmp_path / "out")
    assert [r["id"] for r in kept] == [ids[0], ids[2]]
    assert sorted(r["_reason"] for r in rejects) == ["ingest:corrupt_record", "ingest:truncated_record"]
    assert counters["dropped:ingest:truncated_record"] == 1


def test_content_length_too_long_in_a_gzip_member(tmp_path: Path) -> None:
    chunks, ids = warc_records([page(1), page(2), page(3)])
    plain = gzip.decompress(chunks[1])
    length = int(re.search(rb"Content-Length: (\d+)", plain).group(1))  # type: ignore[union-attr]
    chunks[1] = gzip.compress(
        plain.replace(f"Content-Length: {length}".encode(), f"Content-Length: {length + 500}".encode())
    )
    (tmp_path / "a.warc.gz").write_bytes(b"".join(chunks))
    code, err, _counters = ingest(tmp_path / "a.warc.gz", tmp_path / "out")
    assert code == 0, err
    kept, rejects = kept_and_rejected(tmp_path / "out")
    assert [r["id"] for r in kept] == [ids[0], ids[2]]
    assert [(r["id"], r["_reason"]) for r in rejects] == [(ids[1], "ingest:truncated_record")]


def test_not_a_warc_named_warc_gz(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.warc.gz").write_bytes(gzip.compress(b'{"text": "I am JSON"}\n' * 50))
    code, err, _ = ingest(tmp_path / "in", tmp_path / "out")
    assert code == 3 and "a.warc.gz" in err and "not a WARC" in err
    chunks, _ = warc_records([page(1)])
    (tmp_path / "in" / "b.warc.gz").write_bytes(b"".join(chunks))
    result = invoke("ingest", "warc", str(tmp_path / "in"), str(tmp_path / "skip"), "--on-error", "skip")
    assert result.exit_code == 3
    assert len(read_dir(tmp_path / "skip")) == 1


def test_a_50_mb_page_is_over_the_size_cap(tmp_path: Path) -> None:
    huge = b"<html><body>" + b"<p>" + b"word " * (10 << 20) + b"</p></body></html>"
    assert len(huge) > 50 << 20
    chunks, ids = warc_records([page(1), ("http://example.org/huge", huge, "text/html", "200 OK"), page(3)])
    (tmp_path / "a.warc.gz").write_bytes(b"".join(chunks))
    code, err, _counters = ingest(tmp_path / "a.warc.gz", tmp_path / "out")
    assert code == 0, err
    kept, rejects = kept_and_rejected(tmp_path / "out")
    assert [r["id"] for r in kept] == [ids[0], ids[2]]
    assert [(r["id"], r["_reason"]) for r in rejects] == [(ids[1], "ingest:too_large")]


def test_wrongly_claimed_charset_and_binary_as_html(tmp_path: Path) -> None:
    latin = (
        "<html><head><meta charset='windows-1252'></head><body><article><p>"
        + ("Le café de la gare est fermé depuis l'été, et les habitués se retrouvent désormais à la brasserie. " * 3)
        + "</p></article></body></html>"
    )
    binary = bytes(range(256)) * 64
    pages = [
        ("http://example.org/latin", latin.encode("cp1252"), "text/html; charset=utf-8", "200 OK"),
        ("http://example.org/binary", binary, "text/html", "200 OK"),
        ("http://example.org/img", b"\x89PNG\r\n\x1a\n" + binary, "image/png", "200 OK"),
        ("http://example.org/missing", b"<html>gone</html>", "text/html", "404 Not Found"),
    ]
    chunks, ids = warc_records(pages)
    (tmp_path / "a.warc.gz").write_bytes(b"".join(chunks))
    code, err, counters = ingest(tmp_path / "a.warc.gz", tmp_path / "out")
    assert code == 0, err
    kept, rejects = kept_and_rejected(tmp_path / "out")
    assert [r["id"] for r in kept] == [ids[0]]
    assert kept[0]["charset"] == "cp1252" and "café de la gare est fermé" in str(kept[0]["text"])
    assert counters["counted:charset_claimed_wrongly"] == 1
    assert [r["_reason"] for r in rejects] == ["ingest:binary_content", "ingest:non_html", "ingest:http_status"]


def test_a_warc_with_no_response_records(tmp_path: Path) -> None:
    info, _ = warc_record("warcinfo", "", b"software: test\r\n", 1, "application/warc-fields")
    (tmp_path / "a.warc.gz").write_bytes(gzip.compress(info))
    code, err, counters = ingest(tmp_path / "a.warc.gz", tmp_path / "out")
    assert code == 0, err
    assert "every document was removed" in err
    assert counters["dropped:ingest:not_response"] == 1
    assert pq.read_table(tmp_path / "out" / "part-00000.parquet").num_rows == 0


def test_other_commands_point_to_ingest(tmp_path: Path) -> None:
    chunks, _ = warc_records([page(1)])
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.warc.gz").write_bytes(b"".join(chunks))
    for args in (["filter", "c4"], ["dedup", "exact"]):
        result = invoke(*args, str(tmp_path / "in"), str(tmp_path / "out"))
        assert result.exit_code == 2 and "curate ingest warc" in result.stderr, result.stderr
        result = invoke(*args, str(tmp_path / "in" / "a.warc.gz"), str(tmp_path / "out"))
        assert result.exit_code == 2 and "curate ingest warc" in result.stderr, result.stderr


# Real files: Common Crawl-like WARCs recorded by wget (Dolma's fixtures) and 2008 ARC files.


def _warc_record_ids(path: Path) -> tuple[list[str], list[str]]:
    """Every record's id, and those of 200 text/html responses, from the decompressed bytes
    (a regex over the headers, independent of any WARC library)."""
    data = gzip.decompress(path.read_bytes())
    every, html = [], []
    for match in re.finditer(rb"WARC/1\.[01]\r\n(.*?)\r\n\r\n", data, re.S):
        headers = match.group(1)
        record_id = re.search(rb"WARC-Record-ID: (\S+)", headers).group(1).decode()  # type: ignore[union-attr]
        every.append(record_id)
        if b"WARC-Type: response" in headers:
            http = data[match.end() : match.end() + 4096].split(b"\r\n\r\n", 1)[0]
            if http.startswith(b"HTTP/1.1 200") and re.search(rb"(?i)content-type: *text/html", http):
                html.append(record_id)
    return every, html


def test_dolma_warcs_into_filter_and_dedup(tmp_path: Path, shared_data: Path) -> None:
    src = shared_data / "dolma-cc-samples"
    every, html = [], []
    for name in ("warc_sample-0000.warc.gz", "warc_sample-0001.warc.gz"):
        ids, html_ids = _warc_record_ids(src / name)
        every += ids
        html += html_ids
    code, err, _counters = ingest(src, tmp_path / "text")
    assert code == 0, err
    kept, rejects = kept_and_rejected(tmp_path / "text")
    assert sorted(r["id"] for r in kept + rejects) == sorted(every)
    # Every 200 HTML response is kept unless its main text is empty.
    no_text = {r["id"] for r in rejects if r["_reason"] == "ingest:no_text"}
    assert sorted(r["id"] for r in kept) == sorted(set(html) - no_text) and len(kept) >= len(html) - 2
    result = invoke("filter", "gopher-repetition", str(tmp_path / "text"), str(tmp_path / "filtered"))
    assert result.exit_code == 0, result.stderr
    result = invoke("dedup", "exact", str(tmp_path / "filtered"), str(tmp_path / "deduped"))
    assert result.exit_code == 0, result.stderr
    filtered = read_dir(tmp_path / "filtered")
    deduped = read_dir(tmp_path / "deduped")
    assert len(deduped) == len(set(filtered.column("text").to_pylist()))


_ARC_HEADER = re.compile(rb"^(?:https?|filedesc|dns|ftp):\S* \S+ \d{14} \S+ (\d+)\n", re.M)


def test_2008_arc_files_into_dedup(tmp_path: Path, shared_data: Path) -> None:
    src = shared_data / "cc-2008-arc-sample"
    headers = 0
    for path in sorted(src.glob("*.arc")):
        # Walk the file by its own Archive-length fields: a header, then that many bytes.
        data = path.read_bytes()
        position = 0
        while position < len(data):
            match = _ARC_HEADER.match(data, position)
            assert match is not None, (path, position)
            headers += 1
            position = match.end() + int(match.group(1))
            while data[position : position + 1] == b"\n":
                position += 1
    code, err, _counters = ingest(src, tmp_path / "text")
    assert code == 0, err
    kept, rejects = kept_and_rejected(tmp_path / "text")
    assert len(kept) + len(rejects) == headers
    assert not any(r["_reason"] in ("ingest:corrupt_record", "ingest:truncated_record") for r in rejects)
    assert len(kept) > 100 and {r["html_lang"] for r in kept} >= {"es"}
    result = invoke("dedup", "minhash", str(tmp_path / "text"), str(tmp_path / "deduped"))
    assert result.exit_code == 0, result.stderr


def test_pipeline_equals_the_chain(tmp_path: Path, shared_data: Path) -> None:
    src = shared_data / "cc-2008-arc-sample"
    recipe = tmp_path / "p.yaml"
    recipe.write_text(
        "stages:\n  - ingest warc: {extractor: resiliparse}\n  - filter gopher-repetition: {}\n  - dedup exact: {}\n"
    )
    result = invoke("run", str(recipe), "--input", str(src), "--output", str(tmp_path / "run"))
    assert result.exit_code == 0, result.stderr
    assert invoke("ingest", "warc", str(src), str(tmp_path / "a"), "--extractor", "resiliparse").exit_code == 0
    assert invoke("filter", "gopher-repetition", str(tmp_path / "a"), str(tmp_path / "b")).exit_code == 0
    assert invoke("dedup", "exact", str(tmp_path / "b"), str(tmp_path / "c")).exit_code == 0
    assert read_dir(tmp_path / "run").equals(read_dir(tmp_path / "c"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  - filter gopher-repetition: {}\n  - ingest warc: {}\n")
    result = invoke("run", str(bad), "--input", str(src), "--output", str(tmp_path / "x"))
    assert result.exit_code == 2 and "must be stage 1" in result.stderr


@pytest.mark.ray
def test_local_equals_ray(tmp_path: Path, shared_data: Path, ray_cluster: None) -> None:
    src = shared_data / "cc-2008-arc-sample"
    for executor in ("local", "ray"):
        result = invoke("ingest", "warc", str(src), str(tmp_path / executor), "--executor", executor)
        assert result.exit_code == 0, result.stderr
    for name in ("part-00000.parquet", "part-00001.parquet"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "ray" / name).read_bytes()


def test_wet_conversion_records_are_kept_as_text(tmp_path: Path) -> None:
    text = "Already extracted text, line one.\nLine two, with an accent: été.\n"
    info, _ = warc_record("warcinfo", "", b"software: test\r\n", 0, "application/warc-fields")
    records = [info]
    ids = []
    for number in (1, 2):
        record, record_id = warc_record(
            "conversion", f"http://example.org/{number}", text.encode(), number, "text/plain"
        )
        records.append(record)
        ids.append(record_id)
    (tmp_path / "a.warc.wet.gz").write_bytes(b"".join(gzip.compress(r) for r in records))
    code, err, counters = ingest(tmp_path / "a.warc.wet.gz", tmp_path / "out")
    assert code == 0, err
    kept, _ = kept_and_rejected(tmp_path / "out")
    assert [(r["id"], r["text"], r["content_type"]) for r in kept] == [(i, text, "text/plain") for i in ids]
    assert counters["dropped:ingest:not_response"] == 1


def test_a_missing_extractor_names_the_extra(tmp_path: Path) -> None:
    """With trafilatura not importable, the default extractor is a usage error naming curate[warc]."""
    chunks, _ = warc_records([page(1)])
    (tmp_path / "a.warc.gz").write_bytes(b"".join(chunks))
    script = (
        "import sys; sys.modules['trafilatura'] = None; from curate.cli import main; "
        f"main(['ingest', 'warc', {str(tmp_path / 'a.warc.gz')!r}, {str(tmp_path / 'out')!r}])"
    )
    done = run_process_python(script)
    assert done.returncode == 2, done.stderr
    assert "pip install 'curate[warc]'" in done.stderr and "trafilatura" in done.stderr
    assert not manifest_path(tmp_path / "out").exists()


def run_process_python(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)


def test_a_page_text_does_not_depend_on_the_pages_before(tmp_path: Path) -> None:
    """Six copies of one page each keep their text (trafilatura's ``deduplicate`` would empty
    the fourth and later ones: its cache spans pages, so a page's text would depend on what the
    worker extracted before). Dropping the copies is the dedup stages' job, and is counted."""
    pages = [(f"http://example.org/{n}", ARTICLE.encode(), "text/html", "200 OK") for n in range(6)]
    chunks, ids = warc_records(pages)
    (tmp_path / "a.warc.gz").write_bytes(b"".join(chunks))
    code, err, _ = ingest(tmp_path / "a.warc.gz", tmp_path / "out")
    assert code == 0, err
    kept, _ = kept_and_rejected(tmp_path / "out")
    assert [r["id"] for r in kept] == ids
    assert len({r["text"] for r in kept}) == 1 and "river rose overnight" in str(kept[0]["text"])


def test_a_struct_field_as_the_text_column_is_refused_naming_the_stage(tmp_path: Path) -> None:
    """ingest warc writes its own top-level columns: --text-column metadata.text cannot be honoured."""
    chunks, _ = warc_records([page(1)])
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.warc.gz").write_bytes(b"".join(chunks))
    out = tmp_path / "out"
    result = invoke("ingest", "warc", str(tmp_path / "in"), str(out), "--text-column", "metadata.text")
    assert result.exit_code == 2, result.output
    assert "ingest warc writes the text as a top-level column" in result.stderr
    assert not out.exists()
