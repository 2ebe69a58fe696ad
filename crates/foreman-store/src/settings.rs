//! `SettingsStore` on SQL: small durable key/value facts, written with an upsert.

use async_trait::async_trait;
use foreman_domain::{SettingsStore, StoreResult};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};

use crate::convert::ts;
use crate::entity::settings;
use crate::{SqlStore, be};

#[async_trait]
impl SettingsStore for SqlStore {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(settings::Entity::find_by_id(key.to_owned())
            .one(self.reader())
            .await
            .map_err(be)?
            .map(|m| m.value))
    }

    async fn put_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        let txn = self.write().await?;
        settings::Entity::insert(settings::ActiveModel {
            key: Set(key.to_owned()),
            value: Set(value.to_owned()),
            updated_at: Set(ts(foreman_domain::now())),
        })
        .on_conflict(
            OnConflict::column(settings::Column::Key)
                .update_columns([settings::Column::Value, settings::Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await
        .map_err(be)?;
        self.commit(txn).await?;
        Ok(())
    }
}
