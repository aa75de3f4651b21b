"""The shared corpora are found beside the checkout (``../shared``) or through one variable,
``CURATE_SHARED_DATA``: no file of the project names an absolute path to them (issue 7, item 17)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.corpus import SHARED_DATA_VARIABLE, shared_data_dir

CHECKOUT = Path(__file__).resolve().parents[1]
# An absolute path ending in .../shared/data (or .../shared/docs): the data lives beside the checkout.
ABSOLUTE_SHARED = re.compile(r"(?<![\w.])/[\w./-]*\bshared/(data|docs)\b")


def _project_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=CHECKOUT, capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    names = [CHECKOUT / n for n in listed.stdout.splitlines()]
    return [p for p in names if p.suffix in (".py", ".md", ".toml", ".yaml", ".yml", ".cfg") or p.name == "Makefile"]


def test_no_file_hard_codes_an_absolute_path_to_the_shared_data() -> None:
    offenders = []
    for path in _project_files():
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if ABSOLUTE_SHARED.search(line):
                offenders.append(f"{path.relative_to(CHECKOUT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_shared_data_is_beside_the_checkout_or_where_the_variable_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SHARED_DATA_VARIABLE, raising=False)
    assert shared_data_dir() == CHECKOUT.parent / "shared" / "data"
    monkeypatch.setenv(SHARED_DATA_VARIABLE, str(tmp_path))
    assert shared_data_dir() == tmp_path
    # The benches' helper follows the same rule.
    spec = importlib.util.spec_from_file_location("shared_data", CHECKOUT / "bench" / "shared_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.shared_data_dir() == tmp_path
    monkeypatch.delenv(SHARED_DATA_VARIABLE)
    assert module.shared_data_dir() == CHECKOUT.parent / "shared" / "data"


def test_benches_import_their_data_location() -> None:
    """Each bench module that reads the corpora resolves them through bench/shared_data.py."""
    for name in ("neardup_corpus", "bench_signatures", "exact_bench", "filters_bench"):
        text = (CHECKOUT / "bench" / f"{name}.py").read_text(encoding="utf-8")
        assert "from shared_data import" in text, name
    assert sys.version_info >= (3, 10)
