//! `edgewrite`: moving a project to edgewrite.
//!
//! ```text
//! edgewrite import appwrite --from URL --project ID --key KEY --to URL --to-project ID --to-key KEY [--dry-run]
//! edgewrite export --from URL --project ID --key KEY --to DIR [--dry-run]
//! edgewrite import dir DIR --to URL --to-project ID --to-key KEY [--dry-run]
//! ```
//!
//! Exits 0 when everything arrived, 1 when anything was lost (failed, or not supported by the
//! target), 2 on a usage error.

mod api;
mod dump;
mod migrate;
mod records;
mod remote;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::api::Api;
use crate::migrate::{Sink, Source};

#[derive(Parser)]
#[command(
    name = "edgewrite",
    version,
    about = "Move a project to edgewrite: from a running Appwrite (or edgewrite), or from a dump"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Bring a project into edgewrite.
    Import {
        #[command(subcommand)]
        from: ImportFrom,
    },
    /// Write a project to a dump directory (JSON Lines per resource kind, plus file bytes).
    Export {
        #[command(flatten)]
        source: SourceArgs,
        /// An empty (or absent) directory.
        #[arg(long = "to")]
        dir: PathBuf,
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum ImportFrom {
    /// From a running Appwrite (or another edgewrite), through its REST API.
    Appwrite {
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        target: TargetArgs,
        /// Read everything and compare with the target, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// From a dump made by `edgewrite export`.
    Dir {
        dir: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Args)]
struct SourceArgs {
    /// The source's API endpoint, e.g. https://cloud.appwrite.io/v1
    #[arg(long = "from")]
    from: String,
    /// The source's project id.
    #[arg(long = "project")]
    project: String,
    /// A server API key of the source with read scopes on everything migrated.
    #[arg(long = "key", env = "EDGEWRITE_SOURCE_KEY", hide_env_values = true)]
    key: String,
}

#[derive(Args)]
struct TargetArgs {
    /// The target's API endpoint, e.g. https://edgewrite.example.com/v1
    #[arg(long = "to")]
    to: String,
    /// The target's project id.
    #[arg(long = "to-project")]
    to_project: String,
    /// A server API key of the target with write scopes.
    #[arg(long = "to-key", env = "EDGEWRITE_TARGET_KEY", hide_env_values = true)]
    to_key: String,
}

impl SourceArgs {
    fn api(&self) -> Api {
        Api::new(&self.from, &self.project, &self.key)
    }
}

impl TargetArgs {
    fn api(&self) -> Api {
        Api::new(&self.to, &self.to_project, &self.to_key)
    }
}

/// Moves `source` into `sink`; `expected` (a dump's manifest counts) must match what was read.
fn run(
    source: &dyn Source,
    sink: &mut dyn Sink,
    what: &str,
    expected: Option<&serde_json::Value>,
) -> Result<ExitCode> {
    eprintln!("edgewrite: {what}");
    let mut summary = migrate::run(source, sink)?;
    for (kind, count) in expected.and_then(|e| e.as_object()).into_iter().flatten() {
        let Some(kind) = migrate::KINDS.iter().find(|k| **k == kind.as_str()) else { continue };
        let tally = summary.kinds.entry(kind).or_default();
        let want = count.as_u64().unwrap_or_default();
        if tally.read != want {
            tally.failed += want.saturating_sub(tally.read).max(1);
            summary
                .problems
                .push(format!("{kind}: the dump's manifest counts {want}, its files hold {}", tally.read));
        }
    }
    summary.print();
    let lost = summary.lost();
    if lost > 0 {
        eprintln!("edgewrite: {lost} resources did not arrive (see above)");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn importing(dry_run: bool, source: &dyn Source, sink: &remote::RemoteSink) -> String {
    let dry = if dry_run { "(dry run) " } else { "" };
    format!("{dry}importing {} into {}", source.describe(), sink.api.describe())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Import { from: ImportFrom::Appwrite { source, target, dry_run } } => {
            let source = remote::Remote { api: source.api() };
            let mut sink = remote::RemoteSink::new(target.api(), dry_run);
            let what = importing(dry_run, &source, &sink);
            run(&source, &mut sink, &what, None)
        }
        Command::Import { from: ImportFrom::Dir { dir, target, dry_run } } => dump::DumpSource::open(&dir)
            .and_then(|source| {
                let mut sink = remote::RemoteSink::new(target.api(), dry_run);
                let what = importing(dry_run, &source, &sink);
                run(&source, &mut sink, &what, Some(&source.counts))
            }),
        Command::Export { source, dir, dry_run } => {
            dump::DumpSink::create(&dir, dry_run).and_then(|mut sink| {
                let source = remote::Remote { api: source.api() };
                let what = format!(
                    "{}exporting {} to {}",
                    if dry_run { "(dry run) " } else { "" },
                    source.describe(),
                    dir.display()
                );
                run(&source, &mut sink, &what, None)
            })
        }
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("edgewrite: {e:#}");
            ExitCode::from(1)
        }
    }
}
