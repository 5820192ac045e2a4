//! Shadow stop (`rollback infra --shadow`) on the real kube-apiserver with the Istio CRD: only
//! the mirror to the model's shadow goes; weights, other mirrors and every other field stay;
//! what was removed is recorded; lock, journal, resume and idempotence as for every kind.

use serde_json::{Value, json};

use crate::common::kube::cluster;
use crate::common::{Backend, FileBackend, TestEnv, bad_release};

/// Several routes: the model's split mirroring to its shadow, a header route without a mirror,
/// a route mirroring to an analytics tap (another destination), and another host's route with
/// its own shadow subset (a mirror on another host).
const ROUTES: &str = "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata:\n  name: ms\nspec:\n  hosts: [ms, other]\n  http:\n  - name: primary\n    timeout: 3s\n    retries: {attempts: 2, perTryTimeout: 1s}\n    route:\n    - destination: {host: ms, subset: stable}\n      weight: 90\n    - destination: {host: ms, subset: canary}\n      weight: 10\n    mirror: {host: ms, subset: shadow}\n    mirrorPercentage: {value: 50.5}\n  - name: testers\n    match:\n    - headers: {x-tester: {exact: \"1\"}}\n    route:\n    - destination: {host: ms, subset: canary}\n  - name: analytics\n    match:\n    - uri: {prefix: /batch}\n    route:\n    - destination: {host: ms, subset: stable}\n    mirror: {host: analytics-tap}\n    mirrorPercentage: {value: 1}\n  - name: other\n    route:\n    - destination: {host: other, subset: stable}\n      weight: 80\n    - destination: {host: other, subset: canary}\n      weight: 20\n    mirror: {host: other, subset: shadow}\n";

fn vs(ns: &str) -> Value {
    serde_json::from_str(&cluster().kubectl(&[
        "-n",
        ns,
        "get",
        "virtualservices.networking.istio.io",
        "ms",
        "-o",
        "json",
    ]))
    .unwrap()
}

fn shadow_env(ns: &str) -> TestEnv {
    let mut env = TestEnv::new();
    cluster().configure(&mut env);
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    b.seed("recsys", &bad_release(), &[]);
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.infra]\nstrategy = \"istio\"\nvirtual_service = \"ms\"\nnamespace = \"{ns}\"\nshadow = {{ host = \"ms\", subset = \"shadow\" }}\n"
        ),
    );
    env
}

/// The spec as it must be after the stop: the primary route without its shadow mirror.
fn expected_after(before: &Value) -> Value {
    let mut want = before.clone();
    let o = want["http"][0].as_object_mut().unwrap();
    o.remove("mirror");
    o.remove("mirrorPercentage");
    want
}

#[test]
fn shadow_stop_removes_only_the_mirror_to_the_models_shadow() {
    let k = cluster();
    let ns = k.namespace("shadow");
    k.apply(&ns, ROUTES);
    let before = vs(&ns)["spec"].clone();
    let env = shadow_env(&ns);

    // status shows the live shadow and its share.
    let st = env.run(&["status", "recsys"]);
    st.code(0);
    assert!(
        st.stdout.contains(
            "shadow: live: virtualservice/ms mirrors 50.5% of route primary to ms/shadow; users never see its answers; stop it with `mlrb rollback infra recsys --shadow`"
        ),
        "{}",
        st.stdout
    );

    // The plan: per route what changes, and that users were never exposed; nothing changes.
    let dry = env.run(&["rollback", "infra", "recsys", "--shadow", "--dry-run"]);
    dry.code(0);
    for want in [
        "Infra rollback plan for recsys (istio-shadow): virtualservice/ms in namespace",
        "shadow ms/shadow mirrored (50.5% of route primary) → stopped",
        "users were never exposed",
        "route primary: mirror ms/shadow 50.5% → no mirror",
        "route testers (no mirror), unchanged",
        "route analytics (mirror analytics-tap 1%), unchanged",
        "route other (mirror other/shadow 100%), unchanged",
    ] {
        assert!(
            dry.stdout.contains(want) || dry.stderr.contains(want),
            "{want}\n{}\n{}",
            dry.stdout,
            dry.stderr
        );
    }
    assert_eq!(vs(&ns)["spec"], before, "a dry run changes nothing");

    let out = env.run(&["rollback", "infra", "recsys", "--shadow", "--yes"]);
    out.code(0);
    assert!(
        out.stdout.contains("users were never exposed"),
        "{}",
        out.stdout
    );
    // The report's change timeline puts it in the serving layer.
    assert!(
        out.stdout
            .contains("| infra | mlrb rollback infra --shadow by oncall"),
        "{}",
        out.stdout
    );
    let after = vs(&ns);
    assert_eq!(
        after["spec"],
        expected_after(&before),
        "only the shadow's mirror went: weights, the tap, the other host's mirror, timeouts, retries as they were"
    );
    // What was removed is on the object and in the journal, for a restore.
    let recorded: Value = serde_json::from_str(
        after["metadata"]["annotations"]["mlrb.dev/shadow-stopped"]
            .as_str()
            .expect("the removal is recorded on the VirtualService"),
    )
    .unwrap();
    assert_eq!(
        recorded,
        json!([{"index": 0, "route": "primary", "removed": {
            "mirror": {"host": "ms", "subset": "shadow"},
            "mirrorPercentage": {"value": 50.5}
        }}])
    );
    let notes: Vec<String> = env
        .journal()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["type"] == "note")
        .filter_map(|r| r["text"].as_str().map(str::to_string))
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains(r#""mirrorPercentage":{"value":50.5}"#)),
        "{notes:?}"
    );
    let started: Vec<Value> = env
        .journal()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["type"] == "started")
        .collect();
    assert_eq!(started[0]["command"], "rollback infra --shadow");

    // Again: nothing to stop, said so, exit 0.
    let again = env.run(&["rollback", "infra", "recsys", "--shadow", "--yes"]);
    again.code(0);
    assert!(
        again
            .stderr
            .contains("no route mirrors traffic to the shadow ms/shadow")
            && again.stderr.contains("Users were never exposed"),
        "{}",
        again.stderr
    );
    assert_eq!(vs(&ns)["spec"], expected_after(&before));
    let st = env.run(&["status", "recsys"]);
    assert!(
        st.stdout
            .contains("shadow: off (virtualservice/ms mirrors nothing to ms/shadow)"),
        "{}",
        st.stdout
    );
}

#[test]
fn shadow_stop_interrupted_is_resumed_and_done_once() {
    let k = cluster();
    for at in ["started:1", "finished:1"] {
        let ns = k.namespace(&format!("shcrash{}", at.replace(':', "")));
        k.apply(&ns, ROUTES);
        let before = vs(&ns)["spec"].clone();
        let mut env = shadow_env(&ns);
        env.set("MLRB_TEST_CRASH_AT", at);
        let out = env.run(&["rollback", "infra", "recsys", "--shadow", "--yes"]);
        assert_ne!(out.code, 0, "{at}: the process was killed");
        env.vars.remove("MLRB_TEST_CRASH_AT");
        let refused = env.run(&["rollback", "infra", "recsys", "--shadow", "--yes"]);
        let line = refused.one_clear_error(2);
        assert!(line.contains("was interrupted"), "{at}: {line}");
        assert!(
            refused
                .stderr
                .contains("finish it with `mlrb rollback infra --shadow recsys --resume`"),
            "{at}: {}",
            refused.stderr
        );
        let out = env.run(&[
            "rollback", "infra", "recsys", "--shadow", "--resume", "--yes",
        ]);
        out.code(0);
        assert_eq!(vs(&ns)["spec"], expected_after(&before), "{at}");
        // Finished: a new run finds nothing to do.
        env.run(&["rollback", "infra", "recsys", "--shadow", "--yes"])
            .code(0);
    }
}

#[test]
fn shadow_stop_needs_a_configured_shadow_and_an_istio_strategy() {
    let k = cluster();
    let ns = k.namespace("shadowcfg");
    k.apply(&ns, ROUTES);
    let before = vs(&ns)["spec"].clone();
    let mut env = TestEnv::new();
    k.configure(&mut env);
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.infra]\nstrategy = \"istio\"\nvirtual_service = \"ms\"\nnamespace = \"{ns}\"\n"
        ),
    );
    let line = env
        .run(&["rollback", "infra", "recsys", "--shadow", "--yes"])
        .one_clear_error(2);
    assert!(
        line.contains("[models.recsys.infra] has no `shadow`"),
        "{line}"
    );
    env.write(
        "mlrb.toml",
        "[models.recsys.infra]\nstrategy = \"kubectl\"\ndeployment = \"ms\"\n",
    );
    let line = env
        .run(&["rollback", "infra", "recsys", "--shadow", "--yes"])
        .one_clear_error(2);
    assert!(line.contains("strategy is not \"istio\""), "{line}");
    // A shadow nobody mirrors to: nothing to stop, nothing changed.
    env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.infra]\nstrategy = \"istio\"\nvirtual_service = \"ms\"\nnamespace = \"{ns}\"\nshadow = {{ host = \"ms\", subset = \"shadw\" }}\n"
        ),
    );
    let out = env.run(&["rollback", "infra", "recsys", "--shadow", "--yes"]);
    out.code(0);
    assert!(
        out.stderr
            .contains("no route mirrors traffic to the shadow ms/shadw"),
        "{}",
        out.stderr
    );
    assert_eq!(vs(&ns)["spec"], before);
}

#[test]
fn a_shadow_in_the_config_must_be_an_istio_mirror_with_a_host() {
    for (infra, want) in [
        (
            "strategy = \"kubectl\"\ndeployment = \"ms\"\nshadow = { host = \"ms\", subset = \"shadow\" }\n",
            "shadow is the mirror destination of an Istio VirtualService",
        ),
        (
            "strategy = \"istio\"\nvirtual_service = \"ms\"\nshadow = { host = \"\" }\n",
            "shadow needs a host",
        ),
        (
            "strategy = \"istio\"\nvirtual_service = \"ms\"\nshadow = { host = \"ms\", subset = \"-x\" }\n",
            "shadow.subset",
        ),
        (
            "strategy = \"istio\"\nvirtual_service = \"ms\"\nshadow = { host = \"ms\", subnet = \"x\" }\n",
            "subnet",
        ),
    ] {
        let env = TestEnv::new();
        env.write("mlrb.toml", &format!("[models.recsys.infra]\n{infra}"));
        let line = env
            .run(&["rollback", "infra", "recsys", "--shadow", "--dry-run"])
            .one_clear_error(2);
        assert!(line.contains(want), "{want}: {line}");
    }
}

#[test]
fn shadow_restore_puts_back_exactly_what_the_stop_removed() {
    let k = cluster();
    let ns = k.namespace("shrestore");
    k.apply(&ns, ROUTES);
    let before = vs(&ns)["spec"].clone();
    let env = shadow_env(&ns);
    // Nothing stopped yet: nothing to restore.
    let none = env.run(&[
        "rollback",
        "infra",
        "recsys",
        "--shadow",
        "--restore",
        "--yes",
    ]);
    none.code(0);
    assert!(
        none.stderr
            .contains("no shadow stop recorded to undo (it mirrors to ms/shadow already)"),
        "{}",
        none.stderr
    );
    env.run(&["rollback", "infra", "recsys", "--shadow", "--yes"])
        .code(0);
    assert_eq!(vs(&ns)["spec"], expected_after(&before));
    let out = env.run(&[
        "rollback",
        "infra",
        "recsys",
        "--shadow",
        "--restore",
        "--yes",
    ]);
    out.code(0);
    assert!(
        out.stdout
            .contains("route primary: no mirror → mirror ms/shadow 50.5%"),
        "{}",
        out.stdout
    );
    let now = vs(&ns);
    assert_eq!(now["spec"], before, "every route as before the stop");
    assert!(
        now["metadata"]["annotations"]["mlrb.dev/shadow-stopped"].is_null(),
        "the record is cleared: {}",
        now["metadata"]
    );
    let again = env.run(&[
        "rollback",
        "infra",
        "recsys",
        "--shadow",
        "--restore",
        "--yes",
    ]);
    again.code(0);
    assert!(again.stderr.contains("nothing changed"), "{}", again.stderr);

    // Stopped, then someone points the route's mirror elsewhere: the restore refuses to
    // replace it.
    env.run(&["rollback", "infra", "recsys", "--shadow", "--yes"])
        .code(0);
    k.kubectl(&[
        "-n",
        &ns,
        "patch",
        "virtualservices.networking.istio.io",
        "ms",
        "--type=json",
        "-p",
        r#"[{"op": "add", "path": "/spec/http/0/mirror", "value": {"host": "debug-tap"}}]"#,
    ]);
    let held = vs(&ns)["spec"].clone();
    let line = env
        .run(&[
            "rollback",
            "infra",
            "recsys",
            "--shadow",
            "--restore",
            "--yes",
        ])
        .one_clear_error(2);
    assert!(
        line.contains("route primary now has its own mirror")
            && line.contains("nothing was changed"),
        "{line}"
    );
    assert_eq!(vs(&ns)["spec"], held);
}
