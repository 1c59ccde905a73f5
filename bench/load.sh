#!/usr/bin/env bash
# Load benchmark: for each data set size, generate it, then in fresh databases of its own compare
#   baseline: psql \copy of the same rows as CSV into the same four tables, with every index and
#             key constraint dropped before and rebuilt after (timed end to end), and
#   ut360 load of the Parquet files (read, checks, COPY, indexes, stats; timed end to end, as a
#             process, .NET start-up included; peak RSS from GNU time -v),
# alternating, RUNS times each; writes medians, ratios and peak RSS to bench/results/load.md.
# Usage: bench/load.sh [RUNS] [SUBSCRIBERS...]   (default 3 runs; sizes default: 214504 = the
# default data set, and 643512 = 3x). Needs the local PostgreSQL (./ut360 services up) and GNU
# time (apt-get install time).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${1:-3}"
shift || true
SIZES=("${@:-214504 643512}")
read -r -a SIZES <<<"${SIZES[*]}"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-${UT360_PG_PORT:-55432}}" PGUSER="${PGUSER:-postgres}"
[ -x /usr/bin/time ] || { echo "needs GNU time for peak RSS: apt-get install time" >&2; exit 1; }
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
  ConnectionStrings__Postgres="$(conn "$db")" /usr/bin/time -v -o "$WORK/load.time" \
    dotnet "$WORK/cli/Ut360.Cli.dll" load "$WORK/parquet" --rejects "$WORK/rejects.csv" >"$WORK/load.log"
  t1=$(now)
  printf '%.1f\n' "$(echo "$t1 - $t0" | bc)"
}

# One size: generate, export the baseline CSVs, then RUNS alternating rounds.
bench_size() {
  local n=$1
  rm -rf "$WORK/parquet" "$WORK"/*.csv
  echo "== generate $n subscribers (Parquet)"
  local t0 t1
  t0=$(now); ut generate --subscribers "$n" --out "$WORK/parquet" >/dev/null; t1=$(now)
  GEN=$(printf '%.1f' "$(echo "$t1 - $t0" | bc)")
  # The baseline copies the rows exactly as they stand in the tables after a load (profiles
  # carry the recommendation columns and recommendation_id, which the upstream profiles file
  # does not), so both sides write the same bytes into the same tables.
  echo "== baseline CSVs (one untimed load, exported)"
  local src; src=$(fresh_db "src$n")
  ConnectionStrings__Postgres="$(conn "$src")" ut load "$WORK/parquet" --rejects "$WORK/rejects.csv" >/dev/null
  for t in recommendations subscriber_360_profiles subscriber_monthly_arpu recommendation_stats; do
    psql -d "$src" -qc "\\copy (SELECT * FROM $t ORDER BY id) TO '$WORK/$t.csv' WITH (FORMAT csv)"
  done
  ROWS=$(psql -d "$src" -Atc "SELECT (SELECT count(*) FROM recommendations) || ' / ' || (SELECT count(*) FROM subscriber_360_profiles) || ' / ' || (SELECT count(*) FROM subscriber_monthly_arpu) || ' / ' || (SELECT count(*) FROM recommendation_stats)")
  dropdb --force "$src"
  : >"$WORK/base.txt"; : >"$WORK/load.txt"; : >"$WORK/rss.txt"
  local i db b l r
  for i in $(seq 1 "$RUNS"); do
    db=$(fresh_db "b${n}_$i"); b=$(baseline "$db"); echo "$b" >>"$WORK/base.txt"; dropdb --force "$db"
    db=$(fresh_db "l${n}_$i"); l=$(load "$db"); echo "$l" >>"$WORK/load.txt"; dropdb --force "$db"
    r=$(awk '/Maximum resident set size/ {printf "%.0f", $6 / 1024}' "$WORK/load.time"); echo "$r" >>"$WORK/rss.txt"
    echo "== $n, run $i: baseline ${b}s, ut360 load ${l}s, peak RSS ${r} MB"
  done
  local B L R RATIO
  B=$(median <"$WORK/base.txt"); L=$(median <"$WORK/load.txt"); R=$(median <"$WORK/rss.txt")
  RATIO=$(echo "scale=2; $L / $B" | bc)
  echo "| $n | $ROWS | ${GEN} s | ${B} s ($(paste -sd' ' "$WORK/base.txt")) | ${L} s ($(paste -sd' ' "$WORK/load.txt")) | **${RATIO}×** | **${R} MB** ($(paste -sd' ' "$WORK/rss.txt")) |" >>"$WORK/table.md"
  echo "$R" >>"$WORK/rss_by_size.txt"
  LAST=$(grep -E '^time:' -A3 "$WORK/load.log" | tr -s ' \n' ' ' || true)
  echo "- $n: \`$LAST\`" >>"$WORK/breakdown.md"
}

: >"$WORK/table.md"; : >"$WORK/rss_by_size.txt"; : >"$WORK/breakdown.md"
for n in "${SIZES[@]}"; do bench_size "$n"; done
FIRST=$(head -1 "$WORK/rss_by_size.txt"); LASTRSS=$(tail -1 "$WORK/rss_by_size.txt")
GROWTH=$(printf "%.2f" "$(echo "scale=4; $LASTRSS / $FIRST" | bc)")
mkdir -p "$ROOT/bench/results"
cat >"$ROOT/bench/results/load.md" <<MD
# Load benchmark

Command: \`bench/load.sh $RUNS ${SIZES[*]}\` · $(date -u '+%Y-%m-%d %H:%M UTC') · $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)),
$(free -g | awk '/Mem:/ {print $2 " GB RAM"}') · PostgreSQL $(psql -d postgres -Atc 'SHOW server_version') · load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)

Each size is generated (\`ut360 generate --subscribers N\`, 7 months), then loaded into fresh databases
(created and migrated untimed, dropped after): the baseline (\`psql \\copy\` of the same rows as CSV,
indexes and keys dropped before and rebuilt after) and \`ut360 load\` of the Parquet (read, checks,
COPY, indexes, stats, data_loads; as a process, .NET start-up included) alternate. Figures are
medians of the runs (each run in brackets); peak RSS is GNU \`time -v\`'s maximum resident set size
of the load process.

| subscribers | rows (rec / profiles / monthly / stats) | generate | baseline \`psql \\copy\` | \`ut360 load\` | load / baseline (target ≤ 2×) | peak RSS (target ≤ 500 MB) |
|---|---|---|---|---|---|---|
$(cat "$WORK/table.md")

Peak RSS of the largest size over the smallest: **${GROWTH}×** (target ≤ 1.1×).

The last load's own breakdown per size:
$(cat "$WORK/breakdown.md")
MD
echo "wrote bench/results/load.md"
