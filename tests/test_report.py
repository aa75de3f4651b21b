"""``curate report`` on a real chain (MinHash dedup of the bundled sample, then Gopher
quality, then FineWeb annotating), opened in a real headless Chromium: the DOM it built and
the pixels it drew."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import invoke

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sample"
FUNNEL_BLUE = (0x4C, 0x72, 0xB0)
BAR_GREEN = (0x55, 0xA8, 0x68)
THRESHOLD_RED = (0xC4, 0x4E, 0x52)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium not installed")
    return found


def _browser(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("matplotlib")
    root = tmp_path_factory.mktemp("chain")
    for args in (
        ("dedup", "minhash", str(SAMPLE), str(root / "s1")),
        ("filter", "gopher-quality", str(root / "s1"), str(root / "s2")),
        ("filter", "fineweb", str(root / "s2"), str(root / "s3"), "--annotate"),
    ):
        result = invoke("-q", *args)
        assert result.exit_code == 0, result.output
    return root


def _colour_pixels(image: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int(np.all(np.abs(image[:, :, :3].astype(int) - colour) <= 6, axis=2).sum())


def test_the_report_of_a_chain_renders_in_a_real_browser(chain: Path, tmp_path: Path) -> None:
    from matplotlib.image import imread

    page = tmp_path / "report.html"
    result = invoke("report", str(chain / "s3"), "-o", str(page))
    assert result.exit_code == 0, result.output
    assert "3 stage(s)" in result.stdout
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?https?:""", text)  # self-contained: no network to view it

    dom = _browser("--dump-dom", page.as_uri()).stdout
    # The funnel and the counts of every stage, read from the manifests.
    assert dom.count('<figure class="funnel">') == 1
    for stage, kept in (("dedup_minhash", "2,734"), ("filter_gopher_quality", "2,648"), ("filter_fineweb", "2,648")):
        assert re.search(rf"<td>{stage}</td>.*?<td class=\"n\">{kept}</td>", dom, re.S)
    assert "gopher_quality:ellipsis_lines: 43" in dom
    # Dedup: cluster sizes and similarity; samples with their survivor's excerpt.
    assert dom.count('<figure class="clusters">') == 1 and dom.count('<figure class="similarity">') == 1
    assert dom.count('class="doc dup"') == 3 and "duplicate of" in dom
    # Annotated statistics, each drawn with its threshold where the options bound it.
    assert dom.count('<figure class="statistic"') == 5
    for threshold in ("min_punctuated_lines_fraction = 0.12", "max_short_lines_fraction = 0.67"):
        assert threshold in dom
    assert dom.count("<svg") == 1 + 2 + 5

    shot = tmp_path / "report.png"
    _browser("--window-size=1100,9000", f"--screenshot={shot}", page.as_uri())
    image = imread(shot)
    image = (image * 255).astype(np.uint8) if image.dtype != np.uint8 else image
    assert image.shape[0] == 9000
    assert _colour_pixels(image, FUNNEL_BLUE) > 20_000  # the funnel's bars
    assert _colour_pixels(image, BAR_GREEN) > 20_000  # histogram bars
    assert _colour_pixels(image, THRESHOLD_RED) > 500  # threshold lines and labels


def test_report_without_a_manifest_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = invoke("report", str(tmp_path / "empty"), "-o", str(tmp_path / "r.html"))
    assert result.exit_code == 2
    assert not (tmp_path / "r.html").exists()
