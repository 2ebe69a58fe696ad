#!/bin/sh
# Usage: bench/search-cost/pg_cost.sh [POSTGRES_URL]   (default postgres://postgres@127.0.0.1:5432/test)
# Creates and drops the schema bench_search_cost.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
URL=${1:-postgres://postgres@127.0.0.1:5432/test}
TSV=$(mktemp)
trap 'rm -f "$TSV"' EXIT
python3 "$HERE/docs_tsv.py" "$TSV"
psql -q "$URL" -f "$HERE/pg_cost.sql" < "$TSV"
