"""curate filter url: host extraction by hand and against urllib on real URLs, blocklists with
subdomains in the UT1 format, banned substrings, null and unparseable URLs, usage errors, and a
large blocklist against a brute-force walk over parent domains."""

from __future__ import annotations

import gzip
import json
import random
import re
import urllib.parse
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from curate.errors import UsageError
from curate.filters.rules.url import UrlFilter, host_expression, parse_domains
from curate.io.layout import manifest_path, rejects_dir
from tests.conftest import invoke, read_dir, write_shard


def hosts(urls: list[str | None]) -> list[str | None]:
    return pl.select(host_expression(pl.Series("url", urls, dtype=pl.String))).to_series().to_list()


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://example.com/a", "example.com"),
        ("HTTPS://Ads.Example.COM/Path?Q=1", "ads.example.com"),
        ("http://example.com:8080/x", "example.com"),
        ("http://user:p%40ss@www.example.com:81/x@y", "example.com"),
        ("http://www.example.com./", "example.com"),
        ("ftp://www.com/", "www.com"),  # www. is stripped only when a domain is left
        ("example.com/page", "example.com"),
        ("//cdn.example.com/lib.js", "cdn.example.com"),
        ("http://[2001:db8::1]:443/", "[2001:db8::1]"),
        ("http://192.168.0.1:8000/", "192.168.0.1"),
        ("http://example.com?q=a/b", "example.com"),
        ("http://example.com#frag", "example.com"),
        ("http://example.com\\evil.com/", "example.com"),
        ("  http://example.com  ", "example.com"),
        ("http://bücher.de/", "bücher.de"),
        ("", ""),
        (None, None),
    ],
)
def test_host_by_hand(url: str | None, host: str | None) -> None:
    assert hosts([url]) == [host]


def urllib_host(url: str) -> str:
    """The same normalisation done by the standard library, for comparison."""
    host = urllib.parse.urlsplit(url if "://" in url else "http://" + url).hostname or ""
    host = host.rstrip(".")
    return host[4:] if host.startswith("www.") and "." in host[4:] else host


def real_urls(shared_data: Path) -> list[str]:
    urls = []
    for path in sorted((shared_data / "dolma-cc-samples").glob("*.json*.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for line in lines:
                doc = json.loads(line)
                urls.append(doc.get("metadata", {}).get("url") or doc["id"])
    for path in sorted((shared_data / "cc-2008-arc-sample").glob("*.arc")):
        links = re.findall(rb"(?i)href=[\"']?([a-z][a-z0-9+.-]*://[^\"'\s>]+)", path.read_bytes())
        urls += [link.decode("latin-1") for link in links]
    return urls


def test_hosts_of_real_urls_agree_with_urllib(shared_data: Path) -> None:
    urls = real_urls(shared_data)
    assert len(urls) > 2500
    assert any("://" not in u for u in urls) and any(re.search("://[^/]*[A-Z]", u) for u in urls)
    assert hosts(urls) == [urllib_host(u) for u in urls]


UT1 = """\ufeff# UT1 blacklist, category "test"
# blank lines and comments are ignored

example.com
Tracker.NET.
0.0.0.0 ads.partner.org   # a hosts-file line
*.wild.io
.dot.io
www.site.co.uk
example.org/ads/banner.html
\t spaced.info \t
"""


def test_ut1_file_parsing() -> None:
    domains, skipped = parse_domains(UT1.replace("\n", "\r\n").encode())
    assert domains.to_list() == [
        "ads.partner.org",
        "dot.io",
        "example.com",
        "site.co.uk",
        "spaced.info",
        "tracker.net",
        "wild.io",
    ]
    assert skipped == 1


URLS = [
    ("blocked-apex", "http://example.com/"),
    ("blocked-sub", "https://ads.Example.com:8443/x"),
    ("blocked-deep", "http://a.b.c.example.com/"),
    ("blocked-userinfo", "http://me:pw@www.example.com/"),
    ("blocked-www-entry", "http://site.co.uk/"),
    ("blocked-www-entry-sub", "http://news.site.co.uk/"),
    ("blocked-hosts-line", "http://x.ads.partner.org/"),
    ("blocked-trailing-dot", "http://tracker.net./p"),
    ("blocked-wildcard", "http://cdn.wild.io/"),
    ("kept-lookalike", "http://badexample.com/"),
    ("kept-parent-of-listed", "http://partner.org/"),
    ("kept-other-tld", "http://example.co/"),
    ("kept-path-only", "http://good.org/example.com"),
    ("kept-page-entry", "http://example.org/ads/banner.html"),
    ("banned-substring", "http://good.org/CASINO-night"),
    ("banned-in-host", "http://bestcasino.net/"),
    ("null", None),
    ("empty", "  "),
    ("unparseable", "http://bad host/"),
    ("unparseable-empty-label", "http://a..b/"),
]


def write_urls(path: Path, urls: list[tuple[str, str | None]] = URLS) -> None:
    write_shard(path, [{"id": i, "text": f"doc {i}", "url": u} for i, u in urls])


def test_blocklist_and_banned_substrings_through_the_cli(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_urls(tmp_path / "in" / "a.parquet")
    (tmp_path / "ut1.txt").write_text(UT1, encoding="utf-8")
    out = tmp_path / "out"
    result = invoke(
        "filter", "url", str(tmp_path / "in"), str(out), "--blocklist", str(tmp_path / "ut1.txt"),
        "--banned-substring", "casino", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "1 entries with a path skipped" in caplog.text
    blocked = [i for i, _ in URLS if i.startswith("blocked")]
    banned = [i for i, _ in URLS if i.startswith("banned")]
    summary = json.loads(result.stdout)
    assert summary["dropped"] == {"url:blocklisted_domain": len(blocked), "url:banned_substring": len(banned)}
    kept = read_dir(out).column("id").to_pylist()
    assert kept == [i for i, _ in URLS if i not in blocked + banned]
    rejects = read_dir(rejects_dir(out)).to_pylist()
    assert {r["id"]: r["_reason"] for r in rejects} == {
        **dict.fromkeys(blocked, "url:blocklisted_domain"),
        **dict.fromkeys(banned, "url:banned_substring"),
    }
    assert all(r["_stage"] == "filter_url" for r in rejects)
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest["rows_in"] == len(URLS) == manifest["rows_kept"] + manifest["rows_removed"]
    assert manifest["config"]["config"]["blocklist"] == [str(tmp_path / "ut1.txt")]


def test_unusable_urls_are_kept_counted_under_annotate_or_dropped_on_request(tmp_path: Path) -> None:
    write_urls(tmp_path / "in" / "a.parquet")
    result = invoke("filter", "url", str(tmp_path / "in"), str(tmp_path / "kept"), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["dropped"] == {}
    assert read_dir(tmp_path / "kept").num_rows == len(URLS)

    result = invoke("filter", "url", str(tmp_path / "in"), str(tmp_path / "annotated"), "--annotate", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["flagged"] == {"url:missing_url": 2, "url:unparseable_url": 2}
    table = read_dir(tmp_path / "annotated")
    rows = {r["id"]: r for r in table.to_pylist()}
    assert rows["null"]["url_reason"] == "url:missing_url" and rows["null"]["url_domain"] is None
    assert rows["unparseable"]["url_reason"] == "url:unparseable_url" and rows["unparseable"]["url_domain"] is None
    assert rows["blocked-sub"]["url_reason"] is None  # no blocklist given
    assert rows["blocked-sub"]["url_domain"] == "ads.example.com"

    result = invoke("filter", "url", str(tmp_path / "in"), str(tmp_path / "dropped"), "--drop-unparseable", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["dropped"] == {"url:missing_url": 2, "url:unparseable_url": 2}
    rejects = read_dir(rejects_dir(tmp_path / "dropped"))
    assert sorted(rejects.column("id").to_pylist()) == ["empty", "null", "unparseable", "unparseable-empty-label"]


def test_banned_substrings_from_files_and_options(tmp_path: Path) -> None:
    (tmp_path / "banned.txt").write_text("# words\n\n  Casino \n/tag/\n", encoding="utf-8")
    urls = [
        ("a", "http://x.org/casino"),
        ("b", "http://x.org/Tag/1"),
        ("c", "http://x.org/tags"),
        ("d", "http://y.org/Poker"),
    ]
    write_urls(tmp_path / "in" / "a.parquet", urls)
    result = invoke(
        "filter", "url", str(tmp_path / "in"), str(tmp_path / "out"), "--banned-substrings-file",
        str(tmp_path / "banned.txt"), "--banned-substring", "poker", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert read_dir(tmp_path / "out").column("id").to_pylist() == ["c"]
    assert UrlFilter(banned_substrings_file=(str(tmp_path / "banned.txt"),)).banned_substrings() == ("Casino", "/tag/")


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    write_urls(tmp_path / "in" / "a.parquet")
    write_shard(tmp_path / "ints" / "a.parquet", [{"id": "1", "text": "t", "url": 5}])
    cases = [
        (["--url-column", "link"], "--url-column 'link': no such column"),
        (["--blocklist", str(tmp_path / "missing.txt")], "--blocklist"),
        (["--banned-substrings-file", str(tmp_path / "missing.txt")], "--banned-substrings-file"),
        (["--banned-substring", ""], "must not be empty"),
    ]
    for i, (options, message) in enumerate(cases):
        result = invoke("filter", "url", str(tmp_path / "in"), str(tmp_path / f"out{i}"), *options)
        assert result.exit_code == 2, (options, result.stderr)
        assert message in result.stderr
        assert not manifest_path(tmp_path / f"out{i}").exists()
    result = invoke("filter", "url", str(tmp_path / "ints"), str(tmp_path / "out-ints"))
    assert result.exit_code == 2
    assert "has type int64, not a string" in result.stderr
    with pytest.raises(UsageError, match="no such column"):
        UrlFilter().evaluate(pa.array(["t"], pa.large_string()), pa.record_batch({"text": ["t"]}))


def test_changed_blocklist_contents_change_the_config(tmp_path: Path) -> None:
    write_urls(tmp_path / "in" / "a.parquet")
    blocklist = tmp_path / "list.txt"
    blocklist.write_text("example.com\n", encoding="utf-8")
    args = ["filter", "url", str(tmp_path / "in"), str(tmp_path / "out"), "--blocklist", str(blocklist), "--json"]
    assert json.loads(invoke(*args).stdout)["dropped"] == {"url:blocklisted_domain": 4}
    blocklist.write_text("example.com\nbadexample.com\n", encoding="utf-8")
    again = invoke(*args)
    assert again.exit_code == 2, "the same path with other contents must not reuse the old output"
    rerun = invoke(*args, "--overwrite")
    assert rerun.exit_code == 0, rerun.stderr
    assert json.loads(rerun.stdout)["dropped"] == {"url:blocklisted_domain": 5}


def test_large_blocklist_on_real_urls_matches_a_brute_force_walk(shared_data: Path, tmp_path: Path) -> None:
    urls = real_urls(shared_data)
    rng = random.Random(5)
    real_hosts = sorted({urllib_host(u) for u in urls} - {""})
    # Listed: some real hosts, some of their parents, and 200,000 domains that match nothing.
    listed = set(rng.sample(real_hosts, 60))
    listed |= {h.split(".", 1)[1] for h in rng.sample(real_hosts, 60) if h.count(".") >= 2}
    noise = {f"n{i}-{rng.randrange(10**9)}.example" for i in range(200_000)}
    (tmp_path / "big.txt").write_text("\n".join(sorted(listed | noise)) + "\n", encoding="utf-8")

    def is_blocked(host: str) -> bool:
        labels = host.split(".")
        return any(".".join(labels[k:]) in listed for k in range(len(labels)))

    rows = [{"id": str(i), "text": "t", "url": u} for i, u in enumerate(urls)]
    for shard in range(3):
        write_shard(tmp_path / "in" / f"{shard}.parquet", rows[shard::3])
    result = invoke(
        "filter", "url", str(tmp_path / "in"), str(tmp_path / "out"), "--blocklist", str(tmp_path / "big.txt"),
        "--workers", "2", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    expected = {str(i) for i, u in enumerate(urls) if is_blocked(urllib_host(u))}
    assert len(expected) > 100
    rejected = set(read_dir(rejects_dir(tmp_path / "out")).column("id").to_pylist())
    assert rejected == expected
    assert json.loads(result.stdout)["dropped"] == {"url:blocklisted_domain": len(expected)}
