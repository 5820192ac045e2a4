//! The feature-schema gate: a model version's input signature (from its MLflow `MLmodel` file)
//! compared with the live version's, before a rollback makes the target live.
//!
//! A rolled-back model is fed what the feature pipeline produces now, which is what the live
//! version takes. A target that needs an input the live version does not receive would fail
//! (or silently mis-predict) on every request.

use serde::Serialize;
use serde_json::Value;

/// One input column (or tensor) of a model signature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Input {
    /// The column name; `#N` for an unnamed input (matched by position).
    pub name: String,
    /// MLflow's type (`double`, `string`, `tensor(float32, [-1, 3])`, an object's JSON).
    #[serde(rename = "type")]
    pub ty: String,
    pub required: bool,
}

/// The `signature.inputs` of an `MLmodel` file: `Ok(None)` when the file has no signature (or
/// no inputs); `Err` when it has one that cannot be read.
pub fn inputs_of_mlmodel(mlmodel: &str) -> Result<Option<Vec<Input>>, String> {
    let Some(raw) = signature_inputs(mlmodel)? else {
        return Ok(None);
    };
    let specs: Vec<Value> = serde_json::from_str(&raw)
        .map_err(|e| format!("its signature's inputs are not a JSON list ({e})"))?;
    Ok(Some(
        specs
            .iter()
            .enumerate()
            .map(|(i, s)| Input {
                name: s["name"]
                    .as_str()
                    .map_or_else(|| format!("#{i}"), str::to_string),
                ty: type_of(s),
                required: s["required"].as_bool().unwrap_or(true),
            })
            .collect(),
    ))
}

fn type_of(spec: &Value) -> String {
    match spec["type"].as_str() {
        Some("tensor") => {
            let t = &spec["tensor-spec"];
            format!(
                "tensor({}, {})",
                t["dtype"].as_str().unwrap_or("?"),
                t["shape"]
            )
        }
        Some(simple) if spec.get("items").is_none() && spec.get("properties").is_none() => {
            simple.to_string()
        }
        _ => {
            let mut s = spec.clone();
            if let Some(o) = s.as_object_mut() {
                o.remove("name");
                o.remove("required");
            }
            s.to_string()
        }
    }
}

/// The value of `signature:` → `inputs:` in MLflow's YAML (PyYAML's `safe_dump`): a quoted
/// scalar, folded over several lines when long, or `null`. Only what MLflow writes is read;
/// this is not a YAML parser.
fn signature_inputs(mlmodel: &str) -> Result<Option<String>, String> {
    let lines: Vec<&str> = mlmodel.lines().collect();
    let Some(start) = lines.iter().position(|l| l.trim_end() == "signature:") else {
        return Ok(None);
    };
    let block: Vec<&str> = lines[start + 1..]
        .iter()
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .copied()
        .collect();
    let Some(at) = block
        .iter()
        .position(|l| l.trim_start().starts_with("inputs:"))
    else {
        return Ok(None);
    };
    let indent = block[at].len() - block[at].trim_start().len();
    let first = block[at].trim_start()["inputs:".len()..].trim();
    // The scalar's continuation lines are indented deeper than its key.
    let rest = block[at + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
        .map(|l| l.trim());
    let folded = std::iter::once(first)
        .chain(rest)
        .fold(String::new(), |mut acc, l| {
            if l.is_empty() {
                acc.push('\n');
            } else {
                if !acc.is_empty() && !acc.ends_with('\n') {
                    acc.push(' ');
                }
                acc.push_str(l);
            }
            acc
        });
    let value = folded.trim();
    if value.is_empty() || value == "null" || value == "~" {
        return Ok(None);
    }
    if let Some(inner) = value.strip_prefix('\'') {
        let inner = inner
            .strip_suffix('\'')
            .ok_or("its signature's inputs are not closed")?;
        return Ok(Some(inner.replace("''", "'")));
    }
    if value.starts_with('"') {
        // A double-quoted YAML scalar escapes like JSON for what MLflow writes.
        return serde_json::from_str::<String>(value)
            .map(Some)
            .map_err(|e| format!("its signature's inputs cannot be read ({e})"));
    }
    Ok(Some(value.to_string()))
}

/// Two versions' inputs compared: the target's against the live version's.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub target: u64,
    pub live: u64,
    pub target_inputs: usize,
    pub live_inputs: usize,
    /// Required by the target, not taken by the live version: the pipeline does not send them.
    pub missing: Vec<Input>,
    /// Optional for the target, not taken by the live version.
    pub missing_optional: Vec<Input>,
    /// Taken by both, with different types: (name, target's type, live's type).
    pub retyped: Vec<(String, String, String)>,
    /// Required by the target, optional for the live version: not always sent.
    pub now_optional: Vec<String>,
    /// Taken by the live version only (the target ignores them).
    pub new_in_live: Vec<String>,
}

impl Comparison {
    pub fn new(target: u64, t: &[Input], live: u64, l: &[Input]) -> Comparison {
        let find = |name: &str| l.iter().find(|i| i.name == name);
        let mut c = Comparison {
            target,
            live,
            target_inputs: t.len(),
            live_inputs: l.len(),
            missing: Vec::new(),
            missing_optional: Vec::new(),
            retyped: Vec::new(),
            now_optional: Vec::new(),
            new_in_live: l
                .iter()
                .filter(|i| !t.iter().any(|x| x.name == i.name))
                .map(|i| i.name.clone())
                .collect(),
        };
        for i in t {
            match find(&i.name) {
                None if i.required => c.missing.push(i.clone()),
                None => c.missing_optional.push(i.clone()),
                Some(x) if x.ty != i.ty => {
                    c.retyped.push((i.name.clone(), i.ty.clone(), x.ty.clone()))
                }
                Some(x) if i.required && !x.required => c.now_optional.push(i.name.clone()),
                Some(_) => {}
            }
        }
        c
    }

    /// Whether the target needs an input the live version does not receive (as such).
    pub fn blocks(&self) -> bool {
        !self.missing.is_empty() || !self.retyped.is_empty()
    }

    /// The comparison in one line: "v3 expects 42 inputs; live v5 takes 44: new `a`, `b`".
    pub fn summary(&self) -> String {
        let (t, l) = (self.target, self.live);
        let mut s = format!(
            "v{t} expects {} input{}; live v{l} takes {}",
            self.target_inputs,
            if self.target_inputs == 1 { "" } else { "s" },
            self.live_inputs
        );
        let mut parts = Vec::new();
        if !self.new_in_live.is_empty() {
            parts.push(format!("new {}", names(&self.new_in_live)));
        }
        if !self.missing.is_empty() {
            parts.push(format!(
                "v{t} needs {} that live v{l} does not receive",
                typed(&self.missing)
            ));
        }
        for (n, tt, lt) in &self.retyped {
            parts.push(format!("`{n}` is {tt} for v{t}, {lt} for live v{l}"));
        }
        if !self.missing_optional.is_empty() {
            parts.push(format!(
                "v{t}'s optional {} not received",
                typed(&self.missing_optional)
            ));
        }
        if !self.now_optional.is_empty() {
            parts.push(format!(
                "{} required by v{t}, optional for live v{l}",
                names(&self.now_optional)
            ));
        }
        if parts.is_empty() {
            s.push_str(": the same inputs");
        } else {
            s.push_str(": ");
            s.push_str(&parts.join("; "));
        }
        s
    }
}

/// What the gate found for a rollback from `live` to `target`: the comparison when both
/// signatures were read, else why the inputs were not compared (a warning, never a refusal).
#[derive(Debug, Clone)]
pub enum Check {
    Compared(Comparison),
    NotCompared(String),
}

/// Reads both versions' signatures (at once: two round trips in the time of one) and
/// compares them.
pub fn check(reg: &dyn crate::registry::Registry, name: &str, target: u64, live: u64) -> Check {
    let read = |v: u64| -> Result<Vec<Input>, String> {
        match reg.model_file(name, v) {
            Ok(Some(text)) => match inputs_of_mlmodel(&text) {
                Ok(Some(inputs)) => Ok(inputs),
                Ok(None) => Err(format!("v{v} has no input signature in its MLmodel")),
                Err(e) => Err(format!("v{v}'s MLmodel cannot be read: {e}")),
            },
            Ok(None) => Err(format!(
                "v{v} has no MLmodel file where {} can read it",
                reg.location()
            )),
            Err(e) => Err(format!("v{v}'s MLmodel cannot be read: {e}")),
        }
    };
    let (t, l) = std::thread::scope(|s| {
        let l = s.spawn(|| read(live));
        let t = read(target);
        (
            t,
            l.join().unwrap_or_else(|_| Err("reading panicked".into())),
        )
    });
    match (t, l) {
        (Ok(t), Ok(l)) => Check::Compared(Comparison::new(target, &t, live, &l)),
        (Err(a), Err(b)) => Check::NotCompared(format!(
            "inputs of v{target} and live v{live} not compared: {a}; {b}"
        )),
        (Err(e), _) | (_, Err(e)) => Check::NotCompared(format!(
            "inputs of v{target} and live v{live} not compared: {e}"
        )),
    }
}

fn names(ns: &[String]) -> String {
    let shown: Vec<String> = ns.iter().take(8).map(|n| format!("`{n}`")).collect();
    let more = ns.len().saturating_sub(8);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn typed(inputs: &[Input]) -> String {
    let shown: Vec<String> = inputs
        .iter()
        .take(8)
        .map(|i| format!("`{}` ({})", i.name, i.ty))
        .collect();
    let more = inputs.len().saturating_sub(8);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MLMODEL: &str = "artifact_path: x\nflavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\nsignature:\n  inputs: '[{\"type\": \"double\", \"name\": \"a\", \"required\": true}, {\"type\": \"double\",\n    \"name\": \"it''s\", \"required\": true}, {\"type\": \"string\", \"name\": \"c\",\n    \"required\": false}]'\n  outputs: '[{\"type\": \"double\", \"required\": true}]'\n  params: null\nutc_time_created: '2026-11-29 21:32:51.668961'\n";

    #[test]
    fn reads_a_folded_signature_as_mlflow_writes_it() {
        let inputs = inputs_of_mlmodel(MLMODEL).unwrap().unwrap();
        assert_eq!(
            inputs
                .iter()
                .map(|i| (i.name.as_str(), i.ty.as_str(), i.required))
                .collect::<Vec<_>>(),
            [
                ("a", "double", true),
                ("it's", "double", true),
                ("c", "string", false)
            ]
        );
    }

    #[test]
    fn no_signature_and_null_inputs_are_none() {
        assert_eq!(inputs_of_mlmodel("flavors:\n  x: 1\n").unwrap(), None);
        assert_eq!(
            inputs_of_mlmodel("signature:\n  inputs: null\n  outputs: null\n").unwrap(),
            None
        );
    }

    #[test]
    fn tensors_are_typed_by_dtype_and_shape() {
        let m = "signature:\n  inputs: '[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float32\", \"shape\": [-1, 3]}}]'\n";
        let i = inputs_of_mlmodel(m).unwrap().unwrap();
        assert_eq!(i[0].name, "#0");
        assert_eq!(i[0].ty, "tensor(float32, [-1,3])");
    }

    fn input(name: &str, ty: &str, required: bool) -> Input {
        Input {
            name: name.into(),
            ty: ty.into(),
            required,
        }
    }

    #[test]
    fn a_target_needing_an_input_live_does_not_take_is_blocked() {
        let t = [input("a", "double", true), input("old", "long", true)];
        let l = [input("a", "double", true), input("new", "double", true)];
        let c = Comparison::new(3, &t, 5, &l);
        assert!(c.blocks());
        assert_eq!(
            c.summary(),
            "v3 expects 2 inputs; live v5 takes 2: new `new`; v3 needs `old` (long) that live v5 does not receive"
        );
    }

    #[test]
    fn extra_live_inputs_and_optional_ones_do_not_block() {
        let t = [input("a", "double", true), input("o", "string", false)];
        let l = [
            input("a", "double", true),
            input("user_embedding_v2", "double", true),
            input("session_len", "long", true),
        ];
        let c = Comparison::new(3, &t, 5, &l);
        assert!(!c.blocks());
        assert_eq!(
            c.summary(),
            "v3 expects 2 inputs; live v5 takes 3: new `user_embedding_v2`, `session_len`; v3's optional `o` (string) not received"
        );
        let same = Comparison::new(3, &l, 5, &l);
        assert_eq!(
            same.summary(),
            "v3 expects 3 inputs; live v5 takes 3: the same inputs"
        );
    }

    #[test]
    fn a_type_change_blocks() {
        let c = Comparison::new(
            3,
            &[input("a", "long", true)],
            5,
            &[input("a", "string", true)],
        );
        assert!(c.blocks());
        assert!(
            c.summary()
                .contains("`a` is long for v3, string for live v5")
        );
    }
}
