//! The command line: global options and one subcommand per job.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::printer::Format;

/// The end of every main command's `--help`: exit codes, then the environment (what an
/// on-call engineer sets first, first).
macro_rules! help_tail {
    () => {
        "Exit status:
  0    done
  1    failed (registry, serving or I/O error)
  2    usage or configuration error
  3    refused or declined (no terminal and no --yes, a no at the prompt, a lease held elsewhere)
  4    no safe rollback target
  5    rolled back, but verification did not see recovery
  130  interrupted at the confirmation prompt (nothing was changed)

Environment:
  MLFLOW_TRACKING_URI       the MLflow tracking server (http:// or https://); no config needed
  MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD   basic auth for it
  MLFLOW_TRACKING_TOKEN     bearer token for it
  MLFLOW_TRACKING_SERVER_CERT_PATH, MLFLOW_TRACKING_CLIENT_CERT_PATH, MLFLOW_TRACKING_INSECURE_TLS
  MLRB_CONFIG               the config file (else ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)
  MLRB_REGISTRY             a registry URI or embedded registry file, instead of MLFLOW_TRACKING_URI
  MLRB_STATE_DIR            where the journal lives (default ~/.local/state/mlrb)
  TZ                        the zone of a local time given to --detected-at
  TERM                      `dumb` (or unset) gives a plain prompt with no cursor escapes"
    };
}

/// Roll back a misbehaving production ML model in one command, with a full record.
#[derive(Debug, Parser)]
#[command(
    name = "mlrb",
    version,
    about,
    long_about = None,
    propagate_version = true,
    after_help = concat!(
        "Examples:
  mlrb status recsys                      what is live, what a rollback would go to
  mlrb rollback model recsys --dry-run    the plan, changing nothing
  mlrb rollback model recsys --yes --reason \"diversity collapsed\" --detected-at 15m
  mlrb report --last                      the incident report of the last rollback

",
        help_tail!()
    )
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]
    #[arg(long, global = true, value_name = "URI|PATH")]
    pub registry: Option<String>,
    /// Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print only data and errors: no status lines, no progress
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is
    /// the same as -v
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// What is live, what rollback would go to, and what looks wrong
    #[command(after_help = concat!(
        "Examples:
  mlrb status                     every model in the config
  mlrb status recsys              one model: live version, candidate, anomalies
  mlrb status recsys -o json      the same for a script

",
        help_tail!()
    ))]
    Status(StatusArgs),
    /// The version a rollback would go to and why; --designate tags one before a deploy
    #[command(after_help = concat!(
        "Examples:
  mlrb candidate recsys                   the target and the rule that chose it
  mlrb candidate recsys --designate 7     before deploying v8: v7 is where to come back to

",
        help_tail!()
    ))]
    Candidate(CandidateArgs),
    /// Roll back one of the places an ML failure lives
    #[command(subcommand)]
    Rollback(RollbackCommand),
    /// Render the incident report of a recorded event, filled with what you know now
    #[command(after_help = concat!(
        "Examples:
  mlrb report --last
  mlrb report rollback-20261126T020500Z-1a2b --root-cause \"feature pipeline bug\"

",
        help_tail!()
    ))]
    Report(ReportArgs),
    /// Print a model's on-call runbook with its names filled in
    Runbook(RunbookArgs),
    /// Write a commented starter mlrb.toml
    Init(InitArgs),
    /// Which config file was read, and each resolved setting with where it came from
    Config(ConfigArgs),
    /// Run a complete model rollback on a throwaway embedded registry (no server needed)
    Demo(DemoArgs),
    /// The automated rollback controller: watch metrics, roll back on sustained hard breaches
    #[command(after_help = concat!(
        "Examples:
  mlrb watch recsys                       run the controller (stop with Ctrl-C or SIGTERM)
  mlrb watch recsys --once                one check: 0 MONITOR, 10 INVESTIGATE, 11 ROLLBACK NOW, 1 blind
  mlrb watch recsys --log-format json     one JSON object per stderr line

",
        help_tail!()
    ))]
    Watch(WatchArgs),
    /// Rehearse a rollback: breach, detect, roll back, verify, restore; record the MTTR
    #[command(after_help = concat!(
        "Examples:
  mlrb drill --sandbox recsys             on a throwaway registry, nothing real touched
  mlrb drill recsys --yes                 on the configured registry, restored afterwards
  mlrb drill --history                    earlier drills and the MTTR trend

",
        help_tail!()
    ))]
    Drill(DrillArgs),
    /// What changed lately in the registry, serving infra, feature pipeline and training data
    Changes(ChangesArgs),
    /// Write the rule `watch` applies as Prometheus alerting rules or an Argo Rollouts analysis
    #[command(subcommand)]
    Export(ExportCommand),
    /// Print shell completions
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct ChangesArgs {
    /// Model name (as in mlrb.toml, else the registered name)
    pub model: String,
    /// How far back to look, e.g. `24h`, `7d`
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = crate::config::parse_duration)]
    pub since: std::time::Duration,
    /// When the breach began (default: searched in Prometheus history when metrics are configured)
    #[arg(long, value_name = "TIME")]
    pub breach_at: Option<String>,
    /// Live version = the version this alias points at (instead of the Production stage)
    #[arg(long, value_name = "NAME")]
    pub alias: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct DrillArgs {
    /// Model to drill (as in mlrb.toml); optional with --history
    #[arg(required_unless_present = "history")]
    pub model: Option<String>,
    /// On a throwaway embedded registry with synthetic metrics that mlrb serves itself
    #[arg(long)]
    pub sandbox: bool,
    /// Who rolls back: the on-call engineer (manual) or the controller (auto)
    #[arg(long, value_enum, default_value_t = crate::drill::Mode::Manual)]
    pub mode: crate::drill::Mode,
    /// Fail when the MTTR is longer than this, e.g. `2m` (default: [models.X.drill] mttr_objective)
    #[arg(long, value_name = "DURATION", value_parser = crate::config::parse_duration)]
    pub mttr_objective: Option<std::time::Duration>,
    /// List the earlier drills (of MODEL, or all) with the MTTR trend, and change nothing
    #[arg(long, conflicts_with_all = ["sandbox", "mttr_objective", "yes"])]
    pub history: bool,
    /// Run a staging drill without asking (it changes the configured registry, then restores it)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Put back what an interrupted staging drill of MODEL changed, from the state it saved
    #[arg(long, conflicts_with_all = ["sandbox", "mttr_objective", "history"])]
    pub restore: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Models to watch (as in mlrb.toml, each with [models.X.metrics])
    #[arg(required = true)]
    pub models: Vec<String>,
    /// Check once and exit: 0 MONITOR, 10 INVESTIGATE, 11 ROLLBACK NOW, 1 metrics unreadable or
    /// all without data (blind)
    #[arg(long)]
    pub once: bool,
    /// Log lines on stderr: human, or one JSON object per line (the rollbacks it starts included)
    #[arg(long, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Live version = the version this alias points at (instead of the Production stage)
    #[arg(long, value_name = "NAME")]
    pub alias: Option<String>,
    /// Serve GET /metrics (Prometheus text: checks, breaches, rollbacks, last check, leader,
    /// blind models) and GET /healthz on this address, e.g. 0.0.0.0:9464
    #[arg(long, value_name = "ADDR", conflicts_with = "once")]
    pub listen: Option<String>,
    /// Log and notify the rollbacks it would make without making them (`status` shows the
    /// last one): to tune thresholds before letting it act
    #[arg(long)]
    pub recommend_only: bool,
    /// Run as one of several replicas: only the holder of a Kubernetes Lease
    /// (coordination.k8s.io/v1, through kubectl: KUBECONFIG or in-cluster) checks and acts
    #[arg(long, conflicts_with = "once")]
    pub leader_elect: bool,
    /// The Lease's name
    #[arg(long, value_name = "NAME", default_value = "mlrb-watch")]
    pub lease_name: String,
    /// The Lease's namespace [default: the pod's namespace in a cluster, else "default"]
    #[arg(long, value_name = "NS")]
    pub lease_namespace: Option<String>,
    /// How long a standby waits after the lease was last renewed before taking it over
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = humantime::parse_duration)]
    pub lease_duration: std::time::Duration,
    /// A leader that has not renewed for this long stops checking and acting (shorter than
    /// --lease-duration)
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub renew_deadline: std::time::Duration,
    /// How often the leader renews, and a standby tries to acquire, the lease
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = humantime::parse_duration)]
    pub retry_period: std::time::Duration,
}

#[derive(Debug, Default, Args)]
pub struct OutputArgs {
    /// Output format: a table for people, JSON for scripts
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Model name (as in mlrb.toml, else the registered name); all models when omitted
    pub model: Option<String>,
    /// Live version = the version this alias points at (instead of the Production stage)
    #[arg(long, value_name = "NAME")]
    pub alias: Option<String>,
    /// An exported rules file (`mlrb export prometheus-rules`): say whether it still matches the config
    #[arg(long, value_name = "FILE")]
    pub rules: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Prometheus alerting rules: per hard threshold a critical alert (ROLLBACK NOW), per soft one a warning (INVESTIGATE)
    #[command(after_help = concat!(
        "Examples:
  mlrb export prometheus-rules recsys --out /etc/prometheus/rules/mlrb.yml
  mlrb export prometheus-rules recsys fraud --format prometheusrule | kubectl apply -f -
  mlrb status recsys --rules /etc/prometheus/rules/mlrb.yml     has it drifted from mlrb.toml?

",
        help_tail!()
    ))]
    PrometheusRules(ExportRulesArgs),
    /// An Argo Rollouts AnalysisTemplate with the same queries, thresholds and failure rule
    #[command(after_help = concat!(
        "Examples:
  mlrb export argo-analysis recsys | kubectl apply -f -

",
        help_tail!()
    ))]
    ArgoAnalysis(ExportArgoArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RulesFormat {
    /// A rules file for Prometheus's `rule_files:`
    #[default]
    Rules,
    /// A Prometheus Operator PrometheusRule object
    Prometheusrule,
}

#[derive(Debug, Args)]
pub struct ExportRulesArgs {
    /// Models (as in mlrb.toml, each with [models.X.metrics])
    #[arg(required = true)]
    pub models: Vec<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: RulesFormat,
    /// Write to FILE (0600, replaced whole) instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgoArgs {
    /// Model (as in mlrb.toml, with [models.X.metrics])
    pub model: String,
    /// Write to FILE (0600, replaced whole) instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct CandidateArgs {
    pub model: String,
    /// Consider this version (checked: not live, not rolled back from)
    #[arg(long, value_name = "V", conflicts_with = "designate")]
    pub to: Option<String>,
    /// Pre-designate V as the rollback target (tags rollback.healthy_baseline=true)
    #[arg(long, value_name = "V")]
    pub designate: Option<String>,
    #[arg(long, value_name = "NAME")]
    pub alias: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum RollbackCommand {
    /// Roll the model artifact back in the registry, reload serving, verify, report
    #[command(after_help = concat!(
        "Examples:
  mlrb rollback model recsys --dry-run
  mlrb rollback model recsys --yes --reason \"diversity collapsed\" --detected-at 22:04
  mlrb rollback model recsys --to 3 --yes
  mlrb rollback model recsys --resume     finish an interrupted rollback

",
        help_tail!()
    ))]
    Model(ModelRollbackArgs),
    /// Roll the serving infrastructure back: kubectl rollout undo or helm rollback, verify, report
    #[command(after_help = concat!(
        "Examples:
  mlrb rollback infra recsys --history
  mlrb rollback infra recsys --yes --reason \"pods crash-looping\" --detected-at 10m

",
        help_tail!()
    ))]
    Infra(InfraRollbackArgs),
    /// Restore the feature pipeline (code + DVC data) to a known-good commit, commit, report
    Features(FeaturesRollbackArgs),
    /// Trigger an emergency retrain on a known-good dataset version in CI
    Retrain(RetrainRollbackArgs),
}

/// What every rollback takes: the why, the who, the when, and how much to ask.
#[derive(Debug, Default, Args)]
pub struct RollbackOptions {
    /// Why: recorded with the rollback (registry tags keep 500 characters, commits, journal, report)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub yes: bool,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// When the breach began: `15m` (ago), `22:04` or `YYYY-MM-DD HH:MM` (local time; add `UTC`
    /// for UTC), or RFC 3339 with an offset; the plan echoes it in UTC
    #[arg(long, value_name = "TIME")]
    pub detected_at: Option<String>,
    /// Who or what started the rollback (default: $USER)
    #[arg(long, value_name = "WHO")]
    pub triggered_by: Option<String>,
    /// Close the interrupted rollback EVENT of this target as abandoned (recorded in the journal;
    /// nothing else changes), then plan afresh: for a rollback made obsolete since
    #[arg(long, value_name = "EVENT")]
    pub abandon: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["dataset_version", "resume"])))]
pub struct RetrainRollbackArgs {
    pub model: String,
    /// The known-good training dataset version
    #[arg(long, value_name = "D")]
    pub dataset_version: Option<String>,
    /// The training config commit (or ref) to run
    #[arg(long, value_name = "C")]
    pub config_commit: Option<String>,
    /// Follow the pipeline until it finishes
    #[arg(long)]
    pub wait: bool,
    /// Finish an interrupted retrain (a trigger with no recorded answer is looked for in CI, never sent twice)
    #[arg(long, conflicts_with_all = ["dataset_version", "config_commit", "reason", "detected_at", "triggered_by"])]
    pub resume: bool,
    #[command(flatten)]
    pub common: RollbackOptions,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("when").required(true).args(["to", "before", "resume"])))]
pub struct FeaturesRollbackArgs {
    pub model: String,
    /// The known-good commit (any revision git understands)
    #[arg(long, value_name = "COMMIT")]
    pub to: Option<String>,
    /// The newest commit touching the pipeline before TIME (RFC 3339, `YYYY-MM-DD HH:MM` local time, `2h` ago)
    #[arg(long, value_name = "TIME")]
    pub before: Option<String>,
    /// Leave the restored files staged instead of committing them
    #[arg(long)]
    pub no_commit: bool,
    /// Push the commit with `git push`
    #[arg(long, conflicts_with = "no_commit")]
    pub push: bool,
    /// Finish an interrupted feature rollback (steps the journal or the repository show done are not run again)
    #[arg(long, conflicts_with_all = ["to", "before", "reason", "detected_at", "triggered_by"])]
    pub resume: bool,
    #[command(flatten)]
    pub common: RollbackOptions,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct InfraRollbackArgs {
    pub model: String,
    /// Revision to go back to (default: the one before the current); see --history
    #[arg(long, value_name = "N")]
    pub to_revision: Option<u64>,
    /// List the revisions (number, change-cause, image, age) and change nothing
    #[arg(long, conflicts_with_all = ["to_revision", "yes", "dry_run"])]
    pub history: bool,
    /// Istio: stop only the mirror to the model's shadow ([models.X.infra] shadow); live weights untouched
    #[arg(long, conflicts_with_all = ["to_revision", "history"])]
    pub shadow: bool,
    /// With --shadow: put back the mirror the last shadow stop removed (recorded on the VirtualService)
    #[arg(long, requires = "shadow")]
    pub restore: bool,
    /// Finish an interrupted infra rollback (steps the journal or the cluster show done are not run again)
    #[arg(long, conflicts_with_all = ["to_revision", "history", "reason", "detected_at", "triggered_by"])]
    pub resume: bool,
    #[command(flatten)]
    pub common: RollbackOptions,
    #[command(flatten)]
    pub gitops: GitopsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// How a rollback of an object Argo CD or Flux manages is made to stick ([models.X.gitops]).
#[derive(Debug, Default, Args)]
pub struct GitopsArgs {
    /// Roll back an object Argo CD or Flux manages without [models.X.gitops]: its next sync
    /// will revert the rollback
    #[arg(long)]
    pub ignore_gitops: bool,
    /// With [models.X.gitops]: leave the controller's sync suspended afterwards (`status` shows it)
    #[arg(long, conflicts_with = "ignore_gitops")]
    pub keep_suspended: bool,
    /// With [models.X.gitops]: push the revert commit (`git push`) before sync is resumed
    #[arg(long = "push", conflicts_with = "ignore_gitops")]
    pub push_gitops: bool,
}

#[derive(Debug, Args)]
pub struct ModelRollbackArgs {
    pub model: String,
    /// Target version (default: the candidate; see `mlrb candidate`)
    #[arg(long, value_name = "V")]
    pub to: Option<String>,
    /// Go ahead despite a pre-flight refusal the plan names: with --to, a version rolled back
    /// from before; a target whose model signature needs inputs the live version does not take
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub common: RollbackOptions,
    /// Finish an interrupted rollback of this model (re-checks the registry, or with --fallback
    /// the serving switch, before each step)
    #[arg(long, conflicts_with_all = ["to", "reason", "detected_at", "triggered_by"])]
    pub resume: bool,
    /// Make the pre-built fallback of [models.X.fallback] live (when no safe target is left)
    #[arg(long, conflicts_with = "to")]
    pub fallback: bool,
    /// With --fallback: switch a serving-switch fallback off again, restoring the value the
    /// journal recorded when it was switched on
    #[arg(long, requires = "fallback")]
    pub end: bool,
    /// Take over the model's lease from a rollback that was abandoned on another machine
    #[arg(long)]
    pub force_unlock: bool,
    /// Live version = the version this alias points at (instead of the Production stage)
    #[arg(long, value_name = "NAME")]
    pub alias: Option<String>,
    /// Skip the metrics verification phase (waiting for metrics to return to baseline)
    #[arg(long)]
    pub no_verify: bool,
    #[command(flatten)]
    pub gitops: GitopsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Event id (see the journal); defaults to the last event
    #[arg(conflicts_with = "last")]
    pub event: Option<String>,
    /// The most recent event
    #[arg(long)]
    pub last: bool,
    /// Root cause, once known
    #[arg(long, value_name = "TEXT")]
    pub root_cause: Option<String>,
    /// A contributing factor (repeatable)
    #[arg(long = "factor", value_name = "TEXT")]
    pub factors: Vec<String>,
    /// A corrective action as "what|owner|due" (repeatable)
    #[arg(long = "action", value_name = "WHAT|OWNER|DUE")]
    pub actions: Vec<String>,
    /// Write the markdown report to FILE instead of stdout (an existing FILE is not replaced
    /// without --force)
    #[arg(long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace an existing --out FILE
    #[arg(long, requires = "out")]
    pub force: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct RunbookArgs {
    pub model: String,
    /// Which runbook
    #[arg(long, value_enum, default_value_t = RunbookTopic::Model)]
    pub topic: RunbookTopic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RunbookTopic {
    /// Roll back the model artifact (start here)
    Model,
    /// Roll back the serving infrastructure
    Infra,
    /// Roll back the feature pipeline
    Features,
    /// Emergency retrain on a known-good dataset
    Retrain,
    /// No safe rollback target
    NoTarget,
    /// The quarterly rollback drill
    Drill,
    /// Roll back what Argo CD or Flux manages
    Gitops,
    /// A model in shadow mode misbehaves: stop its shadow traffic
    Shadow,
    /// A model served by KServe (InferenceService, canary)
    Kserve,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write (default: ./mlrb.toml)
    #[arg(long, value_name = "PATH", default_value = "mlrb.toml")]
    pub path: PathBuf,
    /// Replace an existing file
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo registry and journal in DIR (default: a temp dir, removed afterwards)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
