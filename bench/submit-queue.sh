#!/bin/sh
# Cost of `POST /api/tickets` against the queue's length (docs/benchmarks.md, "Operations").
#
# Starts a release `foreman-server --demo` (SQLite, API rate limits off, daemon drained) in a
# temporary directory, measures one connection submitting with `wrk` for 5 s, inserts 100,000
# queued tickets straight into its database, and measures again, with a given `external_id`
# and with a generated one. Needs `wrk` and `sqlite3`.
#
# Usage: bench/submit-queue.sh [SERVER_BINARY]   (default target/release/foreman-server)
set -eu
BIN=${1:-target/release/foreman-server}
HERE=$(cd "$(dirname "$0")" && pwd)
DIR=$(mktemp -d)
PORT=${PORT:-18901}
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT
printf '[dashboard]\nrequests_per_minute = 0\nwrite_requests_per_minute = 0\n' > "$DIR/foreman.toml"
env -u RUST_LOG -u ANTHROPIC_API_KEY -u OPENAI_API_KEY "$BIN" --demo --port "$PORT" \
    --data-dir "$DIR/data" --config "$DIR/foreman.toml" > "$DIR/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$PORT/api/health" > /dev/null && break; sleep 0.2; done
TOKEN=$(cat "$DIR/data/dashboard_token")
URL="http://127.0.0.1:$PORT"
curl -sf -XPOST -H "Authorization: Bearer $TOKEN" "$URL/api/daemon/drain" > /dev/null
sleep 5
queued() { curl -s -H "Authorization: Bearer $TOKEN" "$URL/api/stats" | grep -o '"queue_length":[0-9]*'; }
run() {
    echo "== $1, $(queued), load $(cut -d' ' -f1 /proc/loadavg)"
    wrk -t1 -c1 -d5s --latency -H "Authorization: Bearer $TOKEN" -s "$HERE/$1.lua" "$URL/api/tickets" |
        grep -E "Requests/sec|  50%|  99%|Non-2xx"
}
run submit-given-id
sqlite3 "$DIR/data/foreman.db" "PRAGMA busy_timeout = 10000; INSERT INTO tickets (id, project, \
external_id, title, description, acceptance_criteria, status, priority, labels, submitter, \
parent_id, branch_name, pr_url, pr_number, cost_micros, tokens_input, tokens_output, \
total_llm_calls, is_partial, last_completed_task_seq, last_error, last_error_type, fencing_token, \
lease_owner, lease_expires_at, created_at, updated_at, started_at, completed_at) \
WITH RECURSIVE c(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM c WHERE k < 100000) \
SELECT 'bench-' || k, 'default', 'BENCH-' || k, 'title ' || k, 'description', '', 'queued', 20, \
'[]', NULL, NULL, '', '', NULL, 0, 0, 0, 0, 0, 0, NULL, NULL, 0, NULL, NULL, \
1700000000000000 + k * 1000000, 1700000000000000 + k * 1000000, NULL, NULL FROM c;"
run submit-given-id
run submit-generated-id
