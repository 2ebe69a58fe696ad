//! The commands that talk to a server, one module per area.

pub(crate) mod audit;
pub(crate) mod channels;
pub(crate) mod local;
pub(crate) mod logs;
pub(crate) mod ops;
pub(crate) mod rules;
pub(crate) mod skills;
pub(crate) mod tickets;
pub(crate) mod usage;
pub(crate) mod webhooks;

use crate::http::Client;

/// What a server command needs: the client and how to print.
#[derive(Debug)]
pub(crate) struct Ctx {
    /// The API client.
    pub(crate) client: Client,
    /// `--json`.
    pub(crate) json: bool,
    /// Colours on stdout (a terminal, `NO_COLOR` unset, not `--json`).
    pub(crate) colours: bool,
}
