# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mlrb_global_optspecs
    string join \n config= registry= state-dir= q/quiet v/verbose h/help V/version
end

function __fish_mlrb_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mlrb_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mlrb_using_subcommand
    set -l cmd (__fish_mlrb_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mlrb -n "__fish_mlrb_needs_command" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_needs_command" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_needs_command" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_needs_command" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_needs_command" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_needs_command" -s h -l help -d 'Print help'
complete -c mlrb -n "__fish_mlrb_needs_command" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_needs_command" -f -a "status" -d 'What is live, what rollback would go to, and what looks wrong'
complete -c mlrb -n "__fish_mlrb_needs_command" -f -a "candidate" -d 'The version a rollback would go to and why; --designate tags one before a deploy'
complete -c mlrb -n "__fish_mlrb_needs_command" -f -a "rollback" -d 'Roll back one of the places an ML failure lives'
complete -c mlrb -n "__fish_mlrb_needs_command" -f -a "report" -d 'Render the incident report of a recorded event, filled with what you know now'
complete -c mlrb -n "__fish_mlrb_needs_command" -f -a "runbook" -d 'Print a model\'s on-call runbook with its names filled in'
complete -c mlrb -n "__fish_mlrb_needs_command" -f -a "init" -d 'Write a commented starter mlrb.toml'
complete -c mlrb -n "__fish_mlrb_needs_command" -f -a "config" -d 'Which config file was read, and each resolved setting with where it came from'
complete -c mlrb -n "__fish_mlrb_needs_command" -f -a "demo" -d 'Run a complete model rollback on a throwaway embedded registry (no server needed)'
complete -c mlrb -n "__fish_mlrb_needs_command" -f -a "watch" -d 'The automated rollback controller: watch metrics, roll back on sustained hard breaches'
complete -c mlrb -n "__fish_mlrb_needs_command" -f -a "drill" -d 'Rehearse a rollback: breach, detect, roll back, verify, restore; record the MTTR'
complete -c mlrb -n "__fish_mlrb_needs_command" -f -a "changes" -d 'What changed lately in the registry, serving infra, feature pipeline and training data'
complete -c mlrb -n "__fish_mlrb_needs_command" -f -a "export" -d 'Write the rule `watch` applies as Prometheus alerting rules or an Argo Rollouts analysis'
complete -c mlrb -n "__fish_mlrb_needs_command" -f -a "completions" -d 'Print shell completions'
complete -c mlrb -n "__fish_mlrb_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlrb -n "__fish_mlrb_using_subcommand status" -l alias -d 'Live version = the version this alias points at (instead of the Production stage)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand status" -l rules -d 'An exported rules file (`mlrb export prometheus-rules`): say whether it still matches the config' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand status" -s o -l output -d 'Output format: a table for people, JSON for scripts' -r -f -a "table\t''
json\t''"
complete -c mlrb -n "__fish_mlrb_using_subcommand status" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand status" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand status" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand status" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand status" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand status" -s h -l help -d 'Print help'
complete -c mlrb -n "__fish_mlrb_using_subcommand status" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand candidate" -l to -d 'Consider this version (checked: not live, not rolled back from)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand candidate" -l designate -d 'Pre-designate V as the rollback target (tags rollback.healthy_baseline=true)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand candidate" -l alias -r
complete -c mlrb -n "__fish_mlrb_using_subcommand candidate" -s o -l output -d 'Output format: a table for people, JSON for scripts' -r -f -a "table\t''
json\t''"
complete -c mlrb -n "__fish_mlrb_using_subcommand candidate" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand candidate" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand candidate" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand candidate" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand candidate" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand candidate" -s h -l help -d 'Print help'
complete -c mlrb -n "__fish_mlrb_using_subcommand candidate" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and not __fish_seen_subcommand_from model infra features retrain help" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and not __fish_seen_subcommand_from model infra features retrain help" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and not __fish_seen_subcommand_from model infra features retrain help" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and not __fish_seen_subcommand_from model infra features retrain help" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and not __fish_seen_subcommand_from model infra features retrain help" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and not __fish_seen_subcommand_from model infra features retrain help" -s h -l help -d 'Print help'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and not __fish_seen_subcommand_from model infra features retrain help" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and not __fish_seen_subcommand_from model infra features retrain help" -f -a "model" -d 'Roll the model artifact back in the registry, reload serving, verify, report'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and not __fish_seen_subcommand_from model infra features retrain help" -f -a "infra" -d 'Roll the serving infrastructure back: kubectl rollout undo or helm rollback, verify, report'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and not __fish_seen_subcommand_from model infra features retrain help" -f -a "features" -d 'Restore the feature pipeline (code + DVC data) to a known-good commit, commit, report'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and not __fish_seen_subcommand_from model infra features retrain help" -f -a "retrain" -d 'Trigger an emergency retrain on a known-good dataset version in CI'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and not __fish_seen_subcommand_from model infra features retrain help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l to -d 'Target version (default: the candidate; see `mlrb candidate`)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l reason -d 'Why: recorded with the rollback (registry tags keep 500 characters, commits, journal, report)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l detected-at -d 'When the breach began: `15m` (ago), `22:04` or `YYYY-MM-DD HH:MM` (local time; add `UTC` for UTC), or RFC 3339 with an offset; the plan echoes it in UTC' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l triggered-by -d 'Who or what started the rollback (default: $USER)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l abandon -d 'Close the interrupted rollback EVENT of this target as abandoned (recorded in the journal; nothing else changes), then plan afresh: for a rollback made obsolete since' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l alias -d 'Live version = the version this alias points at (instead of the Production stage)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -s o -l output -d 'Output format: a table for people, JSON for scripts' -r -f -a "table\t''
json\t''"
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l force -d 'Go ahead despite a pre-flight refusal the plan names: with --to, a version rolled back from before; a target whose model signature needs inputs the live version does not take'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -s y -l yes -d 'Do not ask for confirmation'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l dry-run -d 'Print the plan and change nothing'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l resume -d 'Finish an interrupted rollback of this model (re-checks the registry, or with --fallback the serving switch, before each step)'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l fallback -d 'Make the pre-built fallback of [models.X.fallback] live (when no safe target is left)'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l end -d 'With --fallback: switch a serving-switch fallback off again, restoring the value the journal recorded when it was switched on'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l force-unlock -d 'Take over the model\'s lease from a rollback that was abandoned on another machine'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l no-verify -d 'Skip the metrics verification phase (waiting for metrics to return to baseline)'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l ignore-gitops -d 'Roll back an object Argo CD or Flux manages without [models.X.gitops]: its next sync will revert the rollback'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l keep-suspended -d 'With [models.X.gitops]: leave the controller\'s sync suspended afterwards (`status` shows it)'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -l push -d 'With [models.X.gitops]: push the revert commit (`git push`) before sync is resumed'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -s h -l help -d 'Print help'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from model" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -l to-revision -d 'Revision to go back to (default: the one before the current); see --history' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -l reason -d 'Why: recorded with the rollback (registry tags keep 500 characters, commits, journal, report)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -l detected-at -d 'When the breach began: `15m` (ago), `22:04` or `YYYY-MM-DD HH:MM` (local time; add `UTC` for UTC), or RFC 3339 with an offset; the plan echoes it in UTC' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -l triggered-by -d 'Who or what started the rollback (default: $USER)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -l abandon -d 'Close the interrupted rollback EVENT of this target as abandoned (recorded in the journal; nothing else changes), then plan afresh: for a rollback made obsolete since' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -s o -l output -d 'Output format: a table for people, JSON for scripts' -r -f -a "table\t''
json\t''"
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -l history -d 'List the revisions (number, change-cause, image, age) and change nothing'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -l shadow -d 'Istio: stop only the mirror to the model\'s shadow ([models.X.infra] shadow); live weights untouched'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -l restore -d 'With --shadow: put back the mirror the last shadow stop removed (recorded on the VirtualService)'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -l resume -d 'Finish an interrupted infra rollback (steps the journal or the cluster show done are not run again)'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -s y -l yes -d 'Do not ask for confirmation'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -l dry-run -d 'Print the plan and change nothing'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -l ignore-gitops -d 'Roll back an object Argo CD or Flux manages without [models.X.gitops]: its next sync will revert the rollback'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -l keep-suspended -d 'With [models.X.gitops]: leave the controller\'s sync suspended afterwards (`status` shows it)'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -l push -d 'With [models.X.gitops]: push the revert commit (`git push`) before sync is resumed'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -s h -l help -d 'Print help'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from infra" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -l to -d 'The known-good commit (any revision git understands)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -l before -d 'The newest commit touching the pipeline before TIME (RFC 3339, `YYYY-MM-DD HH:MM` local time, `2h` ago)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -l reason -d 'Why: recorded with the rollback (registry tags keep 500 characters, commits, journal, report)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -l detected-at -d 'When the breach began: `15m` (ago), `22:04` or `YYYY-MM-DD HH:MM` (local time; add `UTC` for UTC), or RFC 3339 with an offset; the plan echoes it in UTC' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -l triggered-by -d 'Who or what started the rollback (default: $USER)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -l abandon -d 'Close the interrupted rollback EVENT of this target as abandoned (recorded in the journal; nothing else changes), then plan afresh: for a rollback made obsolete since' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -s o -l output -d 'Output format: a table for people, JSON for scripts' -r -f -a "table\t''
json\t''"
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -l no-commit -d 'Leave the restored files staged instead of committing them'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -l push -d 'Push the commit with `git push`'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -l resume -d 'Finish an interrupted feature rollback (steps the journal or the repository show done are not run again)'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -s y -l yes -d 'Do not ask for confirmation'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -l dry-run -d 'Print the plan and change nothing'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -s h -l help -d 'Print help'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from features" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from retrain" -l dataset-version -d 'The known-good training dataset version' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from retrain" -l config-commit -d 'The training config commit (or ref) to run' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from retrain" -l reason -d 'Why: recorded with the rollback (registry tags keep 500 characters, commits, journal, report)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from retrain" -l detected-at -d 'When the breach began: `15m` (ago), `22:04` or `YYYY-MM-DD HH:MM` (local time; add `UTC` for UTC), or RFC 3339 with an offset; the plan echoes it in UTC' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from retrain" -l triggered-by -d 'Who or what started the rollback (default: $USER)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from retrain" -l abandon -d 'Close the interrupted rollback EVENT of this target as abandoned (recorded in the journal; nothing else changes), then plan afresh: for a rollback made obsolete since' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from retrain" -s o -l output -d 'Output format: a table for people, JSON for scripts' -r -f -a "table\t''
json\t''"
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from retrain" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from retrain" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from retrain" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from retrain" -l wait -d 'Follow the pipeline until it finishes'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from retrain" -l resume -d 'Finish an interrupted retrain (a trigger with no recorded answer is looked for in CI, never sent twice)'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from retrain" -s y -l yes -d 'Do not ask for confirmation'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from retrain" -l dry-run -d 'Print the plan and change nothing'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from retrain" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from retrain" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from retrain" -s h -l help -d 'Print help'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from retrain" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from help" -f -a "model" -d 'Roll the model artifact back in the registry, reload serving, verify, report'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from help" -f -a "infra" -d 'Roll the serving infrastructure back: kubectl rollout undo or helm rollback, verify, report'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from help" -f -a "features" -d 'Restore the feature pipeline (code + DVC data) to a known-good commit, commit, report'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from help" -f -a "retrain" -d 'Trigger an emergency retrain on a known-good dataset version in CI'
complete -c mlrb -n "__fish_mlrb_using_subcommand rollback; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlrb -n "__fish_mlrb_using_subcommand report" -l root-cause -d 'Root cause, once known' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand report" -l factor -d 'A contributing factor (repeatable)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand report" -l action -d 'A corrective action as "what|owner|due" (repeatable)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand report" -l out -d 'Write the markdown report to FILE instead of stdout (an existing FILE is not replaced without --force)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand report" -s o -l output -d 'Output format: a table for people, JSON for scripts' -r -f -a "table\t''
json\t''"
complete -c mlrb -n "__fish_mlrb_using_subcommand report" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand report" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand report" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand report" -l last -d 'The most recent event'
complete -c mlrb -n "__fish_mlrb_using_subcommand report" -l force -d 'Replace an existing --out FILE'
complete -c mlrb -n "__fish_mlrb_using_subcommand report" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand report" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand report" -s h -l help -d 'Print help'
complete -c mlrb -n "__fish_mlrb_using_subcommand report" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand runbook" -l topic -d 'Which runbook' -r -f -a "model\t'Roll back the model artifact (start here)'
infra\t'Roll back the serving infrastructure'
features\t'Roll back the feature pipeline'
retrain\t'Emergency retrain on a known-good dataset'
no-target\t'No safe rollback target'
drill\t'The quarterly rollback drill'
gitops\t'Roll back what Argo CD or Flux manages'
shadow\t'A model in shadow mode misbehaves: stop its shadow traffic'
kserve\t'A model served by KServe (InferenceService, canary)'"
complete -c mlrb -n "__fish_mlrb_using_subcommand runbook" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand runbook" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand runbook" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand runbook" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand runbook" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand runbook" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mlrb -n "__fish_mlrb_using_subcommand runbook" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand init" -l path -d 'Where to write (default: ./mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand init" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand init" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand init" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand init" -l force -d 'Replace an existing file'
complete -c mlrb -n "__fish_mlrb_using_subcommand init" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand init" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand init" -s h -l help -d 'Print help'
complete -c mlrb -n "__fish_mlrb_using_subcommand init" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand config" -s o -l output -d 'Output format: a table for people, JSON for scripts' -r -f -a "table\t''
json\t''"
complete -c mlrb -n "__fish_mlrb_using_subcommand config" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand config" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand config" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand config" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand config" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand config" -s h -l help -d 'Print help'
complete -c mlrb -n "__fish_mlrb_using_subcommand config" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand demo" -l dir -d 'Keep the demo registry and journal in DIR (default: a temp dir, removed afterwards)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand demo" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand demo" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand demo" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand demo" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand demo" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand demo" -s h -l help -d 'Print help'
complete -c mlrb -n "__fish_mlrb_using_subcommand demo" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand watch" -l log-format -d 'Log lines on stderr: human, or one JSON object per line (the rollbacks it starts included)' -r -f -a "human\t''
json\t''"
complete -c mlrb -n "__fish_mlrb_using_subcommand watch" -l alias -d 'Live version = the version this alias points at (instead of the Production stage)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand watch" -l listen -d 'Serve GET /metrics (Prometheus text: checks, breaches, rollbacks, last check, leader, blind models) and GET /healthz on this address, e.g. 0.0.0.0:9464' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand watch" -l lease-name -d 'The Lease\'s name' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand watch" -l lease-namespace -d 'The Lease\'s namespace [default: the pod\'s namespace in a cluster, else "default"]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand watch" -l lease-duration -d 'How long a standby waits after the lease was last renewed before taking it over' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand watch" -l renew-deadline -d 'A leader that has not renewed for this long stops checking and acting (shorter than --lease-duration)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand watch" -l retry-period -d 'How often the leader renews, and a standby tries to acquire, the lease' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand watch" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand watch" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand watch" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand watch" -l once -d 'Check once and exit: 0 MONITOR, 10 INVESTIGATE, 11 ROLLBACK NOW, 1 metrics unreadable or all without data (blind)'
complete -c mlrb -n "__fish_mlrb_using_subcommand watch" -l recommend-only -d 'Log and notify the rollbacks it would make without making them (`status` shows the last one): to tune thresholds before letting it act'
complete -c mlrb -n "__fish_mlrb_using_subcommand watch" -l leader-elect -d 'Run as one of several replicas: only the holder of a Kubernetes Lease (coordination.k8s.io/v1, through kubectl: KUBECONFIG or in-cluster) checks and acts'
complete -c mlrb -n "__fish_mlrb_using_subcommand watch" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand watch" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand watch" -s h -l help -d 'Print help'
complete -c mlrb -n "__fish_mlrb_using_subcommand watch" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand drill" -l mode -d 'Who rolls back: the on-call engineer (manual) or the controller (auto)' -r -f -a "manual\t'The on-call path: an alert, then `rollback model --yes`'
auto\t'The controller path: `watch` notices the breach and rolls back by itself'"
complete -c mlrb -n "__fish_mlrb_using_subcommand drill" -l mttr-objective -d 'Fail when the MTTR is longer than this, e.g. `2m` (default: [models.X.drill] mttr_objective)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand drill" -s o -l output -d 'Output format: a table for people, JSON for scripts' -r -f -a "table\t''
json\t''"
complete -c mlrb -n "__fish_mlrb_using_subcommand drill" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand drill" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand drill" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand drill" -l sandbox -d 'On a throwaway embedded registry with synthetic metrics that mlrb serves itself'
complete -c mlrb -n "__fish_mlrb_using_subcommand drill" -l history -d 'List the earlier drills (of MODEL, or all) with the MTTR trend, and change nothing'
complete -c mlrb -n "__fish_mlrb_using_subcommand drill" -s y -l yes -d 'Run a staging drill without asking (it changes the configured registry, then restores it)'
complete -c mlrb -n "__fish_mlrb_using_subcommand drill" -l restore -d 'Put back what an interrupted staging drill of MODEL changed, from the state it saved'
complete -c mlrb -n "__fish_mlrb_using_subcommand drill" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand drill" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand drill" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mlrb -n "__fish_mlrb_using_subcommand drill" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand changes" -l since -d 'How far back to look, e.g. `24h`, `7d`' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand changes" -l breach-at -d 'When the breach began (default: searched in Prometheus history when metrics are configured)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand changes" -l alias -d 'Live version = the version this alias points at (instead of the Production stage)' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand changes" -s o -l output -d 'Output format: a table for people, JSON for scripts' -r -f -a "table\t''
json\t''"
complete -c mlrb -n "__fish_mlrb_using_subcommand changes" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand changes" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand changes" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand changes" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand changes" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand changes" -s h -l help -d 'Print help'
complete -c mlrb -n "__fish_mlrb_using_subcommand changes" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and not __fish_seen_subcommand_from prometheus-rules argo-analysis help" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and not __fish_seen_subcommand_from prometheus-rules argo-analysis help" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and not __fish_seen_subcommand_from prometheus-rules argo-analysis help" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and not __fish_seen_subcommand_from prometheus-rules argo-analysis help" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and not __fish_seen_subcommand_from prometheus-rules argo-analysis help" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and not __fish_seen_subcommand_from prometheus-rules argo-analysis help" -s h -l help -d 'Print help'
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and not __fish_seen_subcommand_from prometheus-rules argo-analysis help" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and not __fish_seen_subcommand_from prometheus-rules argo-analysis help" -f -a "prometheus-rules" -d 'Prometheus alerting rules: per hard threshold a critical alert (ROLLBACK NOW), per soft one a warning (INVESTIGATE)'
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and not __fish_seen_subcommand_from prometheus-rules argo-analysis help" -f -a "argo-analysis" -d 'An Argo Rollouts AnalysisTemplate with the same queries, thresholds and failure rule'
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and not __fish_seen_subcommand_from prometheus-rules argo-analysis help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from prometheus-rules" -l format -r -f -a "rules\t'A rules file for Prometheus\'s `rule_files:`'
prometheusrule\t'A Prometheus Operator PrometheusRule object'"
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from prometheus-rules" -l out -d 'Write to FILE (0600, replaced whole) instead of stdout' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from prometheus-rules" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from prometheus-rules" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from prometheus-rules" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from prometheus-rules" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from prometheus-rules" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from prometheus-rules" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from prometheus-rules" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from argo-analysis" -l out -d 'Write to FILE (0600, replaced whole) instead of stdout' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from argo-analysis" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from argo-analysis" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from argo-analysis" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from argo-analysis" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from argo-analysis" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from argo-analysis" -s h -l help -d 'Print help'
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from argo-analysis" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "prometheus-rules" -d 'Prometheus alerting rules: per hard threshold a critical alert (ROLLBACK NOW), per soft one a warning (INVESTIGATE)'
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "argo-analysis" -d 'An Argo Rollouts AnalysisTemplate with the same queries, thresholds and failure rule'
complete -c mlrb -n "__fish_mlrb_using_subcommand export; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlrb -n "__fish_mlrb_using_subcommand completions" -l config -d 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand completions" -l registry -d 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]' -r
complete -c mlrb -n "__fish_mlrb_using_subcommand completions" -l state-dir -d 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)' -r -F
complete -c mlrb -n "__fish_mlrb_using_subcommand completions" -s q -l quiet -d 'Print only data and errors: no status lines, no progress'
complete -c mlrb -n "__fish_mlrb_using_subcommand completions" -s v -l verbose -d 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v'
complete -c mlrb -n "__fish_mlrb_using_subcommand completions" -s h -l help -d 'Print help'
complete -c mlrb -n "__fish_mlrb_using_subcommand completions" -s V -l version -d 'Print version'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and not __fish_seen_subcommand_from status candidate rollback report runbook init config demo watch drill changes export completions help" -f -a "status" -d 'What is live, what rollback would go to, and what looks wrong'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and not __fish_seen_subcommand_from status candidate rollback report runbook init config demo watch drill changes export completions help" -f -a "candidate" -d 'The version a rollback would go to and why; --designate tags one before a deploy'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and not __fish_seen_subcommand_from status candidate rollback report runbook init config demo watch drill changes export completions help" -f -a "rollback" -d 'Roll back one of the places an ML failure lives'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and not __fish_seen_subcommand_from status candidate rollback report runbook init config demo watch drill changes export completions help" -f -a "report" -d 'Render the incident report of a recorded event, filled with what you know now'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and not __fish_seen_subcommand_from status candidate rollback report runbook init config demo watch drill changes export completions help" -f -a "runbook" -d 'Print a model\'s on-call runbook with its names filled in'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and not __fish_seen_subcommand_from status candidate rollback report runbook init config demo watch drill changes export completions help" -f -a "init" -d 'Write a commented starter mlrb.toml'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and not __fish_seen_subcommand_from status candidate rollback report runbook init config demo watch drill changes export completions help" -f -a "config" -d 'Which config file was read, and each resolved setting with where it came from'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and not __fish_seen_subcommand_from status candidate rollback report runbook init config demo watch drill changes export completions help" -f -a "demo" -d 'Run a complete model rollback on a throwaway embedded registry (no server needed)'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and not __fish_seen_subcommand_from status candidate rollback report runbook init config demo watch drill changes export completions help" -f -a "watch" -d 'The automated rollback controller: watch metrics, roll back on sustained hard breaches'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and not __fish_seen_subcommand_from status candidate rollback report runbook init config demo watch drill changes export completions help" -f -a "drill" -d 'Rehearse a rollback: breach, detect, roll back, verify, restore; record the MTTR'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and not __fish_seen_subcommand_from status candidate rollback report runbook init config demo watch drill changes export completions help" -f -a "changes" -d 'What changed lately in the registry, serving infra, feature pipeline and training data'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and not __fish_seen_subcommand_from status candidate rollback report runbook init config demo watch drill changes export completions help" -f -a "export" -d 'Write the rule `watch` applies as Prometheus alerting rules or an Argo Rollouts analysis'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and not __fish_seen_subcommand_from status candidate rollback report runbook init config demo watch drill changes export completions help" -f -a "completions" -d 'Print shell completions'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and not __fish_seen_subcommand_from status candidate rollback report runbook init config demo watch drill changes export completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and __fish_seen_subcommand_from rollback" -f -a "model" -d 'Roll the model artifact back in the registry, reload serving, verify, report'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and __fish_seen_subcommand_from rollback" -f -a "infra" -d 'Roll the serving infrastructure back: kubectl rollout undo or helm rollback, verify, report'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and __fish_seen_subcommand_from rollback" -f -a "features" -d 'Restore the feature pipeline (code + DVC data) to a known-good commit, commit, report'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and __fish_seen_subcommand_from rollback" -f -a "retrain" -d 'Trigger an emergency retrain on a known-good dataset version in CI'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and __fish_seen_subcommand_from export" -f -a "prometheus-rules" -d 'Prometheus alerting rules: per hard threshold a critical alert (ROLLBACK NOW), per soft one a warning (INVESTIGATE)'
complete -c mlrb -n "__fish_mlrb_using_subcommand help; and __fish_seen_subcommand_from export" -f -a "argo-analysis" -d 'An Argo Rollouts AnalysisTemplate with the same queries, thresholds and failure rule'
