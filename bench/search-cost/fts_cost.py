"""Where the time of a SQLite FTS5 search goes (docs/benchmarks.md, "Operations").

The schema of migration m20261207_000011_search (`ticket_search` and its external-content
FTS5 table) and the queries of crates/foreman-store/src/search.rs, on 100,000 documents drawn
like crates/foreman-store/benches/search.rs draws them. Prints, per query word, the median of
5 runs of: the ranked query as shipped, bm25 ordering inside `ticket_fts` alone, the match
without ranking, the snippet query as shipped and the snippet query restricted by rowid.

Usage: python3 bench/search-cost/fts_cost.py [WORK_DIR]   (the database is kept there)
"""
import os
import sqlite3
import sys
import tempfile
import time
M=(1<<64)-1
class Rng:
    def __init__(s,x): s.x=x
    def next(s):
        s.x=(s.x+0x9E3779B97F4A7C15)&M; z=s.x
        z=((z^(z>>30))*0xBF58476D1CE4E5B9)&M
        z=((z^(z>>27))*0x94D049BB133111EB)&M
        return z^(z>>31)
    def word(s):
        u=(s.next()>>11)/float(1<<53); return int(u*u*u*4000)
ON=["b","d","f","g","k","l","m","n","p","r","s","t","v","z","ch","sh"]; VO=["a","e","i","o","u"]
def syl(n): return ON[n%16]+VO[(n//16)%5]
def word(i): return syl(i%80)+syl((i//80)%80)+syl(i//6400)+"x"
work=sys.argv[1] if len(sys.argv)>1 else tempfile.mkdtemp()
path=os.path.join(work, "fts.db")
N=100000
if not os.path.exists(path):
    db=sqlite3.connect(path)
    db.executescript("""
    CREATE TABLE ticket_search (doc_id INTEGER PRIMARY KEY AUTOINCREMENT, ticket_id TEXT NOT NULL UNIQUE,
      external_id TEXT NOT NULL DEFAULT '', title TEXT NOT NULL DEFAULT '', body TEXT NOT NULL DEFAULT '',
      plan TEXT NOT NULL DEFAULT '', tasks TEXT NOT NULL DEFAULT '', summaries TEXT NOT NULL DEFAULT '');
    CREATE VIRTUAL TABLE ticket_fts USING fts5(external_id, title, body, plan, tasks, summaries, content='ticket_search',
      content_rowid='doc_id', tokenize='porter unicode61 remove_diacritics 2');
    CREATE TRIGGER ticket_search_ai AFTER INSERT ON ticket_search BEGIN
      INSERT INTO ticket_fts(rowid, external_id, title, body, plan, tasks, summaries) VALUES (new.doc_id, new.external_id, new.title, new.body, new.plan, new.tasks, new.summaries); END;
    """)
    r=Rng(7)
    rows=[]
    for k in range(N):
        t=" ".join(word(r.word()) for _ in range(7)); b=" ".join(word(r.word()) for _ in range(60))
        rows.append(("%032x"%k, "LOCAL-%d"%k, t, b+"\n"))
    db.executemany("INSERT INTO ticket_search(ticket_id, external_id, title, body) VALUES (?,?,?,?)", rows)
    db.commit(); db.close()
db=sqlite3.connect(path)
BM="bm25(ticket_fts, 10.0, 10.0, 4.0, 3.0, 3.0, 1.0)"
def t(sql,args,n=5):
    best=[]
    for _ in range(n):
        s=time.perf_counter(); rows=db.execute(sql,args).fetchall(); best.append(time.perf_counter()-s)
    best.sort(); return best[len(best)//2]*1000, len(rows)
for name,w in [("rare",word(3993)),("mid",word(400)),("common",word(20)),("most common",word(0))]:
    q='"%s"*'%w
    cnt=db.execute("SELECT count(*) FROM ticket_fts WHERE ticket_fts MATCH ?",(q,)).fetchone()[0]
    ranked=t(f"SELECT id, score FROM (SELECT s.ticket_id AS id, -{BM} AS score FROM ticket_fts JOIN ticket_search s ON s.doc_id = ticket_fts.rowid WHERE ticket_fts MATCH ?) ORDER BY score DESC, id ASC LIMIT 21",(q,))
    fts_only=t(f"SELECT rowid, {BM} AS r FROM ticket_fts WHERE ticket_fts MATCH ? ORDER BY r LIMIT 21",(q,))
    match_only=t("SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH ?",(q,))
    exact=t(f"SELECT rowid, {BM} AS r FROM ticket_fts WHERE ticket_fts MATCH ? ORDER BY r LIMIT 21",('"%s"'%w,))
    ids=[r[0] for r in db.execute(f"SELECT s.ticket_id FROM ticket_fts JOIN ticket_search s ON s.doc_id = ticket_fts.rowid WHERE ticket_fts MATCH ? ORDER BY {BM} LIMIT 20",(q,))]
    ph=",".join("?"*len(ids))
    snip=t(f"SELECT s.ticket_id AS id, snippet(ticket_fts, -1, '[', ']', '…', 16) FROM ticket_fts JOIN ticket_search s ON s.doc_id = ticket_fts.rowid WHERE ticket_fts MATCH ? AND s.ticket_id IN ({ph})",[q]+ids)
    rowids=[r[0] for r in db.execute(f"SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH ? ORDER BY {BM} LIMIT 20",(q,))]
    ph2=",".join("?"*len(rowids))
    snip2=t(f"SELECT rowid, snippet(ticket_fts, -1, '[', ']', '…', 16) FROM ticket_fts WHERE ticket_fts MATCH ? AND rowid IN ({ph2})",[q]+rowids)
    print(f"{name:12} {w:10} matches {cnt:6} | ranked (as shipped) {ranked[0]:7.1f} ms | bm25 in FTS only {fts_only[0]:7.1f} ms | match, no rank {match_only[0]:6.1f} ms | exact term (no prefix) ranked {exact[0]:7.1f} ms | snippets (as shipped) {snip[0]:7.1f} ms | snippets by rowid {snip2[0]:6.1f} ms")
