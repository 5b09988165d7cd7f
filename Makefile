# Every target installs what it needs into .venv; `make test` is exactly what CI runs.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: serve build build-release docs fmt lint test test-rust test-python test-wheel fuzz-build haproxy

$(VENV)/.deps: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check 'maturin>=1.7,<2'
	touch $@

# Debug build (opt-level 1) of the native module, installed editable with the test extras.
build: $(VENV)/.deps
	$(BIN)/maturin develop -q --extras test,reload,uvloop

build-release: $(VENV)/.deps
	$(BIN)/maturin develop -q --release --extras reload,uvloop

serve: build-release
	$(BIN)/granian --interface asgi --host 127.0.0.1 --port 8000 examples.hello_asgi:app

# docs/options.md and the README option tables, generated from py/granian/_options.py.
docs: build
	$(PY) -c 'from granian._options import write_docs; write_docs(".")'

fmt:
	cargo fmt --all
	$(BIN)/ruff format .

lint: build
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(PY) -m mypy.stubtest granian._native

test-rust:
	cargo test --workspace --locked

# The fuzz targets build on stable; running them needs cargo-fuzz (see crates/*/fuzz/README.md).
fuzz-build:
	RUSTFLAGS="--cfg fuzzing" cargo build --locked --manifest-path crates/http1/fuzz/Cargo.toml --target-dir target/fuzz
	RUSTFLAGS="--cfg fuzzing" cargo build --locked --manifest-path crates/dispatch/fuzz/Cargo.toml --target-dir target/fuzz
	RUSTFLAGS="--cfg fuzzing" cargo build --locked --manifest-path crates/proxy/fuzz/Cargo.toml --target-dir target/fuzz
	RUSTFLAGS="--cfg fuzzing" cargo build --locked --manifest-path crates/proxyprotocol/fuzz/Cargo.toml --target-dir target/fuzz
	RUSTFLAGS="--cfg fuzzing" cargo build --locked --manifest-path crates/websocket/fuzz/Cargo.toml --target-dir target/fuzz

test-python: build
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(PY) -m pytest -p no:cacheprovider

# The wheel users install on machines without Rust: built, installed into a fresh virtualenv
# (no Rust, nothing else installed), and serving one request.
WHEEL_DIR := target/wheel-check
test-wheel: $(VENV)/.deps
	rm -rf $(WHEEL_DIR)
	$(BIN)/maturin build --release -q -o $(WHEEL_DIR)/dist
	python3 -m venv $(WHEEL_DIR)/venv
	$(WHEEL_DIR)/venv/bin/python -m pip install -q --disable-pip-version-check $(WHEEL_DIR)/dist/granian-*.whl
	env -u VIRTUAL_ENV PATH=/usr/bin:/bin $(WHEEL_DIR)/venv/bin/python tests/wheel_smoke.py

# tests/deploy puts HAProxy in front of granian: Debian's package, installed when missing (with
# sudo when not root, never waiting for a password); where it cannot be, those tests are skipped
# and say why.
haproxy:
	@PATH="$$PATH:/usr/sbin" command -v haproxy >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then sudo=; else sudo="sudo -n"; fi; \
	  $$sudo apt-get install -y -q haproxy || { $$sudo apt-get update -q && $$sudo apt-get install -y -q haproxy; }; \
	} || echo "haproxy could not be installed: tests/deploy will be skipped"

test: lint test-rust fuzz-build haproxy test-python test-wheel
