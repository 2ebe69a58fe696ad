//! Full-text search over tickets: `GET /api/tickets/search`.

#![allow(
    unused_qualifications,
    reason = "utoipa's `params(...)` expansion qualifies the parameter type"
)]

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use foreman_domain::{SearchHit, SearchQuery, SnippetPart};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ReadAuth;
use crate::dto::usd;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ApiQuery;
use crate::state::AppState;
use crate::validate::{Int, Text};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search_tickets))
}

/// The longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 500;
/// The longest cursor accepted, in characters (a real one is far shorter).
pub const MAX_CURSOR_CHARS: usize = 1024;

/// A page size of search results and the history: 1 to 100.
pub(crate) type SearchLimit = Int<1, { foreman_domain::search::MAX_SEARCH_LIMIT as i64 }>;
/// An opaque cursor from a previous page.
pub(crate) type Cursor = Text<MAX_CURSOR_CHARS>;
/// A search query.
pub(crate) type QueryText = Text<MAX_QUERY_CHARS>;

/// A search.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchParams {
    /// What to look for: words (letters and digits; anything else separates them), all of
    /// which must match, the last one as a prefix. 1 to 500 characters.
    #[param(inline)]
    q: QueryText,
    /// Results per page: default 20, from 1 to 100.
    #[param(inline)]
    limit: Option<SearchLimit>,
    /// `next_cursor` of the previous page of the same query.
    #[param(inline)]
    cursor: Option<Cursor>,
}

/// A piece of a snippet.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SnippetPartDto {
    /// The text.
    text: String,
    /// Whether it is a matched word.
    highlighted: bool,
}

/// One matching ticket.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SearchResult {
    /// Ticket id.
    id: String,
    /// The tracker's id.
    external_id: String,
    /// Project.
    project: String,
    /// Title.
    title: String,
    /// Status.
    status: String,
    /// Total spend in USD.
    cost_usd: f64,
    /// Created.
    created_at: DateTime<Utc>,
    /// Last changed.
    updated_at: DateTime<Utc>,
    /// Relevance, higher is better; comparable within one query only.
    score: f64,
    /// A passage around the matches, as parts (matched words `highlighted`).
    snippet: Vec<SnippetPartDto>,
    /// The same passage as HTML: the text escaped, matched words in `<mark>`.
    snippet_html: String,
}

/// A page of search results.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SearchPage {
    /// The matches, best first.
    items: Vec<SearchResult>,
    /// Pass as `cursor` (with the same `q`) for the next page; `null` on the last one.
    next_cursor: Option<String>,
}

/// `text` with `&`, `<`, `>`, `"` and `'` escaped for HTML.
fn escape_html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// The snippet as HTML: escaped text, matches in `<mark>`.
pub(crate) fn snippet_html(parts: &[SnippetPart]) -> String {
    let mut out = String::new();
    for p in parts {
        if p.highlighted {
            out.push_str("<mark>");
            escape_html(&p.text, &mut out);
            out.push_str("</mark>");
        } else {
            escape_html(&p.text, &mut out);
        }
    }
    out
}

impl From<SearchHit> for SearchResult {
    fn from(h: SearchHit) -> Self {
        let t = h.ticket;
        Self {
            snippet_html: snippet_html(&h.snippet),
            snippet: h
                .snippet
                .into_iter()
                .map(|p| SnippetPartDto {
                    text: p.text,
                    highlighted: p.highlighted,
                })
                .collect(),
            id: t.id.to_string(),
            external_id: t.external_id,
            project: t.project,
            title: t.title,
            status: t.status.to_string(),
            cost_usd: usd(t.cost),
            created_at: t.created_at,
            updated_at: t.updated_at,
            score: h.score,
        }
    }
}

/// Search tickets: full text over title, description and acceptance criteria, plan, task
/// titles and the summaries of reviews and agents, best match first, with highlighted
/// snippets; cursor-paginated.
///
/// A query matching more than 1,000 tickets is ranked among its 1,000 newest matches (by
/// creation) only; its pages go through those.
///
/// 400 for a query without a letter or digit, a limit outside 1–100, or a malformed cursor or
/// one from another query.
#[utoipa::path(get, path = "/api/tickets/search", tag = "tickets", params(SearchParams),
    responses((status = 200, description = "matching tickets, best first", body = SearchPage),
        (status = 400, description = "bad q, limit or cursor", body = ErrorBody)))]
pub(crate) async fn search_tickets(
    _auth: ReadAuth,
    State(state): State<AppState>,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> ApiResult<Json<SearchPage>> {
    let page = state
        .store()
        .search_tickets(&SearchQuery {
            text: p.q.trimmed().to_owned(),
            limit: p.limit.map_or(0, Int::to),
            cursor: p.cursor.map(|c| c.trimmed().to_owned()),
        })
        .await?;
    Ok(Json(SearchPage {
        items: page.items.into_iter().map(SearchResult::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_html_snippet_escapes_text_and_marks_matches() {
        let parts = [
            SnippetPart {
                text: "<b>a & ".into(),
                highlighted: false,
            },
            SnippetPart {
                text: "\"x\"".into(),
                highlighted: true,
            },
        ];
        assert_eq!(
            snippet_html(&parts),
            "&lt;b&gt;a &amp; <mark>&quot;x&quot;</mark>"
        );
    }
}
