#!/bin/sh
# Seeds the fuzz corpus with every shipped configuration, compiled.
# Usage (from the repository root): fuzz/seed.sh && cargo +nightly fuzz run config_parse
set -e
corpus=fuzz/corpus/config_parse
mkdir -p "$corpus"
for f in configs/*.toml; do
    cargo run --quiet --release --bin syshyper -- config compile "$f" -o "$corpus/$(basename "$f" .toml).cell"
done
echo "seeded $(ls "$corpus" | wc -l) files into $corpus"
