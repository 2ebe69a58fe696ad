//! The audit writer's state as the server's shared state holds it: its queue, the signing key
//! and the benchmark switch. A leaf module, so the state does not import the audit layer (which
//! reads the state).

use std::sync::OnceLock;

use foreman_domain::StoreResult;
use foreman_domain::audit::{AuditKey, NewAuditEntry};
use tokio::sync::{mpsc, oneshot};

/// The writer's queue and the key checkpoints are signed with.
#[derive(Default)]
pub(crate) struct AuditLog {
    pub(crate) queue: OnceLock<mpsc::UnboundedSender<Pending>>,
    pub(crate) key: OnceLock<AuditKey>,
    /// Set by benchmarks measuring the layer's cost; never by the server.
    pub(crate) off: std::sync::atomic::AtomicBool,
}

impl AuditLog {
    /// The key checkpoints are signed and verified with, when the server set one.
    pub(crate) fn key(&self) -> Option<&AuditKey> {
        self.key.get()
    }

    /// Sets the key (once; later calls are ignored).
    pub(crate) fn set_key(&self, key: AuditKey) {
        let _ = self.key.set(key);
    }

    /// Turns recording off or on again (benchmarks: the same server with and without it).
    pub(crate) fn set_off(&self, off: bool) {
        self.off.store(off, std::sync::atomic::Ordering::Relaxed);
    }
}

/// An entry waiting for its group commit.
pub(crate) struct Pending {
    pub(crate) entry: NewAuditEntry,
    pub(crate) reply: oneshot::Sender<StoreResult<()>>,
}
