//! mlrb's integration tests: the real binary against a real MLflow server and the embedded
//! registry. `tests/run.sh` installs what they need.
#![allow(clippy::disallowed_methods)] // the harness starts servers itself

mod common;

mod bad_input;
mod bad_input_table;
mod changes;
mod charts;
mod controller;
mod coordination;
mod drill;
mod export;
mod fallback_switch;
mod faults;
mod features;
mod generated;
mod gitops;
mod image;
mod infra;
mod journal_compat;
mod json_plan;
mod kserve;
mod limits;
mod metrics;
mod registry_text;
mod report;
mod repromotion;
mod resume;
mod retrain;
mod revenue;
mod robustness;
mod rollback;
mod runbooks;
mod schema;
mod security;
mod serving;
mod serving_reload;
mod shadow;
mod tls;
mod traps;
mod traps_more;
mod watch;

/// Runs each scenario twice: on the embedded registry and on the real MLflow server.
#[macro_export]
macro_rules! on_both_registries {
    ($($scenario:ident),* $(,)?) => { $(
        mod $scenario {
            use $crate::common::{Backend, FileBackend, TestEnv, mlflow::MlflowBackend};
            #[test]
            fn file() {
                let mut env = TestEnv::new();
                let b = FileBackend::new(&env);
                b.configure(&mut env);
                super::$scenario(&mut env, &b);
            }
            #[test]
            fn mlflow() {
                let mut env = TestEnv::new();
                let b = MlflowBackend::new();
                b.configure(&mut env);
                super::$scenario(&mut env, &b);
            }
        }
    )* };
}
