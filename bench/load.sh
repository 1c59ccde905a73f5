#!/usr/bin/env bash
# Load benchmark (issue 2, "Done when"): generate the default dataset, then in fresh databases
# of its own compare
#   baseline: psql \copy of the same rows as CSV into the same four tables, with every index and
#             key constraint dropped before and rebuilt after (timed end to end), and
#   ut360 load of the Parquet files (checks, COPY, indexes, swap, stats; timed end to end, as a
#             process, .NET start-up included),
# alternating, RUNS times each; writes medians and the ratio to bench/results/load.md.
# Usage: bench/load.sh [RUNS]   (default 3). Needs the local PostgreSQL (./ut360 services up).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${1:-3}"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-${UT360_PG_PORT:-55432}}" PGUSER="${PGUSER:-postgres}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ut360-bench-load.XXXXXX")"
PREFIX="ut360_bench_load_$$"
cleanup() {
  # Every database this run created carries PREFIX (fresh_db runs in subshells, so no list).
  for db in $(psql -d postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE '${PREFIX}_%'" 2>/dev/null); do
    timeout 600 dropdb --if-exists --force "$db" >/dev/null 2>&1 || echo "could not drop $db (try again later)" >&2
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

conn() { echo "Host=$PGHOST;Port=$PGPORT;Username=$PGUSER;Database=$1"; }
now() { date +%s.%N; }
fresh_db() {
  local db="${PREFIX}_$1"
  createdb "$db"
  ConnectionStrings__Postgres="$(conn "$db")" ut db migrate >/dev/null
  echo "$db"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# A build of its own, so that a source edit during the run cannot trigger a rebuild inside a
# timed step (./ut360 rebuilds when sources are newer than its last build).
echo "== build"
dotnet build "$ROOT/src/Ut360.Cli/Ut360.Cli.csproj" -c Release -o "$WORK/cli" -nologo -v q -clp:ErrorsOnly >/dev/null
ut() { dotnet "$WORK/cli/Ut360.Cli.dll" "$@"; }

echo "== generate (default dataset, Parquet)"
t0=$(now); ut generate --out "$WORK/parquet" >/dev/null; t1=$(now)
GEN_PARQUET=$(printf '%.1f' "$(echo "$t1 - $t0" | bc)")
echo "   ${GEN_PARQUET}s"
echo "== generate (default dataset, CSV)"
t0=$(now); ut generate --format csv --out "$WORK/csv" >/dev/null; t1=$(now)
GEN_CSV=$(printf '%.1f' "$(echo "$t1 - $t0" | bc)")
echo "   ${GEN_CSV}s"

# The baseline copies the rows exactly as they stand in the tables after a load (profiles carry
# the recommendation columns and recommendation_id, which the upstream profiles file does not),
# so both sides write the same bytes into the same tables.
echo "== baseline CSVs (one untimed load, exported)"
SRC=$(fresh_db src)
ConnectionStrings__Postgres="$(conn "$SRC")" ut load "$WORK/parquet" --rejects "$WORK/rejects.csv" >/dev/null
for t in recommendations subscriber_360_profiles subscriber_monthly_arpu recommendation_stats; do
  psql -d "$SRC" -qc "\\copy (SELECT * FROM $t ORDER BY id) TO '$WORK/$t.csv' WITH (FORMAT csv)"
done
ROWS=$(psql -d "$SRC" -Atc "SELECT (SELECT count(*) FROM recommendations) || ' / ' || (SELECT count(*) FROM subscriber_360_profiles) || ' / ' || (SELECT count(*) FROM subscriber_monthly_arpu) || ' / ' || (SELECT count(*) FROM recommendation_stats)")

baseline() {
  local db=$1
  # Every key constraint and index of the four tables, as the catalog has them.
  psql -d "$db" -qAt >"$WORK/ddl.txt" <<'SQL'
SELECT 'DROPC|' || conrelid::regclass || '|' || quote_ident(conname) || '|' || pg_get_constraintdef(oid) || '|' || contype::text
FROM pg_constraint WHERE conrelid IN ('recommendations'::regclass, 'subscriber_360_profiles'::regclass,
  'subscriber_monthly_arpu'::regclass, 'recommendation_stats'::regclass) AND contype IN ('p', 'u', 'f')
ORDER BY contype = 'f' DESC;
SELECT 'DROPI|' || indexrelid::regclass || '|' || pg_get_indexdef(indexrelid)
FROM pg_index i WHERE indrelid IN ('recommendations'::regclass, 'subscriber_360_profiles'::regclass,
  'subscriber_monthly_arpu'::regclass, 'recommendation_stats'::regclass)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u'));
SQL
  {
    awk -F'|' '$1=="DROPC" {print "ALTER TABLE " $2 " DROP CONSTRAINT " $3 ";"}' "$WORK/ddl.txt"
    awk -F'|' '$1=="DROPI" {print "DROP INDEX " $2 ";"}' "$WORK/ddl.txt"
    for t in recommendations subscriber_360_profiles subscriber_monthly_arpu recommendation_stats; do
      echo "\\copy $t FROM '$WORK/$t.csv' WITH (FORMAT csv)"
    done
    awk -F'|' '$1=="DROPI" {print $3 ";"}' "$WORK/ddl.txt"
    awk -F'|' '$1=="DROPC" && $5!="f" {print "ALTER TABLE " $2 " ADD CONSTRAINT " $3 " " $4 ";"}' "$WORK/ddl.txt"
    awk -F'|' '$1=="DROPC" && $5=="f" {print "ALTER TABLE " $2 " ADD CONSTRAINT " $3 " " $4 ";"}' "$WORK/ddl.txt"
  } >"$WORK/baseline.sql"
  local t0 t1
  t0=$(now)
  psql -d "$db" -q -v ON_ERROR_STOP=1 -c "SET maintenance_work_mem = '512MB'" -f "$WORK/baseline.sql" >/dev/null
  t1=$(now)
  printf '%.1f\n' "$(echo "$t1 - $t0" | bc)"
}

load() {
  local db=$1 t0 t1
  t0=$(now)
  ConnectionStrings__Postgres="$(conn "$db")" ut load "$WORK/parquet" --rejects "$WORK/rejects.csv" >"$WORK/load.log"
  t1=$(now)
  printf '%.1f\n' "$(echo "$t1 - $t0" | bc)"
}

report() {
  B=$(median <"$WORK/base.txt"); L=$(median <"$WORK/load.txt")
  RATIO=$(echo "scale=2; $L / $B" | bc)
  LAST=$(grep -E '^time:' -A3 "$WORK/load.log" | tr -s ' \n' ' ' || true)
  echo "== medians: baseline ${B}s, ut360 load ${L}s, ratio ${RATIO}x (target <= 2x); generate ${GEN_PARQUET}s (target <= 10s)"

  mkdir -p "$ROOT/bench/results"
  cat >"$ROOT/bench/results/load.md" <<MD
# Load benchmark

Command: \`bench/load.sh $RUNS\` ($1 of $RUNS runs done) · $(date -u '+%Y-%m-%d %H:%M UTC') · $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)),
$(free -g | awk '/Mem:/ {print $2 " GB RAM"}') · PostgreSQL $(psql -d postgres -Atc 'SHOW server_version') · load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)

Default dataset (214,504 subscribers, 7 months). Rows per table (recommendations / profiles /
monthly / stats): $ROWS.

| step | median | runs (s) | target |
|---|---|---|---|
| generate, Parquet | ${GEN_PARQUET} s | 1 run | ≤ 10 s |
| generate, CSV | ${GEN_CSV} s | 1 run | |
| baseline: \`psql \\copy\` of the same rows as CSV, indexes and keys dropped before, rebuilt after | ${B} s | $(paste -sd' ' "$WORK/base.txt") | |
| \`ut360 load\` of the Parquet (read, checks, COPY, indexes, stats, data_loads) | ${L} s | $(paste -sd' ' "$WORK/load.txt") | |
| **ratio load / baseline** | **${RATIO}×** | | ≤ 2× |

Each run uses a fresh database (created and migrated untimed; all dropped at the end). The two sides
alternate so that they share the machine's background load. The last load's own breakdown:
\`$LAST\`
MD
  echo "wrote bench/results/load.md ($1 of $RUNS runs)"
}

: >"$WORK/base.txt"; : >"$WORK/load.txt"
for i in $(seq 1 "$RUNS"); do
  db=$(fresh_db "b$i"); b=$(baseline "$db"); echo "$b" >>"$WORK/base.txt"
  db=$(fresh_db "l$i"); l=$(load "$db"); echo "$l" >>"$WORK/load.txt"
  echo "== run $i: baseline ${b}s, ut360 load ${l}s"
  report "$i"
done
