#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs (and caches) the real servers the tests
# talk to, then runs every test. Second runs reuse the cache in ${MLRB_TEST_CACHE:-~/.cache/mlrb-test}.
set -euo pipefail
cd "$(dirname "$0")/.."
export MLRB_TEST_CACHE="${MLRB_TEST_CACHE:-$HOME/.cache/mlrb-test}"
tests/env/setup.sh mlflow prometheus kube dvc podman
# The image test (tests/it/image.rs) packs the release binary; build it before the tests start
# rather than inside one of them (a no-op when target/release is current).
cargo build --locked --release
# dvc lives in the cache's venv; kubectl comes from the system (or kubernetes-client).
export PATH="$MLRB_TEST_CACHE/bin:$PATH"
cargo test --locked --all-targets --features test-hooks -- --test-threads "${MLRB_TEST_THREADS:-4}"
