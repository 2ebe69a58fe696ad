//! The store contract suite against [`MemoryStore`], plus checks of the testkit itself.

use foreman_testkit::MemoryStore;

foreman_testkit::store_contract_tests!(async || MemoryStore::new());

mod clones {
    use foreman_domain::TicketStore;
    use foreman_testkit::MemoryStore;
    use foreman_testkit::contract::new_ticket;

    #[tokio::test]
    async fn clones_share_state() {
        let a = MemoryStore::new();
        let b = a.clone();
        let t = a.create_ticket(new_ticket("S-1")).await.unwrap();
        assert_eq!(b.get_ticket(&t.id).await.unwrap(), Some(t));
        let other = MemoryStore::new();
        assert!(
            other
                .get_ticket_by_external_id("default", "S-1")
                .await
                .unwrap()
                .is_none()
        );
    }
}

mod properties {
    use std::collections::HashSet;

    use foreman_domain::{TicketFilter, TicketPatch, TicketSort, TicketStatus, TicketStore};
    use foreman_testkit::MemoryStore;
    use foreman_testkit::contract::new_ticket;
    use proptest::prelude::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Following `next_cursor` with any page size, sort and status filter visits every
        /// matching ticket exactly once, whatever the priorities and updates.
        #[test]
        fn cursor_paging_visits_each_match_once(
            n in 0usize..40,
            limit in 1u32..12,
            sort in prop_oneof![
                Just(TicketSort::CreatedDesc),
                Just(TicketSort::CreatedAsc),
                Just(TicketSort::UpdatedDesc)
            ],
            failed_mask in proptest::collection::vec(any::<bool>(), 40),
            touched in proptest::collection::vec(0usize..40, 0..10),
            only_failed in any::<bool>(),
        ) {
            rt().block_on(async {
                let store = MemoryStore::new();
                let mut ids = Vec::new();
                for (i, &failed) in failed_mask.iter().enumerate().take(n) {
                    let t = store.create_ticket(new_ticket(&format!("P-{i}"))).await.unwrap();
                    if failed {
                        store
                            .transition_ticket(&t.id, TicketStatus::Queued, TicketStatus::Failed, None)
                            .await
                            .unwrap();
                    }
                    ids.push(t.id);
                }
                for i in touched.into_iter().filter(|&i| i < n) {
                    store.update_ticket(&ids[i], TicketPatch::default(), None).await.unwrap();
                }
                let statuses = if only_failed { vec![TicketStatus::Failed] } else { Vec::new() };
                let expected = (0..n).filter(|&i| !only_failed || failed_mask[i]).count();
                let mut seen = Vec::new();
                let mut cursor = None;
                loop {
                    let page = store
                        .list_tickets(&TicketFilter {
                            sort,
                            limit,
                            statuses: statuses.clone(),
                            cursor: cursor.take(),
                            ..Default::default()
                        })
                        .await
                        .unwrap();
                    assert!(page.items.len() <= limit as usize);
                    seen.extend(page.items.into_iter().map(|t| t.id));
                    match page.next_cursor {
                        Some(c) => cursor = Some(c),
                        None => break,
                    }
                }
                let unique: HashSet<_> = seen.iter().cloned().collect();
                assert_eq!(seen.len(), expected);
                assert_eq!(unique.len(), expected);
            });
        }
    }
}
