# Every target installs what it needs into .venv; `make test` is exactly what CI runs.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: serve build build-release fmt lint test test-rust test-python fuzz-build

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

test-python: build
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(PY) -m pytest -p no:cacheprovider

test: lint test-rust fuzz-build test-python
