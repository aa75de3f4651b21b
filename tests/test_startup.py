"""Start-up stays light: `curate --help` and `curate run --dry-run` import no heavy library
(DESIGN §6), so both answer in well under a second."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("ray", "polars", "pandas", "fasttext", "torch", "onnxruntime", "faiss", "trafilatura", "matplotlib")
PROBE = (
    "import sys; from curate.cli import main\n"
    "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
    "print('heavy:' + ','.join(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)"
)


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["run", str(ROOT / "examples" / "fineweb.yaml"), "--dry-run", "--input", str(ROOT / "examples" / "sample")],
    ],
    ids=["help", "run-dry-run"],
)
def test_no_heavy_import_at_start_up(argv: list[str], tmp_path: Path) -> None:
    if argv[0] == "run":
        argv = [*argv, "--output", str(tmp_path / "out")]
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *argv], capture_output=True, text=True, timeout=60
    )
    imported = [line for line in done.stderr.splitlines() if line.startswith("heavy:")]
    assert imported == ["heavy:"], done.stderr
    assert not (tmp_path / "out").exists()
