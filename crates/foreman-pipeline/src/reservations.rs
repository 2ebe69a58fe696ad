//! File reservations: two tickets of one project never edit the same files at once. Before its
//! tasks start, a ticket reserves the files its open tasks' plans will modify, all or nothing;
//! a ticket whose files are held waits (with one `task_waiting_for_files` event) and asks again
//! every poll interval until the holder's run ends. The run releases its reservations however
//! it ends.
//!
//! The reservations live in the store (`FileReservationStore`), so every node sharing a
//! database sees them. A holder blocks only while it is worked on (a live lease in a working
//! status): the files of a ticket whose node crashed are taken over once its lease expires.

use std::collections::BTreeSet;

use foreman_domain::Task;
use foreman_domain::file_reservation::normalise_paths;

/// The files the ticket's open (non-terminal) tasks will modify, normalised: what its run
/// reserves before implementing.
pub(crate) fn planned_files(tasks: &[Task]) -> BTreeSet<String> {
    normalise_paths(
        tasks
            .iter()
            .filter(|t| !t.status.is_terminal())
            .flat_map(|t| t.files.iter()),
    )
}

#[cfg(test)]
mod tests {
    use foreman_domain::{NewTask, TaskStatus, TicketId};

    use super::*;

    fn task(sequence: i32, status: TaskStatus, files: &[&str]) -> Task {
        let new = NewTask {
            sequence,
            title: format!("task {sequence}"),
            files: files.iter().map(|f| (*f).to_owned()).collect(),
            complexity: 1,
            ..NewTask::default()
        };
        Task {
            status,
            ..Task::from_new(TicketId::new(), new, foreman_domain::now())
        }
    }

    #[test]
    fn only_open_tasks_files_are_reserved() {
        let tasks = [
            task(1, TaskStatus::Done, &["done.py"]),
            task(2, TaskStatus::Pending, &["./calc.py", "tests/t.py"]),
            task(3, TaskStatus::Verifying, &["calc.py ", "x.py"]),
            task(4, TaskStatus::Skipped, &["skipped.py"]),
        ];
        assert_eq!(
            planned_files(&tasks).into_iter().collect::<Vec<_>>(),
            ["calc.py", "tests/t.py", "x.py"]
        );
    }
}
