//! Full-text search over tickets, and the index of finished tickets the history reads.
//!
//! `ticket_search` holds one search document per ticket: its external id and title, its
//! description with the acceptance criteria (`body`), the planner's summary (`plan`), its task
//! titles (`tasks`) and the summaries its events carry (`summaries`, reviews and agents, the
//! latest 20,000 characters). Database triggers keep it current in the transaction of every
//! write that changes its sources (a ticket created, edited or deleted; a task created, renamed
//! or deleted; an event with a `summary` appended), so no writer has to remember it.
//!
//! The index itself differs by backend, the one place this schema branches:
//! - SQLite: an FTS5 table `ticket_fts` over `ticket_search` (external content, porter
//!   stemming over the `unicode61` tokenizer), kept in step by triggers on `ticket_search`;
//! - PostgreSQL: a generated `tsvector` column `document` (the `english` configuration,
//!   weighted A: id and title, B: body, C: plan and tasks, D: summaries) with a GIN index.
//!   Hyphens are read as spaces first, as the query's words are split (PostgreSQL's parser
//!   would read the `-123` of `PROJ-123` as a negative number).
//!
//! Both: an index on `(COALESCE(completed_at, updated_at), id)` of `tickets` for the history
//! of finished tickets, newest first.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The longest `summaries` kept, in characters (the latest ones win).
const SUMMARIES_CHARS: i32 = 20_000;

fn sqlite() -> Vec<String> {
    let cols = "external_id, title, body, plan, tasks, summaries";
    let new_cols = "new.external_id, new.title, new.body, new.plan, new.tasks, new.summaries";
    let old_cols = "old.external_id, old.title, old.body, old.plan, old.tasks, old.summaries";
    let task_titles = "(SELECT COALESCE(group_concat(title, char(10)), '') FROM \
         (SELECT title FROM tasks WHERE ticket_id = {t} ORDER BY sequence))";
    let summary = "json_extract(new.details, '$.summary')";
    let has_summary = "new.ticket_id IS NOT NULL AND new.details IS NOT NULL \
         AND instr(new.details, '\"summary\"') > 0 AND json_valid(new.details) \
         AND json_type(new.details, '$.summary') = 'text' \
         AND json_extract(new.details, '$.summary') <> ''";
    vec![
        "CREATE TABLE ticket_search (\
            doc_id INTEGER PRIMARY KEY AUTOINCREMENT, \
            ticket_id TEXT NOT NULL UNIQUE, \
            external_id TEXT NOT NULL DEFAULT '', \
            title TEXT NOT NULL DEFAULT '', \
            body TEXT NOT NULL DEFAULT '', \
            plan TEXT NOT NULL DEFAULT '', \
            tasks TEXT NOT NULL DEFAULT '', \
            summaries TEXT NOT NULL DEFAULT '')"
            .to_owned(),
        format!(
            "CREATE VIRTUAL TABLE ticket_fts USING fts5({cols}, content='ticket_search', \
             content_rowid='doc_id', tokenize='porter unicode61 remove_diacritics 2')"
        ),
        format!(
            "CREATE TRIGGER ticket_search_ai AFTER INSERT ON ticket_search BEGIN \
             INSERT INTO ticket_fts(rowid, {cols}) VALUES (new.doc_id, {new_cols}); END"
        ),
        format!(
            "CREATE TRIGGER ticket_search_ad AFTER DELETE ON ticket_search BEGIN \
             INSERT INTO ticket_fts(ticket_fts, rowid, {cols}) \
             VALUES ('delete', old.doc_id, {old_cols}); END"
        ),
        format!(
            "CREATE TRIGGER ticket_search_au AFTER UPDATE ON ticket_search BEGIN \
             INSERT INTO ticket_fts(ticket_fts, rowid, {cols}) \
             VALUES ('delete', old.doc_id, {old_cols}); \
             INSERT INTO ticket_fts(rowid, {cols}) VALUES (new.doc_id, {new_cols}); END"
        ),
        "CREATE TRIGGER tickets_search_ai AFTER INSERT ON tickets BEGIN \
         INSERT INTO ticket_search(ticket_id, external_id, title, body) VALUES \
         (new.id, new.external_id, new.title, \
          new.description || char(10) || new.acceptance_criteria); END"
            .to_owned(),
        "CREATE TRIGGER tickets_search_au \
         AFTER UPDATE OF external_id, title, description, acceptance_criteria ON tickets \
         WHEN old.external_id IS NOT new.external_id OR old.title IS NOT new.title \
           OR old.description IS NOT new.description \
           OR old.acceptance_criteria IS NOT new.acceptance_criteria \
         BEGIN UPDATE ticket_search SET external_id = new.external_id, title = new.title, \
           body = new.description || char(10) || new.acceptance_criteria \
           WHERE ticket_id = new.id; END"
            .to_owned(),
        "CREATE TRIGGER tickets_search_ad AFTER DELETE ON tickets BEGIN \
         DELETE FROM ticket_search WHERE ticket_id = old.id; END"
            .to_owned(),
        format!(
            "CREATE TRIGGER tasks_search_ai AFTER INSERT ON tasks BEGIN \
             UPDATE ticket_search SET tasks = {} WHERE ticket_id = new.ticket_id; END",
            task_titles.replace("{t}", "new.ticket_id")
        ),
        format!(
            "CREATE TRIGGER tasks_search_au AFTER UPDATE OF title ON tasks \
             WHEN old.title IS NOT new.title BEGIN \
             UPDATE ticket_search SET tasks = {} WHERE ticket_id = new.ticket_id; END",
            task_titles.replace("{t}", "new.ticket_id")
        ),
        format!(
            "CREATE TRIGGER tasks_search_ad AFTER DELETE ON tasks BEGIN \
             UPDATE ticket_search SET tasks = {} WHERE ticket_id = old.ticket_id; END",
            task_titles.replace("{t}", "old.ticket_id")
        ),
        format!(
            "CREATE TRIGGER events_search_ai AFTER INSERT ON events WHEN {has_summary} BEGIN \
             UPDATE ticket_search SET \
               plan = CASE WHEN new.event_type = 'plan_created' THEN {summary} ELSE plan END, \
               summaries = CASE WHEN new.event_type = 'plan_created' THEN summaries \
                 WHEN summaries = '' THEN substr({summary}, -{SUMMARIES_CHARS}) \
                 ELSE substr(summaries || char(10) || {summary}, -{SUMMARIES_CHARS}) END \
             WHERE ticket_id = new.ticket_id; END"
        ),
        // what exists already
        "INSERT INTO ticket_search(ticket_id, external_id, title, body) \
         SELECT id, external_id, title, description || char(10) || acceptance_criteria \
         FROM tickets"
            .to_owned(),
        format!(
            "UPDATE ticket_search SET tasks = {}",
            task_titles.replace("{t}", "ticket_search.ticket_id")
        ),
        "UPDATE ticket_search SET plan = COALESCE((SELECT json_extract(e.details, '$.summary') \
         FROM events e WHERE e.ticket_id = ticket_search.ticket_id \
         AND e.event_type = 'plan_created' AND json_valid(e.details) \
         AND json_type(e.details, '$.summary') = 'text' ORDER BY e.seq DESC LIMIT 1), '')"
            .to_owned(),
        format!(
            "UPDATE ticket_search SET summaries = COALESCE(substr((SELECT \
             group_concat(s, char(10)) FROM (SELECT json_extract(e.details, '$.summary') AS s \
             FROM events e WHERE e.ticket_id = ticket_search.ticket_id \
             AND e.event_type <> 'plan_created' AND instr(e.details, '\"summary\"') > 0 \
             AND json_valid(e.details) AND json_type(e.details, '$.summary') = 'text' \
             AND json_extract(e.details, '$.summary') <> '' ORDER BY e.seq)), \
             -{SUMMARIES_CHARS}), '')"
        ),
        "CREATE INDEX ix_tickets_finished ON tickets (COALESCE(completed_at, updated_at), id)"
            .to_owned(),
    ]
}

fn postgres() -> Vec<String> {
    let task_titles = "(SELECT COALESCE(string_agg(title, E'\\n' ORDER BY sequence), '') \
         FROM tasks WHERE ticket_id = {t})";
    vec![
        "CREATE TABLE ticket_search (\
            ticket_id TEXT PRIMARY KEY REFERENCES tickets(id) ON DELETE CASCADE, \
            external_id TEXT NOT NULL DEFAULT '', \
            title TEXT NOT NULL DEFAULT '', \
            body TEXT NOT NULL DEFAULT '', \
            plan TEXT NOT NULL DEFAULT '', \
            tasks TEXT NOT NULL DEFAULT '', \
            summaries TEXT NOT NULL DEFAULT '', \
            document tsvector GENERATED ALWAYS AS (\
              setweight(to_tsvector('english'::regconfig, translate(external_id, '-', ' ')), 'A') || \
              setweight(to_tsvector('english'::regconfig, translate(title, '-', ' ')), 'A') || \
              setweight(to_tsvector('english'::regconfig, translate(body, '-', ' ')), 'B') || \
              setweight(to_tsvector('english'::regconfig, \
                translate(plan || ' ' || tasks, '-', ' ')), 'C') || \
              setweight(to_tsvector('english'::regconfig, translate(summaries, '-', ' ')), 'D')) \
              STORED)"
            .to_owned(),
        "CREATE INDEX ix_ticket_search_document ON ticket_search USING GIN (document)".to_owned(),
        // the `summary` of an event's details, or NULL (details that are not JSON included)
        "CREATE FUNCTION foreman_event_summary(details text) RETURNS text \
         LANGUAGE plpgsql IMMUTABLE AS $$ \
         DECLARE s text; \
         BEGIN \
           IF details IS NULL OR position('\"summary\"' in details) = 0 THEN RETURN NULL; END IF; \
           BEGIN \
             IF jsonb_typeof(details::jsonb) <> 'object' \
               OR jsonb_typeof(details::jsonb -> 'summary') <> 'string' THEN RETURN NULL; END IF; \
             s := details::jsonb ->> 'summary'; \
           EXCEPTION WHEN others THEN RETURN NULL; \
           END; \
           RETURN NULLIF(s, ''); \
         END $$"
            .to_owned(),
        "CREATE FUNCTION foreman_search_ticket() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
           IF TG_OP = 'INSERT' THEN \
             INSERT INTO ticket_search(ticket_id, external_id, title, body) VALUES \
               (NEW.id, NEW.external_id, NEW.title, \
                NEW.description || E'\\n' || NEW.acceptance_criteria) \
               ON CONFLICT (ticket_id) DO NOTHING; \
           ELSE \
             UPDATE ticket_search SET external_id = NEW.external_id, title = NEW.title, \
               body = NEW.description || E'\\n' || NEW.acceptance_criteria \
               WHERE ticket_id = NEW.id; \
           END IF; \
           RETURN NULL; \
         END $$"
            .to_owned(),
        "CREATE TRIGGER tickets_search_ai AFTER INSERT ON tickets \
         FOR EACH ROW EXECUTE FUNCTION foreman_search_ticket()"
            .to_owned(),
        "CREATE TRIGGER tickets_search_au \
         AFTER UPDATE OF external_id, title, description, acceptance_criteria ON tickets \
         FOR EACH ROW WHEN (OLD.external_id IS DISTINCT FROM NEW.external_id \
           OR OLD.title IS DISTINCT FROM NEW.title \
           OR OLD.description IS DISTINCT FROM NEW.description \
           OR OLD.acceptance_criteria IS DISTINCT FROM NEW.acceptance_criteria) \
         EXECUTE FUNCTION foreman_search_ticket()"
            .to_owned(),
        format!(
            "CREATE FUNCTION foreman_search_tasks() RETURNS trigger LANGUAGE plpgsql AS $$ \
             DECLARE t text; \
             BEGIN \
               IF TG_OP = 'DELETE' THEN t := OLD.ticket_id; ELSE t := NEW.ticket_id; END IF; \
               UPDATE ticket_search SET tasks = {} WHERE ticket_id = t; \
               RETURN NULL; \
             END $$",
            task_titles.replace("{t}", "t")
        ),
        "CREATE TRIGGER tasks_search_aiud AFTER INSERT OR DELETE OR UPDATE OF title ON tasks \
         FOR EACH ROW EXECUTE FUNCTION foreman_search_tasks()"
            .to_owned(),
        format!(
            "CREATE FUNCTION foreman_search_event() RETURNS trigger LANGUAGE plpgsql AS $$ \
             DECLARE s text := foreman_event_summary(NEW.details); \
             BEGIN \
               IF s IS NULL THEN RETURN NULL; END IF; \
               IF NEW.event_type = 'plan_created' THEN \
                 UPDATE ticket_search SET plan = s WHERE ticket_id = NEW.ticket_id; \
               ELSE \
                 UPDATE ticket_search SET summaries = right(CASE WHEN summaries = '' THEN s \
                   ELSE summaries || E'\\n' || s END, {SUMMARIES_CHARS}) \
                   WHERE ticket_id = NEW.ticket_id; \
               END IF; \
               RETURN NULL; \
             END $$"
        ),
        "CREATE TRIGGER events_search_ai AFTER INSERT ON events FOR EACH ROW \
         WHEN (NEW.ticket_id IS NOT NULL AND NEW.details IS NOT NULL \
           AND position('\"summary\"' in NEW.details) > 0) \
         EXECUTE FUNCTION foreman_search_event()"
            .to_owned(),
        // what exists already
        format!(
            "INSERT INTO ticket_search(ticket_id, external_id, title, body, tasks) \
             SELECT id, external_id, title, description || E'\\n' || acceptance_criteria, {} \
             FROM tickets",
            task_titles.replace("{t}", "tickets.id")
        ),
        "UPDATE ticket_search SET plan = COALESCE((SELECT foreman_event_summary(e.details) \
         FROM events e WHERE e.ticket_id = ticket_search.ticket_id \
         AND e.event_type = 'plan_created' AND foreman_event_summary(e.details) IS NOT NULL \
         ORDER BY e.seq DESC LIMIT 1), '')"
            .to_owned(),
        format!(
            "UPDATE ticket_search SET summaries = COALESCE(right((SELECT \
             string_agg(foreman_event_summary(e.details), E'\\n' ORDER BY e.seq) \
             FROM events e WHERE e.ticket_id = ticket_search.ticket_id \
             AND e.event_type <> 'plan_created'), {SUMMARIES_CHARS}), '')"
        ),
        "CREATE INDEX ix_tickets_finished ON tickets ((COALESCE(completed_at, updated_at)), id)"
            .to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let statements = match m.get_database_backend() {
            DbBackend::Postgres => postgres(),
            _ => sqlite(),
        };
        let db = m.get_connection();
        for sql in statements {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }
}
