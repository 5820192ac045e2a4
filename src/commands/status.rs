//! `mlrb status`: what is live, what a rollback would go to, and every anomaly, per model (see
//! `crate::status`), as a table or JSON.

use crate::cli::StatusArgs;
use crate::context::{Ctx, Result};
use crate::error::ExitStatus;
use crate::metrics::decision::fmt_value;
use crate::status::anomalies::Anomaly;
use crate::status::{MetricsView, ModelStatus, VersionView};

/// The registry's models fit to show: one whose name has a control character (which no
/// command line can name, and which would fail the listing of all) is skipped with a warning.
fn listed_models(ctx: &Ctx, names: Vec<String>) -> Vec<String> {
    let (ok, bad): (Vec<String>, Vec<String>) = names
        .into_iter()
        .partition(|n| !n.chars().any(char::is_control));
    for n in bad {
        ctx.printer.warn(&format!(
            "skipped registered model \"{}\": its name has control characters, which mlrb cannot name on a command line (rename it in the registry)",
            n.escape_debug()
        ));
    }
    ok
}

pub fn run(ctx: &Ctx, args: &StatusArgs) -> Result<ExitStatus> {
    let reg = ctx.registry()?;
    let keys: Vec<String> = match &args.model {
        Some(m) => vec![m.clone()],
        None if !ctx.settings.models.is_empty() => ctx.settings.models.keys().cloned().collect(),
        None => listed_models(ctx, reg.list_models()?),
    };
    let rules_text = args
        .rules
        .as_deref()
        .map(crate::export::read_rules)
        .transpose()?;
    let (records, _) = crate::journal::read_all(&ctx.settings.state_dir).unwrap_or_default();
    let mut out = Vec::new();
    let mut metrics_error: Option<crate::error::CliError> = None;
    for key in &keys {
        let mut st = crate::status::of_model(
            ctx,
            reg.as_ref(),
            (key, args.alias.as_deref()),
            args.model.is_some(),
            &records,
        )?;
        if let Some(m) = &st.metrics
            && let Some(e) = &m.error
            && metrics_error.is_none()
        {
            metrics_error = Some(crate::error::CliError::new(
                e.1,
                format!("{}: metrics: {}", st.model, e.0),
            ));
        }
        // Every model with metrics, or the one asked for (which says why it cannot be checked).
        let alerting = ctx
            .settings
            .models
            .get(key)
            .is_some_and(|c| c.metrics.is_some());
        if let (Some(path), Some(text), true) =
            (&args.rules, &rules_text, alerting || args.model.is_some())
        {
            let check = crate::export::check_rules(ctx, &st, path, text);
            if !check.matches {
                st.anomalies.push(Anomaly {
                    kind: if check.checked {
                        "rules_drift"
                    } else {
                        "rules_unchecked"
                    },
                    message: check.message.clone(),
                });
            }
            st.rules_file = Some(check);
        }
        out.push(st);
    }
    if ctx.printer.json() {
        if args.model.is_some() {
            ctx.printer.out_json(&out[0]);
        } else {
            ctx.printer.out_json(&out);
        }
    } else if out.is_empty() {
        ctx.printer
            .out(&format!("no models in the {}", reg.location()));
    } else {
        let text: Vec<String> = out.iter().map(render).collect();
        ctx.printer.out(&text.join("\n"));
    }
    // The registry part is printed either way; a metrics failure still fails the command.
    if let Some(e) = metrics_error {
        return Err(e.into());
    }
    Ok(ExitStatus::Success)
}

fn render(s: &ModelStatus) -> String {
    let mut t = crate::printer::table();
    t.set_header(vec![
        "role", "version", "stage", "aliases", "created", "source",
    ]);
    let row = |role: &str, v: &VersionView| {
        vec![
            role.to_string(),
            format!("v{}", v.version),
            v.stage.to_string(),
            v.aliases
                .iter()
                .map(|a| format!("@{a}"))
                .collect::<Vec<_>>()
                .join(" "),
            v.created_at
                .as_deref()
                .map(|c| c.get(..16).unwrap_or(c).replace('T', " "))
                .unwrap_or_default(),
            v.source.clone(),
        ]
    };
    for v in &s.live {
        t.add_row(row("live", v));
    }
    if let Some(c) = &s.candidate {
        t.add_row(row("rollback target", c));
    }
    let mut text = format!(
        "{}  ({}{}, live by {}, {} versions)\n{t}\n",
        s.model,
        if s.registered_name != s.model {
            format!("registered as {}, ", s.registered_name)
        } else {
            String::new()
        },
        s.registry,
        s.mode,
        s.versions
    );
    if let Some(note) = &s.mode_note {
        text.push_str(&format!("  live: {note}\n"));
    }
    if let Some(f) = &s.fallback_switch {
        text.push_str(&format!("  FALLBACK: {}\n", f.message));
    }
    if let Some(g) = &s.gitops {
        for m in &g.managed {
            text.push_str(&format!("  managed: {m}\n"));
        }
        if let Some(sv) = &g.suspended {
            text.push_str(&format!("  GITOPS SYNC SUSPENDED: {}\n", sv.message));
        }
    }
    text.push_str(&format!("  target: {}\n", s.candidate_reason));
    if let Some(r) = &s.target_readiness {
        text.push_str(&format!("  target loaded in the model server: {r}\n"));
    }
    if let Some(m) = &s.metrics {
        text.push_str(&render_metrics(m));
    }
    if let Some(r) = &s.recommendation {
        let field = |k: &str| match &r[k] {
            serde_json::Value::String(v) => v.replace(['\n', '\r'], " "),
            serde_json::Value::Null => "?".into(),
            other => other.to_string(),
        };
        text.push_str(&crate::printer::escape_controls(&format!(
            "  last recommendation ({} at {}): roll back {} -> v{}: {}\n",
            field("by"),
            field("at"),
            field("from"),
            field("to"),
            field("reason")
        )));
    }
    if let Some(c) = &s.changes {
        text.push_str(&render_changes(c, 8));
    }
    if let Some(sh) = &s.shadow {
        text.push_str(&format!("  shadow: {sh}\n"));
    }
    if let Some(r) = s.rules_file.as_ref().filter(|r| r.matches) {
        text.push_str(&format!("  alerting rules: {}\n", r.message));
    }
    if s.anomalies.is_empty() {
        text.push_str("  no anomalies\n");
    } else {
        text.push_str("  anomalies:\n");
        for a in &s.anomalies {
            text.push_str(&format!("  ! {}\n", a.message));
        }
    }
    text
}

/// The change timeline in short: the newest `max` changes and the hint.
fn render_changes(t: &crate::timeline::Timeline, max: usize) -> String {
    let mut s = String::from(
        "  changes in the last 24h (registry, journal, pipeline; `mlrb changes` adds serving infra):\n",
    );
    for c in t.changes.iter().take(max) {
        s.push_str(&format!(
            "    {}  {:<8} {}\n",
            c.at.format("%Y-%m-%d %H:%M"),
            c.component,
            c.what
        ));
    }
    if t.changes.len() > max {
        s.push_str(&format!("    … {} more\n", t.changes.len() - max));
    }
    s.push_str(&format!("    hint: {}\n", t.hint));
    s
}

fn render_metrics(m: &MetricsView) -> String {
    let mut t = crate::printer::table();
    t.set_header(vec!["metric", "now", "baseline"]);
    let mut names: Vec<&String> = m.now.keys().chain(m.baseline.keys()).collect();
    names.sort();
    names.dedup();
    for n in names {
        let now = match m.now.get(n) {
            Some(Some(v)) => fmt_value(n, *v),
            Some(None) => format!(
                "unknown ({})",
                m.unknown_why
                    .get(n)
                    .map(String::as_str)
                    .unwrap_or("no data")
            ),
            None => "—".into(),
        };
        let base = m
            .baseline
            .get(n)
            .map(|v| fmt_value(n, *v))
            .unwrap_or_else(|| "—".into());
        t.add_row(vec![n.clone(), now, base]);
    }
    let mut text = format!("  metrics ({}):\n{t}\n", m.prometheus);
    if !m.baseline_source.is_empty() {
        text.push_str(&format!("  baseline: {}\n", m.baseline_source));
    }
    text.push_str(&format!(
        "  decision: {} — {}\n",
        m.decision_label, m.reason
    ));
    for b in m.breaches.iter().skip(1) {
        text.push_str(&format!("    also: {}\n", b.reason));
    }
    text
}
