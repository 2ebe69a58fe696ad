//! Test support for the fence: a hook that runs inside one fenced write of a ticket, right after
//! its fence was read and checked and before the write, and whether that read locks the row
//! (`lock: false` is the control: the plain read the store made before). One-shot, per ticket.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};

/// What the hook runs.
pub type Hook = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A probe set for one ticket.
pub struct Probe {
    /// Lock the ticket row on read (the store's behaviour); `false` for the control.
    pub lock: bool,
    /// Runs between the fence check and the write.
    pub hook: Hook,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe")
            .field("lock", &self.lock)
            .finish_non_exhaustive()
    }
}

fn probes() -> &'static Mutex<HashMap<String, Probe>> {
    static PROBES: OnceLock<Mutex<HashMap<String, Probe>>> = OnceLock::new();
    PROBES.get_or_init(Mutex::default)
}

/// Arms a probe for the next fenced write of `ticket`.
pub fn arm(ticket: &str, probe: Probe) {
    probes()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(ticket.to_owned(), probe);
}

pub(crate) fn take(ticket: &str) -> Option<Probe> {
    probes()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(ticket)
}
