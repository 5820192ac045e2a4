//! Property tests over every parser that reads input mlrb does not control: config text, the
//! journal, the embedded registry file and MLflow's answers. None may panic or hang.

use std::path::Path;

use mlrb::registry::Registry;
use mlrb::registry::file::FileRegistry;
use mlrb::registry::mlflow::{Auth, interpret};
use proptest::prelude::*;

/// Strings that look like the real thing more often than uniform noise does.
fn configish() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(\\[[a-z.]{0,20}\\]\n)?([a-z_]{1,15} = (\"[^\"\n]{0,20}\"|[0-9]{1,5}|true|\\[\\])\n){0,6}",
        Just(mlrb::config::STARTER.to_string()).prop_flat_map(|s| {
            let len = s.len();
            (Just(s), 0..len).prop_map(|(s, cut)| s[..s.floor_char_boundary(cut)].to_string())
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn config_parsing_never_panics(text in configish()) {
        let _ = mlrb::config::parse(&text, Path::new("mlrb.toml"));
    }

    #[test]
    fn journal_reader_never_panics(lines in proptest::collection::vec(
        prop_oneof![
            any::<String>(),
            "\\{\"event\":\"e\",\"at\":\"2026-11-26T02:17:00Z\",\"type\":\"[a-z_]{1,12}\"[^\n]{0,30}\\}",
        ], 0..20)) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("journal.jsonl"), lines.join("\n")).unwrap();
        let (records, bad) = mlrb::journal::read_all(dir.path()).unwrap();
        prop_assert!(records.len() + bad <= lines.len());
    }

    #[test]
    fn registry_file_loader_never_panics(text in prop_oneof![
        any::<String>(),
        "\\{\"schema\":\"mlrb-registry\",\"schema_version\":1,\"models\":\\{\"m\":\\{\"versions\":\\[(\\{\"version\":[0-9]{1,3},\"stage\":\"(Production|Archived|None)\"\\},?){0,4}\\]\\}\\}\\}",
    ]) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("registry.json");
        std::fs::write(&p, &text).unwrap();
        let reg = FileRegistry::new(&p);
        let _ = reg.get_model("m");
        let _ = reg.search_versions("m", &mlrb::registry::VersionQuery::all());
        // A refused file is never rewritten.
        if reg.list_models().is_err() {
            let _ = reg.set_version_tag("m", 1, "k", "v");
            prop_assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
        }
    }

    #[test]
    fn mlflow_answers_never_panic(
        status in prop_oneof![Just(200u16), Just(400), Just(401), Just(403), Just(404), Just(500), 100u16..600],
        ct in prop_oneof![Just("application/json"), Just("text/html; charset=utf-8"), Just("text/plain"), Just("")],
        body in prop_oneof![
            any::<String>(),
            "\\{\"error_code\":\"[A-Z_]{0,30}\",\"message\":\"[^\"]{0,40}\"\\}",
            "<html><title>[^<]{0,30}</title>[^<]{0,30}",
        ],
    ) {
        let r = interpret("http://mlflow:5000", &Auth::None, status, ct, &body, "model `m`");
        if let Err(e) = r {
            let msg = e.to_string();
            prop_assert!(!msg.contains('\n'), "one line: {msg:?}");
        }
    }
}

/// Found by `cargo fuzz` (mlflow_answer): a JSON array whose first string holds an escaped
/// newline was read as an MLflow error with that string as its error code, newline and all.
/// Server text of any shape stays on one line.
#[test]
fn an_error_body_of_any_json_shape_stays_on_one_line() {
    for body in [
        "[\"RESOURCE\\nEXHAUSTED\", \"two\\nlines\"]",
        "{\"error_code\": \"BAD\\nCODE\", \"message\": \"line one\\nline two\"}",
        "\"just a string\\nwith a newline\"",
        "{\"error_code\": 5, \"message\": [\"x\\ny\"]}",
    ] {
        for status in [120, 400, 404, 500] {
            let e = interpret(
                "http://mlflow:5000",
                &Auth::None,
                status,
                "application/json",
                body,
                "model `m`",
            )
            .expect_err("an error status is an error");
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "{body} → {msg:?}");
        }
    }
}
