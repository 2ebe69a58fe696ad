//! Recently rendered ticket pages and details, kept with what they were rendered from so a
//! hot response is served without reading, serialising and hashing it again, and never stale.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use axum::http::HeaderValue;
use chrono::{DateTime, Utc};
use foreman_domain::{Micros, Page, Ticket, TicketFilter, TicketId, TicketOptions, TicketStatus};

use crate::dto::{TicketDetail, TicketListItem, TicketSummary};
use crate::error::{ApiError, ApiResult};
use crate::etag::etag_of;
use crate::queue::QueueView;

/// The two JSON shapes of a ticket page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageShape {
    /// `GET /api/tickets`: [`TicketListItem`]s.
    List,
    /// `GET /api/ticket-summaries`: [`TicketSummary`]s.
    Summaries,
}

impl PageShape {
    #[cfg(test)]
    pub(crate) fn render(self, items: &[Ticket]) -> ApiResult<Vec<u8>> {
        self.render_queued(items, None)
    }

    /// The page with the place of its queued tickets (list items only).
    pub(crate) fn render_queued(
        self,
        items: &[Ticket],
        queue: Option<&QueueView>,
    ) -> ApiResult<Vec<u8>> {
        let json = match self {
            Self::List => serde_json::to_vec(
                &items
                    .iter()
                    .map(|t| TicketListItem::from(t).queued(queue.and_then(|q| q.entry(&t.id))))
                    .collect::<Vec<_>>(),
            ),
            Self::Summaries => {
                serde_json::to_vec(&items.iter().map(TicketSummary::from).collect::<Vec<_>>())
            }
        };
        json.map_err(ApiError::internal)
    }
}

/// A rendered page and what it was rendered from.
#[derive(Debug)]
struct Rendered {
    shape: PageShape,
    filter: TicketFilter,
    /// The store's ticket generation the page is known current at.
    generation: Option<u64>,
    page: Page<Ticket>,
    /// The queue the page's queued tickets were placed in.
    queue: Option<Arc<QueueView>>,
    body: Bytes,
    etag: HeaderValue,
}

/// Whether two renderings used the same queue view (or none).
fn same_queue(a: Option<&Arc<QueueView>>, b: Option<&Arc<QueueView>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}

/// Whether a body rendered with `queue` may still be served.
fn queue_fresh(queue: Option<&Arc<QueueView>>) -> bool {
    queue.is_none_or(|q| q.is_fresh())
}

/// A rendered ticket detail and the ticket it was rendered from.
#[derive(Debug)]
struct RenderedTicket {
    /// The store's ticket generation the ticket is known current at.
    generation: Option<u64>,
    ticket: Ticket,
    /// What it was submitted with.
    options: TicketOptions,
    /// The queue it was placed in, when queued.
    queue: Option<Arc<QueueView>>,
    body: Bytes,
    etag: HeaderValue,
}

/// Most rendered pages kept.
const RENDERED_PAGES: usize = 64;
/// Most rendered ticket details kept.
const RENDERED_TICKETS: usize = 1024;

/// Recently rendered ticket pages and details. A body is served from here only when the store
/// returned exactly what it was rendered from (the body is a function of that), or when the
/// store's ticket generation has not moved since it did, so it is never stale: the store
/// decides what is current, this saves the reading, serialisation and hashing of hot
/// responses.
#[derive(Debug, Default)]
pub(crate) struct RenderedResponses {
    entries: Mutex<Vec<Arc<Rendered>>>,
    tickets: Mutex<HashMap<TicketId, Arc<RenderedTicket>>>,
}

impl RenderedResponses {
    fn lock(&self) -> MutexGuard<'_, Vec<Arc<Rendered>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The detail of ticket `id` rendered while the store's ticket generation was already
    /// `generation`.
    pub(crate) fn detail_at(&self, id: &str, generation: u64) -> Option<(Bytes, HeaderValue)> {
        let tickets = self.tickets.lock().unwrap_or_else(PoisonError::into_inner);
        let r = tickets.get(&TicketId::from(id))?;
        (r.generation == Some(generation) && queue_fresh(r.queue.as_ref()))
            .then(|| (r.body.clone(), r.etag.clone()))
    }

    /// The body and tag of `ticket`'s detail (read at `generation`), rendered now or earlier.
    #[cfg(test)]
    pub(crate) fn detail(
        &self,
        ticket: Ticket,
        generation: Option<u64>,
    ) -> ApiResult<(Bytes, HeaderValue)> {
        self.detail_submitted(ticket, TicketOptions::default(), None, generation)
    }

    /// [`Self::detail`] with what the ticket was submitted with and, when it is queued, the
    /// queue it stands in.
    pub(crate) fn detail_submitted(
        &self,
        ticket: Ticket,
        options: TicketOptions,
        queue: Option<Arc<QueueView>>,
        generation: Option<u64>,
    ) -> ApiResult<(Bytes, HeaderValue)> {
        let known = self
            .tickets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&ticket.id)
            .cloned();
        let (body, etag) = match known {
            Some(r)
                if r.ticket == ticket
                    && r.options == options
                    && same_queue(r.queue.as_ref(), queue.as_ref()) =>
            {
                if r.generation == generation {
                    return Ok((r.body.clone(), r.etag.clone()));
                }
                (r.body.clone(), r.etag.clone())
            }
            _ => {
                let entry = queue.as_ref().and_then(|q| q.entry(&ticket.id));
                let detail = TicketDetail::from(&ticket).submitted(&options, entry);
                let body = Bytes::from(serde_json::to_vec(&detail).map_err(ApiError::internal)?);
                let etag = etag_of(&body);
                (body, etag)
            }
        };
        let mut tickets = self.tickets.lock().unwrap_or_else(PoisonError::into_inner);
        if tickets.len() >= RENDERED_TICKETS && !tickets.contains_key(&ticket.id) {
            tickets.clear();
        }
        tickets.insert(
            ticket.id.clone(),
            Arc::new(RenderedTicket {
                generation,
                ticket,
                options,
                queue,
                body: body.clone(),
                etag: etag.clone(),
            }),
        );
        Ok((body, etag))
    }

    /// The page of `filter` in `shape` rendered while the store's ticket generation was already
    /// `generation`: its body, tag and next cursor.
    pub(crate) fn page_at(
        &self,
        shape: PageShape,
        filter: &TicketFilter,
        generation: u64,
    ) -> Option<(Bytes, HeaderValue, Option<String>)> {
        self.lock()
            .iter()
            .find(|r| {
                r.shape == shape
                    && r.filter == *filter
                    && r.generation == Some(generation)
                    && queue_fresh(r.queue.as_ref())
            })
            .map(|r| (r.body.clone(), r.etag.clone(), r.page.next_cursor.clone()))
    }

    /// The body and tag of `page` (read at `generation`) in `shape`, rendered now or earlier.
    #[cfg(test)]
    pub(crate) fn get_or_render(
        &self,
        shape: PageShape,
        filter: &TicketFilter,
        page: Page<Ticket>,
        generation: Option<u64>,
    ) -> ApiResult<(Bytes, HeaderValue)> {
        self.get_or_render_queued(shape, filter, page, generation, None)
    }

    /// [`Self::get_or_render`] with the queue its queued tickets stand in.
    pub(crate) fn get_or_render_queued(
        &self,
        shape: PageShape,
        filter: &TicketFilter,
        page: Page<Ticket>,
        generation: Option<u64>,
        queue: Option<Arc<QueueView>>,
    ) -> ApiResult<(Bytes, HeaderValue)> {
        let known = self
            .lock()
            .iter()
            .find(|r| r.shape == shape && r.filter == *filter)
            .cloned();
        let (body, etag) = match known {
            Some(r)
                if same_listing(&r.page, &page) && same_queue(r.queue.as_ref(), queue.as_ref()) =>
            {
                if r.generation == generation {
                    return Ok((r.body.clone(), r.etag.clone()));
                }
                (r.body.clone(), r.etag.clone())
            }
            _ => {
                let body = Bytes::from(shape.render_queued(&page.items, queue.as_deref())?);
                let etag = etag_of(&body);
                (body, etag)
            }
        };
        let rendered = Arc::new(Rendered {
            shape,
            filter: filter.clone(),
            generation,
            page,
            queue,
            body: body.clone(),
            etag: etag.clone(),
        });
        let mut entries = self.lock();
        entries.retain(|r| !(r.shape == shape && r.filter == *filter));
        if entries.len() >= RENDERED_PAGES {
            entries.remove(0);
        }
        entries.push(rendered);
        Ok((body, etag))
    }
}

/// The fields of a ticket that either page shape renders (cheapest to compare first).
#[allow(
    clippy::type_complexity,
    reason = "a tuple of borrowed fields is the point: it compares field by field"
)]
fn listed(
    t: &Ticket,
) -> (
    (
        DateTime<Utc>,
        TicketStatus,
        &TicketId,
        Micros,
        i64,
        bool,
        i32,
    ),
    (
        &str,
        &str,
        &str,
        &Option<String>,
        &str,
        &Option<String>,
        DateTime<Utc>,
    ),
) {
    (
        (
            t.updated_at,
            t.status,
            &t.id,
            t.cost,
            t.total_llm_calls,
            t.is_partial,
            t.priority,
        ),
        (
            &t.title,
            &t.external_id,
            &t.project,
            &t.submitter,
            &t.pr_url,
            &t.last_error,
            t.created_at,
        ),
    )
}

/// Whether two pages render the same in every [`PageShape`].
fn same_listing(a: &Page<Ticket>, b: &Page<Ticket>) -> bool {
    a.items.len() == b.items.len()
        && a.items
            .iter()
            .zip(&b.items)
            .all(|(x, y)| listed(x) == listed(y))
}

#[cfg(test)]
mod tests {
    use foreman_domain::{FencingToken, NewTicket};

    use super::*;

    fn ticket() -> Ticket {
        let at = foreman_domain::micros_to_time(1_700_000_000_000_000);
        let new = NewTicket {
            project: "default".into(),
            external_id: "X-1".into(),
            title: "title".into(),
            description: "description".into(),
            acceptance_criteria: "criteria".into(),
            priority: 1,
            labels: vec!["a".into()],
            submitter: Some("someone".into()),
            parent_id: None,
        };
        Ticket::from_new(TicketId::from("t-1"), "default".into(), new, at)
    }

    /// Every field of `Ticket`, changed one at a time.
    fn variants() -> Vec<(&'static str, Ticket)> {
        let t = ticket;
        let later = foreman_domain::micros_to_time(1_800_000_000_000_000);
        vec![
            (
                "id",
                Ticket {
                    id: TicketId::from("t-2"),
                    ..t()
                },
            ),
            (
                "project",
                Ticket {
                    project: "other".into(),
                    ..t()
                },
            ),
            (
                "external_id",
                Ticket {
                    external_id: "X-2".into(),
                    ..t()
                },
            ),
            (
                "title",
                Ticket {
                    title: "other".into(),
                    ..t()
                },
            ),
            (
                "description",
                Ticket {
                    description: "other".into(),
                    ..t()
                },
            ),
            (
                "acceptance_criteria",
                Ticket {
                    acceptance_criteria: "other".into(),
                    ..t()
                },
            ),
            (
                "status",
                Ticket {
                    status: TicketStatus::Planning,
                    ..t()
                },
            ),
            ("priority", Ticket { priority: 2, ..t() }),
            (
                "labels",
                Ticket {
                    labels: vec![],
                    ..t()
                },
            ),
            (
                "submitter",
                Ticket {
                    submitter: None,
                    ..t()
                },
            ),
            (
                "parent_id",
                Ticket {
                    parent_id: Some(TicketId::from("p")),
                    ..t()
                },
            ),
            (
                "branch_name",
                Ticket {
                    branch_name: "b".into(),
                    ..t()
                },
            ),
            (
                "pr_url",
                Ticket {
                    pr_url: "https://x/1".into(),
                    ..t()
                },
            ),
            (
                "pr_number",
                Ticket {
                    pr_number: Some(1),
                    ..t()
                },
            ),
            (
                "cost",
                Ticket {
                    cost: Micros(5),
                    ..t()
                },
            ),
            (
                "tokens_input",
                Ticket {
                    tokens_input: 1,
                    ..t()
                },
            ),
            (
                "tokens_output",
                Ticket {
                    tokens_output: 1,
                    ..t()
                },
            ),
            (
                "total_llm_calls",
                Ticket {
                    total_llm_calls: 1,
                    ..t()
                },
            ),
            (
                "is_partial",
                Ticket {
                    is_partial: true,
                    ..t()
                },
            ),
            (
                "last_completed_task_seq",
                Ticket {
                    last_completed_task_seq: 1,
                    ..t()
                },
            ),
            (
                "last_error",
                Ticket {
                    last_error: Some("e".into()),
                    ..t()
                },
            ),
            (
                "last_error_type",
                Ticket {
                    last_error_type: Some("e".into()),
                    ..t()
                },
            ),
            (
                "fencing_token",
                Ticket {
                    fencing_token: FencingToken(1),
                    ..t()
                },
            ),
            (
                "lease_owner",
                Ticket {
                    lease_owner: Some("w".into()),
                    ..t()
                },
            ),
            (
                "lease_expires_at",
                Ticket {
                    lease_expires_at: Some(later),
                    ..t()
                },
            ),
            (
                "created_at",
                Ticket {
                    created_at: later,
                    ..t()
                },
            ),
            (
                "updated_at",
                Ticket {
                    updated_at: later,
                    ..t()
                },
            ),
            (
                "started_at",
                Ticket {
                    started_at: Some(later),
                    ..t()
                },
            ),
            (
                "completed_at",
                Ticket {
                    completed_at: Some(later),
                    ..t()
                },
            ),
        ]
    }

    fn page(t: Ticket) -> Page<Ticket> {
        Page {
            items: vec![t],
            next_cursor: None,
        }
    }

    /// A rendered page is reused only when the store's page renders identically: for every
    /// field, `same_listing` says "same" exactly when both shapes render the same bytes.
    #[test]
    fn reuse_follows_what_the_shapes_render() {
        let base = ticket();
        for (field, changed) in variants() {
            let renders_same = [PageShape::List, PageShape::Summaries].iter().all(|shape| {
                shape.render(std::slice::from_ref(&base)).unwrap()
                    == shape.render(std::slice::from_ref(&changed)).unwrap()
            });
            assert_eq!(
                same_listing(&page(base.clone()), &page(changed.clone())),
                renders_same,
                "field {field}"
            );
        }
        assert!(!same_listing(
            &page(base.clone()),
            &Page {
                items: vec![],
                next_cursor: None
            }
        ));
    }

    #[test]
    fn a_changed_page_is_rendered_again() {
        let pages = RenderedResponses::default();
        let filter = TicketFilter::default();
        let (first, tag) = pages
            .get_or_render(PageShape::List, &filter, page(ticket()), None)
            .unwrap();
        let (again, same_tag) = pages
            .get_or_render(PageShape::List, &filter, page(ticket()), None)
            .unwrap();
        assert_eq!(first, again);
        assert_eq!(tag, same_tag);
        assert_eq!(tag, etag_of(&first));
        let renamed = Ticket {
            title: "renamed".into(),
            ..ticket()
        };
        let (changed, new_tag) = pages
            .get_or_render(PageShape::List, &filter, page(renamed), None)
            .unwrap();
        assert_ne!(tag, new_tag);
        assert!(String::from_utf8_lossy(&changed).contains("renamed"));
        let (cards, _) = pages
            .get_or_render(PageShape::Summaries, &filter, page(ticket()), None)
            .unwrap();
        assert_ne!(cards, first, "each shape has its own rendering");
    }

    #[test]
    fn a_changed_ticket_is_rendered_again() {
        let rendered = RenderedResponses::default();
        let (first, tag) = rendered.detail(ticket(), None).unwrap();
        let (again, same_tag) = rendered.detail(ticket(), None).unwrap();
        assert_eq!((&first, &tag), (&again, &same_tag));
        assert_eq!(
            first,
            serde_json::to_vec(&TicketDetail::from(&ticket())).unwrap()
        );
        for (field, changed) in variants() {
            let expected = serde_json::to_vec(&TicketDetail::from(&changed)).unwrap();
            let (body, etag) = rendered.detail(changed, None).unwrap();
            assert_eq!(body, expected, "field {field}");
            assert_eq!(etag, etag_of(&body), "field {field}");
            // Back to the original for the next variant.
            assert_eq!(
                rendered.detail(ticket(), None).unwrap().0,
                first,
                "field {field}"
            );
        }
    }

    #[test]
    fn a_page_or_ticket_is_served_without_reading_only_at_its_generation() {
        let rendered = RenderedResponses::default();
        let filter = TicketFilter::default();
        assert!(rendered.page_at(PageShape::List, &filter, 7).is_none());
        let mut next = page(ticket());
        next.next_cursor = Some("c1".into());
        let (body, tag) = rendered
            .get_or_render(PageShape::List, &filter, next, Some(7))
            .unwrap();
        assert_eq!(
            rendered.page_at(PageShape::List, &filter, 7),
            Some((body.clone(), tag.clone(), Some("c1".into())))
        );
        assert!(rendered.page_at(PageShape::List, &filter, 8).is_none());
        assert!(rendered.page_at(PageShape::Summaries, &filter, 7).is_none());
        // read again under a newer generation, unchanged: the same body, now known at 8
        let (again, _) = rendered
            .get_or_render(PageShape::List, &filter, page(ticket()), Some(8))
            .unwrap();
        assert_eq!(again, body);
        assert!(rendered.page_at(PageShape::List, &filter, 8).is_some());
        assert!(rendered.page_at(PageShape::List, &filter, 7).is_none());
        // a store that cannot tell never serves without reading
        rendered
            .get_or_render(PageShape::List, &filter, page(ticket()), None)
            .unwrap();
        assert!(rendered.page_at(PageShape::List, &filter, 8).is_none());

        let t = ticket();
        let id = t.id.as_str().to_owned();
        let (detail, detail_tag) = rendered.detail(t, Some(3)).unwrap();
        assert_eq!(rendered.detail_at(&id, 3), Some((detail, detail_tag)));
        assert!(rendered.detail_at(&id, 4).is_none());
        assert!(rendered.detail_at("missing", 3).is_none());
    }
}
