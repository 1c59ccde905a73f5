#!/usr/bin/env bash
# ./ut360 up: the whole system on this machine: local servers, schema, the default dataset
# (generated once), loaded into PostgreSQL, synced into Redis, served on http://127.0.0.1:8080.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UT="$ROOT/ut360"
DATA="${UT360_DATA_DIR:-$ROOT/data/default}"

"$UT" services up
"$UT" db migrate
if [[ ! -f "$DATA/recommendations.parquet" ]]; then
  "$UT" generate --out "$DATA"
fi
# A load of files already loaded changes nothing, so running up again is cheap and safe.
"$UT" load "$DATA"
"$UT" sync
exec "$UT" serve "$@"
