//! sea-orm entities, one per table of `foreman-migrations`. They never leave this crate: the
//! ports speak domain types, converted in [`crate::convert`].

pub mod tickets {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tickets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub project: String,
        pub external_id: String,
        pub title: String,
        pub description: String,
        pub acceptance_criteria: String,
        pub status: String,
        pub priority: i32,
        pub labels: String,
        pub submitter: Option<String>,
        pub parent_id: Option<String>,
        pub branch_name: String,
        pub pr_url: String,
        pub pr_number: Option<i64>,
        pub cost_micros: i64,
        pub tokens_input: i64,
        pub tokens_output: i64,
        pub total_llm_calls: i64,
        pub is_partial: bool,
        pub last_completed_task_seq: i32,
        pub last_error: Option<String>,
        pub last_error_type: Option<String>,
        pub fencing_token: i64,
        pub lease_owner: Option<String>,
        pub lease_expires_at: Option<i64>,
        pub created_at: i64,
        pub updated_at: i64,
        pub started_at: Option<i64>,
        pub completed_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod tasks {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tasks")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub ticket_id: String,
        pub sequence: i32,
        pub title: String,
        pub description: String,
        pub acceptance_criteria: String,
        pub depends_on: String,
        pub files: String,
        pub complexity: i32,
        pub status: String,
        pub implementation_attempts: i32,
        pub spec_review_attempts: i32,
        pub quality_review_attempts: i32,
        pub total_llm_calls: i64,
        pub tokens_input: i64,
        pub tokens_output: i64,
        pub commit_sha: Option<String>,
        pub cost_micros: i64,
        pub context: Option<String>,
        pub last_error: Option<String>,
        pub created_at: i64,
        pub started_at: Option<i64>,
        pub completed_at: Option<i64>,
        pub phase: String,
        pub red_proven: bool,
        pub checkpoint_sha: Option<String>,
        pub feedback: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod events {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        pub id: String,
        pub ticket_id: Option<String>,
        pub task_id: Option<String>,
        pub event_type: String,
        pub severity: String,
        pub message: String,
        pub details: Option<String>,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod counters {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "counters")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub value: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod llm_calls {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "llm_calls")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub ticket_id: Option<String>,
        pub task_id: Option<String>,
        pub role: String,
        pub provider: String,
        pub model: String,
        pub runner: String,
        pub attempt: i32,
        pub tokens_input: i64,
        pub tokens_output: i64,
        pub cache_read_tokens: i64,
        pub cache_write_tokens: i64,
        pub cost_micros: i64,
        pub duration_ms: i64,
        pub status: String,
        pub error: Option<String>,
        pub prompt_version: Option<String>,
        pub request_id: Option<String>,
        pub created_at: i64,
        pub deleted_ticket_id: Option<String>,
        /// `foreman` (the default: Foreman's own calls) or `external` (reported usage).
        pub source: String,
        /// A reported row's project (Foreman's calls leave it empty: theirs is their ticket's).
        pub project: Option<String>,
        /// A reported row's session tag.
        pub session_tag: Option<String>,
        /// A reported row's idempotency key.
        pub external_id: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod cost_reservations {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cost_reservations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub ticket_id: Option<String>,
        pub task_id: Option<String>,
        pub amount_micros: i64,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod api_tokens {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub token_hash: String,
        pub prefix: String,
        pub scopes: String,
        pub created_at: i64,
        pub last_used_at: Option<i64>,
        pub expires_at: Option<i64>,
        pub revoked_at: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod settings {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub value: String,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod outbox {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub ticket_id: Option<String>,
        pub kind: String,
        pub payload: String,
        pub state: String,
        pub result: Option<String>,
        pub attempts: i32,
        pub created_at: i64,
        pub updated_at: i64,
        pub next_attempt_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod file_reservations {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "file_reservations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub project: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub path: String,
        pub ticket_id: String,
        pub created_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod ticket_options {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "ticket_options")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ticket_id: String,
        pub timeout_secs: Option<i32>,
        pub max_budget_micros: Option<i64>,
        pub tags: String,
        pub webhook_url: Option<String>,
        pub agent: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
