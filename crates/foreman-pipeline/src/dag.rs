//! Scheduling tasks over their dependency graph.

use std::collections::{BTreeMap, BTreeSet};

use foreman_domain::{Task, TaskStatus};

/// The part of a task the scheduler looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Position in the plan.
    pub sequence: i32,
    /// Current status.
    pub status: TaskStatus,
    /// Sequences it needs first.
    pub depends_on: Vec<i32>,
}

impl From<&Task> for Node {
    fn from(t: &Task) -> Self {
        Self {
            sequence: t.sequence,
            status: t.status,
            depends_on: t.depends_on.clone(),
        }
    }
}

/// What the scheduler should do next.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schedule {
    /// Pending tasks whose dependencies are all done, by sequence.
    pub ready: Vec<i32>,
    /// Pending tasks that can never run because a dependency (directly or transitively) failed
    /// or was skipped.
    pub skip: Vec<i32>,
    /// Tasks currently between start and a terminal status.
    pub running: Vec<i32>,
    /// Every task is done, failed or skipped (after applying `skip`).
    pub finished: bool,
}

/// Computes the next steps. Dependencies on unknown sequences count as unmet forever, so such a
/// task is skipped (validation refuses those plans; this keeps bad data from hanging a ticket).
#[must_use]
pub fn schedule(nodes: &[Node]) -> Schedule {
    let by_seq: BTreeMap<i32, &Node> = nodes.iter().map(|n| (n.sequence, n)).collect();
    let mut doomed: BTreeSet<i32> = nodes
        .iter()
        .filter(|n| matches!(n.status, TaskStatus::Failed | TaskStatus::Skipped))
        .map(|n| n.sequence)
        .collect();
    // Propagate: a non-done task depending on a doomed or unknown task is doomed.
    loop {
        let before = doomed.len();
        for n in nodes {
            if n.status == TaskStatus::Done || doomed.contains(&n.sequence) {
                continue;
            }
            if n.depends_on
                .iter()
                .any(|d| doomed.contains(d) || !by_seq.contains_key(d))
            {
                doomed.insert(n.sequence);
            }
        }
        if doomed.len() == before {
            break;
        }
    }
    let mut s = Schedule::default();
    for n in nodes {
        match n.status {
            TaskStatus::Pending if doomed.contains(&n.sequence) => s.skip.push(n.sequence),
            TaskStatus::Pending => {
                let deps_done = n.depends_on.iter().all(|d| {
                    by_seq
                        .get(d)
                        .is_some_and(|dep| dep.status == TaskStatus::Done)
                });
                if deps_done {
                    s.ready.push(n.sequence);
                }
            }
            status if !status.is_terminal() => s.running.push(n.sequence),
            _ => {}
        }
    }
    s.ready.sort_unstable();
    s.skip.sort_unstable();
    s.running.sort_unstable();
    s.finished = nodes
        .iter()
        .all(|n| n.status.is_terminal() || s.skip.contains(&n.sequence));
    s
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn node(seq: i32, status: TaskStatus, deps: &[i32]) -> Node {
        Node {
            sequence: seq,
            status,
            depends_on: deps.to_vec(),
        }
    }

    #[test]
    fn runs_independent_tasks_together_and_waits_for_dependencies() {
        use TaskStatus::*;
        let s = schedule(&[
            node(1, Pending, &[]),
            node(2, Pending, &[]),
            node(3, Pending, &[1, 2]),
        ]);
        assert_eq!(s.ready, vec![1, 2]);
        assert!(!s.finished);
        let s = schedule(&[
            node(1, Done, &[]),
            node(2, Implementing, &[]),
            node(3, Pending, &[1, 2]),
        ]);
        assert_eq!(s.ready, Vec::<i32>::new());
        assert_eq!(s.running, vec![2]);
        let s = schedule(&[
            node(1, Done, &[]),
            node(2, Done, &[]),
            node(3, Pending, &[1, 2]),
        ]);
        assert_eq!(s.ready, vec![3]);
    }

    #[test]
    fn skips_dependents_of_failures_transitively_and_continues_others() {
        use TaskStatus::*;
        let s = schedule(&[
            node(1, Failed, &[]),
            node(2, Pending, &[1]),
            node(3, Pending, &[2]),
            node(4, Pending, &[]),
        ]);
        assert_eq!(s.skip, vec![2, 3]);
        assert_eq!(s.ready, vec![4]);
        assert!(!s.finished);
        let s = schedule(&[
            node(1, Failed, &[]),
            node(2, Pending, &[1]),
            node(4, Done, &[]),
        ]);
        assert!(s.finished);
    }

    #[test]
    fn unknown_dependencies_do_not_hang() {
        let s = schedule(&[node(1, TaskStatus::Pending, &[9])]);
        assert_eq!(s.skip, vec![1]);
        assert!(s.finished);
    }

    proptest! {
        /// Driving the schedule to the end always terminates with every task terminal, and no
        /// task runs before its dependencies are done.
        #[test]
        fn scheduling_always_finishes(
            n in 1usize..12,
            edges in proptest::collection::vec((0usize..12, 0usize..12), 0..30),
            failures in proptest::collection::vec(0usize..12, 0..4),
        ) {
            let mut nodes: Vec<Node> = (1..=n as i32).map(|s| node(s, TaskStatus::Pending, &[])).collect();
            for (a, b) in edges {
                let (a, b) = (a % n, b % n);
                if b < a { // only backward edges: a DAG
                    let dep = nodes[b].sequence;
                    nodes[a].depends_on.push(dep);
                }
            }
            let fail: BTreeSet<i32> = failures.iter().map(|f| (f % n) as i32 + 1).collect();
            for _ in 0..=n {
                let s = schedule(&nodes);
                for seq in s.skip { nodes[(seq - 1) as usize].status = TaskStatus::Skipped; }
                if s.finished { break; }
                for seq in s.ready {
                    let i = (seq - 1) as usize;
                    for d in &nodes[i].depends_on {
                        prop_assert_eq!(nodes[(*d - 1) as usize].status, TaskStatus::Done);
                    }
                    nodes[i].status = if fail.contains(&seq) { TaskStatus::Failed } else { TaskStatus::Done };
                }
            }
            prop_assert!(schedule(&nodes).finished);
            prop_assert!(nodes.iter().all(|x| x.status.is_terminal()));
        }
    }
}
