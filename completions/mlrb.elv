
use builtin;
use str;

set edit:completion:arg-completer[mlrb] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'mlrb'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'mlrb'= {
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand status 'What is live, what rollback would go to, and what looks wrong'
            cand candidate 'The version a rollback would go to and why; --designate tags one before a deploy'
            cand rollback 'Roll back one of the places an ML failure lives'
            cand report 'Render the incident report of a recorded event, filled with what you know now'
            cand runbook 'Print a model''s on-call runbook with its names filled in'
            cand init 'Write a commented starter mlrb.toml'
            cand config 'Which config file was read, and each resolved setting with where it came from'
            cand demo 'Run a complete model rollback on a throwaway embedded registry (no server needed)'
            cand watch 'The automated rollback controller: watch metrics, roll back on sustained hard breaches'
            cand drill 'Rehearse a rollback: breach, detect, roll back, verify, restore; record the MTTR'
            cand changes 'What changed lately in the registry, serving infra, feature pipeline and training data'
            cand export 'Write the rule `watch` applies as Prometheus alerting rules or an Argo Rollouts analysis'
            cand completions 'Print shell completions'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mlrb;status'= {
            cand --alias 'Live version = the version this alias points at (instead of the Production stage)'
            cand --rules 'An exported rules file (`mlrb export prometheus-rules`): say whether it still matches the config'
            cand -o 'Output format: a table for people, JSON for scripts'
            cand --output 'Output format: a table for people, JSON for scripts'
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mlrb;candidate'= {
            cand --to 'Consider this version (checked: not live, not rolled back from)'
            cand --designate 'Pre-designate V as the rollback target (tags rollback.healthy_baseline=true)'
            cand --alias 'alias'
            cand -o 'Output format: a table for people, JSON for scripts'
            cand --output 'Output format: a table for people, JSON for scripts'
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mlrb;rollback'= {
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand model 'Roll the model artifact back in the registry, reload serving, verify, report'
            cand infra 'Roll the serving infrastructure back: kubectl rollout undo or helm rollback, verify, report'
            cand features 'Restore the feature pipeline (code + DVC data) to a known-good commit, commit, report'
            cand retrain 'Trigger an emergency retrain on a known-good dataset version in CI'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mlrb;rollback;model'= {
            cand --to 'Target version (default: the candidate; see `mlrb candidate`)'
            cand --reason 'Why: recorded with the rollback (registry tags keep 500 characters, commits, journal, report)'
            cand --detected-at 'When the breach began: `15m` (ago), `22:04` or `YYYY-MM-DD HH:MM` (local time; add `UTC` for UTC), or RFC 3339 with an offset; the plan echoes it in UTC'
            cand --triggered-by 'Who or what started the rollback (default: $USER)'
            cand --abandon 'Close the interrupted rollback EVENT of this target as abandoned (recorded in the journal; nothing else changes), then plan afresh: for a rollback made obsolete since'
            cand --alias 'Live version = the version this alias points at (instead of the Production stage)'
            cand -o 'Output format: a table for people, JSON for scripts'
            cand --output 'Output format: a table for people, JSON for scripts'
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand --force 'Go ahead despite a pre-flight refusal the plan names: with --to, a version rolled back from before; a target whose model signature needs inputs the live version does not take'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand --dry-run 'Print the plan and change nothing'
            cand --resume 'Finish an interrupted rollback of this model (re-checks the registry, or with --fallback the serving switch, before each step)'
            cand --fallback 'Make the pre-built fallback of [models.X.fallback] live (when no safe target is left)'
            cand --end 'With --fallback: switch a serving-switch fallback off again, restoring the value the journal recorded when it was switched on'
            cand --force-unlock 'Take over the model''s lease from a rollback that was abandoned on another machine'
            cand --no-verify 'Skip the metrics verification phase (waiting for metrics to return to baseline)'
            cand --ignore-gitops 'Roll back an object Argo CD or Flux manages without [models.X.gitops]: its next sync will revert the rollback'
            cand --keep-suspended 'With [models.X.gitops]: leave the controller''s sync suspended afterwards (`status` shows it)'
            cand --push 'With [models.X.gitops]: push the revert commit (`git push`) before sync is resumed'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mlrb;rollback;infra'= {
            cand --to-revision 'Revision to go back to (default: the one before the current); see --history'
            cand --reason 'Why: recorded with the rollback (registry tags keep 500 characters, commits, journal, report)'
            cand --detected-at 'When the breach began: `15m` (ago), `22:04` or `YYYY-MM-DD HH:MM` (local time; add `UTC` for UTC), or RFC 3339 with an offset; the plan echoes it in UTC'
            cand --triggered-by 'Who or what started the rollback (default: $USER)'
            cand --abandon 'Close the interrupted rollback EVENT of this target as abandoned (recorded in the journal; nothing else changes), then plan afresh: for a rollback made obsolete since'
            cand -o 'Output format: a table for people, JSON for scripts'
            cand --output 'Output format: a table for people, JSON for scripts'
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand --history 'List the revisions (number, change-cause, image, age) and change nothing'
            cand --shadow 'Istio: stop only the mirror to the model''s shadow ([models.X.infra] shadow); live weights untouched'
            cand --restore 'With --shadow: put back the mirror the last shadow stop removed (recorded on the VirtualService)'
            cand --resume 'Finish an interrupted infra rollback (steps the journal or the cluster show done are not run again)'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand --dry-run 'Print the plan and change nothing'
            cand --ignore-gitops 'Roll back an object Argo CD or Flux manages without [models.X.gitops]: its next sync will revert the rollback'
            cand --keep-suspended 'With [models.X.gitops]: leave the controller''s sync suspended afterwards (`status` shows it)'
            cand --push 'With [models.X.gitops]: push the revert commit (`git push`) before sync is resumed'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mlrb;rollback;features'= {
            cand --to 'The known-good commit (any revision git understands)'
            cand --before 'The newest commit touching the pipeline before TIME (RFC 3339, `YYYY-MM-DD HH:MM` local time, `2h` ago)'
            cand --reason 'Why: recorded with the rollback (registry tags keep 500 characters, commits, journal, report)'
            cand --detected-at 'When the breach began: `15m` (ago), `22:04` or `YYYY-MM-DD HH:MM` (local time; add `UTC` for UTC), or RFC 3339 with an offset; the plan echoes it in UTC'
            cand --triggered-by 'Who or what started the rollback (default: $USER)'
            cand --abandon 'Close the interrupted rollback EVENT of this target as abandoned (recorded in the journal; nothing else changes), then plan afresh: for a rollback made obsolete since'
            cand -o 'Output format: a table for people, JSON for scripts'
            cand --output 'Output format: a table for people, JSON for scripts'
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand --no-commit 'Leave the restored files staged instead of committing them'
            cand --push 'Push the commit with `git push`'
            cand --resume 'Finish an interrupted feature rollback (steps the journal or the repository show done are not run again)'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand --dry-run 'Print the plan and change nothing'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mlrb;rollback;retrain'= {
            cand --dataset-version 'The known-good training dataset version'
            cand --config-commit 'The training config commit (or ref) to run'
            cand --reason 'Why: recorded with the rollback (registry tags keep 500 characters, commits, journal, report)'
            cand --detected-at 'When the breach began: `15m` (ago), `22:04` or `YYYY-MM-DD HH:MM` (local time; add `UTC` for UTC), or RFC 3339 with an offset; the plan echoes it in UTC'
            cand --triggered-by 'Who or what started the rollback (default: $USER)'
            cand --abandon 'Close the interrupted rollback EVENT of this target as abandoned (recorded in the journal; nothing else changes), then plan afresh: for a rollback made obsolete since'
            cand -o 'Output format: a table for people, JSON for scripts'
            cand --output 'Output format: a table for people, JSON for scripts'
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand --wait 'Follow the pipeline until it finishes'
            cand --resume 'Finish an interrupted retrain (a trigger with no recorded answer is looked for in CI, never sent twice)'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand --dry-run 'Print the plan and change nothing'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mlrb;rollback;help'= {
            cand model 'Roll the model artifact back in the registry, reload serving, verify, report'
            cand infra 'Roll the serving infrastructure back: kubectl rollout undo or helm rollback, verify, report'
            cand features 'Restore the feature pipeline (code + DVC data) to a known-good commit, commit, report'
            cand retrain 'Trigger an emergency retrain on a known-good dataset version in CI'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mlrb;rollback;help;model'= {
        }
        &'mlrb;rollback;help;infra'= {
        }
        &'mlrb;rollback;help;features'= {
        }
        &'mlrb;rollback;help;retrain'= {
        }
        &'mlrb;rollback;help;help'= {
        }
        &'mlrb;report'= {
            cand --root-cause 'Root cause, once known'
            cand --factor 'A contributing factor (repeatable)'
            cand --action 'A corrective action as "what|owner|due" (repeatable)'
            cand --out 'Write the markdown report to FILE instead of stdout (an existing FILE is not replaced without --force)'
            cand -o 'Output format: a table for people, JSON for scripts'
            cand --output 'Output format: a table for people, JSON for scripts'
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand --last 'The most recent event'
            cand --force 'Replace an existing --out FILE'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mlrb;runbook'= {
            cand --topic 'Which runbook'
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mlrb;init'= {
            cand --path 'Where to write (default: ./mlrb.toml)'
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand --force 'Replace an existing file'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mlrb;config'= {
            cand -o 'Output format: a table for people, JSON for scripts'
            cand --output 'Output format: a table for people, JSON for scripts'
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mlrb;demo'= {
            cand --dir 'Keep the demo registry and journal in DIR (default: a temp dir, removed afterwards)'
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mlrb;watch'= {
            cand --log-format 'Log lines on stderr: human, or one JSON object per line (the rollbacks it starts included)'
            cand --alias 'Live version = the version this alias points at (instead of the Production stage)'
            cand --listen 'Serve GET /metrics (Prometheus text: checks, breaches, rollbacks, last check, leader, blind models) and GET /healthz on this address, e.g. 0.0.0.0:9464'
            cand --lease-name 'The Lease''s name'
            cand --lease-namespace 'The Lease''s namespace [default: the pod''s namespace in a cluster, else "default"]'
            cand --lease-duration 'How long a standby waits after the lease was last renewed before taking it over'
            cand --renew-deadline 'A leader that has not renewed for this long stops checking and acting (shorter than --lease-duration)'
            cand --retry-period 'How often the leader renews, and a standby tries to acquire, the lease'
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand --once 'Check once and exit: 0 MONITOR, 10 INVESTIGATE, 11 ROLLBACK NOW, 1 metrics unreadable or all without data (blind)'
            cand --recommend-only 'Log and notify the rollbacks it would make without making them (`status` shows the last one): to tune thresholds before letting it act'
            cand --leader-elect 'Run as one of several replicas: only the holder of a Kubernetes Lease (coordination.k8s.io/v1, through kubectl: KUBECONFIG or in-cluster) checks and acts'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mlrb;drill'= {
            cand --mode 'Who rolls back: the on-call engineer (manual) or the controller (auto)'
            cand --mttr-objective 'Fail when the MTTR is longer than this, e.g. `2m` (default: [models.X.drill] mttr_objective)'
            cand -o 'Output format: a table for people, JSON for scripts'
            cand --output 'Output format: a table for people, JSON for scripts'
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand --sandbox 'On a throwaway embedded registry with synthetic metrics that mlrb serves itself'
            cand --history 'List the earlier drills (of MODEL, or all) with the MTTR trend, and change nothing'
            cand -y 'Run a staging drill without asking (it changes the configured registry, then restores it)'
            cand --yes 'Run a staging drill without asking (it changes the configured registry, then restores it)'
            cand --restore 'Put back what an interrupted staging drill of MODEL changed, from the state it saved'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mlrb;changes'= {
            cand --since 'How far back to look, e.g. `24h`, `7d`'
            cand --breach-at 'When the breach began (default: searched in Prometheus history when metrics are configured)'
            cand --alias 'Live version = the version this alias points at (instead of the Production stage)'
            cand -o 'Output format: a table for people, JSON for scripts'
            cand --output 'Output format: a table for people, JSON for scripts'
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mlrb;export'= {
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand prometheus-rules 'Prometheus alerting rules: per hard threshold a critical alert (ROLLBACK NOW), per soft one a warning (INVESTIGATE)'
            cand argo-analysis 'An Argo Rollouts AnalysisTemplate with the same queries, thresholds and failure rule'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mlrb;export;prometheus-rules'= {
            cand --format 'format'
            cand --out 'Write to FILE (0600, replaced whole) instead of stdout'
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mlrb;export;argo-analysis'= {
            cand --out 'Write to FILE (0600, replaced whole) instead of stdout'
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mlrb;export;help'= {
            cand prometheus-rules 'Prometheus alerting rules: per hard threshold a critical alert (ROLLBACK NOW), per soft one a warning (INVESTIGATE)'
            cand argo-analysis 'An Argo Rollouts AnalysisTemplate with the same queries, thresholds and failure rule'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mlrb;export;help;prometheus-rules'= {
        }
        &'mlrb;export;help;argo-analysis'= {
        }
        &'mlrb;export;help;help'= {
        }
        &'mlrb;completions'= {
            cand --config 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)'
            cand --registry 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]'
            cand --state-dir 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)'
            cand -q 'Print only data and errors: no status lines, no progress'
            cand --quiet 'Print only data and errors: no status lines, no progress'
            cand -v 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand --verbose 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'mlrb;help'= {
            cand status 'What is live, what rollback would go to, and what looks wrong'
            cand candidate 'The version a rollback would go to and why; --designate tags one before a deploy'
            cand rollback 'Roll back one of the places an ML failure lives'
            cand report 'Render the incident report of a recorded event, filled with what you know now'
            cand runbook 'Print a model''s on-call runbook with its names filled in'
            cand init 'Write a commented starter mlrb.toml'
            cand config 'Which config file was read, and each resolved setting with where it came from'
            cand demo 'Run a complete model rollback on a throwaway embedded registry (no server needed)'
            cand watch 'The automated rollback controller: watch metrics, roll back on sustained hard breaches'
            cand drill 'Rehearse a rollback: breach, detect, roll back, verify, restore; record the MTTR'
            cand changes 'What changed lately in the registry, serving infra, feature pipeline and training data'
            cand export 'Write the rule `watch` applies as Prometheus alerting rules or an Argo Rollouts analysis'
            cand completions 'Print shell completions'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mlrb;help;status'= {
        }
        &'mlrb;help;candidate'= {
        }
        &'mlrb;help;rollback'= {
            cand model 'Roll the model artifact back in the registry, reload serving, verify, report'
            cand infra 'Roll the serving infrastructure back: kubectl rollout undo or helm rollback, verify, report'
            cand features 'Restore the feature pipeline (code + DVC data) to a known-good commit, commit, report'
            cand retrain 'Trigger an emergency retrain on a known-good dataset version in CI'
        }
        &'mlrb;help;rollback;model'= {
        }
        &'mlrb;help;rollback;infra'= {
        }
        &'mlrb;help;rollback;features'= {
        }
        &'mlrb;help;rollback;retrain'= {
        }
        &'mlrb;help;report'= {
        }
        &'mlrb;help;runbook'= {
        }
        &'mlrb;help;init'= {
        }
        &'mlrb;help;config'= {
        }
        &'mlrb;help;demo'= {
        }
        &'mlrb;help;watch'= {
        }
        &'mlrb;help;drill'= {
        }
        &'mlrb;help;changes'= {
        }
        &'mlrb;help;export'= {
            cand prometheus-rules 'Prometheus alerting rules: per hard threshold a critical alert (ROLLBACK NOW), per soft one a warning (INVESTIGATE)'
            cand argo-analysis 'An Argo Rollouts AnalysisTemplate with the same queries, thresholds and failure rule'
        }
        &'mlrb;help;export;prometheus-rules'= {
        }
        &'mlrb;help;export;argo-analysis'= {
        }
        &'mlrb;help;completions'= {
        }
        &'mlrb;help;help'= {
        }
    ]
    $completions[$command]
}
