//! `vedette`: GuardDuty-compatible threat detection on logs you hand it.
use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod explain;
mod export_args;
mod ingest_cmd;
mod intel_args;
mod remote_args;
mod retention;
mod serve;

/// Default data directory: `./vedette-data` (override with --data-dir or VEDETTE_DATA_DIR).
pub const DEFAULT_DATA_DIR: &str = "vedette-data";
/// Default listen address. 127.0.0.1 only: exposing it is an explicit choice.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8433";

#[derive(Parser)]
#[command(name = "vedette", version, about = "GuardDuty-compatible threat detection on logs you hand it")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format on standard error.
    #[arg(long, global = true, value_enum, env = "VEDETTE_LOG_FORMAT", default_value = "text")]
    log_format: export_args::LogFormat,
}

// Parsed once per process: the size of the enum does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serve the GuardDuty REST-JSON API.
    Serve(serve::ServeArgs),
    /// Ingest CloudTrail logs (files, directories, AWSLogs trees, `-` for stdin) and raise findings.
    Ingest(ingest_cmd::IngestArgs),
    /// Print what produced a finding: rule, events, source files.
    Explain(explain::ExplainArgs),
}

/// The data directory flag every subcommand shares.
#[derive(clap::Args, Debug, Clone)]
pub struct DataDirArg {
    /// Where the embedded store lives.
    #[arg(long, env = "VEDETTE_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    export_args::init_logging(cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Ingest(args) => ingest_cmd::run(args),
        Command::Explain(args) => explain::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vedette: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

pub type CliResult = Result<std::process::ExitCode, Box<dyn std::error::Error + Send + Sync>>;
