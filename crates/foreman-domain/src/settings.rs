//! Small durable settings: the key/value port the daemon state, the notification triggers and
//! the notifier's cursor are kept in. A leaf module, so every other one can use it.

use async_trait::async_trait;

use crate::error::StoreResult;

/// Small durable settings: daemon state and other key/value facts.
#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// A value.
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>>;

    /// Sets a value.
    async fn put_setting(&self, key: &str, value: &str) -> StoreResult<()>;
}
