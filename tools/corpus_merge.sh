#!/usr/bin/env bash
# Add every written batch (corpus/raw/B.jsonl answering corpus/briefs/B.jsonl) to the corpus (corpus/songs/): the songs
# that pass the check and are not there yet; then rewrite the report. Run from the repository root.
set -euo pipefail
TIANCI=${TIANCI:-.venv/bin/tianci}
for raw in corpus/raw/*.jsonl; do
  batch=$(basename "$raw")
  "$TIANCI" corpus add "$raw" --briefs "corpus/briefs/$batch" | tail -1
done
"$TIANCI" corpus report
