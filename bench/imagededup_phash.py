"""imagededup's side of ``bench/image_copy_detection.py``: ``PHash().encode_images`` then
``find_duplicates(max_distance_threshold=D)`` on a folder; prints JSON (duplicates, seconds).
Runs inside ``bench/.venv-imagededup``:

    bench/.venv-imagededup/bin/python bench/imagededup_phash.py PHOTOS DISTANCE

imagededup's ``methods/__init__.py`` and ``utils/__init__.py`` import its CNN code, which needs
torch and torchvision; the hashing code does not. Those two packages are registered here as empty
namespace modules (their own ``__path__``) so that ``imagededup.methods.hashing`` and its helpers
load without running the ``__init__`` files. The hashing code itself is imagededup's, unchanged.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import types
from pathlib import Path


def hashing_module() -> types.ModuleType:
    spec = importlib.util.find_spec("imagededup")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("imagededup is not installed in this environment")
    root = Path(next(iter(spec.submodule_search_locations)))
    for package in ("imagededup.methods", "imagededup.utils"):
        module = types.ModuleType(package)
        module.__path__ = [str(root / package.split(".")[1])]
        sys.modules[package] = module
    import imagededup.methods.hashing as hashing

    return hashing


def main() -> None:
    photos, distance = sys.argv[1], int(sys.argv[2])
    hashing = hashing_module()
    started = time.perf_counter()
    phash = hashing.PHash(verbose=False)
    encodings = phash.encode_images(image_dir=photos)
    duplicates = phash.find_duplicates(encoding_map=encodings, max_distance_threshold=distance)
    seconds = time.perf_counter() - started
    print(json.dumps({"duplicates": duplicates, "seconds": seconds, "encoded": len(encodings)}))


if __name__ == "__main__":
    main()
