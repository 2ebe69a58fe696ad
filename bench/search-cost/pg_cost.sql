-- Where the time of a PostgreSQL search goes (docs/benchmarks.md, "Operations"): the
-- `ticket_search` table of migration m20261207_000011_search and the ranked query of
-- crates/foreman-store/src/search.rs, under EXPLAIN ANALYZE. Run through pg_cost.sh (the
-- documents come on standard input).
DROP SCHEMA IF EXISTS bench_search_cost CASCADE;
CREATE SCHEMA bench_search_cost;
SET search_path = bench_search_cost;
CREATE TABLE ticket_search (ticket_id TEXT PRIMARY KEY, external_id TEXT NOT NULL DEFAULT '', title TEXT NOT NULL DEFAULT '', body TEXT NOT NULL DEFAULT '', plan TEXT NOT NULL DEFAULT '', tasks TEXT NOT NULL DEFAULT '', summaries TEXT NOT NULL DEFAULT '',
 document tsvector GENERATED ALWAYS AS (
  setweight(to_tsvector('english'::regconfig, translate(external_id, '-', ' ')), 'A') ||
  setweight(to_tsvector('english'::regconfig, translate(title, '-', ' ')), 'A') ||
  setweight(to_tsvector('english'::regconfig, translate(body, '-', ' ')), 'B') ||
  setweight(to_tsvector('english'::regconfig, translate(plan || ' ' || tasks, '-', ' ')), 'C') ||
  setweight(to_tsvector('english'::regconfig, translate(summaries, '-', ' ')), 'D')) STORED);
CREATE INDEX ix_ticket_search_document ON ticket_search USING GIN (document);
\copy ticket_search(ticket_id, external_id, title, body) FROM pstdin
ANALYZE ticket_search;
\timing on
SELECT count(*) FROM ticket_search s WHERE s.document @@ to_tsquery('english','kebabax:*');
EXPLAIN (ANALYZE, BUFFERS) SELECT id, score FROM (SELECT s.ticket_id AS id, ts_rank(s.document, q, 1)::float8 AS score FROM ticket_search s, to_tsquery('english', 'kebabax:*') q WHERE s.document @@ q) m ORDER BY score DESC, id ASC LIMIT 21;
EXPLAIN (ANALYZE, BUFFERS) SELECT s.ticket_id FROM ticket_search s WHERE s.document @@ to_tsquery('english','kebabax:*') LIMIT 21;
EXPLAIN (ANALYZE, BUFFERS) SELECT id, score FROM (SELECT s.ticket_id AS id, ts_rank(s.document, q, 1)::float8 AS score FROM ticket_search s, to_tsquery('english', 'kebabax') q WHERE s.document @@ q) m ORDER BY score DESC, id ASC LIMIT 21;
EXPLAIN (ANALYZE, BUFFERS) SELECT id, score FROM (SELECT s.ticket_id AS id, ts_rank(s.document, q, 1)::float8 AS score FROM ticket_search s, to_tsquery('english', 'rudobax:*') q WHERE s.document @@ q) m ORDER BY score DESC, id ASC LIMIT 21;
EXPLAIN (ANALYZE, BUFFERS) SELECT id, score FROM (SELECT s.ticket_id AS id, ts_rank(s.document, q, 1)::float8 AS score FROM ticket_search s, to_tsquery('english', 'bababax:*') q WHERE s.document @@ q) m ORDER BY score DESC, id ASC LIMIT 21;
DROP SCHEMA bench_search_cost CASCADE;
