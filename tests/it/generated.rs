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
        // `help` is a subcommand of the CLI, not a page: the page lists only pages that exist.
        clap_mangen::Man::new(page.name(static_name).disable_help_subcommand(true))
            .render(&mut buf)
            .unwrap();
        let page = man_sections(&String::from_utf8(buf).unwrap());
        check(&dir.join(format!("{name}.1")), page.as_bytes());
        // Every page it names exists.
        for (i, _) in page.match_indices("(1)") {
            let start = page[..i]
                .rfind(|c: char| c.is_whitespace())
                .map_or(0, |s| s + 1);
            let named = page[start..i].replace("\\-", "-");
            if named.starts_with("mlrb") {
                assert!(
                    dir.join(format!("{named}.1")).exists(),
                    "{name}.1 names {named}(1), which has no page"
                );
            }
        }
        if !name.contains('-') {
            for section in [".SH EXAMPLES", ".SH EXIT STATUS", ".SH ENVIRONMENT"] {
                assert!(page.contains(section), "{name}.1 has no {section}");
            }
        }
    }
}

/// The help's closing paragraphs ("Examples:", "Exit status:", "Environment:", which clap_mangen
/// puts under one EXTRA heading) as the man page sections readers look for, kept as written.
fn man_sections(page: &str) -> String {
    let Some(start) = page.find(".SH EXTRA\n") else {
        return page.to_string();
    };
    let end = page[start..]
        .find("\n.SH VERSION")
        .map(|i| start + i + 1)
        .unwrap_or(page.len());
    let mut out = page[..start].to_string();
    let mut open = false;
    for line in page[start..end].lines() {
        let heading = match line {
            ".SH EXTRA" => continue,
            "Examples:" => Some("EXAMPLES"),
            "Exit status:" => Some("EXIT STATUS"),
            "Environment:" => Some("ENVIRONMENT"),
            _ => None,
        };
        match heading {
            Some(h) => {
                if open {
                    out.push_str(".fi\n");
                }
                out.push_str(&format!(".SH {h}\n.nf\n"));
                open = true;
            }
            None if line.is_empty() => {}
            None => {
                if !open {
                    out.push_str(".nf\n");
                    open = true;
                }
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if open {
        out.push_str(".fi\n");
    }
    out.push_str(&page[end..]);
    out
}
