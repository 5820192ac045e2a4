//! Runbooks are tested, not just written: every ```sh block runs, in order, against a sandbox
//! registry with the incident's layout, and must exit 0.

use crate::common::{Backend, FileBackend, TestEnv, v};
use mlrb::registry::Stage;

/// The ```sh blocks of a markdown file, in order.
fn sh_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

#[test]
fn every_runbook_command_block_runs() {
    let dir = crate::common::repo_root().join("runbooks");
    let mut ran = 0;
    let mut books: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    books.sort();
    assert!(!books.is_empty(), "runbooks/ is empty");
    let bin_dir = assert_cmd::cargo::cargo_bin("mlrb")
        .parent()
        .unwrap()
        .to_path_buf();
    for book in books {
        let mut env = TestEnv::new();
        let b = FileBackend::new(&env);
        b.configure(&mut env);
        b.seed(
            "recsys",
            &[
                v(Stage::Archived),
                v(Stage::Production),
                v(Stage::Archived).healthy(),
                v(Stage::Production),
            ],
            &[],
        );
        let path = format!("{}:{}", bin_dir.display(), env.vars["PATH"]);
        env.set("PATH", path);
        let text = std::fs::read_to_string(&book).unwrap();
        let blocks = sh_blocks(&text);
        assert!(!blocks.is_empty(), "{} has no ```sh block", book.display());
        for block in blocks {
            let out = std::process::Command::new("bash")
                .args(["-euo", "pipefail", "-c", &block])
                .env_clear()
                .envs(&env.vars)
                .current_dir(env.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: block failed ({}):\n{block}\n--- stdout\n{}\n--- stderr\n{}",
                book.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            ran += 1;
        }
    }
    assert!(ran >= 5, "ran {ran} blocks");
}
