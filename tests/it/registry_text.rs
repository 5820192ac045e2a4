//! Text from the registry cannot change what mlrb shows or stop it: a `|` in a version's source
//! stays in its table cell, and a model named with a control character is skipped, not fatal.

use crate::common::mlflow::{MlflowBackend, MlflowServer, Rest, free_port, seed_rest};
use crate::common::{Backend, TestEnv, bad_release, unique};

/// The cells of every row of every table in `markdown`, as a CommonMark parser reads them.
fn table_rows(markdown: &str) -> Vec<Vec<String>> {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let mut rows = Vec::new();
    let mut row: Option<Vec<String>> = None;
    let mut cell: Option<String> = None;
    for e in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match e {
            Event::Start(Tag::TableRow | Tag::TableHead) => row = Some(Vec::new()),
            Event::End(TagEnd::TableRow | TagEnd::TableHead) => rows.extend(row.take()),
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::End(TagEnd::TableCell) => {
                if let (Some(r), Some(c)) = (row.as_mut(), cell.take()) {
                    r.push(c);
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(c) = cell.as_mut() {
                    c.push_str(&t);
                }
            }
            _ => {}
        }
    }
    rows
}

/// A version source holding `\|` and `|` is one cell of the report's What Changed table, read
/// back as written; no row gains a column.
#[test]
fn a_pipe_in_registry_text_stays_in_its_cell_on_mlflow() {
    let mut env = TestEnv::new();
    let b = MlflowBackend::new();
    b.configure(&mut env);
    let m = unique("pipes");
    let source = format!("s3://models/{m}/a\\|b|c");
    let mut versions = bad_release();
    versions[2] = versions[2].clone().source(&source);
    b.seed(&m, &versions, &[]);
    env.run(&["rollback", "model", &m, "--yes"]).code(0);
    let report = env.run(&["report", "--last"]).code(0).stdout.clone();
    let rows = table_rows(&report);
    let changes: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r.iter().any(|c| c.contains("registered from")))
        .collect();
    assert!(!changes.is_empty(), "no change rows:\n{report}");
    for r in &changes {
        assert_eq!(r.len(), 3, "{r:?}\n{report}");
    }
    let cell = format!("v3 registered from {source}");
    assert!(
        changes.iter().any(|r| r[2] == cell),
        "no cell `{cell}` in {changes:#?}\n{report}"
    );
}

/// `mlrb status` of every model on a registry where one is named with an escape sequence: the
/// others are shown, that one is skipped with one warning.
#[test]
fn status_of_all_models_skips_a_name_with_control_characters_on_mlflow() {
    // A server of its own: `status` lists every model the registry holds.
    let server = MlflowServer::start(free_port(), &[], &[]);
    let rest = Rest::new(&server.uri);
    let good = unique("fine");
    seed_rest(&rest, &good, &bad_release(), &[]);
    let evil = format!("{}\u{1b}]0;pwned\u{7}", unique("evil"));
    rest.post(
        "registered-models/create",
        serde_json::json!({ "name": evil }),
    );
    let mut env = TestEnv::new();
    env.set("MLFLOW_TRACKING_URI", server.uri.clone());
    let out = env.run(&["status"]);
    out.code(0);
    assert!(out.stdout.contains(&good), "{}", out.stdout);
    assert!(!out.stdout.contains('\u{1b}'), "{}", out.stdout);
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    assert!(
        warnings[0].contains("skipped registered model")
            && warnings[0].contains("\\u{1b}]0;pwned\\u{7}")
            && warnings[0].contains("control characters"),
        "{}",
        warnings[0]
    );
}
