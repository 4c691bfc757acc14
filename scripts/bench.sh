#!/usr/bin/env bash
# make bench: runs tiersync's benches (and River's no-op drain when DATABASE_URL names a
# server to compare on), keeps the JSON lines in artifacts/bench.jsonl and rewrites the
# "Latest make bench" section of docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=artifacts/bench.jsonl
mkdir -p artifacts
: > "$out"
bin/tiersync-dev bench queue --jobs "${BENCH_JOBS:-50000}" --workers 16 2>/dev/null | tee -a "$out"
bin/tiersync-dev bench e2e --enrollments "${BENCH_E2E:-300}" 2>/dev/null | tee -a "$out"
bin/tiersync-dev bench expire --enrollments "${BENCH_EXPIRE:-100000}" 2>/dev/null | tee -a "$out"
if [ -n "${DATABASE_URL:-}" ]; then
  # River in a database of its own on the same server, dropped after.
  db="tiersync_river_$$"
  admin="${DATABASE_URL%/*}/postgres"
  psql "$admin" -qc "CREATE DATABASE $db"
  trap 'psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
  (cd bench/river && DATABASE_URL="${DATABASE_URL%/*}/$db" go run . --jobs "${BENCH_JOBS:-50000}" --workers 16) | tee -a "$out"
else
  echo "River skipped: set DATABASE_URL to a PostgreSQL server (a user with CREATEDB) to measure it beside tiersync" >&2
fi
machine="$(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB, $(go version | cut -d' ' -f3), $(postgres --version 2>/dev/null || /usr/lib/postgresql/*/bin/postgres --version)"
bin/tiersync-dev bench report --in "$out" --doc docs/benchmarks.md --machine "$machine${DATABASE_URL:+ (tiersync and River on the same server)}"
