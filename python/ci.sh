#!/usr/bin/env bash
# The Python package's check: build the abi3 wheel in a fresh virtual environment, install it,
# and run the pytest suite against it and against the CLI built at the root (the suite
# compares `run` with `spatten run`'s stats.json). Called by .ci/run; runnable by hand.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
# The root's target directory: the binding crate reuses the library and dependencies
# `cargo build --release` already compiled there.
export CARGO_TARGET_DIR="$root/target"
venv="$CARGO_TARGET_DIR/python-venv"

python3 -m venv --clear "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check maturin pytest numpy pandas
rm -rf "$CARGO_TARGET_DIR/wheels"
"$venv/bin/maturin" build --release --locked --manifest-path "$here/Cargo.toml" \
    --interpreter "$venv/bin/python" --out "$CARGO_TARGET_DIR/wheels"
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps \
    "$CARGO_TARGET_DIR"/wheels/spatten_sim-*-abi3-*.whl

(cd "$root" && cargo build --release --quiet --bin spatten)
export SPATTEN_BIN="$CARGO_TARGET_DIR/release/spatten"

# From outside the source tree, so `import spatten_sim` is the installed wheel.
cd "$CARGO_TARGET_DIR"
set +e
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$here/tests"
code=$?
set -e
if [ "$code" -eq 5 ]; then
    echo "python/ci.sh: pytest collected no tests; that is a failure" >&2
    exit 1
fi
exit "$code"
