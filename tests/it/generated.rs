//! Generated files are committed and must match the CLI: completions and the man pages.
//! Regenerate with `MLRB_REGENERATE=1 cargo test --test it generated`.

use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::common::repo_root;

fn check(path: &Path, want: &[u8]) {
    if std::env::var_os("MLRB_REGENERATE").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, want).unwrap();
        return;
    }
    let have = std::fs::read(path).unwrap_or_default();
    assert!(
        have == want,
        "{} is out of date with the CLI; run `MLRB_REGENERATE=1 cargo test --test it generated` and commit",
        path.display()
    );
}

#[test]
fn completions_match_the_cli() {
    for (shell, file) in [
        (Shell::Bash, "mlrb.bash"),
        (Shell::Zsh, "_mlrb"),
        (Shell::Fish, "mlrb.fish"),
        (Shell::Elvish, "mlrb.elv"),
        (Shell::PowerShell, "_mlrb.ps1"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut mlrb::cli::Cli::command(), "mlrb", &mut buf);
        check(&repo_root().join("completions").join(file), &buf);
        // `mlrb completions SHELL` prints the same text.
        let out = assert_cmd::Command::cargo_bin("mlrb")
            .unwrap()
            .args(["completions", &shell.to_string()])
            .output()
            .unwrap();
        assert_eq!(out.stdout, buf, "{shell}");
    }
}

#[test]
fn man_pages_match_the_cli() {
    let cmd = mlrb::cli::Cli::command();
    let dir = repo_root().join("docs/man");
    let mut pages = vec![(String::from("mlrb"), cmd.clone())];
    for sub in cmd.get_subcommands() {
        pages.push((format!("mlrb-{}", sub.get_name()), sub.clone()));
        for subsub in sub.get_subcommands() {
            pages.push((
                format!("mlrb-{}-{}", sub.get_name(), subsub.get_name()),
                subsub.clone(),
            ));
        }
    }
    for (name, page) in pages {
        let mut buf = Vec::new();
        let static_name: &'static str = Box::leak(name.clone().into_boxed_str());
        clap_mangen::Man::new(page.name(static_name))
            .render(&mut buf)
            .unwrap();
        check(&dir.join(format!("{name}.1")), &buf);
    }
}
