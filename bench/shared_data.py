"""Where the shared third-party corpora are: ``$CURATE_SHARED_DATA`` if set, else ``../shared/data``
beside the checkout (the layout CI uses). The same rule as ``tests/corpus.py``."""

from __future__ import annotations

import os
from pathlib import Path

VARIABLE = "CURATE_SHARED_DATA"
CHECKOUT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    configured = os.environ.get(VARIABLE)
    return Path(configured) if configured else CHECKOUT.parent / "shared" / "data"


SHARED = shared_data_dir()
GUTENBERG = SHARED / "gutenberg-top-authors-subset"
