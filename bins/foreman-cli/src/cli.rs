//! The command line's shape (clap derive): every command, flag and its help.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// Drive a Foreman server from the shell.
#[derive(Debug, Parser)]
#[command(
    name = "foreman",
    version,
    about = "Drive a Foreman server from the shell",
    after_help = "Exit codes: 0 ok, 1 failure, 2 usage (bad arguments, or input the server \
                  rejected with 400), 3 not found (404), 4 conflict (409, or a file `init` would \
                  overwrite).\nThe server and token come from --server/FOREMAN_URL and \
                  --token/FOREMAN_TOKEN, else from the profile `foreman login` wrote."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Server URL [default: the profile's, else http://127.0.0.1:8080].
    #[arg(long, env = "FOREMAN_URL", global = true)]
    pub(crate) server: Option<String>,
    /// API token [default: the profile's].
    #[arg(long, env = "FOREMAN_TOKEN", hide_env_values = true, global = true)]
    pub(crate) token: Option<String>,
    /// Profile from cli.toml [default: the file's `default`, else `default`].
    #[arg(long, env = "FOREMAN_PROFILE", global = true)]
    pub(crate) profile: Option<String>,
    /// Print JSON (the server's own body) instead of text for people.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check the server and token, and save them as a profile in cli.toml (mode 0600).
    Login(LoginArgs),
    /// Submit a prompt as a new ticket.
    Submit(SubmitArgs),
    /// Submit up to 20 tickets at once from a file: a JSON array of tickets (or
    /// `{"defaults": {...}, "items": [...]}`), or one prompt per line.
    Batch(BatchArgs),
    /// Cancel a ticket: a queued one at once, a running one at its next step.
    Cancel {
        /// Ticket id.
        id: String,
    },
    /// Full-text search over tickets, their plans, tasks and agent summaries.
    Search {
        /// The query.
        query: String,
        /// At most this many.
        #[arg(long)]
        limit: Option<u32>,
        /// Continue from this cursor (printed after a full page).
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Tickets.
    Tickets {
        #[command(subcommand)]
        command: TicketsCommand,
    },
    /// Tasks.
    Tasks {
        #[command(subcommand)]
        command: TasksCommand,
    },
    /// The server's log, or a ticket's events; `--follow` streams them live.
    Logs(LogsArgs),
    /// Spend.
    Cost {
        #[command(subcommand)]
        command: CostCommand,
    },
    /// Budget per period: limit, used, reserved, remaining.
    Budget,
    /// Server and daemon status, with the current run's progress.
    Status,
    /// Queue and throughput: counts by status, slots, durations, estimated wait.
    Stats,
    /// Execution slots and what each is doing.
    Workers,
    /// Daemon runs (start to stop), or one run.
    Runs {
        /// One run's id.
        id: Option<String>,
    },
    /// Finished tickets with outcome, duration and cost.
    History {
        /// At most this many.
        #[arg(long)]
        limit: Option<u32>,
        /// Continue from this cursor.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Control the daemon.
    Daemon {
        #[command(subcommand)]
        command: DaemonCommand,
    },
    /// Notifications; `ack ID` or `ack --all` acknowledges.
    Notifications(NotificationsArgs),
    /// The audit trail (admin token): `list [--actor --action --since]` shows recorded
    /// mutating calls, `verify` walks the hash chain.
    Audit {
        #[command(subcommand)]
        command: crate::commands::audit::AuditCommand,
    },
    /// Skills: `list [--project P]` shows every skill file found (repository, data directory,
    /// built in), its hook points and step types, and why it did not load when it did not.
    Skills {
        #[command(subcommand)]
        command: crate::commands::skills::SkillsCommand,
    },
    /// Outbound webhook subscriptions (admin token): `list`, `create URL --event E…`, `show`,
    /// `enable`, `disable`, `delete`, `test` (a ping) and `deliveries` (the delivery log).
    Webhooks {
        #[command(subcommand)]
        command: crate::commands::webhooks::WebhooksCommand,
    },
    /// Validation rules of a project: `list`, `show ID`, `put FILE`, `validate FILE`, `accept
    /// ID`, `reject ID`, `export`, `import FILE [--replace]` (`--project`, default `default`).
    Rules {
        #[command(subcommand)]
        command: crate::commands::rules::RulesCommand,
    },
    /// Chat channels: `pair NAME` issues a one-time pairing code for a new sender.
    Channels {
        #[command(subcommand)]
        command: crate::commands::channels::ChannelsCommand,
    },
    /// LLM usage made outside Foreman: `ingest --file rows.json` reports it, `summary` sums
    /// usage per model, project, ticket, session tag or day.
    Usage {
        #[command(subcommand)]
        command: crate::commands::usage::UsageCommand,
    },
    /// A ticket's checkpoints (one per completed task).
    Checkpoints {
        /// Ticket id.
        id: String,
    },
    /// Reset a ticket to a checkpoint and queue it again.
    Rollback {
        /// Ticket id.
        id: String,
        /// Checkpoint id (from `foreman checkpoints`).
        checkpoint: String,
    },
    /// Write a commented foreman.toml with the defaults (never overwrites).
    Init {
        /// Where to write it.
        #[arg(default_value = "foreman.toml")]
        path: PathBuf,
    },
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: Shell,
    },
    /// Print the man page (roff).
    Man,
    /// Apply database migrations.
    Migrate(DbArgs),
    /// Manage API tokens (directly in the database).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Check the configuration: git, the database, LLM keys, and every project's repository,
    /// git host and tracker. Exits 1 when a check fails.
    Doctor(DoctorArgs),
}

/// `foreman login`: the server from --server, the token from --token (or one line on stdin),
/// saved under --profile (`default` when absent).
#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// Do not make it the default profile.
    #[arg(long)]
    pub(crate) no_default: bool,
}

/// Ticket priorities.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Priority {
    /// First.
    Urgent,
    /// Before normal.
    High,
    /// The default.
    Normal,
    /// Last.
    Low,
}

/// `foreman submit`.
#[derive(Debug, Args)]
pub(crate) struct SubmitArgs {
    /// What to do (at most 5,000 characters).
    pub(crate) prompt: String,
    /// Priority.
    #[arg(long, value_enum)]
    pub(crate) priority: Option<Priority>,
    /// The ticket's budget in USD (0 to 100).
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) budget: Option<f64>,
    /// Per-task timeout in seconds (1 to 3600).
    #[arg(long, allow_negative_numbers = true)]
    pub(crate) timeout: Option<i64>,
    /// A tag (repeatable, at most 10).
    #[arg(long = "tag")]
    pub(crate) tags: Vec<String>,
    /// The configured agent runner to use.
    #[arg(long)]
    pub(crate) agent: Option<String>,
    /// Project slug.
    #[arg(long)]
    pub(crate) project: Option<String>,
    /// A URL told when the ticket finishes (http or https).
    #[arg(long)]
    pub(crate) webhook_url: Option<String>,
    /// Wait until the ticket finishes, printing its status as it changes; exits 1 when it
    /// failed.
    #[arg(long)]
    pub(crate) wait: bool,
}

/// `foreman batch`.
#[derive(Debug, Args)]
pub(crate) struct BatchArgs {
    /// The file (`-` for stdin).
    pub(crate) file: PathBuf,
    /// Priority for every item that sets none.
    #[arg(long, value_enum)]
    pub(crate) priority: Option<Priority>,
    /// A tag for every item (repeatable).
    #[arg(long = "tag")]
    pub(crate) tags: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TicketsCommand {
    /// List tickets.
    List {
        /// Only these statuses (comma-separated).
        #[arg(long)]
        status: Option<String>,
        /// Only this project.
        #[arg(long)]
        project: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one ticket.
    Show {
        /// Ticket id.
        id: String,
    },
    /// Queue a failed, blocked or partial ticket again.
    Retry {
        /// Ticket id.
        id: String,
    },
    /// Delete a ticket with its tasks and events (its spend is kept).
    Delete {
        /// Ticket id.
        id: String,
    },
    /// A ticket's tasks.
    Tasks {
        /// Ticket id.
        id: String,
    },
    /// A ticket's events.
    Events {
        /// Ticket id.
        id: String,
    },
    /// A ticket's LLM calls.
    Calls {
        /// Ticket id.
        id: String,
    },
    /// A ticket's change as a unified diff.
    Diff {
        /// Ticket id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TasksCommand {
    /// What the agent did in a task: turns, tool calls, test runs, review verdicts.
    Transcript {
        /// Task id.
        id: String,
    },
    /// Reset a failed task so the pipeline runs it again.
    Retry {
        /// Task id.
        id: String,
    },
}

/// `foreman logs`.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// A ticket: its events (with a progress line per task when following) instead of the
    /// server's log.
    pub(crate) ticket: Option<String>,
    /// Keep streaming; with a ticket, until it finishes.
    #[arg(long, short)]
    pub(crate) follow: bool,
    /// Only this level and above (server log: error, warn, info, debug).
    #[arg(long)]
    pub(crate) level: Option<String>,
    /// At most this many lines before following (the newest ones).
    #[arg(long)]
    pub(crate) limit: Option<u32>,
    /// Server log: only lines from this time on (RFC 3339).
    #[arg(long)]
    pub(crate) since: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CostCommand {
    /// Spend so far today (UTC).
    Today,
    /// Spend per day for the last seven days.
    Week,
    /// Spend this calendar month (UTC).
    Month,
    /// One ticket's spend, by role and model.
    Ticket {
        /// Ticket id.
        id: String,
    },
    /// Cost per merged pull request over a window.
    PerPr {
        /// From (RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// To (RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        to: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DaemonCommand {
    /// Take no new work; running steps finish.
    Pause,
    /// Take work again.
    Resume,
    /// Take no new work and let running work finish or checkpoint, without exiting.
    Drain,
    /// Drain, then stop the server.
    Stop,
}

/// `foreman notifications`.
#[derive(Debug, Args)]
pub(crate) struct NotificationsArgs {
    #[command(subcommand)]
    pub(crate) command: Option<NotificationsCommand>,
    /// Only this severity.
    #[arg(long)]
    pub(crate) severity: Option<String>,
    /// Only unacknowledged ones.
    #[arg(long)]
    pub(crate) unacked: bool,
    /// At most this many.
    #[arg(long)]
    pub(crate) limit: Option<u32>,
    /// Continue from this cursor (printed after a full page).
    #[arg(long)]
    pub(crate) cursor: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum NotificationsCommand {
    /// Acknowledge one notification, or all of them.
    #[command(group(ArgGroup::new("which").required(true).args(["id", "all"])))]
    Ack {
        /// Notification id.
        id: Option<String>,
        /// Every notification.
        #[arg(long)]
        all: bool,
    },
}

/// Shells with completion scripts.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Shell {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
}

/// What `foreman doctor` checks.
#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// Configuration file (the server's).
    #[arg(long, env = "FOREMAN_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Data directory (holds the SQLite database by default).
    #[arg(long, env = "FOREMAN_DATA_DIR", default_value = ".foreman")]
    pub(crate) data_dir: PathBuf,
}

/// Where the database is: the same flags the server takes.
#[derive(Debug, Args)]
pub(crate) struct DbArgs {
    /// Configuration file.
    #[arg(long, env = "FOREMAN_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Data directory (holds the SQLite database by default).
    #[arg(long, env = "FOREMAN_DATA_DIR", default_value = ".foreman")]
    pub(crate) data_dir: PathBuf,
    /// Database URL, overriding the configuration (sqlite://… or postgres://…).
    #[arg(long, env = "FOREMAN_DATABASE_URL")]
    pub(crate) database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token and print it once.
    Generate {
        #[command(flatten)]
        db: DbArgs,
        /// A name to recognise it by.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Scope: read, write or admin.
        #[arg(long, default_value = "admin")]
        scope: String,
        /// Lifetime, e.g. 30d (default: no expiry).
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a token by id.
    Revoke {
        #[command(flatten)]
        db: DbArgs,
        /// The token's id (from `foreman token list`).
        id: String,
    },
}
