//! Runbooks are tested, not just written: every ```sh block runs, in order, against a world
//! with the incident's registry, a real Kubernetes API server, a real git repository and a CI
//! server, and must exit 0.

use mlrb::registry::Stage;
use serde_json::json;

use crate::common::http_server::{Reply, TestServer};
use crate::common::kube::cluster;
use crate::common::staging::{StagingServer, staging_config};
use crate::common::{Backend, FileBackend, TestEnv, v};

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

/// The world a runbook runs in: the incident's registry, a real Kubernetes deployment with a
/// broken last release (and the API in front of it, whose env var switches the non-ML fallback), a feature-pipeline repository whose last commit is the bad change, and a
/// CI server implementing GitLab's trigger and pipeline API.
struct World {
    env: TestEnv,
    _ci: TestServer,
    _staging: StagingServer,
}

fn git(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "ml")
        .env("GIT_AUTHOR_EMAIL", "ml@example.com")
        .env("GIT_COMMITTER_NAME", "ml")
        .env("GIT_COMMITTER_EMAIL", "ml@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn world() -> World {
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
    let k = cluster();
    k.configure(&mut env);
    let ns = k.namespace("runbook");
    k.deployment(
        &ns,
        "model-server",
        &["reg/model-server:1.4", "reg/model-server:broken-1.5"],
    );
    // The API in front of the model, whose RECS_MODE=popular is the pre-built non-ML fallback.
    k.deployment(&ns, "recs-api", &["reg/recs-api:2.0"]);

    let repo = env.path().join("features-repo");
    std::fs::create_dir_all(repo.join("feature_pipeline")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("feature_pipeline/embed.py"), "DIM = 64\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "embeddings v1"]);
    std::fs::write(
        repo.join("feature_pipeline/embed.py"),
        "DIM = 8  # tokenizer update\n",
    )
    .unwrap();
    git(&repo, &["commit", "-q", "-am", "tokenizer update"]);

    let ci = TestServer::start(|req| match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/api/v4/projects/ml%2Frecsys/trigger/pipeline") => Reply::json(
            201,
            json!({"id": 42, "status": "created", "web_url": "https://gitlab.example.com/ml/recsys/-/pipelines/42"}),
        ),
        ("GET", "/api/v4/projects/ml%2Frecsys/pipelines/42") => {
            Reply::json(200, json!({"id": 42, "status": "success"}))
        }
        _ => Reply::text(404, "text/plain", "no route"),
    });
    env.set("RETRAIN_TOKEN", "runbook-trigger-token-1");
    env.set("GITLAB_API_TOKEN", "runbook-api-token-1");
    let cfg = env.write(
        "mlrb.toml",
        &format!(
            "[models.recsys.infra]\nstrategy = \"kubectl\"\ndeployment = \"model-server\"\nnamespace = \"{ns}\"\ntimeout = \"30s\"\n\n\
             [models.recsys.features]\nrepo = \"{}\"\npath = \"feature_pipeline\"\ndvc = false\n\n\
             [models.recsys.retrain]\nkind = \"gitlab\"\nurl = \"{}\"\nproject = \"ml/recsys\"\nref = \"main\"\n\
             token_env = \"RETRAIN_TOKEN\"\nstatus_token_env = \"GITLAB_API_TOKEN\"\npoll_interval = \"1s\"\n\n\
             [models.recsys.fallback]\ndescription = \"most-popular items, no ML\"\nswitch = \"kubectl-set-env\"\n\
             deployment = \"recs-api\"\nnamespace = \"{ns}\"\nenv_var = \"RECS_MODE\"\nvalue = \"popular\"\ntimeout = \"30s\"\n",
            repo.display(),
            ci.url
        ),
    );
    env.set("MLRB_CONFIG", cfg.display().to_string());

    // Staging, for the quarterly drill: its own registry (v2 live, v3 known bad), a model server
    // whose metrics in the real Prometheus follow the version it serves.
    let staging_reg = FileBackend {
        path: env.path().join("staging-registry.json"),
    };
    mlrb::registry::file::FileRegistry::create(&staging_reg.path).unwrap();
    staging_reg.seed(
        "recsys",
        &[
            v(Stage::Archived),
            v(Stage::Production).healthy(),
            v(Stage::Archived),
        ],
        &[],
    );
    let label = crate::common::unique("runbook-staging");
    let staging = StagingServer::start(&label, 2, &[3]);
    env.write(
        "staging.toml",
        &staging_config(
            &label,
            "recsys",
            &staging,
            "",
            "breach = \"promote\"\nversion = 3",
        ),
    );
    crate::common::prometheus::prom().wait_for(&label, "prediction_diversity", 0.73);
    World {
        env,
        _ci: ci,
        _staging: staging,
    }
}

/// The world of the GitOps runbook: the model's deployment managed by an Argo CD Application
/// (auto-sync on), and the GitOps repository (a clone of a bare remote) holding its image.
fn managed_by_argocd(env: &TestEnv) {
    let k = cluster();
    let cfg_path = env.path().join("mlrb.toml");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap();
    let ns = cfg
        .split("namespace = \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    k.kubectl(&[
        "-n",
        &ns,
        "annotate",
        "deployment/model-server",
        &format!("argocd.argoproj.io/tracking-id=recsys:apps/Deployment:{ns}/model-server"),
    ]);
    let argocd = k.namespace("runbook-argocd");
    k.apply(
        &argocd,
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: recsys\nspec:\n  project: default\n  source:\n    repoURL: https://git.example.com/gitops.git\n    path: apps/recsys\n  destination:\n    server: https://kubernetes.default.svc\n  syncPolicy:\n    automated:\n      selfHeal: true\n",
    );
    let bare = env.path().join("gitops.git");
    let repo = env.path().join("gitops");
    git(
        env.path(),
        &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
    );
    git(
        env.path(),
        &[
            "clone",
            "-q",
            bare.to_str().unwrap(),
            repo.to_str().unwrap(),
        ],
    );
    std::fs::create_dir_all(repo.join("apps/recsys")).unwrap();
    std::fs::write(
        repo.join("apps/recsys/deployment.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: model-server\nspec:\n  template:\n    spec:\n      containers:\n      - name: model-server\n        image: reg/model-server:broken-1.5\n",
    )
    .unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "deploy 1.5"]);
    git(&repo, &["push", "-q", "-u", "origin", "main"]);
    std::fs::write(
        &cfg_path,
        format!(
            "{cfg}\n[models.recsys.gitops]\nkind = \"argocd\"\napplication = \"recsys\"\nnamespace = \"{argocd}\"\nrepo = \"gitops\"\nfile = \"apps/recsys/deployment.yaml\"\nkey = \"spec.template.spec.containers[0].image\"\n"
        ),
    )
    .unwrap();
}

/// For the shadow runbook: `recsys` is in shadow mode behind an Istio VirtualService that
/// mirrors half its primary route to `ms/shadow` (and a tap elsewhere).
fn shadow_world(env: &mut TestEnv) {
    let k = cluster();
    let ns = k.namespace("runbook-shadow");
    k.apply(
        &ns,
        "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata:\n  name: ms\nspec:\n  hosts: [ms]\n  http:\n  - name: primary\n    route:\n    - destination: {host: ms, subset: stable}\n    mirror: {host: ms, subset: shadow}\n    mirrorPercentage: {value: 50}\n  - name: analytics\n    route:\n    - destination: {host: ms, subset: stable}\n    mirror: {host: analytics-tap}\n",
    );
    let cfg = env.write(
        "shadow.toml",
        &format!(
            "[models.recsys.infra]\nstrategy = \"istio\"\nvirtual_service = \"ms\"\nnamespace = \"{ns}\"\nshadow = {{ host = \"ms\", subset = \"shadow\" }}\n"
        ),
    );
    env.set("MLRB_CONFIG", cfg.display().to_string());
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
        let World { mut env, .. } = world();
        if book.ends_with("gitops-managed.md") {
            managed_by_argocd(&env);
        }
        if book.ends_with("shadow-stop.md") {
            shadow_world(&mut env);
        }
        let _kserve = book
            .ends_with("served-by-kserve.md")
            .then(|| crate::kserve::runbook_world(&mut env));
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

#[test]
fn runbook_command_fills_in_the_models_names() {
    let env = TestEnv::new();
    let cfg = env.write(
        "mlrb.toml",
        "[models.fraud]\nregistered_name = \"fraud-detector\"\n[models.fraud.infra]\nstrategy = \"kubectl\"\ndeployment = \"fraud-server\"\nnamespace = \"risk\"\n",
    );
    for topic in [
        "model",
        "infra",
        "features",
        "retrain",
        "no-target",
        "drill",
        "gitops",
        "shadow",
    ] {
        let out = env.run(&[
            "--config",
            cfg.to_str().unwrap(),
            "runbook",
            "fraud",
            "--topic",
            topic,
        ]);
        out.code(0);
        assert!(
            out.stdout.contains("mlrb ") && out.stdout.contains(" fraud"),
            "{topic}"
        );
        assert!(
            !out.stdout.contains(" recsys"),
            "{topic}: every name filled in"
        );
        assert!(out.stdout.contains("`fraud-detector`"), "{topic}");
    }
    let out = env.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "runbook",
        "fraud",
        "--topic",
        "infra",
    ]);
    assert!(out.stdout.contains("mlrb rollback infra fraud --dry-run"));
    assert!(
        out.stdout
            .contains("deployment `fraud-server` in namespace `risk`")
    );
}
