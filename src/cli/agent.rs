//! `sloop agent` (a remote probe location) and `sloop agent-token` (make an agent's token and
//! the hash line for the controller's tokens file).

use crate::{
    agent::{self, AgentConfig, client::ControllerClient},
    ingest::{Token, tokens::valid_agent_name},
};
use std::{path::PathBuf, process::ExitCode};

/// `sloop agent` options.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// The controller's base URL, e.g. `https://sloop.example.org:8443`.
    #[arg(long)]
    controller: String,
    /// This agent's location name (its entry in the controller's tokens file).
    #[arg(long)]
    location: String,
    /// File holding this agent's token (made by `sloop agent-token`).
    #[arg(long)]
    token_file: PathBuf,
    /// PEM file of a CA to trust for the controller's certificate (besides the web roots).
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Results kept while the controller is unreachable; beyond that the oldest are dropped.
    #[arg(long, default_value_t = 100_000)]
    buffer: usize,
    /// Never try ICMP (ICMP probes use their TCP fallback).
    #[arg(long)]
    no_icmp: bool,
    /// Pretend the clock is this many seconds off (tests of the controller's skew handling).
    #[arg(long, hide = true, default_value_t = 0.0, allow_negative_numbers = true)]
    clock_offset_secs: f64,
    /// Longest wait between attempts to reach the controller, in seconds.
    #[arg(long, default_value_t = 30.0)]
    max_backoff_secs: f64,
}

/// `sloop agent-token` options.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// The agent's location name.
    name: String,
    /// Write a new random token to this file (mode 0600) for the agent's `--token-file`.
    #[arg(long, conflicts_with = "hash_of")]
    out: Option<PathBuf>,
    /// Print the hash line of an existing token file instead of making a new token.
    #[arg(long)]
    hash_of: Option<PathBuf>,
}

/// Makes or hashes a token and prints the controller's `name: sha256hex` line.
pub fn token(args: &TokenArgs) -> ExitCode {
    if !valid_agent_name(&args.name) {
        eprintln!(
            "agent name `{}`: use letters, digits, `-`, `_` and `.` (at most 64)",
            args.name
        );
        return ExitCode::from(2);
    }
    let token = match (&args.out, &args.hash_of) {
        (_, Some(path)) => Token::read_file(path),
        (Some(path), None) => Token::generate().and_then(|t| write_secret(path, &t).map(|_| t)),
        (None, None) => {
            eprintln!("give --out FILE (new token) or --hash-of FILE (existing token)");
            return ExitCode::from(2);
        }
    };
    match token {
        Ok(t) => {
            println!("{}: {}", args.name, t.hash_hex());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

fn write_secret(path: &std::path::Path, token: &Token) -> Result<(), crate::ingest::tokens::TokenError> {
    use std::io::Write;
    let io = |e: std::io::Error| crate::ingest::tokens::TokenError::Io {
        file: path.display().to_string(),
        reason: e.to_string(),
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).map_err(io)?;
    writeln!(f, "{}", token.expose()).map_err(io)
}

/// Runs the agent until SIGINT or SIGTERM.
pub fn run(args: &AgentArgs) -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_ansi(super::stderr_is_terminal())
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    if !valid_agent_name(&args.location) {
        eprintln!(
            "--location `{}`: use letters, digits, `-`, `_` and `.` (at most 64)",
            args.location
        );
        return ExitCode::from(2);
    }
    let token = match Token::read_file(&args.token_file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("--token-file: {e}");
            return ExitCode::from(1);
        }
    };
    let ca = match &args.ca_file {
        None => None,
        Some(p) => match std::fs::read(p) {
            Ok(pem) => Some((p.display().to_string(), pem)),
            Err(e) => {
                eprintln!("--ca-file {}: {e}", p.display());
                return ExitCode::from(1);
            }
        },
    };
    let client = match ControllerClient::new(
        &args.controller,
        &args.location,
        &token,
        ca.as_ref().map(|(f, pem)| (f.as_str(), pem.as_slice())),
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let config = AgentConfig {
        location: args.location.clone(),
        buffer: args.buffer,
        clock_offset: args.clock_offset_secs,
        icmp: !args.no_icmp,
        max_backoff: std::time::Duration::from_secs_f64(args.max_backoff_secs.clamp(0.2, 3600.0)),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(agent::run(config, client, shutdown_signal()));
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
