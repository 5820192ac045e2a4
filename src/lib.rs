//! mlrb: roll back a misbehaving production ML model — registry, serving, record — in one command.

pub mod chart;
pub mod ci;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod context;
pub mod demo;
pub mod drill;
pub mod error;
pub mod exec;
pub mod export;
pub mod files;
pub mod http;
pub mod journal;
pub mod leader;
pub mod lease;
pub mod live;
pub mod lock;
pub mod metrics;
pub mod mttr;
pub mod notify;
pub mod observe;
pub mod plan;
pub mod printer;
pub mod registry;
pub mod report;
pub mod repromotion;
pub mod rollback;
pub mod secrets;
pub mod select;
pub mod serving;
pub mod signature;
pub mod statedir;
pub mod status;
pub mod testhooks;
pub mod timeline;
pub mod watch;

use std::process::ExitCode;

use clap::Parser;

use crate::error::{ExitStatus, classify};

/// Parses the command line, runs the command, prints any error with its hint, returns the code.
pub fn main_entry() -> ExitCode {
    let _ = clock::start();
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // Bare `mlrb`: the command list, as `mlrb --help` shows it.
            if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                && std::env::args_os().len() <= 1
            {
                use clap::CommandFactory;
                let help = cli::Cli::command().render_help().to_string();
                printer::Printer::new(printer::Format::Table, false).out(&help);
                return ExitCode::SUCCESS;
            }
            // One clear line and a hint, like every other error, instead of clap's full usage.
            let rendered = e.render().to_string();
            // The message is the first paragraph ("…were not provided:\n  <MODEL>").
            let first =
                if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    "error: a subcommand is required".to_string()
                } else {
                    rendered
                        .lines()
                        .take_while(|l| !l.trim().is_empty())
                        .map(str::trim)
                        .collect::<Vec<_>>()
                        .join(" ")
                };
            let usage = rendered
                .lines()
                .find_map(|l| l.trim().strip_prefix("tip: ").map(str::to_string))
                .or_else(|| {
                    rendered
                        .lines()
                        .find_map(|l| l.trim().strip_prefix("Usage: "))
                        .map(|u| format!("usage: {u}; see --help"))
                })
                .unwrap_or_else(|| "see mlrb --help".into());
            printer::to_stderr(&first);
            printer::to_stderr(&format!("hint: {usage}"));
            return ExitCode::from(ExitStatus::Usage.code());
        }
    };
    match commands::run(cli) {
        Ok(status) => ExitCode::from(status.code()),
        Err(err) => {
            let (status, hint) = classify(&err);
            printer::to_stderr(&format!("error: {}", one_line_chain(&err)));
            if let Some(h) = hint {
                printer::to_stderr(&format!("hint: {h}"));
            }
            ExitCode::from(status.code())
        }
    }
}

/// The cause chain on one line: "outer: inner: innermost", repeats dropped.
fn one_line_chain(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in err.chain() {
        let s = c.to_string().replace('\n', " ");
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}
