//! The rule `mlrb watch` applies, rendered for the systems that alert and gate deploys without
//! mlrb: Prometheus alerting rules (plain or as a Prometheus Operator PrometheusRule) and an Argo
//! Rollouts AnalysisTemplate. Queries and thresholds come from the model's config and the
//! limits of `metrics::decision`, so the three places cannot say different things.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::ModelConfig;
use crate::context::{Ctx, Result};
use crate::error::CliError;
use crate::live::load_versions;
use crate::metrics::decision::{self, Decision, Limit, Side};
use crate::metrics::{Baseline, ModelMetrics};
use crate::{registry, select};

/// One model's rule, resolved: its queries, limits over the resolved baseline, and how many
/// checks a hard breach must last.
pub struct ModelRule {
    pub key: String,
    pub registered_name: String,
    pub prometheus_url: String,
    pub namespace: Option<String>,
    /// (metric, PromQL) in the order `watch` reads them.
    pub queries: Vec<(String, String)>,
    pub limits: Vec<Limit>,
    pub baseline_source: String,
    pub interval: Duration,
    pub consecutive: u32,
    /// M of the last N checks (`failures_in_window`, `window`).
    pub m_of_n: Option<(u32, u32)>,
}

impl ModelRule {
    /// `None` when the model has no `[models.X.metrics]`.
    pub fn new(
        key: &str,
        registered_name: &str,
        cfg: &ModelConfig,
        baseline: &Baseline,
    ) -> Option<ModelRule> {
        let mc = cfg.metrics.as_ref()?;
        let queries = mc.queries();
        let present: Vec<String> = queries.iter().map(|(m, _)| m.clone()).collect();
        let limits = decision::limits(&present, &baseline.as_values(), &cfg.thresholds, &mc.custom);
        let ctl = &cfg.controller;
        Some(ModelRule {
            key: key.to_string(),
            registered_name: registered_name.to_string(),
            prometheus_url: mc.prometheus_url.clone(),
            namespace: cfg.infra.namespace.clone(),
            queries,
            limits,
            baseline_source: baseline.source.clone(),
            interval: ctl.check_interval,
            consecutive: ctl.consecutive_failures_required,
            m_of_n: ctl.failures_in_window.zip(ctl.window),
        })
    }

    fn query(&self, metric: &str) -> &str {
        self.queries
            .iter()
            .find(|(m, _)| m == metric)
            .map(|(_, q)| q.trim())
            .unwrap_or("")
    }
}

/// A string as a YAML double-quoted scalar (JSON's escapes are YAML's).
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A threshold as PromQL and expr-lang read it: no exponent, no float noise (0.584, not
/// 0.5840000000000001).
pub fn num(v: f64) -> String {
    let s = format!("{v}");
    if s.len() <= 12 {
        return s;
    }
    let r = format!("{v:.10}");
    let r = r.trim_end_matches('0').trim_end_matches('.');
    r.to_string()
}

/// A Prometheus / Go duration: `30s`, `1500ms`.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// `fraud-v2` → `FraudV2`.
fn camel(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            let first = c.next().map(|f| f.to_ascii_uppercase());
            first.into_iter().chain(c).collect::<String>()
        })
        .collect()
}

fn op(side: Side) -> &'static str {
    match side {
        Side::Above => ">",
        Side::Below => "<",
    }
}

fn words(side: Side) -> &'static str {
    match side {
        Side::Above => "above",
        Side::Below => "below",
    }
}

/// The alert's name: `Mlrb` + model + the setting (+ metric for custom metrics).
fn alert_name(rule: &ModelRule, l: &Limit) -> String {
    let standard = decision::STANDARD.contains(&l.metric.as_str());
    if standard {
        format!("Mlrb{}{}", camel(&rule.key), camel(&l.key))
    } else {
        format!(
            "Mlrb{}{}{}",
            camel(&rule.key),
            camel(&l.metric),
            camel(&l.key)
        )
    }
}

/// One alerting rule, as `promtool` and the Prometheus Operator read it.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub name: String,
    pub expr: String,
    pub for_: Option<String>,
    pub labels: Vec<(&'static str, String)>,
    pub annotations: Vec<(&'static str, String)>,
}

/// The limit as a condition: `(QUERY) > 0.05`.
fn condition(rule: &ModelRule, l: &Limit) -> String {
    format!(
        "({}) {} {}",
        rule.query(&l.metric),
        op(l.side),
        num(l.value)
    )
}

fn limit_text(rule: &ModelRule, l: &Limit) -> String {
    let mut s = format!(
        "{} {} {} ({}{})",
        l.metric,
        words(l.side),
        num(l.value),
        if decision::STANDARD.contains(&l.metric.as_str()) {
            String::new()
        } else {
            format!("[models.{}.metrics.custom.{}] ", rule.key, l.metric)
        },
        l.key
    );
    if !l.from_baseline.is_empty() {
        s.push_str(&format!(": {}", l.from_baseline));
    }
    s
}

/// Every alert of `rule`: per hard limit one that fires after the consecutive checks `watch`
/// requires (and, with M-of-N, one that fires on M breaching checks of the last N), per soft
/// limit one that fires at once, as `watch` notifies at the first soft breach.
pub fn alerts(rule: &ModelRule) -> Vec<Alert> {
    let mut out = Vec::new();
    let every = duration(rule.interval);
    for l in &rule.limits {
        let hard = l.decision == Decision::RollbackNow;
        let mut labels = vec![
            (
                "severity",
                if hard { "critical" } else { "warning" }.to_string(),
            ),
            ("mlrb_model", rule.key.clone()),
            ("mlrb_metric", l.metric.clone()),
            (
                "mlrb_decision",
                if hard { "rollback_now" } else { "investigate" }.to_string(),
            ),
        ];
        labels.push(("registered_model", rule.registered_name.clone()));
        let what = limit_text(rule, l);
        let action = if hard {
            format!("mlrb rollback model {}", rule.key)
        } else {
            format!("mlrb status {}", rule.key)
        };
        let annotations = |when: String| {
            vec![
                (
                    "summary",
                    format!("{}: {} {what}", l.decision.label(), rule.key),
                ),
                (
                    "description",
                    format!(
                        "{} is {} {} {when} (value now: {{{{ $value }}}}); the rule of `mlrb watch {}`, exported by mlrb. {}",
                        l.metric,
                        words(l.side),
                        num(l.value),
                        rule.key,
                        if hard {
                            "Users are served a bad model: roll back."
                        } else {
                            "Not a rollback by itself: look before acting."
                        }
                    ),
                ),
                ("runbook", action.clone()),
                ("runbook_more", format!("mlrb runbook {}", rule.key)),
            ]
        };
        if hard {
            // `watch` acts at the Nth breaching check: Prometheus evaluating every check
            // interval gets there when the breach has held (N - 1) intervals.
            let hold = rule.interval * rule.consecutive.saturating_sub(1);
            out.push(Alert {
                name: alert_name(rule, l),
                expr: condition(rule, l),
                for_: (!hold.is_zero()).then(|| duration(hold)),
                labels: labels.clone(),
                annotations: annotations(format!(
                    "for {} consecutive checks {every} apart",
                    rule.consecutive
                )),
            });
            if let Some((m, n)) = rule.m_of_n {
                // N evaluation points exactly: a range 1 ms short of N intervals holds N steps
                // whether the range is closed (Prometheus 2) or open on the left (3).
                let range = duration(rule.interval * n - Duration::from_millis(1));
                out.push(Alert {
                    name: format!("{}InWindow", alert_name(rule, l)),
                    expr: format!(
                        "count_over_time(({})[{range}:{every}]) >= {m}",
                        condition(rule, l)
                    ),
                    for_: None,
                    labels,
                    annotations: annotations(format!(
                        "in {m} of the last {n} checks {every} apart"
                    )),
                });
            }
        } else {
            out.push(Alert {
                name: alert_name(rule, l),
                expr: condition(rule, l),
                for_: None,
                labels,
                annotations: annotations("now".to_string()),
            });
        }
    }
    out
}

/// The group name of a model's alerts.
pub fn group_name(key: &str) -> String {
    format!("mlrb-{key}")
}

fn push_groups(out: &mut String, rules: &[ModelRule], indent: &str) {
    out.push_str(&format!("{indent}groups:\n"));
    for rule in rules {
        out.push_str(&format!(
            "{indent}  # {}: baseline {}; `mlrb watch {}` checks every {} and rolls back after {} consecutive hard breaches{}\n",
            rule.key,
            rule.baseline_source.replace('\n', " "),
            rule.key,
            duration(rule.interval),
            rule.consecutive,
            rule.m_of_n
                .map(|(m, n)| format!(" or {m} of the last {n} checks"))
                .unwrap_or_default()
        ));
        out.push_str(&format!(
            "{indent}  - name: {}\n",
            q(&group_name(&rule.key))
        ));
        out.push_str(&format!(
            "{indent}    interval: {}\n",
            duration(rule.interval)
        ));
        let alerts = alerts(rule);
        if alerts.is_empty() {
            out.push_str(&format!("{indent}    rules: []\n"));
            continue;
        }
        out.push_str(&format!("{indent}    rules:\n"));
        for a in alerts {
            let i = format!("{indent}      ");
            out.push_str(&format!("{i}- alert: {}\n", a.name));
            out.push_str(&format!("{i}  expr: {}\n", q(&a.expr)));
            if let Some(f) = &a.for_ {
                out.push_str(&format!("{i}  for: {f}\n"));
            }
            out.push_str(&format!("{i}  labels:\n"));
            for (k, v) in &a.labels {
                out.push_str(&format!("{i}    {k}: {}\n", q(v)));
            }
            out.push_str(&format!("{i}  annotations:\n"));
            for (k, v) in &a.annotations {
                out.push_str(&format!("{i}    {k}: {}\n", q(v)));
            }
        }
    }
}

const HEADER: &str = "# Written by `mlrb export`: the rule `mlrb watch` applies (mlrb.toml's queries and thresholds).\n# Export again rather than edit; `mlrb status MODEL --rules FILE` says when this file no longer matches.\n";

/// A Prometheus rules file (`rule_files:`), one group per model.
pub fn prometheus_rules(rules: &[ModelRule]) -> String {
    let mut out = HEADER.to_string();
    push_groups(&mut out, rules, "");
    out
}

/// A Kubernetes object name from a model key: lowercase, `-` for anything else.
pub fn k8s_name(s: &str) -> String {
    let mut n: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while n.contains("--") {
        n = n.replace("--", "-");
    }
    n.trim_matches('-').to_string()
}

fn metadata(out: &mut String, name: &str, namespace: Option<&str>) {
    out.push_str("metadata:\n");
    out.push_str(&format!("  name: {}\n", q(name)));
    if let Some(ns) = namespace {
        out.push_str(&format!("  namespace: {}\n", q(ns)));
    }
    out.push_str("  labels:\n    app.kubernetes.io/managed-by: mlrb\n");
}

/// The same groups as a Prometheus Operator `PrometheusRule`.
pub fn prometheus_rule_object(rules: &[ModelRule]) -> String {
    let mut out = HEADER.to_string();
    out.push_str("apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\n");
    let name = format!(
        "mlrb-{}",
        k8s_name(
            &rules
                .iter()
                .map(|r| r.key.as_str())
                .collect::<Vec<_>>()
                .join("-")
        )
    );
    let ns = rules.iter().find_map(|r| r.namespace.as_deref());
    metadata(&mut out, &name, ns);
    out.push_str("spec:\n");
    push_groups(&mut out, rules, "  ");
    out
}

/// `query` with every `version="…"` matcher's value replaced by Argo's canary-version argument.
/// `None` when the query has no version label.
pub fn with_canary_version(query: &str) -> Option<String> {
    let b = query.as_bytes();
    let mut out = String::new();
    let mut last = 0;
    let mut found = false;
    let mut i = 0;
    while let Some(at) = query[i..].find("version") {
        let start = i + at;
        let end = start + "version".len();
        i = end;
        let before = query[..start].chars().last();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let mut j = end;
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        if j >= b.len() || b[j] != b'=' {
            continue;
        }
        j += 1;
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        let Some(&quote) = b.get(j).filter(|c| matches!(c, b'"' | b'\'' | b'`')) else {
            continue;
        };
        let Some(close) = query[j + 1..].find(quote as char) else {
            continue;
        };
        out.push_str(&query[last..j + 1]);
        out.push_str("{{args.canary-version}}");
        last = j + 1 + close;
        i = last;
        found = true;
    }
    out.push_str(&query[last..]);
    found.then_some(out)
}

/// expr-lang's comparison of the first result with a limit, breached or not.
fn breach(l: &Limit) -> String {
    format!("result[0] {} {}", op(l.side), num(l.value))
}

fn ok(l: &Limit) -> String {
    let not = match l.side {
        Side::Above => "<=",
        Side::Below => ">=",
    };
    format!("result[0] {not} {}", num(l.value))
}

/// An Argo Rollouts AnalysisTemplate: one metric per query; a hard breach fails the
/// measurement, a soft one is Inconclusive (the rollout pauses for a person, as INVESTIGATE
/// asks); `failureLimit` lets as many failures pass as `watch` lets pass before acting.
pub fn argo_analysis(rule: &ModelRule) -> String {
    let mut out = HEADER.to_string();
    out.push_str("apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\n");
    metadata(
        &mut out,
        &format!("mlrb-{}", k8s_name(&rule.key)),
        rule.namespace.as_deref(),
    );
    out.push_str("spec:\n");
    let mut by_metric: BTreeMap<&str, Vec<&Limit>> = BTreeMap::new();
    for l in &rule.limits {
        by_metric.entry(l.metric.as_str()).or_default().push(l);
    }
    let versioned = rule
        .queries
        .iter()
        .any(|(_, q)| with_canary_version(q).is_some());
    if versioned {
        out.push_str("  args:\n    - name: canary-version\n");
    }
    // Argo counts every failed measurement of the run, not only consecutive ones: the limit
    // is the number `watch` tolerates before it acts.
    let tolerated = match rule.m_of_n {
        Some((m, _)) => m.min(rule.consecutive),
        None => rule.consecutive,
    }
    .saturating_sub(1);
    out.push_str("  metrics:\n");
    for (metric, q_) in &rule.queries {
        let Some(ls) = by_metric.get(metric.as_str()) else {
            continue;
        };
        let hard: Vec<&&Limit> = ls
            .iter()
            .filter(|l| l.decision == Decision::RollbackNow)
            .collect();
        if hard.is_empty() {
            out.push_str(
                "    # soft limits only (INVESTIGATE): out of bounds is Inconclusive, the rollout pauses for a person\n",
            );
        }
        out.push_str(&format!("    - name: {}\n", q(&k8s_name(metric))));
        out.push_str(&format!("      interval: {}\n", duration(rule.interval)));
        let success: Vec<String> = ls.iter().map(|l| ok(l)).collect();
        out.push_str(&format!(
            "      successCondition: {}\n",
            q(&success.join(" && "))
        ));
        let failure = if hard.is_empty() {
            // Only soft limits: never Failed; out of bounds is Inconclusive.
            "false".to_string()
        } else {
            hard.iter()
                .map(|l| breach(l))
                .collect::<Vec<_>>()
                .join(" || ")
        };
        out.push_str(&format!("      failureCondition: {}\n", q(&failure)));
        out.push_str(&format!("      failureLimit: {tolerated}\n"));
        let query = with_canary_version(q_).unwrap_or_else(|| q_.clone());
        out.push_str("      provider:\n        prometheus:\n");
        out.push_str(&format!("          address: {}\n", q(&rule.prometheus_url)));
        out.push_str(&format!("          query: {}\n", q(query.trim())));
    }
    out
}

/// The alerts a rules file on disk holds for `group`: name → (expr, for), read from the lines
/// `mlrb export` writes (block YAML; quoted or plain values). `None` when the group is absent.
pub fn alerts_in_file(text: &str, group: &str) -> Option<BTreeMap<String, (String, String)>> {
    let scalar = |v: &str| -> String {
        let v = v.trim();
        if v.starts_with('"') {
            serde_json::from_str::<String>(v).unwrap_or_else(|_| v.to_string())
        } else {
            v.trim_matches('\'').to_string()
        }
    };
    let mut in_group = false;
    let mut found = false;
    let mut out: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let t = line.trim_start().trim_start_matches("- ").trim_start();
        if let Some(name) = line.trim_start().strip_prefix("- name:") {
            in_group = scalar(name) == group;
            found |= in_group;
            current = None;
            continue;
        }
        if !in_group {
            continue;
        }
        if let Some(a) = t.strip_prefix("alert:") {
            let a = scalar(a);
            out.insert(a.clone(), (String::new(), String::new()));
            current = Some(a);
        } else if let (Some(e), Some(c)) = (t.strip_prefix("expr:"), &current) {
            if let Some(x) = out.get_mut(c) {
                x.0 = scalar(e);
            }
        } else if let (Some(f), Some(c)) = (t.strip_prefix("for:"), &current)
            && let Some(x) = out.get_mut(c)
        {
            x.1 = scalar(f);
        }
    }
    found.then_some(out)
}

/// What differs between the alerts `rule` gives now and those of its group in `file_text`;
/// empty when they match.
pub fn drift(rule: &ModelRule, file_text: &str) -> Vec<String> {
    let group = group_name(&rule.key);
    let Some(on_disk) = alerts_in_file(file_text, &group) else {
        return vec![format!("it has no group {group}")];
    };
    let mut now: BTreeMap<String, (String, String)> = BTreeMap::new();
    for a in alerts(rule) {
        now.insert(a.name, (a.expr, a.for_.unwrap_or_default()));
    }
    let mut out = Vec::new();
    for (name, (expr, for_)) in &now {
        match on_disk.get(name) {
            None => out.push(format!("{name} is missing")),
            Some((e, f)) => {
                if e != expr {
                    out.push(format!(
                        "{name}: the file has `{e}`, the config gives `{expr}`"
                    ));
                }
                let norm = |s: &str| {
                    if s == "0s" {
                        String::new()
                    } else {
                        s.to_string()
                    }
                };
                if norm(f) != norm(for_) {
                    out.push(format!(
                        "{name}: the file waits for `{}`, the config gives `{}`",
                        if f.is_empty() { "0s" } else { f },
                        if for_.is_empty() { "0s" } else { for_ }
                    ));
                }
            }
        }
    }
    for name in on_disk.keys() {
        if !now.contains_key(name) {
            out.push(format!("{name} is no longer in the config"));
        }
    }
    out
}

// What `mlrb export` and `status --rules` share: a model's rule with its baseline resolved as
// `status` resolves it, and the check of a rules file against it.

/// `key`'s rule with its baseline resolved as `status` resolves it.
pub fn model_rule(ctx: &Ctx, key: &str) -> Result<ModelRule> {
    let cfg = ctx.settings.models.get(key).ok_or_else(|| {
        CliError::usage(format!("{key} is not a model in the config"))
            .with_hint("export works from [models.X.metrics] and [models.X.thresholds] in mlrb.toml (`mlrb config` shows which file was read)")
    })?;
    let Some(mm) = ModelMetrics::for_model(Some(cfg))? else {
        return Err(CliError::usage(format!(
            "{key} has no [models.{key}.metrics]: there is no query to alert on"
        ))
        .with_hint("add prometheus_url and the metric queries (error_rate = '…') under it")
        .into());
    };
    let target = ctx.settings.model(key, None)?;
    let baseline = resolve_baseline(ctx, &mm, &target)?;
    ModelRule::new(key, &target.registered_name, cfg, &baseline)
        .ok_or_else(|| anyhow::anyhow!("{key}: metrics configuration vanished"))
}

/// The baseline as `status` resolves it: the config's values, or the rollback target's run,
/// or the queries before the live version went live (those two read the registry).
fn resolve_baseline(
    ctx: &Ctx,
    mm: &ModelMetrics,
    target: &crate::config::ModelTarget,
) -> Result<Baseline> {
    if let Some(b) = mm.config_baseline() {
        return Ok(b);
    }
    let reg = ctx.registry()?;
    let (target, versions) = load_versions(reg.as_ref(), target)?;
    let live = registry::live_versions(&versions, &target.mode);
    let choice = select::choose_in(&versions, &target.mode, None);
    mm.baseline(
        reg.as_ref(),
        choice.as_ref().ok().map(|c| &c.version),
        live.first().copied(),
    )
}

/// `status --rules FILE`: whether the file's alerts for a model are those the config gives.
#[derive(Debug, serde::Serialize)]
pub struct RulesCheck {
    pub path: String,
    /// false: the comparison could not be made (no metrics, no baseline); `message` says why.
    pub checked: bool,
    pub matches: bool,
    pub message: String,
    /// What differs, one line each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
}

pub fn read_rules(path: &std::path::Path) -> std::result::Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| {
        CliError::usage(format!("--rules {}: cannot read it: {e}", path.display()))
            .with_hint("give the file `mlrb export prometheus-rules MODEL --out FILE` wrote")
    })
}

/// Compares the file with the rule the config gives now, over the baseline `status` resolved.
pub fn check_rules(
    ctx: &Ctx,
    st: &crate::status::ModelStatus,
    path: &std::path::Path,
    text: &str,
) -> RulesCheck {
    let shown = path.display().to_string();
    let key = &st.model;
    let re_export = format!(
        "export again with `mlrb export prometheus-rules {key} --out {shown}` (and reload Prometheus)"
    );
    let verdict = |matches: bool, message: String, differences: Vec<String>| RulesCheck {
        path: shown.clone(),
        checked: matches || !differences.is_empty(),
        matches,
        message,
        differences,
    };
    let Some(cfg) = ctx.settings.models.get(key).filter(|c| c.metrics.is_some()) else {
        return verdict(
            false,
            format!("{shown} cannot be checked: {key} has no [models.{key}.metrics]"),
            Vec::new(),
        );
    };
    let Some(m) = st
        .metrics
        .as_ref()
        .filter(|m| !m.baseline_source.is_empty())
    else {
        let why = st
            .metrics
            .as_ref()
            .map(|m| m.reason.clone())
            .unwrap_or_default();
        return verdict(
            false,
            format!("{shown} cannot be checked: {why}"),
            Vec::new(),
        );
    };
    let baseline = Baseline {
        values: m.baseline.clone(),
        source: m.baseline_source.clone(),
    };
    let Some(rule) = ModelRule::new(key, &st.registered_name, cfg, &baseline) else {
        return verdict(false, format!("{shown} cannot be checked"), Vec::new());
    };
    let diffs = drift(&rule, text);
    if diffs.is_empty() {
        verdict(
            true,
            format!(
                "{shown} matches the config ({} alerts)",
                alerts(&rule).len()
            ),
            diffs,
        )
    } else {
        verdict(
            false,
            format!(
                "{shown} no longer matches the config: {}; {re_export}",
                diffs.join("; ")
            ),
            diffs,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_read_as_promql_and_prometheus_want_them() {
        assert_eq!(num(0.05), "0.05");
        assert_eq!(num(0.73 * (1.0 - 0.2)), "0.584");
        assert_eq!(num(3000.0), "3000");
        assert_eq!(duration(Duration::from_secs(60)), "60s");
        assert_eq!(duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(camel("fraud-v2"), "FraudV2");
        assert_eq!(camel("max_error_rate"), "MaxErrorRate");
        assert_eq!(k8s_name("Fraud_V2"), "fraud-v2");
    }

    #[test]
    fn the_version_label_becomes_the_canary_argument() {
        assert_eq!(
            with_canary_version(r#"rate(e{model="m", version="7"}[5m])"#).unwrap(),
            r#"rate(e{model="m", version="{{args.canary-version}}"}[5m])"#
        );
        assert_eq!(
            with_canary_version(r#"x{model_version="7"}"#),
            None,
            "another label ending in version is not the version"
        );
        assert_eq!(with_canary_version(r#"x{model="m"}"#), None);
    }
}
