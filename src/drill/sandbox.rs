//! The sandbox drill: a throwaway file registry and metrics the drill serves itself, so a
//! rehearsal needs no configuration and changes nothing of the user's.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use super::Mode;
use super::restore::snapshot;
use super::synthetic::{HEALTHY, Synthetic};
use super::{Finished, Rehearsal, conclude};
use crate::clock;
use crate::config::{
    BaselineConfig, ControllerConfig, MetricsConfig, ModelConfig, RegistryTarget, Settings,
    VerifyConfig,
};
use crate::context::{Ctx, Result};
use crate::error::{CliError, ExitStatus};
use crate::http::HttpOptions;
use crate::metrics::{ModelMetrics, fmt_snapshot};
use crate::printer::Printer;
use crate::registry::{Registry, Stage, file::FileRegistry, tags};

/// A whole drill of `model` on a sandbox: healthy, breach, detect, roll back, verify, restore.
pub fn run(ctx: &Ctx, model: &str, mode: Mode, objective: Option<Duration>) -> Result<Finished> {
    let p = &ctx.printer;
    let wall = Instant::now();
    let started_at = clock::now();
    let id = crate::journal::new_event_id("drill");
    let tmp = tempfile::Builder::new()
        .prefix("mlrb-drill-")
        .tempdir()
        .map_err(|e| {
            CliError::new(
                ExitStatus::Failure,
                format!("cannot create a temp dir: {e}"),
            )
        })?;
    let dir = tmp.path().to_path_buf();
    let reg_path = dir.join("registry.json");
    let reg = FileRegistry::create(&reg_path)?;
    let days = |d: i64| Some(started_at - chrono::Duration::days(d));
    reg.add_version(
        model,
        &format!("sandbox://{model}/v1"),
        Stage::Archived,
        &[],
        days(60),
    )?;
    let target = reg.add_version(
        model,
        &format!("sandbox://{model}/v2"),
        Stage::Archived,
        &[(tags::HEALTHY_BASELINE, "true")],
        days(14),
    )?;
    let live = reg.add_version(
        model,
        &format!("sandbox://{model}/v3"),
        Stage::Production,
        &[],
        days(1),
    )?;
    let before = snapshot(&reg, model)?;
    let server = Synthetic::start(reg_path.clone(), model.to_string(), live)?;
    let inner = Ctx {
        settings: sandbox_settings(model, &reg_path, &dir.join("state"), &server.url),
        printer: Printer::nested(p.quiet || p.json()),
    };
    p.status(&format!(
        "drill {id}: {model} on a sandbox registry ({}), v{live} live, v{target} designated; synthetic Prometheus at {}",
        reg_path.display(),
        server.url
    ));
    let mm = ModelMetrics::for_model(inner.settings.models.get(model))?
        .expect("the sandbox model has metrics");
    let base = mm.baseline(&reg, None, None)?;

    // 1. Healthy: the metrics client reads the synthetic server and sees nothing wrong.
    let snap = mm.read(None).map_err(CliError::from)?;
    let e = mm.decide(&snap.values, &base);
    p.status(&format!(
        "[1/5] healthy: {} → {}",
        fmt_snapshot(&snap),
        e.decision
    ));

    // 2. The breach: prediction diversity collapses and errors climb on the live version.
    server.inject();
    p.status("[2/5] breach injected: prediction diversity collapse and error rate up on the live version");

    let r = Rehearsal {
        id,
        model: model.to_string(),
        registered: model.to_string(),
        mode,
        sandbox: true,
        breach: "synthetic metrics".into(),
        started_at,
        wall,
        inner,
        reg: Box::new(reg),
        before,
        objective,
        limit: Duration::from_secs(20),
        pending: None,
    };
    let tamper = || {
        if crate::testhooks::drill_tamper() {
            // A test-only fault: someone changes the registry between the restore and the check.
            let _ =
                FileRegistry::new(&reg_path).set_version_tag(model, 1, "drill.tampered", "true");
        }
        Vec::new()
    };
    conclude(ctx, &r, &mm, &base, Box::new(tamper), Some(tmp))
}

/// The sandbox model: metrics from the synthetic server, short intervals so a drill takes seconds.
fn sandbox_settings(model: &str, reg: &Path, state: &Path, prom: &str) -> Settings {
    let cfg = ModelConfig {
        metrics: Some(MetricsConfig {
            prometheus_url: prom.to_string(),
            timeout: Some(Duration::from_secs(5)),
            detection_lookback: Some(Duration::from_secs(300)),
            error_rate: Some("mlrb_drill_error_rate".into()),
            prediction_diversity: Some("mlrb_drill_prediction_diversity".into()),
            ..Default::default()
        }),
        baseline: BaselineConfig {
            source: None,
            offset: None,
            values: HEALTHY.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        },
        controller: ControllerConfig {
            check_interval: Duration::from_secs(1),
            consecutive_failures_required: 3,
            post_rollback_watch: Duration::from_secs(1),
            ..Default::default()
        },
        verify: VerifyConfig {
            tolerance: 0.10,
            timeout: Duration::from_secs(15),
            interval: Duration::from_millis(250),
        },
        ..Default::default()
    };
    Settings {
        config_path: None,
        registry: Some(RegistryTarget::File {
            path: reg.to_path_buf(),
        }),
        http: HttpOptions::default(),
        models: BTreeMap::from([(model.to_string(), cfg)]),
        state_dir: state.to_path_buf(),
        notify: Default::default(),
        registry_credentials: true,
        sources: Vec::new(),
    }
}
