//! Reading many models' metrics in one query per metric: when their queries share a template
//! whose only model-specific part is a `LABEL="{model}"` matcher, the template is rewritten to
//! select every model (`LABEL=~"a|b|…"`) and to keep `LABEL` through every aggregation
//! (`by (LABEL)`), and the answer is split by that label. Anything the rewrite does not
//! understand falls back to one query per model, so the decision per model never changes.

use std::collections::BTreeMap;

use super::prometheus::{PromError, Reading};
use super::{ModelMetrics, Snapshot};

/// The placeholder a query template carries where the model's key goes.
pub const PLACEHOLDER: &str = "{model}";

/// A template made into one query for a set of models.
#[derive(Debug, Clone, PartialEq)]
pub struct Batched {
    /// The label whose value is the model's key.
    pub label: String,
    pub query: String,
}

const AGGREGATIONS: &[&str] = &[
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "group",
    "stddev",
    "stdvar",
    "quantile",
    "topk",
    "bottomk",
    "count_values",
    "limitk",
    "limit_ratio",
];

/// Functions whose answer loses or can overwrite the model label, or has none to begin with.
const LABEL_LOSING: &[&str] = &[
    "vector",
    "scalar",
    "time",
    "absent",
    "absent_over_time",
    "label_replace",
    "label_join",
    "info",
];

/// Words that are neither metric names nor functions.
const KEYWORDS: &[&str] = &[
    "bool", "offset", "and", "or", "unless", "inf", "nan", "atan2", "start", "end",
];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `{…}`, inner text.
    Matchers(String),
    /// `[…]`, `"…"`, numbers, operators, commas, whitespace: copied as they are.
    Text(String),
    Open,
    Close,
}

fn tokenize(q: &str) -> Option<Vec<Tok>> {
    let c: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let string_end = |start: usize| -> Option<usize> {
        let quote = c[start];
        let mut j = start + 1;
        while j < c.len() {
            if c[j] == '\\' && quote != '`' {
                j += 2;
                continue;
            }
            if c[j] == quote {
                return Some(j);
            }
            j += 1;
        }
        None
    };
    while i < c.len() {
        let ch = c[i];
        if ch == '"' || ch == '\'' || ch == '`' {
            let end = string_end(i)?;
            out.push(Tok::Text(c[i..=end].iter().collect()));
            i = end + 1;
        } else if ch == '{' || ch == '[' {
            let close = if ch == '{' { '}' } else { ']' };
            let mut j = i + 1;
            while j < c.len() && c[j] != close {
                if matches!(c[j], '"' | '\'' | '`') {
                    j = string_end(j)?;
                }
                j += 1;
            }
            if j >= c.len() {
                return None;
            }
            let inner: String = c[i + 1..j].iter().collect();
            out.push(if ch == '{' {
                Tok::Matchers(inner)
            } else {
                Tok::Text(format!("[{inner}]"))
            });
            i = j + 1;
        } else if ch.is_ascii_alphabetic() || ch == '_' || ch == ':' {
            let mut j = i;
            while j < c.len() && (c[j].is_ascii_alphanumeric() || c[j] == '_' || c[j] == ':') {
                j += 1;
            }
            out.push(Tok::Ident(c[i..j].iter().collect()));
            i = j;
        } else if ch.is_ascii_digit() || ch == '.' {
            // Numbers and durations (`5m`, `1e3`, `0x1f`) as one piece.
            let mut j = i;
            while j < c.len() && (c[j].is_ascii_alphanumeric() || c[j] == '.') {
                j += 1;
            }
            out.push(Tok::Text(c[i..j].iter().collect()));
            i = j;
        } else if ch == '(' {
            out.push(Tok::Open);
            i += 1;
        } else if ch == ')' {
            out.push(Tok::Close);
            i += 1;
        } else if ch == '}' || ch == ']' {
            return None;
        } else {
            out.push(Tok::Text(ch.to_string()));
            i += 1;
        }
    }
    Some(out)
}

fn is_blank(t: &Tok) -> bool {
    matches!(t, Tok::Text(s) if s.trim().is_empty())
}

/// The index of the next token that is not whitespace, from `i`.
fn next_solid(toks: &[Tok], mut i: usize) -> Option<usize> {
    while i < toks.len() && is_blank(&toks[i]) {
        i += 1;
    }
    (i < toks.len()).then_some(i)
}

/// The index of the `)` matching the `(` at `open`.
fn matching(toks: &[Tok], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().skip(open) {
        match t {
            Tok::Open => depth += 1,
            Tok::Close => {
                depth -= 1;
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

/// The label names of a `by (…)`/`on (…)` list between `open` and its `)`.
fn label_list(toks: &[Tok], open: usize, close: usize) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for t in &toks[open + 1..close] {
        match t {
            Tok::Ident(n) => names.push(n.clone()),
            Tok::Text(s) if s.trim().is_empty() || s.trim() == "," => {}
            _ => return None,
        }
    }
    Some(names)
}

/// The label `L` of the template's `L="{model}"` matchers (all the same), when every selector
/// carries one.
fn model_label(matchers: &str) -> Option<String> {
    let needle = format!("\"{PLACEHOLDER}\"");
    let at = matchers.find(&needle)?;
    let before = matchers[..at].trim_end();
    let before = before.strip_suffix('=')?;
    if before.ends_with(['!', '=', '~']) {
        return None;
    }
    let name: String = before
        .trim_end()
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    // The placeholder once per selector, nowhere else in it.
    (!name.is_empty() && matchers.matches(PLACEHOLDER).count() == 1).then_some(name)
}

/// `template` made into one query for `models` (their keys), or `None` when the template is
/// not one the rewrite can keep exact for every model.
pub fn batch(template: &str, models: &[&str]) -> Option<Batched> {
    let toks = tokenize(template)?;
    let mut label: Option<String> = None;
    // First pass: every selector carries the same `L="{model}"` matcher.
    for (k, t) in toks.iter().enumerate() {
        match t {
            Tok::Matchers(m) => {
                let l = model_label(m)?;
                if label.get_or_insert(l.clone()) != &l {
                    return None;
                }
            }
            Tok::Text(s) if s.contains(PLACEHOLDER) => return None,
            Tok::Ident(name) => {
                let next = next_solid(&toks, k + 1).map(|n| &toks[n]);
                if list_owner(&toks, k).is_some()
                    || AGGREGATIONS.contains(&name.as_str())
                    || is_clause(name)
                {
                    continue;
                }
                if matches!(name.as_str(), "group_left" | "group_right") {
                    return None;
                }
                match next {
                    Some(Tok::Matchers(_)) => {}
                    Some(Tok::Open) => {
                        if LABEL_LOSING.contains(&name.as_str()) {
                            return None;
                        }
                    }
                    _ if KEYWORDS.contains(&name.as_str()) => {}
                    // A bare metric name: a selector without the model matcher.
                    _ => return None,
                }
            }
            _ => {}
        }
    }
    let label = label?;
    let values: Vec<String> = models.iter().map(|m| regex_escape(m)).collect();
    let mut out = String::new();
    let mut k = 0;
    // Where `by (label)` goes after an aggregation with no clause of its own.
    let mut insert_after: Vec<usize> = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        if let Tok::Ident(name) = t
            && AGGREGATIONS.contains(&name.as_str())
            && list_owner(&toks, i).is_none()
        {
            let n = next_solid(&toks, i + 1)?;
            match &toks[n] {
                Tok::Ident(w) if w == "by" || w == "without" => {}
                Tok::Open => {
                    let close = matching(&toks, n)?;
                    let after = next_solid(&toks, close + 1).map(|a| &toks[a]);
                    if !matches!(after, Some(Tok::Ident(w)) if w == "by" || w == "without") {
                        insert_after.push(i);
                    }
                }
                _ => return None,
            }
        }
    }
    while k < toks.len() {
        match &toks[k] {
            Tok::Matchers(m) => {
                let needle = format!("\"{PLACEHOLDER}\"");
                let at = m.find(&needle)?;
                let head = m[..at].trim_end().strip_suffix('=')?.trim_end();
                out.push_str(&format!(
                    "{{{head}=~\"{}\"{}}}",
                    values.join("|"),
                    &m[at + needle.len()..]
                ));
                k += 1;
            }
            Tok::Ident(w) if list_owner(&toks, k).is_none() && is_clause(w) => {
                let open = next_solid(&toks, k + 1)?;
                if toks[open] != Tok::Open {
                    return None;
                }
                let close = matching(&toks, open)?;
                let mut names = label_list(&toks, open, close)?;
                match w.as_str() {
                    "by" | "on" => {
                        if !names.contains(&label) {
                            names.push(label.clone());
                        }
                    }
                    // `without`/`ignoring` keep the label unless they name it.
                    _ => {
                        if names.contains(&label) {
                            return None;
                        }
                    }
                }
                out.push_str(&format!("{w} ({})", names.join(", ")));
                k = close + 1;
            }
            Tok::Ident(name) => {
                out.push_str(name);
                if insert_after.contains(&k) {
                    out.push_str(&format!(" by ({label}) "));
                }
                k += 1;
            }
            Tok::Text(s) => {
                out.push_str(s);
                k += 1;
            }
            Tok::Open => {
                out.push('(');
                k += 1;
            }
            Tok::Close => {
                out.push(')');
                k += 1;
            }
        }
    }
    Some(Batched { label, query: out })
}

fn is_clause(w: &str) -> bool {
    matches!(w, "by" | "without" | "on" | "ignoring")
}

/// When token `k` is inside a `by/without/on/ignoring (…)` list: the clause word's index.
fn list_owner(toks: &[Tok], k: usize) -> Option<usize> {
    // Walk back to the nearest unmatched `(`; its owner is the solid token before it.
    let mut depth = 0usize;
    let mut i = k;
    while i > 0 {
        i -= 1;
        match &toks[i] {
            Tok::Close => depth += 1,
            Tok::Open if depth > 0 => depth -= 1,
            Tok::Open => {
                let owner = (0..i).rev().find(|&p| !is_blank(&toks[p]))?;
                return match &toks[owner] {
                    Tok::Ident(w) if is_clause(w) => Some(owner),
                    _ => None,
                };
            }
            _ => {}
        }
    }
    None
}

/// A model key as a literal inside a PromQL string that holds an RE2 regex.
fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            // `\\` in PromQL's string is one `\` for the regex.
            out.push_str("\\\\");
        }
        if c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A model key as the value of a PromQL string: `\` and `"` escaped.
pub fn string_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// How one round of reads went: one query per metric and template group, or per model.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RoundStats {
    pub queries: usize,
    pub batched_models: usize,
}

/// Reads every model's metrics now. Models whose metric queries come from the same template
/// against the same Prometheus are read with one query per metric; the rest (and any batch
/// whose answer cannot be split) one model at a time, exactly as `ModelMetrics::read`.
pub fn read_all(
    models: &[(&str, &ModelMetrics)],
) -> (Vec<Result<Snapshot, PromError>>, RoundStats) {
    let mut stats = RoundStats::default();
    let mut results: Vec<Option<Result<Snapshot, PromError>>> =
        std::iter::repeat_with(|| None).take(models.len()).collect();
    // Group by (server, auth, metric, template) over models whose metric is templated.
    let mut groups: BTreeMap<(String, String, String, String), Vec<usize>> = BTreeMap::new();
    for (i, (_, mm)) in models.iter().enumerate() {
        for (metric, template) in mm.templates() {
            groups
                .entry((
                    mm.prom.url().to_string(),
                    mm.prom.auth_var().unwrap_or_default().to_string(),
                    metric,
                    template,
                ))
                .or_default()
                .push(i);
        }
    }
    // (model index, metric) → its reading, for batched reads.
    let mut got: BTreeMap<(usize, String), Result<Reading, PromError>> = BTreeMap::new();
    for ((_, _, metric, template), members) in &groups {
        if members.len() < 2 {
            continue;
        }
        let keys: Vec<&str> = members.iter().map(|&i| models[i].0).collect();
        let Some(b) = batch(template, &keys) else {
            continue;
        };
        let prom = &models[members[0]].1.prom;
        stats.queries += 1;
        match prom.query_all(metric, &b.query) {
            // Not a vector, or a query Prometheus refused: per model, as written.
            Ok(None) | Err(PromError::BadQuery { .. }) => {}
            Ok(Some(series)) => {
                if series.iter().any(|s| !s.labels.contains_key(&b.label)) {
                    // Not split-able (the rewrite lost the label somewhere): per model.
                    continue;
                }
                let mut by: BTreeMap<&str, Vec<_>> = BTreeMap::new();
                for s in &series {
                    by.entry(s.labels[&b.label].as_str())
                        .or_default()
                        .push(s.clone());
                }
                for &i in members {
                    let (key, mm) = models[i];
                    let one = by.remove(key).unwrap_or_default();
                    let own = mm
                        .query_list()
                        .into_iter()
                        .find(|(m, _)| m == metric)
                        .map(|(_, q)| q)
                        .unwrap_or_default();
                    got.insert((i, metric.clone()), mm.prom.reading_of(metric, &own, one));
                }
            }
            Err(e) => {
                for &i in members {
                    got.insert((i, metric.clone()), Err(e.clone()));
                }
            }
        }
    }
    for (i, (_, mm)) in models.iter().enumerate() {
        let mut snap = Snapshot::default();
        let mut failed = None;
        for (name, q) in mm.query_list() {
            let r = match got.remove(&(i, name.clone())) {
                Some(r) => r,
                None => {
                    stats.queries += 1;
                    mm.prom.query(&name, &q, None)
                }
            };
            match r {
                Ok(Reading::Value(v)) => {
                    snap.values.insert(name, Some(v));
                }
                Ok(Reading::Unknown(why)) => {
                    snap.values.insert(name.clone(), None);
                    snap.notes.insert(name, why);
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        results[i] = Some(match failed {
            Some(e) => Err(e),
            None => Ok(snap),
        });
    }
    stats.batched_models = models.len();
    (results.into_iter().map(|r| r.unwrap()).collect(), stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(t: &str) -> Option<String> {
        batch(t, &["a", "b.c"]).map(|b| b.query)
    }

    #[test]
    fn a_plain_selector_selects_every_model() {
        assert_eq!(
            q(r#"mlrb_test_error_rate{model="{model}"}"#).unwrap(),
            r#"mlrb_test_error_rate{model=~"a|b\\.c"}"#
        );
    }

    #[test]
    fn aggregations_keep_the_model_label() {
        assert_eq!(
            q(r#"sum(rate(errors_total{model="{model}",code=~"5.."}[5m])) / sum(rate(requests_total{model="{model}"}[5m]))"#).unwrap(),
            r#"sum by (model) (rate(errors_total{model=~"a|b\\.c",code=~"5.."}[5m])) / sum by (model) (rate(requests_total{model=~"a|b\\.c"}[5m]))"#
        );
        assert_eq!(
            q(r#"histogram_quantile(0.99, sum by (le) (rate(lat_bucket{model="{model}"}[5m]))) * 1000"#).unwrap(),
            r#"histogram_quantile(0.99, sum by (le, model) (rate(lat_bucket{model=~"a|b\\.c"}[5m]))) * 1000"#
        );
        assert_eq!(
            q(r#"max(x{model="{model}"}) by (pod)"#).unwrap(),
            r#"max(x{model=~"a|b\\.c"}) by (pod, model)"#
        );
        assert_eq!(
            q(r#"a{model="{model}"} / on(pod) b{model="{model}"}"#).unwrap(),
            r#"a{model=~"a|b\\.c"} / on (pod, model) b{model=~"a|b\\.c"}"#
        );
    }

    #[test]
    fn what_the_rewrite_cannot_keep_exact_is_not_batched() {
        for t in [
            // A selector without the model: the same total for every model.
            r#"sum(rate(e{model="{model}"}[5m])) / sum(rate(requests_total[5m]))"#,
            r#"e{model="{model}"} / on() group_left t"#,
            r#"sum without (model) (e{model="{model}"})"#,
            r#"e{model="{model}"} or vector(0)"#,
            r#"scalar(e{model="{model}"})"#,
            r#"label_replace(e{model="{model}"}, "model", "x", "", "")"#,
            r#"e{model=~"{model}"}"#,
            r#"e{model!="{model}"}"#,
            r#"e{svc="{model}"} / f{model="{model}"}"#,
            r#"e{model="{model}-canary"}"#,
            r#"e{model="x"}"#,
            r#"e{model="{model}""#,
        ] {
            assert_eq!(q(t), None, "{t}");
        }
    }

    #[test]
    fn keys_are_escaped_for_the_regex_and_the_string() {
        assert_eq!(regex_escape(r#"a.b+c"#), r#"a\\.b\\+c"#);
        assert_eq!(string_escape(r#"a"b\"#), r#"a\"b\\"#);
    }
}
