//! `SettingsStore` in memory.

use async_trait::async_trait;
use foreman_domain::{SettingsStore, StoreResult};

use super::MemoryStore;

#[async_trait]
impl SettingsStore for MemoryStore {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(self.lock().settings.get(key).cloned())
    }

    async fn put_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        self.lock()
            .settings
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }
}
