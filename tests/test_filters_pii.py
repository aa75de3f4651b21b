"""curate filter pii: hand-checked redactions and non-redactions, counts in the manifest, the
kinds column, tokens and kinds options, a look-around reference on random and real text, real
SMS spam and UDHR in ~380 languages, and bad input (nulls, invalid UTF-8, 50 MB documents)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.errors import UsageError
from curate.filters.rules import pii
from curate.filters.rules.pii import PiiRedactor
from curate.io.layout import manifest_path
from tests.conftest import invoke, read_dir, write_shard

E, IP, P = "<EMAIL>", "<IP_ADDRESS>", "<PHONE>"

# (text, redacted text) checked by hand against the rules in curate/filters/rules/pii.py.
REDACTED = [
    # e-mail: plus, dots, subdomains, underscores, in parentheses, next to CJK, trailing full stop
    ("write to john.doe+news@mail.example.co.uk today", f"write to {E} today"),
    ("first_last@sub.domain.example.org.", f"{E}."),
    ("(bob-smith@example.com)", f"({E})"),
    ("请联系test@example.com谢谢", f"请联系{E}谢谢"),
    ("mailto:a@b.io,c.d@e-f.museum", f"mailto:{E},{E}"),
    ("...foo@example.com", f"...{E}"),
    ("icon@2x.png", E),  # documented false positive: looks like an address
    # IPv4: edge octets, ports, CIDR, sentence end, lists sharing one separator
    ("0.0.0.0 and 255.255.255.255", f"{IP} and {IP}"),
    ("host 192.168.1.254:8080/x", f"host {IP}:8080/x"),
    ("net 10.0.0.0/8.", f"net {IP}/8."),
    ("at 10.1.2.3.", f"at {IP}."),
    ("1.1.1.1,2.2.2.2;3.3.3.3 4.4.4.4", f"{IP},{IP};{IP} {IP}"),
    ("ip=172.16.0.1&x", f"ip={IP}&x"),
    # IPv6: full, compressed, loopback, mixed, bracketed with port, zone, upper case
    ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", IP),
    ("2001:db8::1 and fe80::1%eth0", f"{IP} and {IP}%eth0"),
    ("::1 is loopback", f"{IP} is loopback"),
    ("::ffff:192.168.1.1", IP),
    ("64:ff9b::192.0.2.33 nat64", f"{IP} nat64"),
    ("[2001:db8::7334]:443", f"[{IP}]:443"),
    ("2001:DB8:0:0:8:800:200C:417A", IP),
    ("1:2:3:4:5:6:7::", IP),
    ("::2:3:4:5:6:7:8", IP),
    ("2001:db8::", IP),
    # phone numbers
    ("+1 (555) 123-4567", P),
    ("call 555-123-4567 now", f"call {P} now"),
    ("+44 20 7946 0958", P),
    ("Call 09061701461.", f"Call {P}."),
    ("(555) 123-4567 or 555.123.4567", f"{P} or {P}"),
    ("1-800-555-1234", P),
    ("+447801259231", P),
    ("0800 1956669", P),
    ("(020) 7946 0958", P),
    ("+44 (0) 20 7946 0958", P),
    ("01 23 45 67 89", P),
    ("Tel:+49 561 9804848", f"Tel:{P}"),
    ("stopsms-08718727870", f"stopsms-{P}"),
    ("电话09061701461", f"电话{P}"),
    # every kind in one text
    ("mail a@b.com, ip 8.8.8.8, tel +1 202 555 0123.", f"mail {E}, ip {IP}, tel {P}."),
]

LEFT_ALONE = [
    # not e-mail addresses
    "@handle",
    "user@localhost",
    "pkg@1.2.3",
    "a @ b.com",
    # not IPv4: bad octets, leading zeros, versions, longer dotted runs
    "256.1.1.1 999.1.1.1 1.256.1.1 01.2.3.4",
    "version 1.2.3 and 1.2.3.4.5 and v1.2.3.4 and 5.1.2.3.4",
    "10.0.0.1a",
    # not IPv6: code, bare ::, MAC addresses, times, letters-only short forms
    "std::vector<int> and Abc::def and Foo::Bar::baz",
    ":: and a::b",
    "00:1A:2B:3C:4D:5E",
    "10:20:30 and 12:30",
    "dead::beef",
    # not phones: dates, times, prices, ISBNs, runs of numbers, years, short numbers
    "2024-01-02 and 01.02.2024 and 01-02-2024 10:30 and 02/01/2024",
    "$1,299.99 and 1.299.999,00 and 1 234 567 890",
    "ISBN 978-3-16-148410-0, ISBN 0-306-40615-2, ISBN 0306406152, 9780306406157",
    "997 998 999 1000 1001 1002",
    "from 1914-1918 and 555-1234",
    "3.01234567890",
    "447801259231 and 08452810075over18's",
    "555 123 4567",
    # other scripts and digits
    "مرحبا ١٢٣٤٥٦٧٨٩٠١ والبريد",
    "電話番号は０９０６１７０１４６１です",
    "这是一个测试。第1.2.3节",
]


def redact(texts: list[str | None], **options: object) -> tuple[list[str | None], dict[str, list[int]], pa.Array]:
    stage = PiiRedactor(column_name="pii", **options)  # type: ignore[arg-type]
    change = stage.modify(pa.array(texts, pa.large_string()), pa.record_batch({"text": pa.array(texts)}))
    return change.texts.to_pylist(), {k: v.tolist() for k, v in change.counts.items()}, change.columns["pii"]


@pytest.mark.parametrize(("text", "expected"), REDACTED)
def test_redacts_by_hand(text: str, expected: str) -> None:
    out, counts, kinds = redact([text])
    assert out == [expected]
    by_hand = {kind: expected.count(token) for kind, token in (("email", E), ("ip", IP), ("phone", P))}
    assert {k: v[0] for k, v in counts.items()} == by_hand
    assert sorted(kinds.to_pylist()[0]) == sorted(k for k, n in by_hand.items() for _ in range(n))


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_leaves_lookalikes_alone(text: str) -> None:
    out, counts, kinds = redact([text])
    assert out == [text]
    assert counts == {"email": [0], "ip": [0], "phone": [0]}
    assert kinds.to_pylist() == [[]]


def test_kinds_column_lists_every_redaction_grouped_by_kind() -> None:
    out, counts, kinds = redact(["+1 202 555 0123 x@y.com 1.2.3.4 a@b.cc", None, ""])
    assert out == [f"{P} {E} {IP} {E}", None, ""]
    assert counts == {"email": [2, 0, 0], "ip": [1, 0, 0], "phone": [1, 0, 0]}
    assert kinds.type == pa.list_(pa.string())
    assert kinds.to_pylist() == [["email", "email", "ip", "phone"], [], []]


def test_kinds_and_tokens_options() -> None:
    text = "a@b.com 10.0.0.1 555-123-4567"
    assert redact([text], kinds="phone")[0] == [f"a@b.com 10.0.0.1 {P}"]
    assert redact([text], kinds=" IP , email")[0] == [f"{E} {IP} 555-123-4567"]
    # Replacement tokens are literal text, group references included.
    out = redact([text], email_token="[$1 mail]", ip_token=r"${ip}\0", phone_token="")[0]
    assert out == [r"[$1 mail] ${ip}\0 "]
    with pytest.raises(UsageError, match="did you mean 'email'"):
        PiiRedactor(kinds="emial")
    with pytest.raises(UsageError, match="at least one"):
        PiiRedactor(kinds=",")


def test_redaction_is_idempotent_on_its_output() -> None:
    texts = [t for t, _ in REDACTED] + LEFT_ALONE
    once, _, _ = redact(texts)
    twice, counts, _ = redact(once)
    assert twice == once
    assert all(sum(v) == 0 for v in counts.values())


# A reference with Python's look-around, which the Rust engine lacks: the same address
# patterns, their neighbours checked without consuming them, one re.sub per pattern.
_W = "0-9A-Za-z_"
_REFERENCE = [
    ("email", pii.EMAIL),
    ("ip", rf"(?<![{_W}:.])(?:{pii.IPV6})(?![{_W}:])(?!\.[{_W}])"),
    ("ip", rf"(?<![{_W}.])(?:{pii.IPV4})(?![{_W}])(?!\.[{_W}])"),
    *[
        ("phone", rf"(?:(?<![{_W}+\-.,/])|(?<=[A-Za-z]-))(?:{body})(?![{_W}])(?![.,/:\-][0-9])")
        for body in (
            pii.PHONE_INTERNATIONAL,
            pii.PHONE_NATIONAL,
            pii.PHONE_NATIONAL_PARENTHESISED,
            pii.PHONE_NORTH_AMERICAN,
        )
    ],
]
_TOKENS = {"email": E, "ip": IP, "phone": P}


def reference(text: str) -> tuple[str, dict[str, int]]:
    counts = dict.fromkeys(_TOKENS, 0)
    for kind, pattern in _REFERENCE:
        text, n = re.subn(pattern, _TOKENS[kind].replace("\\", "\\\\"), text)
        counts[kind] += n
    return text, counts


ITEMS = [t for t, _ in REDACTED] + LEFT_ALONE + ["word", "the end", "3.14", "12", "x", "café", "東京", "—"]
SEPARATORS = [" ", ", ", ". ", "\n", ",", ";", " (", ") ", " - ", ": ", "\t", " / ", "'", '"', " <", "> ", "="]


def test_matches_a_lookaround_reference_on_random_mixtures() -> None:
    rng = random.Random(20240102)
    texts = []
    for _ in range(1500):
        parts = [rng.choice(ITEMS) for _ in range(rng.randint(1, 12))]
        text = ""
        for part in parts:
            text += part + rng.choice(SEPARATORS)
        texts.append(text)
    out, counts, _ = redact(texts)
    for i, text in enumerate(texts):
        expected, expected_counts = reference(text)
        assert out[i] == expected, text
        assert {k: v[i] for k, v in counts.items()} == expected_counts, text


def test_through_the_cli_with_counts_in_the_manifest(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "text": "Mail jane.doe@example.org or call +44 20 7946 0958.", "lang": "en"},
        {"id": "b", "text": "Servers 10.0.0.1, 10.0.0.2 and 2001:db8::1; dates 2024-01-02.", "lang": "en"},
        {"id": "c", "text": None, "lang": None},
        {"id": "d", "text": "", "lang": "xx"},
        {"id": "e", "text": "Nothing here but version 1.2.3 and £1,299.99", "lang": "en"},
        {"id": "f", "text": "x@y.com x@y.com 555-123-4567", "lang": "en"},
    ]
    write_shard(tmp_path / "in" / "a.parquet", rows)
    out = tmp_path / "out"
    result = invoke("filter", "pii", str(tmp_path / "in"), str(out), "--column-name", "pii_found", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["changed"] == {"email": 3, "ip": 3, "phone": 2}
    manifest = json.loads(manifest_path(out).read_text())
    assert manifest["counters"]["changed:email"] == 3
    assert manifest["counters"]["changed:ip"] == 3
    assert manifest["counters"]["changed:phone"] == 2
    assert manifest["rows_in"] == manifest["rows_kept"] == 6
    table = read_dir(out)
    assert table.column("id").to_pylist() == ["a", "b", "c", "d", "e", "f"]
    assert table.column("lang").to_pylist() == ["en", "en", None, "xx", "en", "en"]
    assert table.column("text").to_pylist() == [
        f"Mail {E} or call {P}.",
        f"Servers {IP}, {IP} and {IP}; dates 2024-01-02.",
        None,
        "",
        "Nothing here but version 1.2.3 and £1,299.99",
        f"{E} {E} {P}",
    ]
    assert table.column("pii_found").to_pylist() == [
        ["email", "phone"],
        ["ip", "ip", "ip"],
        [],
        [],
        [],
        ["email", "email", "phone"],
    ]


def test_cli_options_and_usage_errors(tmp_path: Path) -> None:
    write_shard(tmp_path / "in" / "a.parquet", [{"id": "a", "text": "a@b.com 10.0.0.1 555-123-4567"}])
    result = invoke(
        "filter", "pii", str(tmp_path / "in"), str(tmp_path / "out"), "--kinds", "ip", "--ip-token", "[ip]", "--json"
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["changed"] == {"ip": 1}
    assert read_dir(tmp_path / "out").column("text").to_pylist() == ["a@b.com [ip] 555-123-4567"]
    assert "pii" not in read_dir(tmp_path / "out").column_names
    bad = invoke("filter", "pii", str(tmp_path / "in"), str(tmp_path / "out2"), "--kinds", "mail")
    assert bad.exit_code == 2
    assert "unknown kind 'mail'" in bad.stderr


def test_sms_spam_phone_numbers_are_redacted(shared_data: Path, tmp_path: Path) -> None:
    lines = (shared_data / "sms-spam-collection" / "SMSSpamCollection").read_text(encoding="utf-8").splitlines()[1:]
    labels, texts = zip(*(line.split("\t", 1) for line in lines), strict=True)
    write_shard(
        tmp_path / "in" / "sms.parquet",
        [{"id": str(i), "label": lb, "text": t} for i, (lb, t) in enumerate(zip(labels, texts, strict=True))],
    )
    result = invoke("filter", "pii", str(tmp_path / "in"), str(tmp_path / "out"), "--column-name", "pii", "--json")
    assert result.exit_code == 0, result.stderr
    table = read_dir(tmp_path / "out")
    out = table.column("text").to_pylist()
    winner = [i for i, t in enumerate(texts) if "To claim call 09061701461." in t]
    assert len(winner) == 2
    for i in winner:
        assert labels[i] == "spam"
        assert "To claim call <PHONE>. Claim code KL341." in out[i]
    assert not any("09061701461" in t for t in out)
    # The manifest's counts are the per-row redactions, and those are what the reference finds.
    changed = json.loads(result.stdout)["changed"]
    per_row = table.column("pii").to_pylist()
    assert changed["phone"] == sum(r.count("phone") for r in per_row)
    assert changed["email"] == sum(r.count("email") for r in per_row)
    expected = [reference(t) for t in texts]
    assert out == [t for t, _ in expected]
    assert changed == {k: sum(c[k] for _, c in expected) for k in _TOKENS}
    # Phone numbers are a spam feature: most redactions are in spam, some in ham.
    spam = sum(r.count("phone") for r, lb in zip(per_row, labels, strict=True) if lb == "spam")
    assert spam > 300 and spam > 10 * (changed["phone"] - spam)


def test_real_web_text_matches_the_reference(shared_data: Path) -> None:
    import gzip

    path = shared_data / "dolma-cc-samples" / "CC-MAIN-20190717121559-20190717143559-00140.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        texts = [json.loads(line)["text"] for line in lines]
    out, counts, _ = redact(texts)
    expected = [reference(t) for t in texts]
    assert out == [t for t, _ in expected]
    assert {k: sum(v) for k, v in counts.items()} == {k: sum(c[k] for _, c in expected) for k in _TOKENS}
    joined = "\n".join(out)
    assert "(661) 845-" not in joined and "kbk518@naver.com" not in joined and "10.200.2.15" not in joined
    assert "996 997 998 999 1000 1001" in joined  # a run of numbers is not a phone


def test_udhr_in_hundreds_of_languages_has_only_its_two_addresses_redacted(shared_data: Path) -> None:
    files = sorted(p for p in (shared_data / "udhr2-multilingual").glob("*.txt"))
    assert len(files) > 300
    texts = [p.read_text(encoding="utf-8") for p in files]
    out, counts, _ = redact(texts)
    changed = [(files[i].name, texts[i], o) for i, o in enumerate(out) if o != texts[i]]
    assert {name for name, _, _ in changed} == {"ina.txt", "urd.txt"}
    assert {k: sum(v) for k, v in counts.items()} == {"email": 2, "ip": 0, "phone": 0}
    for _, before, after in changed:
        assert after.count(E) == 1
        assert before.replace("secretario.general@interlingua.com", E).replace("khitab@sprat.in", E) == after


def test_invalid_utf8_in_a_parquet_file(tmp_path: Path) -> None:
    raw = [b"call 09061701461 \xff\xfe now", b"ok a@b.com", b"\xc3\x28 10.0.0.1", None]
    path = tmp_path / "in" / "bad.parquet"
    path.parent.mkdir()
    pq.write_table(pa.table({"id": ["0", "1", "2", "3"], "text": pa.array(raw, pa.binary())}), path)
    result = invoke("filter", "pii", str(tmp_path / "in"), str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.stderr
    assert read_dir(tmp_path / "out").column("text").to_pylist() == [
        f"call {P} \ufffd\ufffd now",
        f"ok {E}",
        f"\ufffd( {IP}",
        None,
    ]
    manifest = json.loads(manifest_path(tmp_path / "out").read_text())
    assert manifest["counters"]["invalid_utf8_rows"] == 2
    assert manifest["counters"]["changed:phone"] == 1


def test_a_50_mb_document_and_1_mb_lines(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    words = np.array(["the", "of", "1999", "and", "3.5", "a:b", "x@", "café", "東京", "-", "(12)"])
    body = " ".join(rng.choice(words, 12_500_000))
    planted = " mail me@example.com or +44 20 7946 0958 from 192.168.0.1 "
    big = body[: len(body) // 2] + planted + body[len(body) // 2 :]
    assert len(big.encode()) > 50_000_000
    adversarial = [
        "0123456789" * 100_000,  # a 1 MB line of digits: no boundary anywhere
        "1." * 500_000,
        ":" * 1_000_000,
        "a@" * 500_000,
        "1:" * 500_000,
        ("+1 " * 300_000) + "end",
        ("word " * 200_000) + "x@y.com",
    ]
    rows = [{"id": "big", "text": big}] + [{"id": f"line{i}", "text": t} for i, t in enumerate(adversarial)]
    write_shard(tmp_path / "in" / "a.parquet", rows)
    result = invoke("filter", "pii", str(tmp_path / "in"), str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["changed"] == {"email": 2, "ip": 1, "phone": 1}
    table = read_dir(tmp_path / "out")
    texts = dict(zip(table.column("id").to_pylist(), table.column("text").to_pylist(), strict=True))
    assert texts["big"] == big.replace(planted, f" mail {E} or {P} from {IP} ")
    for i, text in enumerate(adversarial[:-1]):
        assert texts[f"line{i}"] == text
    assert texts["line6"].endswith(E)
