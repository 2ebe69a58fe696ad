//! The store contract suite: one set of behaviours every storage backend must show.
//!
//! Each case is an `async fn(Arc<dyn Store>)` that starts from an empty store and panics on a
//! violation. [`store_contract_tests!`](crate::store_contract_tests) expands to one
//! `#[tokio::test]` per case, grouped in modules by port, so a failure names the case:
//!
//! ```ignore
//! foreman_testkit::store_contract_tests!(async || foreman_testkit::MemoryStore::new());
//! ```
//!
//! The factory is called once per case and returns anything that implements [`IntoHarness`]: a
//! store, an `Arc` of one, a [`Harness`] (a store plus a cleanup future, e.g. dropping a
//! PostgreSQL schema), or `None` to skip the case (the factory prints why). The crate using the
//! macro needs `tokio` as a dev-dependency.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use foreman_domain::{
    BudgetLimits, Micros, NewTicket, ReservationRequest, Store, StoreError, StoreResult, TaskId,
    Ticket,
};

use crate::MemoryStore;

pub mod audit;
pub mod checkpoints;
pub mod costs;
pub mod events;
pub mod leases;
pub mod misc;
pub mod notifications;
pub mod requeue;
pub mod reservations;
pub mod rollback;
pub mod runs;
pub mod search;
pub mod submission;
pub mod subscriptions;
pub mod tasks;
pub mod tickets;
pub mod usage_ingest;

/// A store under test and what to do once the case has finished.
pub struct Harness {
    store: Arc<dyn Store>,
    cleanup: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("cleanup", &self.cleanup.is_some())
            .finish_non_exhaustive()
    }
}

impl Harness {
    /// A store with nothing to clean up.
    #[must_use]
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cleanup: None,
        }
    }

    /// Runs `cleanup` after the case, whether it passed or panicked.
    #[must_use]
    pub fn with_cleanup(mut self, cleanup: impl Future<Output = ()> + Send + 'static) -> Self {
        self.cleanup = Some(Box::pin(cleanup));
        self
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }
}

/// What a contract factory may return. `None` skips the case.
pub trait IntoHarness {
    /// Converts into a harness, or `None` to skip.
    fn into_harness(self) -> Option<Harness>;
}

impl IntoHarness for Harness {
    fn into_harness(self) -> Option<Harness> {
        Some(self)
    }
}

impl<T: IntoHarness> IntoHarness for Option<T> {
    fn into_harness(self) -> Option<Harness> {
        self.and_then(IntoHarness::into_harness)
    }
}

impl IntoHarness for MemoryStore {
    fn into_harness(self) -> Option<Harness> {
        Some(Harness::new(Arc::new(self)))
    }
}

impl<S: Store + 'static> IntoHarness for Arc<S> {
    fn into_harness(self) -> Option<Harness> {
        Some(Harness::new(self))
    }
}

impl IntoHarness for Arc<dyn Store> {
    fn into_harness(self) -> Option<Harness> {
        Some(Harness::new(self))
    }
}

/// Runs one case on a harness: the case runs on its own task so a panic still lets the cleanup
/// run, then the panic is resumed. `None` (a skipped backend) returns at once.
///
/// # Panics
/// When the case panics.
pub async fn run<F, Fut>(harness: Option<Harness>, case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(Harness { store, cleanup }) = harness else {
        return;
    };
    let outcome = tokio::spawn(case(store)).await;
    if let Some(cleanup) = cleanup {
        cleanup.await;
    }
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("contract case did not finish: {e}"),
        }
    }
}

/// Expands to one `#[tokio::test]` per contract case, in one module per port.
///
/// `$factory` is an expression callable with no arguments that returns a future of something
/// [`IntoHarness`]; it is evaluated once per case.
#[macro_export]
macro_rules! store_contract_tests {
    ($factory:expr) => {
        $crate::__store_contract_cases!($crate::__store_contract_module; $factory);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_contract_module {
    ($factory:expr; $module:ident { $($case:ident),+ $(,)? }) => {
        mod $module {
            #[allow(unused_imports, reason = "the factory may name items of the parent module")]
            use super::*;
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let factory = $factory;
                    let harness = $crate::contract::IntoHarness::into_harness(factory().await);
                    $crate::contract::run(harness, $crate::contract::$module::$case).await;
                }
            )+
        }
    };
}

/// The list of cases, by port module. Every public case function must be listed here.
#[doc(hidden)]
#[macro_export]
macro_rules! __store_contract_cases {
    ($emit:path; $factory:expr) => {
        $emit!($factory; tickets {
            create_and_get,
            duplicate_external_id_is_per_project,
            create_rejects_bad_input,
            list_filters,
            list_sorts,
            list_limit_is_capped,
            list_offset_skips,
            cursor_pages_through_everything_once,
            cursor_rejects_garbage,
            count_by_status,
            transitions_are_compare_and_set,
            retry_reopens_a_terminal_ticket,
            update_applies_a_patch,
            fenced_writes_reject_stale_tokens,
            delete_cascades,
            cancel_keeps_every_cost_row,
        });
        $emit!($factory; leases {
            claim_orders_by_priority_then_age,
            claim_respects_statuses_and_project,
            claim_skips_held_leases,
            expired_leases_are_reclaimable,
            expired_leases_cannot_be_renewed,
            renew_and_release_need_the_holder,
            concurrent_claims_take_each_ticket_once,
            reservations_go_with_the_lease,
        });
        $emit!($factory; tasks {
            create_list_and_get,
            duplicate_sequences_are_refused,
            transitions_track_start_and_completion,
            update_applies_a_patch,
        });
        $emit!($factory; notifications {
            notifications_record_once_per_key,
            notifications_filter_page_and_acknowledge,
            retrospectives_and_finished_tickets,
            cost_reports,
        });
        $emit!($factory; checkpoints {
            checkpoints_round_trip_every_phase,
            a_stale_worker_cannot_record_a_phase,
        });
        $emit!($factory; rollback {
            checkpoints_list_in_completion_order,
            rollback_resets_later_tasks_and_requeues,
            rollback_refuses_running_and_unknown,
            concurrent_rollbacks_take_effect_once,
            transcripts_are_ordered_and_bounded,
        });
        $emit!($factory; events {
            append_assigns_increasing_seq,
            list_filters_and_pages,
            tailing_reader_never_misses_an_event,
        });
        $emit!($factory; costs {
            recording_a_call_updates_totals,
            recording_checks_its_references,
            spend_windows,
            usage_groups_by_keys,
            reservations_admit_within_limits,
            settle_and_release,
            concurrent_reservers_stay_within_the_limit,
        });
        $emit!($factory; requeue {
            requeue_ticket_resets_ticket_and_failed_tasks,
            requeue_ticket_refuses_other_statuses,
            requeue_ticket_checks_the_fence,
            concurrent_ticket_requeues_take_effect_once,
            requeue_task_resets_a_failed_task,
            requeue_task_refuses_other_statuses,
            requeue_task_checks_the_fence,
            concurrent_task_requeues_take_effect_once,
        });
        $emit!($factory; reservations {
            reservations_are_all_or_nothing,
            holders_reserve_their_own_paths_again,
            projects_are_independent,
            release_frees_the_paths,
            holders_no_longer_worked_on_are_taken_over,
            concurrent_reservers_of_one_path_get_it_once,
        });
        $emit!($factory; runs {
            runs_open_close_and_crash,
            run_totals_count_its_window,
            runs_page_newest_first,
            logs_append_and_filter,
            logs_prune_by_age_and_count,
        });
        $emit!($factory; search {
            ranks_title_above_body_above_summaries,
            snippets_highlight_the_matches,
            every_term_must_match_and_the_last_is_a_prefix,
            cursor_pages_through_every_match_once,
            only_the_newest_matches_are_ranked,
            bad_queries_and_cursors_are_refused,
            the_index_follows_edits_and_deletes,
            plans_tasks_and_summaries_are_indexed,
            history_lists_finished_tickets_newest_first,
        });
        $emit!($factory; submission {
            a_batch_is_created_with_its_options,
            a_batch_is_all_or_nothing,
            the_ticket_budget_limits_admission,
            the_queue_is_in_claim_order,
            numbered_tickets_count_on_per_project,
            concurrent_numbering_hands_each_number_out_once,
            queue_places_agree_with_the_snapshot,
            grouped_batches_succeed_or_fail_alone,
        });
        $emit!($factory; subscriptions {
            subscriptions_lifecycle,
            fan_out_matches_once_in_order,
            ticket_webhooks_are_implicit_subscriptions,
            claims_are_ordered_and_exclusive,
            failures_disable_and_give_up,
            concurrent_fan_out_and_claims_take_effect_once,
            deliveries_page_newest_first,
            prune_removes_only_old_finished_deliveries,
        });
        $emit!($factory; misc {
            tokens_lifecycle,
            settings_round_trip,
            outbox_lifecycle,
            outbox_claims_take_an_entry_once,
            concurrent_outbox_claims_take_effect_once,
        });
        $emit!($factory; audit {
            audit_appends_chain_in_order,
            audit_concurrent_appends_never_fork,
            audit_list_filters_and_pages,
            audit_prune_leaves_a_signed_checkpoint,
        });
        $emit!($factory; usage_ingest {
            ingested_rows_count_in_every_spend_query,
            retried_keys_are_recorded_once,
            concurrent_retries_record_once,
            a_bad_row_refuses_the_whole_batch,
            listing_filters_and_pages,
            summary_groups_by_each_key,
            cost_report_groups_reported_rows_by_their_project,
        });
    };
}

/// A request to hold `amount` for the ticket (and task) now under `limits`.
#[must_use]
pub fn reservation(
    t: &Ticket,
    task: Option<&TaskId>,
    amount: i64,
    limits: BudgetLimits,
) -> ReservationRequest {
    ReservationRequest {
        ticket_id: Some(t.id.clone()),
        task_id: task.cloned(),
        amount: Micros(amount),
        limits,
        at: foreman_domain::now(),
    }
}

/// A ticket to create in the default project.
#[must_use]
pub fn new_ticket(external_id: &str) -> NewTicket {
    NewTicket {
        project: foreman_domain::DEFAULT_PROJECT.to_owned(),
        external_id: external_id.to_owned(),
        title: format!("ticket {external_id}"),
        description: format!("description of {external_id}"),
        ..NewTicket::default()
    }
}

/// Unwraps an error, naming what was expected when the call succeeded.
///
/// # Panics
/// When `r` is `Ok`.
#[track_caller]
pub fn expect_err<T: std::fmt::Debug>(r: StoreResult<T>, what: &str) -> StoreError {
    match r {
        Ok(v) => panic!("expected {what}, got Ok({v:?})"),
        Err(e) => e,
    }
}
