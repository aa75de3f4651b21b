"""Generate ``rust_ext/src/unicode_tables.rs`` from this Python's ``unicodedata``.

The text kernel's contract is that the Rust normaliser gives exactly the answer of the pure-Python reference
(``curate/kernel_reference.py``). NFKC comes from the ``unicode-normalization`` crate (normalisation is stable
for assigned characters), but case folding, the punctuation set and the whitespace set are taken from Python
itself, so that ``str.casefold()``, ``unicodedata.category(c).startswith("P")`` and ``str.isspace()`` are the
source of truth:

- ``CASEFOLD``: every code point whose ``casefold()`` differs from itself, with its folded string, sorted.
- ``PROPS_INDEX`` / ``PROPS_BLOCKS``: a two-level table of per-code-point flags: ``SEPARATOR`` (punctuation
  or whitespace, both become a single space), ``FOLDS`` (has a ``CASEFOLD`` entry) and ``INERT`` (NFKC leaves
  any string made only of such characters unchanged, see ``inert_characters``).
- ``ASCII_MAP``: the folded byte of every ASCII character, or ``ASCII_SEPARATOR``.

Usage: ``python tools/gen_unicode_tables.py`` rewrites the file; ``--check`` exits 1 if it is out of date.
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "rust_ext" / "src" / "unicode_tables.rs"

BLOCK_SHIFT = 7
BLOCK_SIZE = 1 << BLOCK_SHIFT
MAX_CODE_POINT = 0x110000
SURROGATES = range(0xD800, 0xE000)

FLAG_SEPARATOR = 1
FLAG_FOLDS = 2
FLAG_INERT = 4
ASCII_SEPARATOR = 0xFF
HANGUL_V = range(0x1161, 0x1176)
HANGUL_T = range(0x11A8, 0x11C3)


def is_separator(ch: str) -> bool:
    """True for the characters the normaliser turns into a space: punctuation (P*) or ``str.isspace()``."""
    return unicodedata.category(ch).startswith("P") or ch.isspace()


def composition_seconds() -> set[str]:
    """Characters that canonical composition can merge into the character before them: the second element
    of every primary composite (a two-character canonical decomposition that NFC recomposes), and the
    Hangul vowel and trailing consonant jamo."""
    seconds = {chr(cp) for cp in (*HANGUL_V, *HANGUL_T)}
    for cp in range(MAX_CODE_POINT):
        if cp in SURROGATES:
            continue
        decomposition = unicodedata.decomposition(chr(cp))
        if not decomposition or decomposition.startswith("<"):
            continue
        parts = [chr(int(part, 16)) for part in decomposition.split()]
        if len(parts) == 2 and unicodedata.normalize("NFC", "".join(parts)) == chr(cp):
            seconds.add(parts[1])
    return seconds


def inert_characters() -> set[str]:
    """Characters that NFKC leaves alone in any string made only of such characters: starters (combining
    class 0) that NFKC maps to themselves, that never compose with what precedes them, and whose canonical
    decomposition (if any) does not start with a character that could. Decomposing such a string and
    recomposing it only undoes each character's own decomposition, so NFKC is the identity on it.
    Unassigned code points are left out, so that the flag only ever saves work."""
    seconds = composition_seconds()
    inert = set()
    for cp in range(MAX_CODE_POINT):
        if cp in SURROGATES:
            continue
        ch = chr(cp)
        if (
            unicodedata.category(ch) != "Cn"
            and unicodedata.combining(ch) == 0
            and unicodedata.normalize("NFKC", ch) == ch
            and ch not in seconds
            and unicodedata.normalize("NFD", ch)[0] not in seconds
        ):
            inert.add(ch)
    return inert


def rust_char(cp: int) -> str:
    return f"'\\u{{{cp:x}}}'"


def rust_str(text: str) -> str:
    return '"' + "".join(f"\\u{{{ord(c):x}}}" for c in text) + '"'


def wrap(items: list[str], indent: str = "    ", width: int = 110) -> list[str]:
    lines: list[str] = []
    current = indent
    for item in items:
        piece = item + ","
        if len(current) + len(piece) + 1 > width and current.strip():
            lines.append(current.rstrip())
            current = indent
        current += piece + " "
    if current.strip():
        lines.append(current.rstrip())
    return lines


def generate() -> str:
    casefold: list[tuple[int, str]] = []
    flags = bytearray(MAX_CODE_POINT)
    inert = inert_characters()
    for cp in range(MAX_CODE_POINT):
        if cp in SURROGATES:
            continue  # cannot occur in valid UTF-8, hence never in a Rust `char`
        ch = chr(cp)
        folded = ch.casefold()
        if folded != ch:
            casefold.append((cp, folded))
            flags[cp] |= FLAG_FOLDS
        if is_separator(ch):
            flags[cp] |= FLAG_SEPARATOR
        if ch in inert:
            flags[cp] |= FLAG_INERT

    blocks: list[bytes] = []
    block_ids: dict[bytes, int] = {}
    index: list[int] = []
    for start in range(0, MAX_CODE_POINT, BLOCK_SIZE):
        block = bytes(flags[start : start + BLOCK_SIZE])
        if block not in block_ids:
            block_ids[block] = len(blocks)
            blocks.append(block)
        index.append(block_ids[block])
    index_type = "u8" if len(blocks) <= 256 else "u16"

    ascii_map: list[int] = []
    for cp in range(128):
        ch = chr(cp)
        if is_separator(ch):
            ascii_map.append(ASCII_SEPARATOR)
        else:
            folded = unicodedata.normalize("NFKC", ch).casefold()
            assert len(folded) == 1 and ord(folded) < 128, (cp, folded)
            ascii_map.append(ord(folded))

    out: list[str] = [
        "// @generated by tools/gen_unicode_tables.py from Python's unicodedata; do not edit by hand.",
        "//! Case folding, punctuation and whitespace tables (see `tools/gen_unicode_tables.py`).",
        "",
        f'pub const UNICODE_VERSION: &str = "{unicodedata.unidata_version}";',
        "",
        "/// Flag: the character becomes a space (general category P*, or `str.isspace()`).",
        f"pub const SEPARATOR: u8 = {FLAG_SEPARATOR};",
        "/// Flag: the character has an entry in [`CASEFOLD`].",
        f"pub const FOLDS: u8 = {FLAG_FOLDS};",
        "/// Flag: NFKC leaves any string made only of such characters unchanged.",
        f"pub const INERT: u8 = {FLAG_INERT};",
        "/// `ASCII_MAP` value of an ASCII separator.",
        f"pub const ASCII_SEPARATOR: u8 = {ASCII_SEPARATOR:#04x};",
        f"pub const BLOCK_SHIFT: u32 = {BLOCK_SHIFT};",
        f"pub const BLOCK_MASK: u32 = {BLOCK_SIZE - 1};",
        "",
        "/// Folded byte of each ASCII character, or `ASCII_SEPARATOR`.",
        "#[rustfmt::skip]",
        "pub static ASCII_MAP: [u8; 128] = [",
        *wrap([f"{v:#04x}" for v in ascii_map]),
        "];",
        "",
        "/// Block number of each run of `1 << BLOCK_SHIFT` code points.",
        "#[rustfmt::skip]",
        f"pub static PROPS_INDEX: [{index_type}; {len(index)}] = [",
        *wrap([str(v) for v in index]),
        "];",
        "",
        "/// Flags of each code point of a block.",
        "#[rustfmt::skip]",
        f"pub static PROPS_BLOCKS: [[u8; {BLOCK_SIZE}]; {len(blocks)}] = [",
    ]
    for block in blocks:
        out.append("    [")
        out.extend(wrap([str(v) for v in block], indent="        "))
        out.append("    ],")
    out += [
        "];",
        "",
        "/// `(c, c.casefold())` for every `c` whose full case folding differs from itself, sorted by `c`.",
        "#[rustfmt::skip]",
        f"pub static CASEFOLD: [(char, &str); {len(casefold)}] = [",
        *(f"    ({rust_char(cp)}, {rust_str(folded)})," for cp, folded in casefold),
        "];",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is out of date")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="file to write (default: %(default)s)")
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run python tools/gen_unicode_tables.py", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
