//! The `bcs-storage` binary: `bcs-storage [serve] [--config FILE]`, `token
//! add`, and the client verbs (`get`, `list`, `put`, `delete`, `batch-delete`,
//! `clean-cluster`, `watch`, `query`, `events`, `alarms`, `export`, `completions`;
//! `src/cli/`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use bcs_storage::config::Settings;

#[derive(Parser)]
#[command(
    name = "bcs-storage",
    version,
    about = "REST document store for container-cluster resources"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Configuration file (TOML) overriding the shipped defaults.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(flatten)]
    client: bcs_storage::cli::Global,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Manage the bearer tokens of `auth.tokens_file`.
    #[command(subcommand)]
    Token(TokenCommand),
    #[command(flatten)]
    Client(bcs_storage::cli::Verb),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Make a new random token, print it once and append its SHA-256 (never
    /// the token) to the tokens file, which the server reads again by itself.
    Add {
        /// Who the token is for (shown in the log when it is refused).
        name: String,
        /// read: GET, lists, watches, query POSTs; write: plus writes and
        /// deletes; admin: plus cluster clean, batch deletes across
        /// namespaces and custom-resource index changes.
        #[arg(long, value_parser = ["read", "write", "admin"])]
        scope: String,
        /// The tokens file (default: auth.tokens_file of the configuration).
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Client commands only talk to a server: no configuration to read.
    let command = match cli.command {
        Some(Command::Client(bcs_storage::cli::Verb::Completions { shell })) => {
            let mut out = std::io::stdout();
            clap_complete::generate(shell, &mut Cli::command(), "bcs-storage", &mut out);
            return ExitCode::SUCCESS;
        }
        Some(Command::Client(verb)) => return bcs_storage::cli::run(verb, &cli.client),
        other => other,
    };
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bcs-storage: {e}");
            return ExitCode::from(2);
        }
    };
    match command.unwrap_or(Command::Serve) {
        Command::Token(TokenCommand::Add { name, scope, file }) => {
            let Some(path) = file.or_else(|| settings.auth.tokens_file().map(PathBuf::from)) else {
                eprintln!("bcs-storage: no tokens file: give --file or set auth.tokens_file");
                return ExitCode::from(2);
            };
            let scope = scope.parse().expect("clap checked the scope");
            match bcs_storage::auth::add_token(&path, &name, scope) {
                Ok(token) => {
                    println!("{token}");
                    eprintln!(
                        "bcs-storage: token {name:?} ({}) added to {}; it is shown only this once",
                        scope.as_str(),
                        path.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("bcs-storage: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Client(_) => unreachable!("client commands returned above"),
        Command::Serve => {
            // Held to the end: dropping it writes the buffered log lines.
            let _log = bcs_storage::server::init_logging(settings.log.format);
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("bcs-storage: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(bcs_storage::server::run(settings)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e}");
                    eprintln!("bcs-storage: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
