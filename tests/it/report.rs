//! The incident report: rendered at the end of a rollback and again by `mlrb report`, filled.

use crate::common::{Backend, FileBackend, TestEnv, bad_release};

#[test]
fn report_is_rendered_again_filled_and_kept() {
    let mut env = TestEnv::new();
    env.set("MLRB_NOW", "2026-11-26T02:17:00Z");
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    b.seed("recsys", &bad_release(), &[]);
    env.run(&[
        "rollback",
        "model",
        "recsys",
        "--yes",
        "--reason",
        "Revenue loss: diversity collapsed 0.73 -> 0.04",
        "--detected-at",
        "2026-11-26T02:05:00Z",
        "--triggered-by",
        "alice@example.com",
    ])
    .code(0);
    let out = env.run(&[
        "report",
        "--last",
        "--root-cause",
        "feature pipeline changed the embeddings",
        "--factor",
        "three versions in Production",
        "--action",
        "Alert on diversity drop|bob|2026-12-15",
    ]);
    out.code(0);
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"rollback-\d{8}T\d{6}Z-[0-9a-f]{4}", "[EVENT]");
    // The "What Changed" table dates the fixture's registry versions by the real clock.
    settings.add_filter(
        r"\| \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \|",
        "| [DATETIME] |",
    );
    settings.add_filter(r"0[2]:\d{2}:\d{2}\.\d{3}", "[TIME]");
    settings.add_filter(r"\d+(\.\d+)? ms|\d+\.\ds", "[DUR]");
    settings.add_filter(
        r"file registry /[^,]*registry\.json",
        "file registry [PATH]",
    );
    settings.add_filter(r"\b\d+m \d{2}s\b", "[MIN:SEC]");
    settings.bind(|| insta::assert_snapshot!("filled_report", out.stdout));
    // Annotations are kept: a later render still has them.
    let again = env.run(&["report", "--last"]).code(0).stdout.clone();
    assert!(again.contains("feature pipeline changed the embeddings"));
    assert!(
        again.contains("- [ ] Alert on diversity drop - Owner: bob, Due: 2026\\-12\\-15")
            || again.contains("Owner: bob, Due: 2026-12-15"),
        "{again}"
    );
    let file = env.path().join("incident.md");
    env.run(&["report", "--last", "-o", file.to_str().unwrap()])
        .code(0);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), again);
}

#[test]
fn report_bad_input() {
    let env = TestEnv::new();
    assert!(
        env.run(&["report", "--last"])
            .one_clear_error(2)
            .contains("no rollback events")
    );
    assert!(
        env.run(&["report", "rollback-nope"])
            .one_clear_error(2)
            .contains("no event")
    );
    let line = env
        .run(&["report", "--action", "only-what"])
        .one_clear_error(2);
    assert!(line.contains("what|owner|due"), "{line}");
}
