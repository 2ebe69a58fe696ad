//! `foreman-server`: parses flags, sets up logging and hands over to the composition root in
//! the library half of this package.

use std::process::ExitCode;

use clap::Parser;
use foreman_server::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        print!("{}", foreman_api::openapi_json());
        return ExitCode::SUCCESS;
    }
    match foreman_server::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("foreman-server: {e:#}");
            ExitCode::FAILURE
        }
    }
}
