# Developer tasks. `make test` is the README's test command.

.PHONY: run test lint fmt bench ci

# Serve on 127.0.0.1:8080 with the embedded SQLite store in ./data.
run:
	cargo run --release

# The README's test command: the whole suite on SQLite and on MongoDB
# (scripts/test.sh installs and starts SecantusDB, a MongoDB-wire-compatible
# test server from PyPI, unless BCS_STORAGE_TEST_MONGODB_URI is set).
test:
	bash scripts/test.sh

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

fmt:
	cargo fmt

# Load benchmark against a release build (options: see bench/load.rs).
bench:
	cargo build --release && cargo run --release --example bench

# What CI runs: fmt check, clippy, then scripts/test.sh.
ci:
	bash .ci/run
