//! `mlrb watch` as teams run it: its /metrics scraped by a real Prometheus, recommend-only,
//! several replicas under leader election on the real kube-apiserver (failover after kill -9,
//! a partitioned leader), fleet reads of shared query templates, and a rollback a lease blocks.

use std::io::{BufRead, BufReader};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mlrb::registry::Stage;

use crate::common::fault::{Fault, FaultProxy, When};
use crate::common::http_server::{Reply, TestServer};
use crate::common::kube::cluster;
use crate::common::mlflow::{MlflowBackend, free_port};
use crate::common::prometheus::{model_config, prom, series};
use crate::common::{Backend, FileBackend, TestEnv, bad_release, repo_root, unique};

/// A running `mlrb watch`; its stderr lines with when each arrived. Killed when dropped.
struct Proc {
    child: Child,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Proc {
    fn start(env: &TestEnv, vars: &[(&str, String)], args: &[&str]) -> Proc {
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("mlrb"))
            .env_clear()
            .envs(&env.vars)
            .envs(vars.iter().map(|(k, v)| (k, v)))
            .current_dir(env.path())
            .arg("watch")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = child.stderr.take().unwrap();
        let lines: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                l.lock().unwrap().push((Instant::now(), line));
            }
        });
        Proc { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Waits for the first line containing `pat` from line `from` on; (its index, when it came).
    fn wait_from(&self, from: usize, pat: &str, secs: u64) -> (usize, Instant) {
        let t0 = Instant::now();
        loop {
            if let Some((i, (at, _))) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, (_, l))| l.contains(pat))
            {
                return (i, *at);
            }
            assert!(
                t0.elapsed() < Duration::from_secs(secs),
                "no `{pat}` in {secs} s:\n{}",
                self.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait(&self, pat: &str, secs: u64) -> (usize, Instant) {
        self.wait_from(0, pat, secs)
    }

    fn count(&self, pat: &str) -> usize {
        self.lines().iter().filter(|l| l.contains(pat)).count()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn slack() -> TestServer {
    TestServer::start(|_| Reply::text(200, "text/plain", "ok"))
}

fn texts(s: &TestServer) -> Vec<String> {
    s.requests()
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            v["text"]
                .as_str()
                .unwrap_or("")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect()
}

/// One model, its error rate from the test gauge, a 1 s controller, Slack from $SLACK_URL.
fn one_model(env: &mut TestEnv, b: &dyn Backend, slack: &str, controller: &str) -> String {
    let m = unique("ctl");
    b.seed(&m, &bad_release(), &[]);
    let toml = model_config(
        &prom().url,
        &m,
        &["error_rate"],
        &format!(
            "[models.\"{m}\".baseline]\nerror_rate = 0.01\n\
             [models.\"{m}\".controller]\ncheck_interval = \"1s\"\n{controller}\n\
             [models.\"{m}\".verify]\ntimeout = \"15s\"\ninterval = \"1s\"\n\
             [notify]\nslack_webhook_env = \"SLACK_URL\"\n"
        ),
    );
    let cfg = env.write("mlrb.toml", &toml);
    env.set("MLRB_CONFIG", cfg.display().to_string());
    env.set("SLACK_URL", slack);
    m
}

/// A Prometheus of this test's own, scraping `target` (host:port) every second.
struct OwnProm {
    url: String,
    _child: Child,
    _dir: tempfile::TempDir,
}

impl OwnProm {
    fn start(target: &str) -> OwnProm {
        let dir = tempfile::tempdir().unwrap();
        let tmpl =
            std::fs::read_to_string(repo_root().join("tests/env/prometheus.yml.tmpl")).unwrap();
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(&cfg, tmpl.replace("__TARGET__", target)).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(repo_root().join("tests/env/with-parent.sh"))
            .arg(std::process::id().to_string())
            .arg("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus is required: run `tests/env/setup.sh prometheus`");
        OwnProm {
            url: format!("http://127.0.0.1:{port}"),
            _child: child,
            _dir: dir,
        }
    }

    /// The value of an instant query's first series.
    fn value(&self, q: &str) -> Option<f64> {
        let r = reqwest::blocking::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", q)])
            .send()
            .ok()?;
        let v: serde_json::Value = r.json().ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    /// Waits until `q` has a value for which `ok` holds.
    fn wait(&self, q: &str, ok: impl Fn(f64) -> bool, secs: u64) -> f64 {
        let t0 = Instant::now();
        loop {
            let got = self.value(q);
            if let Some(v) = got.filter(|v| ok(*v)) {
                return v;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(secs),
                "prometheus never showed the wanted value of {q} in {secs} s (last {got:?})"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn metrics_are_scraped_by_a_real_prometheus_and_healthz_answers() {
    let p = prom();
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let s = slack();
    let m = one_model(&mut env, &b, &s.url, "consecutive_failures_required = 100");
    p.put(&m, "error_rate", 0.01);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let w = Proc::start(&env, &[], &[&m, "--listen", &addr]);
    w.wait("serving GET /metrics and GET /healthz", 20);
    let health = reqwest::blocking::get(format!("http://{addr}/healthz")).unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(health.text().unwrap(), "ok\n");
    let missing = reqwest::blocking::get(format!("http://{addr}/nope")).unwrap();
    assert_eq!(missing.status().as_u16(), 404);

    let scraper = OwnProm::start(&addr);
    let sel = |name: &str, extra: &str| format!("{name}{{model=\"{m}\"{extra}}}");
    scraper.wait(r#"up{job="mlrb-test"}"#, |v| v == 1.0, 60);
    scraper.wait(
        &sel("mlrb_watch_checks_total", ",result=\"ok\""),
        |v| v >= 1.0,
        30,
    );
    scraper.wait("mlrb_watch_leader", |v| v == 1.0, 30);
    // Hard breaches are counted (100 in a row are needed to act, so none is made).
    p.put(&m, "error_rate", 0.08);
    scraper.wait(
        &sel("mlrb_watch_breaches_total", ",kind=\"hard\""),
        |v| v >= 2.0,
        30,
    );
    let last = scraper.wait(
        &sel("mlrb_watch_last_successful_check_timestamp_seconds", ""),
        |v| v > 0.0,
        30,
    );
    let now = chrono::Utc::now().timestamp() as f64;
    assert!((now - last).abs() < 30.0, "last check {last}, now {now}");
    assert_eq!(scraper.value("mlrb_watch_blind_models"), Some(0.0));
    assert_eq!(
        scraper.value(&sel("mlrb_watch_breaches_total", ",kind=\"soft\"")),
        Some(0.0)
    );
    assert!(
        scraper
            .value("mlrb_watch_prometheus_queries_total")
            .unwrap()
            >= 1.0
    );
    assert_eq!(b.version(&m, 3).0, Stage::Production);
}

#[test]
fn a_listen_address_in_use_is_one_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let s = slack();
    let m = one_model(&mut env, &b, &s.url, "");
    let out = env.run(&["watch", &m, "--listen", &addr]);
    let line = out.one_clear_error(2);
    assert!(line.contains(&format!("--listen {addr}")), "{line}");
}

#[test]
fn recommend_only_notifies_and_records_the_rollback_it_would_make_and_makes_none() {
    let p = prom();
    let mut env = TestEnv::new();
    let b = MlflowBackend::new();
    b.configure(&mut env);
    let s = slack();
    let m = one_model(&mut env, &b, &s.url, "consecutive_failures_required = 2");
    p.put(&m, "error_rate", 0.08);
    let before = b.snapshot(&m);
    let w = Proc::start(&env, &[], &[&m, "--recommend-only"]);
    w.wait("RECOMMEND-ONLY", 20);
    let (i, _) = w.wait("ROLLBACK RECOMMENDED", 30);
    // The breach goes on: more checks, the recommendation stands, no second notification.
    w.wait_from(i + 1, "still: ROLLBACK RECOMMENDED", 30);
    assert!(w.lines()[i].contains("from v3 to v2"), "{}", w.lines()[i]);
    let t = texts(&s);
    let recs: Vec<&String> = t
        .iter()
        .filter(|x| x.contains("ROLLBACK RECOMMENDED"))
        .collect();
    assert_eq!(recs.len(), 1, "{t:?}");
    assert!(recs[0].contains("Would roll back: v3 -> v2"), "{}", recs[0]);
    assert!(
        recs[0].contains("Error rate 8.0% exceeds threshold 5.0%"),
        "{}",
        recs[0]
    );
    assert!(
        !t.iter().any(|x| x.contains("ROLLBACK IN PROGRESS")),
        "{t:?}"
    );
    assert_eq!(w.count("AUTOMATED ROLLBACK TRIGGERED"), 0);
    // Nothing changed but the recommendation itself.
    assert_eq!(b.version(&m, 3).0, Stage::Production);
    // The versions as they were; the model's tags too, but for the recommendation.
    let parse = |snap: &str| -> serde_json::Value { serde_json::from_str(snap).unwrap() };
    let (was, now) = (parse(&before), parse(&b.snapshot(&m)));
    assert_eq!(was["versions"], now["versions"]);
    let tags = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        let mut t: Vec<serde_json::Value> = v["model"]["registered_model"]["tags"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t["key"] != "rollback.recommendation")
            .collect();
        t.sort_by_key(|t| t["key"].to_string());
        t
    };
    assert_eq!(tags(&was), tags(&now));
    assert!(
        now["model"]["registered_model"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "rollback.recommendation"),
        "{now}"
    );
    drop(w);
    // `status`, from anywhere that reads the registry, shows the last recommendation.
    let out = env.run(&["status", &m]);
    out.code(0);
    assert!(
        out.stdout
            .contains("last recommendation (mlrb-watch --recommend-only at ")
            && out
                .stdout
                .contains("roll back v3 -> v2: Error rate 8.0% exceeds threshold 5.0%"),
        "{}",
        out.stdout
    );
    let json = env.run(&["status", &m, "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["recommendation"]["to"], 2, "{v}");
    assert_eq!(v["recommendation"]["from"], "v3", "{v}");
}

/// Issue: a forged lease (any registry writer can add one) refused every rollback, and watch
/// then sat in post-rollback mode telling Slack the never-made-live version had not recovered.
#[test]
fn a_rollback_a_lease_blocks_is_retried_every_check_and_escalated_never_watched_as_done() {
    let p = prom();
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let s = slack();
    let m = one_model(
        &mut env,
        &b,
        &s.url,
        "consecutive_failures_required = 1\npost_rollback_watch = \"1h\"",
    );
    let since = chrono::Utc::now();
    let forged = serde_json::json!({
        "holder": "mallory", "host": "nowhere", "pid": 1, "number": 1,
        "since": since, "expires": "9999-01-01T00:00:00Z"
    });
    b.set_model_tag(&m, "rollback.lease.rollback-forged", &forged.to_string());
    p.put(&m, "error_rate", 0.08);
    let w = Proc::start(&env, &[], &[&m]);
    let (first, _) = w.wait("Rollback BLOCKED", 40);
    assert!(w.lines()[first].contains("mallory"), "{}", w.lines()[first]);
    // Retried at the next checks, not parked in a post-rollback watch.
    w.wait_from(first + 1, "TRIGGERED for", 20);
    let (second, _) = w.wait_from(first + 1, "Rollback BLOCKED", 20);
    w.wait_from(second + 1, "Rollback BLOCKED", 20);
    assert_eq!(w.count("post_rollback"), 0);
    assert_eq!(w.count("watching v2"), 0);
    assert_eq!(b.version(&m, 3).0, Stage::Production);
    let t = texts(&s);
    let blocked: Vec<&String> = t
        .iter()
        .filter(|x| x.contains("AUTOMATED ROLLBACK BLOCKED"))
        .collect();
    assert_eq!(
        blocked.len(),
        1,
        "escalated once, not at every retry: {t:?}"
    );
    assert!(blocked[0].contains("mallory"), "{}", blocked[0]);
    assert!(!t.iter().any(|x| x.contains("NOT RECOVERED")), "{t:?}");
    // The lease is released: the next check rolls back, and only then the post-rollback watch.
    let released = serde_json::json!({
        "holder": "mallory", "host": "nowhere", "pid": 1, "number": 1,
        "since": since, "expires": "9999-01-01T00:00:00Z", "released": chrono::Utc::now()
    });
    b.set_model_tag(&m, "rollback.lease.rollback-forged", &released.to_string());
    w.wait("watching v2 for 1h after the rollback", 60);
    assert_eq!(b.version(&m, 2).0, Stage::Production);
    assert_eq!(b.version(&m, 3).0, Stage::Archived);
}

/// A TCP proxy in front of the API server that can cut the connection: the network partition
/// between one replica and the control plane.
struct Partition {
    addr: String,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Partition {
    fn start(upstream: String) -> Partition {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (c, o) = (cut.clone(), open.clone());
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(down) = conn else { continue };
                if c.load(Ordering::SeqCst) {
                    let _ = down.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(up) = TcpStream::connect(&upstream) else {
                    continue;
                };
                o.lock().unwrap().push(down.try_clone().unwrap());
                o.lock().unwrap().push(up.try_clone().unwrap());
                for (mut from, mut to) in [
                    (down.try_clone().unwrap(), up.try_clone().unwrap()),
                    (up, down),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Partition { addr, cut, open }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// A kubeconfig like the cluster's, its server behind `proxy`.
fn kubeconfig_via(env: &TestEnv, proxy: &str) -> (String, String) {
    let k = cluster();
    let text = std::fs::read_to_string(&k.kubeconfig).unwrap();
    let server = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: https://"))
        .unwrap()
        .to_string();
    let path = env.write(
        "kubeconfig-partitioned",
        &text.replace(
            &format!("server: https://{server}"),
            &format!("server: https://{proxy}"),
        ),
    );
    (path.display().to_string(), server)
}

/// (lease duration, renew deadline, retry period) in seconds: short by default so the tests
/// are quick; `MLRB_TEST_LEASE=15,10,2` measures with the defaults of `watch --leader-elect`.
fn lease() -> (u64, u64, u64) {
    let v = std::env::var("MLRB_TEST_LEASE").unwrap_or_else(|_| "6,4,1".into());
    let n: Vec<u64> = v.split(',').map(|x| x.trim().parse().unwrap()).collect();
    (n[0], n[1], n[2])
}

fn elect_args(m: &str, ns: &str) -> Vec<String> {
    let (d, r, p) = lease();
    [
        m,
        "--leader-elect",
        "--lease-namespace",
        ns,
        "--lease-duration",
        &format!("{d}s"),
        "--renew-deadline",
        &format!("{r}s"),
        "--retry-period",
        &format!("{p}s"),
    ]
    .map(String::from)
    .to_vec()
}

fn holder(ns: &str) -> String {
    cluster()
        .kubectl(&[
            "-n",
            ns,
            "get",
            "lease",
            "mlrb-watch",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])
        .trim()
        .to_string()
}

#[test]
fn a_standby_takes_over_after_the_leader_is_killed_and_rolls_back() {
    let k = cluster();
    let p = prom();
    let mut env = TestEnv::new();
    k.configure(&mut env);
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let s = slack();
    let m = one_model(
        &mut env,
        &b,
        &s.url,
        "consecutive_failures_required = 2\npost_rollback_watch = \"1h\"",
    );
    let ns = k.namespace("lease");
    p.put(&m, "error_rate", 0.01);
    let args = elect_args(&m, &ns);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (lease_s, renew_s, retry_s) = lease();
    let mut a = Proc::start(&env, &[], &args);
    a.wait("became the leader", 30);
    a.wait("MONITOR", 20);
    let mut bb = Proc::start(&env, &[], &args);
    bb.wait("standing by", 30);
    let a_pid = a.child.id();
    assert!(
        holder(&ns).ends_with(&format!("_{a_pid}")),
        "{}",
        holder(&ns)
    );
    // Only the leader checks.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(bb.count("MONITOR"), 0, "{}", bb.lines().join("\n"));

    a.child.kill().unwrap();
    let killed = Instant::now();
    a.child.wait().unwrap();
    p.put(&m, "error_rate", 0.08);
    let (_, took_over) = bb.wait("became the leader", lease_s + 30);
    let failover = took_over - killed;
    eprintln!(
        "failover after kill -9: {:.1} s (lease {lease_s} s, renew deadline {renew_s} s, retry {retry_s} s)",
        failover.as_secs_f64()
    );
    // The lease duration from the last renew the standby saw, plus its retry (jittered) and
    // kubectl's own time on a loaded machine.
    assert!(
        failover < Duration::from_secs(lease_s + 2 * retry_s + 5),
        "the standby took over after {failover:?}"
    );
    bb.wait("AUTOMATED ROLLBACK TRIGGERED", 30);
    bb.wait("watching v2 for 1h after the rollback", 60);
    assert_eq!(b.version(&m, 2).0, Stage::Production);
    assert_eq!(b.version(&m, 3).0, Stage::Archived);
    assert!(holder(&ns).ends_with(&format!("_{}", bb.child.id())));
    let transitions = k.kubectl(&[
        "-n",
        &ns,
        "get",
        "lease",
        "mlrb-watch",
        "-o",
        "jsonpath={.spec.leaseTransitions}",
    ]);
    assert_eq!(transitions.trim(), "1");

    // The next leader after that one carries its post-rollback watch on: the metric still
    // breaches on v2, and it notifies instead of rolling v2 back too.
    let c = Proc::start(&env, &[], &args);
    c.wait("standing by", 30);
    bb.child.kill().unwrap();
    bb.child.wait().unwrap();
    c.wait("became the leader", lease_s + 30);
    c.wait("was made live by mlrb watch", 30);
    c.wait("ROLLBACK NOW after rollback", 30);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        c.count("AUTOMATED ROLLBACK TRIGGERED"),
        0,
        "{}",
        c.lines().join("\n")
    );
    assert_eq!(b.version(&m, 2).0, Stage::Production);
}

#[test]
fn a_partitioned_leader_stops_acting_before_the_standby_takes_over() {
    let k = cluster();
    let p = prom();
    let mut env = TestEnv::new();
    k.configure(&mut env);
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let s = slack();
    let m = one_model(
        &mut env,
        &b,
        &s.url,
        "consecutive_failures_required = 2\npost_rollback_watch = \"1h\"",
    );
    let ns = k.namespace("partition");
    p.put(&m, "error_rate", 0.01);
    let (_, server) = kubeconfig_via(&env, "127.0.0.1:1");
    let part = Partition::start(server);
    let (via, _) = kubeconfig_via(&env, &part.addr);
    let args = elect_args(&m, &ns);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (lease_s, _, _) = lease();
    let a = Proc::start(&env, &[("KUBECONFIG", via)], &args);
    a.wait("became the leader", 30);
    a.wait("MONITOR", 20);
    let bb = Proc::start(&env, &[], &args);
    bb.wait("standing by", 30);

    part.cut();
    let cut_at = Instant::now();
    let (stop_line, stopped) = a.wait("stopped checking and acting", lease_s + 30);
    let (_, took_over) = bb.wait("became the leader", lease_s + 30);
    eprintln!(
        "partitioned leader stopped after {:.1} s; the standby took over after {:.1} s",
        (stopped - cut_at).as_secs_f64(),
        (took_over - cut_at).as_secs_f64()
    );
    assert!(
        stopped < took_over,
        "the partitioned leader stopped acting only after the standby took over"
    );
    // The breach comes after the partition: the new leader acts, the old one does not.
    p.put(&m, "error_rate", 0.08);
    bb.wait("watching v2 for 1h after the rollback", 60);
    assert_eq!(b.version(&m, 2).0, Stage::Production);
    let after: Vec<String> = a.lines()[stop_line + 1..].to_vec();
    for l in &after {
        assert!(
            !(l.contains("MONITOR") || l.contains("breach") || l.contains("TRIGGERED")),
            "the partitioned replica checked or acted after stopping: {l}\n{}",
            after.join("\n")
        );
    }
    // Healed, it finds the lease held and stays a standby.
    part.heal();
    a.wait_from(stop_line, "standing by", 30);
    assert!(holder(&ns).ends_with(&format!("_{}", bb.child.id())));
}

/// Models whose error rate comes from one template: each gauge a different case.
fn fleet_config(url: &str, models: &[String]) -> String {
    let mut s = String::new();
    for m in models {
        s.push_str(&format!(
            "[models.\"{m}\".metrics]\nprometheus_url = \"{url}\"\n\
             error_rate = 'max by (pod) (mlrb_test_error_rate{{model=\"{{model}}\"}})'\n\
             prediction_diversity = 'mlrb_test_prediction_diversity{{model=\"{{model}}\"}}'\n\
             [models.\"{m}\".baseline]\nerror_rate = 0.01\nprediction_diversity = 0.73\n"
        ));
    }
    s
}

fn decisions(out: &str) -> Vec<(String, String, String)> {
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] != "baseline" && v["event"] != "no_baseline")
        .map(|v| {
            (
                v["model"].as_str().unwrap_or("").to_string(),
                v["event"].as_str().unwrap_or("").to_string(),
                format!("{} {}", v["decision"], v["values"]),
            )
        })
        .collect()
}

#[test]
fn a_shared_template_is_one_query_per_metric_and_decides_as_one_query_per_model() {
    let p = prom();
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let base = unique("fleet");
    let models: Vec<String> = ["ok", "soft", "hard", "nan", "nodata", "two.series"]
        .iter()
        .map(|c| format!("{base}-{c}"))
        .collect();
    for m in &models {
        b.seed(m, &bad_release(), &[]);
    }
    let set = |i: usize, er: f64, div: f64| {
        p.put(&models[i], "error_rate", er);
        p.put(&models[i], "prediction_diversity", div);
    };
    set(0, 0.01, 0.73);
    set(1, 0.03, 0.73);
    set(2, 0.09, 0.73);
    set(3, f64::NAN, 0.73);
    p.put(&models[4], "prediction_diversity", 0.2);
    p.set_labeled(&models[5], "error_rate", "a", 0.01);
    p.set_labeled(&models[5], "error_rate", "b", 0.02);
    p.put(&models[5], "prediction_diversity", 0.73);
    let q = format!(
        "count({})",
        series(&models[5], "error_rate").replace("\"}", "\",pod=~\".+\"}")
    );
    let t0 = Instant::now();
    while p.instant(&q) != Some(2.0) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "two series never scraped"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Prometheus behind a counting proxy.
    let counting = FaultProxy::start(&p.url, Fault::Refuse, When::Never, Duration::ZERO);
    let cfg = env.write("mlrb.toml", &fleet_config(&counting.url, &models));
    env.set("MLRB_CONFIG", cfg.display().to_string());

    let mut args = vec!["watch", "--once", "--log-format", "json"];
    args.extend(models.iter().map(String::as_str));
    let before = counting.requests();
    let together = env.run(&args);
    let batched_queries = counting.requests() - before;
    // Per model: the same data, each model alone (a group of one is read as written).
    let mut alone = Vec::new();
    let mut single_queries = 0;
    for m in &models {
        let before = counting.requests();
        let out = env.run(&["watch", "--once", "--log-format", "json", m]);
        single_queries += counting.requests() - before;
        alone.extend(decisions(&out.stderr));
    }
    let mut together_d = decisions(&together.stderr);
    together_d.sort();
    alone.sort();
    assert_eq!(together_d, alone, "{}", together.stderr);
    assert_eq!(
        batched_queries, 2,
        "one query per metric:\n{}",
        together.stderr
    );
    // One query per metric and model, but for the one whose first query failed: a read stops
    // at its first error.
    assert_eq!(single_queries, 2 * models.len() - 1);
    // The cases really differ, so the comparison means something.
    let events: Vec<&str> = together_d.iter().map(|(_, e, _)| e.as_str()).collect();
    assert!(events.contains(&"fetch_error"), "{events:?}");
    for want in ["\"rollback_now\"", "\"investigate\"", "\"monitor\""] {
        assert!(
            together_d.iter().any(|(_, _, d)| d.starts_with(want)),
            "no {want} among {together_d:?}"
        );
    }
    let two = together
        .stderr
        .lines()
        .find(|l| l.contains(&models[5]) && l.contains("fetch_error"))
        .unwrap();
    assert!(
        two.contains("returned 2 series where one was expected"),
        "{two}"
    );
    together.code(11);
}

/// Models due together stay in one round while watching: one query per metric per round, not
/// one per model as their checks drift apart.
#[test]
fn watching_a_fleet_keeps_one_query_per_metric_per_round() {
    let p = prom();
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let base = unique("rounds");
    let models: Vec<String> = (0..5).map(|i| format!("{base}-{i}")).collect();
    let mut toml = fleet_config(&p.url, &models);
    for m in &models {
        b.seed(m, &bad_release(), &[]);
        p.put(m, "error_rate", 0.01);
        p.put(m, "prediction_diversity", 0.73);
        toml.push_str(&format!(
            "[models.\"{m}\".controller]\ncheck_interval = \"1s\"\n"
        ));
    }
    let cfg = env.write("mlrb.toml", &toml);
    env.set("MLRB_CONFIG", cfg.display().to_string());
    let addr = format!("127.0.0.1:{}", free_port());
    let mut args: Vec<&str> = models.iter().map(String::as_str).collect();
    args.extend(["--listen", &addr]);
    let w = Proc::start(&env, &[], &args);
    w.wait("serving GET /metrics", 20);
    let t0 = Instant::now();
    // (rounds, queries, checks) from one scrape, so they agree with each other.
    let read = || -> (f64, f64, f64) {
        let text = reqwest::blocking::get(format!("http://{addr}/metrics"))
            .unwrap()
            .text()
            .unwrap();
        let one = |name: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
                .parse()
                .unwrap()
        };
        let checks: f64 = text
            .lines()
            .filter(|l| l.starts_with("mlrb_watch_checks_total{") && l.contains("result=\"ok\""))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum();
        (
            one("mlrb_watch_round_duration_seconds_count"),
            one("mlrb_watch_prometheus_queries_total"),
            checks,
        )
    };
    // Every round holds all five models (a scrape may land mid-round: then look again).
    let (rounds, queries, _) = loop {
        let r = read();
        if r.0 >= 5.0 && r.2 == 5.0 * r.0 {
            break r;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "not 5 rounds of all five models in 30 s: {} rounds, {} checks",
            r.0,
            r.2
        );
        std::thread::sleep(Duration::from_millis(150));
    };
    assert_eq!(queries, 2.0 * rounds, "{rounds} rounds, {queries} queries");
    drop(w);
}

#[test]
fn election_timings_that_could_let_two_leaders_act_are_one_clear_error() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let s = slack();
    let m = one_model(&mut env, &b, &s.url, "");
    let addr = format!("127.0.0.1:{}", free_port());
    let out = env.run(&[
        "watch",
        &m,
        "--listen",
        &addr,
        "--leader-elect",
        "--lease-duration",
        "10s",
        "--renew-deadline",
        "10s",
    ]);
    let line = out.one_clear_error(2);
    assert!(
        line.contains("--renew-deadline (10s) must be shorter than --lease-duration (10s)"),
        "{line}"
    );
}

#[test]
fn leader_election_without_kubectl_is_one_clear_error() {
    let mut env = TestEnv::new();
    let b = FileBackend::new(&env);
    b.configure(&mut env);
    let s = slack();
    let m = one_model(&mut env, &b, &s.url, "");
    let empty = env.path().join("no-tools");
    std::fs::create_dir_all(&empty).unwrap();
    env.set("PATH", empty.display().to_string());
    let out = env.run(&["watch", &m, "--leader-elect"]);
    let line = out.one_clear_error(2);
    assert!(
        line.contains("--leader-elect needs kubectl: kubectl not on PATH: install kubectl"),
        "{line}"
    );
}

/// The controller's rollback of a model whose serving Deployment Flux manages: refused and
/// escalated without `[models.X.gitops]` (a rollback the next reconciliation reverts is no
/// rollback), and with it the GitOps steps run — the HelmRelease suspended, the version
/// committed in the GitOps repository, sync resumed once git holds what runs (the controller
/// never pushes: with an upstream, sync stays suspended until a person pushes).
#[test]
fn the_controllers_rollback_of_a_gitops_managed_deployment_takes_the_gitops_steps() {
    let p = prom();
    let mut w = crate::gitops::model_world();
    let s = slack();
    // The model is `recsys` (the GitOps world's), its series this test's own.
    let label = unique("ctl-gitops");
    let metrics = format!(
        "[models.recsys.metrics]\nprometheus_url = \"{}\"\nerror_rate = '{}'\n{}",
        p.url,
        series(&label, "error_rate"),
        "[models.recsys.baseline]\nerror_rate = 0.01\n\
         [models.recsys.controller]\ncheck_interval = \"1s\"\nconsecutive_failures_required = 1\n\
         [models.recsys.verify]\ntimeout = \"15s\"\ninterval = \"1s\"\n\
         [notify]\nslack_webhook_env = \"SLACK_URL\"\n"
    );
    let cfg = w.env.write("mlrb.toml", &format!("{}{metrics}", w.serving));
    w.env.set("MLRB_CONFIG", cfg.display().to_string());
    w.env.set("SLACK_URL", s.url.clone());
    p.put(&label, "error_rate", 0.08);
    let before = w.b.snapshot("recsys");

    let proc = Proc::start(&w.env, &[], &["recsys"]);
    let (first, _) = proc.wait("Rollback FAILED", 60);
    let line = &proc.lines()[first];
    assert!(
        line.contains("HelmRelease recsys") && line.contains("nothing was changed"),
        "{line}"
    );
    // Retried while the breach lasts, told once.
    proc.wait_from(first + 1, "Rollback FAILED", 20);
    drop(proc);
    assert_eq!(w.b.snapshot("recsys"), before, "the registry is untouched");
    let t = texts(&s);
    assert!(
        t.iter()
            .filter(|x| x.contains("MANUAL INTERVENTION REQUIRED") && x.contains("HelmRelease"))
            .count()
            == 1,
        "{t:?}"
    );

    let cfg = w.env.write(
        "mlrb.toml",
        &format!("{}{metrics}{}", w.serving, w.gitops_section()),
    );
    w.env.set("MLRB_CONFIG", cfg.display().to_string());
    let proc = Proc::start(&w.env, &[], &["recsys"]);
    proc.wait("watching v2", 90);
    drop(proc);
    assert_eq!(w.b.version("recsys", 2).0, Stage::Production);
    assert_eq!(
        crate::gitops::git(&w.repo, &["show", "HEAD:releases/recsys.yaml"]),
        w.values.replace("\"3\"", "\"2\"").trim_end()
    );
    let hr = w.helmrelease();
    // The clone has no upstream to push to: git at HEAD matches what runs, so sync is resumed.
    assert_eq!(hr["spec"]["suspend"], serde_json::json!(false), "{hr}");
    let msg = crate::gitops::git(&w.repo, &["log", "-1", "--format=%s"]);
    assert!(
        msg.starts_with("Roll back recsys: model.version 3 → 2 (mlrb "),
        "{msg}"
    );
}
