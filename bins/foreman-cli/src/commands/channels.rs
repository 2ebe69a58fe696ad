//! `foreman channels`: chat channels (pairing codes for new senders).

use anyhow::Result;
use clap::Subcommand;

use super::Ctx;
use crate::http::seg;
use crate::out;

/// `foreman channels …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ChannelsCommand {
    /// Issue a one-time pairing code (admin token): the new sender writes `/pair <code>` to the
    /// bot within 10 minutes to be allowed.
    Pair {
        /// The channel (`telegram`).
        name: String,
    },
}

/// Runs `foreman channels …`.
pub(crate) async fn channels(ctx: &Ctx, command: ChannelsCommand) -> Result<()> {
    match command {
        ChannelsCommand::Pair { name } => {
            let body = ctx
                .client
                .post(&format!("/api/channels/{}/pairings", seg(&name)), None)
                .await?;
            if ctx.json {
                out::json(&body);
            } else {
                let code = body["code"].as_str().unwrap_or_default();
                println!("pairing code for {name}: {code}");
                println!(
                    "the new sender writes /pair {code} to the bot before {}; the code works once",
                    body["expires_at"].as_str().unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
