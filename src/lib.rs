//! mlrb: roll back a misbehaving production ML model — registry, serving, record — in one command.

pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod error;
pub mod http;
pub mod journal;
pub mod metrics;
pub mod mttr;
pub mod notify;
pub mod plan;
pub mod printer;
pub mod registry;
pub mod report;
pub mod select;
pub mod serving;

use std::process::ExitCode;

use clap::Parser;

use crate::error::{ExitStatus, classify};

/// Parses the command line, runs the command, prints any error with its hint, returns the code.
pub fn main_entry() -> ExitCode {
    let _ = clock::start();
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                ExitStatus::Usage.code()
            } else {
                0
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match commands::run(cli) {
        Ok(status) => ExitCode::from(status.code()),
        Err(err) => {
            let (status, hint) = classify(&err);
            eprintln!("error: {}", one_line_chain(&err));
            if let Some(h) = hint {
                eprintln!("hint: {h}");
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
