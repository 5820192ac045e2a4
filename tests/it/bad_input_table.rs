//! The bad-input table: every case gets one clear error line (plus an optional hint), the
//! documented exit code, and leaves the registry and the journal exactly as they were.

use crate::common::{Backend, FileBackend, TestEnv, bad_release};

struct Case {
    args: &'static [&'static str],
    config: Option<&'static str>,
    code: i32,
    needle: &'static str,
}

const fn case(args: &'static [&'static str], code: i32, needle: &'static str) -> Case {
    Case {
        args,
        config: None,
        code,
        needle,
    }
}

const fn cfg(
    config: &'static str,
    args: &'static [&'static str],
    code: i32,
    needle: &'static str,
) -> Case {
    Case {
        args,
        config: Some(config),
        code,
        needle,
    }
}

const ROLLBACK: &[&str] = &["rollback", "model", "recsys", "--yes"];
const DRILL: &[&str] = &["drill", "recsys", "--yes"];

fn cases() -> Vec<Case> {
    vec![
        // command line (bare `mlrb` is not bad input: it prints the command list, exit 0)
        case(&["rollbak"], 2, "unrecognized subcommand"),
        case(&["rollback"], 2, "error:"),
        case(&["rollback", "model"], 2, "<MODEL>"),
        case(&["rollback", "model", "recsys", "--bogus"], 2, "--bogus"),
        case(&["status", "-o", "yaml"], 2, "yaml"),
        case(
            &["candidate", "recsys", "--to", "1", "--designate", "2"],
            2,
            "cannot be used with",
        ),
        case(&["report", "ev", "--last"], 2, "cannot be used with"),
        case(&["completions", "tcsh"], 2, "tcsh"),
        // models, versions, aliases
        case(&["rollback", "model", "recsy", "--yes"], 2, "unknown model"),
        case(
            &["rollback", "model", "RECSYS", "--yes"],
            2,
            "unknown model",
        ),
        case(&["rollback", "model", "", "--yes"], 2, "empty"),
        case(&["rollback", "model", "   ", "--yes"], 2, "empty"),
        case(
            &["rollback", "model", "rec\nsys", "--yes"],
            2,
            "control characters",
        ),
        case(
            &["rollback", "model", "rec\u{7}sys", "--yes"],
            2,
            "control characters",
        ),
        case(
            &["rollback", "model", "rec sys", "--yes"],
            2,
            "unknown model",
        ),
        case(
            &["rollback", "model", "recsys'; DROP TABLE", "--yes"],
            2,
            "unknown model",
        ),
        case(
            &["rollback", "model", "../../etc/passwd", "--yes"],
            2,
            "unknown model",
        ),
        case(
            &["rollback", "model", "$(touch pwned)", "--yes"],
            2,
            "unknown model",
        ),
        case(&["rollback", "model", "`id`", "--yes"], 2, "unknown model"),
        case(
            &["rollback", "model", "rec|sys&&x;y", "--yes"],
            2,
            "unknown model",
        ),
        case(
            &["rollback", "model", "モデル", "--yes"],
            2,
            "unknown model",
        ),
        case(
            &["rollback", "model", "recsys", "--yes", "--to", "99"],
            2,
            "no version 99",
        ),
        case(
            &["rollback", "model", "recsys", "--yes", "--to", "0"],
            2,
            "not a version number",
        ),
        case(
            &["rollback", "model", "recsys", "--yes", "--to", "v"],
            2,
            "not a version number",
        ),
        case(
            &["rollback", "model", "recsys", "--yes", "--to", "1.5"],
            2,
            "not a version number",
        ),
        case(
            &[
                "rollback",
                "model",
                "recsys",
                "--yes",
                "--to",
                "99999999999999999999999",
            ],
            2,
            "not a version number",
        ),
        case(
            &["rollback", "model", "recsys", "--yes", "--to", "3"],
            2,
            "is the live version",
        ),
        case(
            &[
                "rollback",
                "model",
                "recsys",
                "--yes",
                "--alias",
                "champ ion",
            ],
            2,
            "alias",
        ),
        case(
            &["rollback", "model", "recsys", "--yes", "--alias", ""],
            2,
            "alias",
        ),
        case(
            &[
                "rollback", "model", "recsys", "--yes", "--alias", "a;rm -rf",
            ],
            2,
            "alias",
        ),
        case(
            &[
                "rollback", "model", "recsys", "--yes", "--alias", "champion",
            ],
            2,
            "no alias @champion",
        ),
        case(&["candidate", "recsys", "--to", "99"], 2, "version 99"),
        case(
            &["candidate", "recsys", "--designate", "99"],
            2,
            "version 99",
        ),
        case(
            &["candidate", "recsys", "--designate", "x"],
            2,
            "not a version number",
        ),
        case(&["status", "nope"], 2, "unknown model"),
        // times and values
        case(
            &[
                "rollback",
                "model",
                "recsys",
                "--yes",
                "--detected-at",
                "tomorrow",
            ],
            2,
            "cannot read",
        ),
        case(
            &[
                "rollback",
                "model",
                "recsys",
                "--yes",
                "--detected-at",
                "2999-01-01T00:00:00Z",
            ],
            2,
            "in the future",
        ),
        case(
            &[
                "rollback",
                "model",
                "recsys",
                "--yes",
                "--detected-at",
                "2026-13-45 99:99",
            ],
            2,
            "cannot read",
        ),
        case(
            &[
                "rollback",
                "model",
                "recsys",
                "--yes",
                "--detected-at",
                "-5m",
            ],
            2,
            "error:",
        ),
        case(
            &[
                "rollback",
                "model",
                "recsys",
                "--yes",
                "--detected-at",
                "100000000y",
            ],
            2,
            "error:",
        ),
        case(
            &["rollback", "model", "recsys", "--yes", "--detected-at", ""],
            2,
            "cannot read",
        ),
        case(
            &[
                "rollback",
                "model",
                "recsys",
                "--yes",
                "--triggered-by",
                "a\nb",
            ],
            2,
            "one line",
        ),
        case(
            &["report", "--last", "--action", "only-what"],
            2,
            "what|owner|due",
        ),
        case(
            &["report", "--last", "--action", "a|b"],
            2,
            "what|owner|due",
        ),
        case(
            &["report", "--last", "--action", "|owner|due"],
            2,
            "what|owner|due",
        ),
        case(
            &["report", "--last", "--root-cause", ""],
            2,
            "between 1 and 4000",
        ),
        case(&["report", "no-such-event"], 2, "no event"),
        // config files
        cfg("[registry\n", ROLLBACK, 2, "mlrb.toml:1"),
        cfg("[registry]\nkind = \"postgres\"\n", ROLLBACK, 2, "postgres"),
        cfg("[registry]\nkind = \"file\"\n", ROLLBACK, 2, "needs `path"),
        cfg("[registry]\nuri = 5\n", ROLLBACK, 2, "mlrb.toml:2"),
        cfg(
            "[registry]\ntimeout = \"-1s\"\n",
            ROLLBACK,
            2,
            "invalid duration",
        ),
        cfg(
            "[registry]\ntimeout = \"0s\"\n",
            ROLLBACK,
            2,
            "greater than zero",
        ),
        cfg(
            "[registry]\nconnect_timeout = \"fast\"\n",
            ROLLBACK,
            2,
            "invalid duration",
        ),
        cfg("[registery]\n", ROLLBACK, 2, "registery"),
        cfg(
            "[models.recsys]\nmode = \"alias\"\n",
            ROLLBACK,
            2,
            "no `alias",
        ),
        cfg(
            "[models.recsys]\nmode = \"stage\"\nalias = \"x\"\n",
            ROLLBACK,
            2,
            "mode = \"stage\"",
        ),
        cfg(
            "[models.recsys]\nmode = \"canary\"\n",
            ROLLBACK,
            2,
            "canary",
        ),
        cfg(
            "[models.recsys]\nregistered_name = [\"a\"]\n",
            ROLLBACK,
            2,
            "mlrb.toml:2",
        ),
        cfg(
            "[models.recsys]\nunknown_key = 1\n",
            ROLLBACK,
            2,
            "unknown_key",
        ),
        cfg(
            "[models.recsys.serving]\nkind = \"http\"\n",
            ROLLBACK,
            2,
            "reload_url and health_url",
        ),
        cfg(
            "[models.recsys.serving]\nkind = \"http\"\nreload_url = \"not a url\"\nhealth_url = \"http://h/\"\n",
            ROLLBACK,
            2,
            "not a URL",
        ),
        cfg(
            "[models.recsys.serving]\nkind = \"carrier-pigeon\"\n",
            ROLLBACK,
            2,
            "carrier-pigeon",
        ),
        cfg(
            "[models.recsys.serving]\nkind = \"http\"\nreload_url = \"http://h/r\"\nhealth_url = \"http://h/h\"\ntimeout = \"forever\"\n",
            ROLLBACK,
            2,
            "invalid duration",
        ),
        // retrain: the keys each CI needs, checked when the config is read
        cfg(
            "[models.recsys.retrain]\nkind = \"gitlab\"\nurl = \"https://gitlab.example.com\"\ntoken_env = \"T\"\n",
            ROLLBACK,
            2,
            "[models.recsys.retrain] needs `project",
        ),
        cfg(
            "[models.recsys.retrain]\nkind = \"github\"\nrepo = \"ml/training\"\ntoken_env = \"T\"\n",
            ROLLBACK,
            2,
            "[models.recsys.retrain] needs `workflow",
        ),
        cfg(
            "[models.recsys.retrain]\nkind = \"webhook\"\n",
            ROLLBACK,
            2,
            "[models.recsys.retrain] needs `url",
        ),
        cfg(
            "[models.recsys.retrain]\nkind = \"gitlab\"\nurl = \"https://gitlab.example.com\"\nproject = \"ml/recsys\"\n",
            ROLLBACK,
            2,
            "needs `token_env = \"VAR\"`",
        ),
        // fallback: a registry version or a serving switch, each with its keys
        cfg(
            "[models.recsys.fallback]\nversion = 1\nswitch = \"kubectl-set-env\"\ndeployment = \"d\"\nenv_var = \"M\"\nvalue = \"x\"\n",
            ROLLBACK,
            2,
            "[models.recsys.fallback] sets both `version`",
        ),
        cfg(
            "[models.recsys.fallback]\ndescription = \"popular\"\n",
            ROLLBACK,
            2,
            "needs `version = N` (a pre-built registry version) or `switch",
        ),
        cfg(
            "[models.recsys.fallback]\nswitch = \"kubectl-set-env\"\ndeployment = \"recs-api\"\nvalue = \"popular\"\n",
            ROLLBACK,
            2,
            "needs `env_var",
        ),
        cfg(
            "[models.recsys.fallback]\nswitch = \"kubectl-set-env\"\nenv_var = \"RECS_MODE\"\nvalue = \"popular\"\n",
            ROLLBACK,
            2,
            "needs `deployment",
        ),
        cfg(
            "[models.recsys.fallback]\nswitch = \"service-selector\"\nservice = \"recs\"\n",
            ROLLBACK,
            2,
            "needs `selector",
        ),
        cfg(
            "[models.recsys.fallback]\nswitch = \"service-selector\"\nservice = \"recs\"\nselector = { app = \"x\" }\nenv_var = \"M\"\n",
            ROLLBACK,
            2,
            "`env_var` does not apply",
        ),
        cfg(
            "[models.recsys.fallback]\nswitch = \"kubectl-set-env\"\ndeployment = \"--all\"\nenv_var = \"M\"\nvalue = \"x\"\n",
            ROLLBACK,
            2,
            "not a Kubernetes name",
        ),
        cfg(
            "[models.recsys.fallback]\nswitch = \"feature-flag\"\n",
            ROLLBACK,
            2,
            "feature-flag",
        ),
        cfg(
            "[models.recsys.fallback]\nversion = 1\n",
            &[
                "rollback",
                "model",
                "recsys",
                "--fallback",
                "--end",
                "--yes",
            ],
            2,
            "--end switches a serving-switch fallback off",
        ),
        cfg(
            "[models.recsys.fallback]\nswitch = \"kubectl-set-env\"\ndeployment = \"recs-api\"\nenv_var = \"RECS_MODE\"\nvalue = \"popular\"\n",
            &[
                "rollback",
                "model",
                "recsys",
                "--fallback",
                "--end",
                "--yes",
            ],
            2,
            "no fallback switch of `recsys` is on",
        ),
        case(
            &["rollback", "model", "recsys", "--end", "--yes"],
            2,
            "--fallback",
        ),
        cfg("\u{feff}[registry]\nkind = 1\n", ROLLBACK, 2, "mlrb.toml"),
        cfg("registry = \"http://x\"\n", ROLLBACK, 2, "mlrb.toml:1"),
        // drills and training data
        cfg(
            "[models.recsys.drill]\nbreach = \"chaos\"\n",
            DRILL,
            2,
            "chaos",
        ),
        cfg(
            "[models.recsys.drill]\nbreach = \"promote\"\nversion = \"seven\"\n",
            DRILL,
            2,
            "mlrb.toml:3",
        ),
        cfg(
            "[models.recsys.drill]\ntimeout = \"soon\"\n",
            DRILL,
            2,
            "invalid duration",
        ),
        cfg(
            "[models.recsys.drill]\nbreach = \"promote\"\nversion = 1\n",
            DRILL,
            2,
            "needs [models.recsys.metrics]",
        ),
        cfg(
            "[models.recsys.metrics]\nprometheus_url = \"http://127.0.0.1:9\"\nerror_rate = 'x'\n[models.recsys.drill]\nbreach = \"endpoint\"\ninject_url = \"ftp://ops:secret@x/\"\n",
            DRILL,
            2,
            "not an http(s) URL",
        ),
        cfg(
            "[models.recsys.training_data]\nkeys = \"dataset\"\n",
            &["changes", "recsys"],
            2,
            "mlrb.toml",
        ),
        case(
            &["drill", "recsys", "--restore", "--yes"],
            2,
            "no interrupted drill",
        ),
        case(
            &["drill", "--history", "--restore"],
            2,
            "cannot be used with",
        ),
        case(
            &["drill", "recsys", "--sandbox", "--restore"],
            2,
            "cannot be used with",
        ),
    ]
}

#[test]
fn every_bad_input_is_one_line_nonzero_and_changes_nothing() {
    let cases = cases();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    for (i, c) in cases.iter().enumerate() {
        let mut env = TestEnv::new();
        let b = FileBackend::new(&env);
        b.configure(&mut env);
        b.seed("recsys", &bad_release(), &[]);
        // An earlier event, so `report` has a journal to read and the journal must stay as is.
        env.run(&[
            "rollback",
            "model",
            "recsys",
            "--yes",
            "--to",
            "1",
            "--dry-run",
        ])
        .code(0);
        if let Some(text) = c.config {
            let p = env.write("mlrb.toml", text);
            env.set("MLRB_CONFIG", p.display().to_string());
        }
        let before = b.snapshot("recsys");
        let journal_before = env.journal();
        let out = env.run(c.args);
        let line = out.one_clear_error(c.code);
        assert!(
            line.contains(c.needle),
            "case {i} {:?}: `{}` not in {line}",
            c.args,
            c.needle
        );
        assert_eq!(
            b.snapshot("recsys"),
            before,
            "case {i} {:?} changed the registry",
            c.args
        );
        assert_eq!(
            env.journal(),
            journal_before,
            "case {i} {:?} changed the journal",
            c.args
        );
        assert!(
            !env.path().join("pwned").exists(),
            "a shell interpreted a name"
        );
    }
}
