
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'mlrb' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'mlrb'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'mlrb' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'What is live, what rollback would go to, and what looks wrong')
            [CompletionResult]::new('candidate', 'candidate', [CompletionResultType]::ParameterValue, 'The version a rollback would go to and why; --designate tags one before a deploy')
            [CompletionResult]::new('rollback', 'rollback', [CompletionResultType]::ParameterValue, 'Roll back one of the places an ML failure lives')
            [CompletionResult]::new('report', 'report', [CompletionResultType]::ParameterValue, 'Render the incident report of a recorded event, filled with what you know now')
            [CompletionResult]::new('runbook', 'runbook', [CompletionResultType]::ParameterValue, 'Print a model''s on-call runbook with its names filled in')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Write a commented starter mlrb.toml')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Which config file was read, and each resolved setting with where it came from')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run a complete model rollback on a throwaway embedded registry (no server needed)')
            [CompletionResult]::new('watch', 'watch', [CompletionResultType]::ParameterValue, 'The automated rollback controller: watch metrics, roll back on sustained hard breaches')
            [CompletionResult]::new('drill', 'drill', [CompletionResultType]::ParameterValue, 'Rehearse a rollback: breach, detect, roll back, verify, restore; record the MTTR')
            [CompletionResult]::new('changes', 'changes', [CompletionResultType]::ParameterValue, 'What changed lately in the registry, serving infra, feature pipeline and training data')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write the rule `watch` applies as Prometheus alerting rules or an Argo Rollouts analysis')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mlrb;status' {
            [CompletionResult]::new('--alias', '--alias', [CompletionResultType]::ParameterName, 'Live version = the version this alias points at (instead of the Production stage)')
            [CompletionResult]::new('--rules', '--rules', [CompletionResultType]::ParameterName, 'An exported rules file (`mlrb export prometheus-rules`): say whether it still matches the config')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mlrb;candidate' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Consider this version (checked: not live, not rolled back from)')
            [CompletionResult]::new('--designate', '--designate', [CompletionResultType]::ParameterName, 'Pre-designate V as the rollback target (tags rollback.healthy_baseline=true)')
            [CompletionResult]::new('--alias', '--alias', [CompletionResultType]::ParameterName, 'alias')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mlrb;rollback' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('model', 'model', [CompletionResultType]::ParameterValue, 'Roll the model artifact back in the registry, reload serving, verify, report')
            [CompletionResult]::new('infra', 'infra', [CompletionResultType]::ParameterValue, 'Roll the serving infrastructure back: kubectl rollout undo or helm rollback, verify, report')
            [CompletionResult]::new('features', 'features', [CompletionResultType]::ParameterValue, 'Restore the feature pipeline (code + DVC data) to a known-good commit, commit, report')
            [CompletionResult]::new('retrain', 'retrain', [CompletionResultType]::ParameterValue, 'Trigger an emergency retrain on a known-good dataset version in CI')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mlrb;rollback;model' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Target version (default: the candidate; see `mlrb candidate`)')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why: recorded with the rollback (registry tags keep 500 characters, commits, journal, report)')
            [CompletionResult]::new('--detected-at', '--detected-at', [CompletionResultType]::ParameterName, 'When the breach began: `15m` (ago), `22:04` or `YYYY-MM-DD HH:MM` (local time; add `UTC` for UTC), or RFC 3339 with an offset; the plan echoes it in UTC')
            [CompletionResult]::new('--triggered-by', '--triggered-by', [CompletionResultType]::ParameterName, 'Who or what started the rollback (default: $USER)')
            [CompletionResult]::new('--abandon', '--abandon', [CompletionResultType]::ParameterName, 'Close the interrupted rollback EVENT of this target as abandoned (recorded in the journal; nothing else changes), then plan afresh: for a rollback made obsolete since')
            [CompletionResult]::new('--alias', '--alias', [CompletionResultType]::ParameterName, 'Live version = the version this alias points at (instead of the Production stage)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Go ahead despite a pre-flight refusal the plan names: with --to, a version rolled back from before; a target whose model signature needs inputs the live version does not take')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the plan and change nothing')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'Finish an interrupted rollback of this model (re-checks the registry, or with --fallback the serving switch, before each step)')
            [CompletionResult]::new('--fallback', '--fallback', [CompletionResultType]::ParameterName, 'Make the pre-built fallback of [models.X.fallback] live (when no safe target is left)')
            [CompletionResult]::new('--end', '--end', [CompletionResultType]::ParameterName, 'With --fallback: switch a serving-switch fallback off again, restoring the value the journal recorded when it was switched on')
            [CompletionResult]::new('--force-unlock', '--force-unlock', [CompletionResultType]::ParameterName, 'Take over the model''s lease from a rollback that was abandoned on another machine')
            [CompletionResult]::new('--no-verify', '--no-verify', [CompletionResultType]::ParameterName, 'Skip the metrics verification phase (waiting for metrics to return to baseline)')
            [CompletionResult]::new('--ignore-gitops', '--ignore-gitops', [CompletionResultType]::ParameterName, 'Roll back an object Argo CD or Flux manages without [models.X.gitops]: its next sync will revert the rollback')
            [CompletionResult]::new('--keep-suspended', '--keep-suspended', [CompletionResultType]::ParameterName, 'With [models.X.gitops]: leave the controller''s sync suspended afterwards (`status` shows it)')
            [CompletionResult]::new('--push', '--push', [CompletionResultType]::ParameterName, 'With [models.X.gitops]: push the revert commit (`git push`) before sync is resumed')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mlrb;rollback;infra' {
            [CompletionResult]::new('--to-revision', '--to-revision', [CompletionResultType]::ParameterName, 'Revision to go back to (default: the one before the current); see --history')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why: recorded with the rollback (registry tags keep 500 characters, commits, journal, report)')
            [CompletionResult]::new('--detected-at', '--detected-at', [CompletionResultType]::ParameterName, 'When the breach began: `15m` (ago), `22:04` or `YYYY-MM-DD HH:MM` (local time; add `UTC` for UTC), or RFC 3339 with an offset; the plan echoes it in UTC')
            [CompletionResult]::new('--triggered-by', '--triggered-by', [CompletionResultType]::ParameterName, 'Who or what started the rollback (default: $USER)')
            [CompletionResult]::new('--abandon', '--abandon', [CompletionResultType]::ParameterName, 'Close the interrupted rollback EVENT of this target as abandoned (recorded in the journal; nothing else changes), then plan afresh: for a rollback made obsolete since')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('--history', '--history', [CompletionResultType]::ParameterName, 'List the revisions (number, change-cause, image, age) and change nothing')
            [CompletionResult]::new('--shadow', '--shadow', [CompletionResultType]::ParameterName, 'Istio: stop only the mirror to the model''s shadow ([models.X.infra] shadow); live weights untouched')
            [CompletionResult]::new('--restore', '--restore', [CompletionResultType]::ParameterName, 'With --shadow: put back the mirror the last shadow stop removed (recorded on the VirtualService)')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'Finish an interrupted infra rollback (steps the journal or the cluster show done are not run again)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the plan and change nothing')
            [CompletionResult]::new('--ignore-gitops', '--ignore-gitops', [CompletionResultType]::ParameterName, 'Roll back an object Argo CD or Flux manages without [models.X.gitops]: its next sync will revert the rollback')
            [CompletionResult]::new('--keep-suspended', '--keep-suspended', [CompletionResultType]::ParameterName, 'With [models.X.gitops]: leave the controller''s sync suspended afterwards (`status` shows it)')
            [CompletionResult]::new('--push', '--push', [CompletionResultType]::ParameterName, 'With [models.X.gitops]: push the revert commit (`git push`) before sync is resumed')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mlrb;rollback;features' {
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The known-good commit (any revision git understands)')
            [CompletionResult]::new('--before', '--before', [CompletionResultType]::ParameterName, 'The newest commit touching the pipeline before TIME (RFC 3339, `YYYY-MM-DD HH:MM` local time, `2h` ago)')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why: recorded with the rollback (registry tags keep 500 characters, commits, journal, report)')
            [CompletionResult]::new('--detected-at', '--detected-at', [CompletionResultType]::ParameterName, 'When the breach began: `15m` (ago), `22:04` or `YYYY-MM-DD HH:MM` (local time; add `UTC` for UTC), or RFC 3339 with an offset; the plan echoes it in UTC')
            [CompletionResult]::new('--triggered-by', '--triggered-by', [CompletionResultType]::ParameterName, 'Who or what started the rollback (default: $USER)')
            [CompletionResult]::new('--abandon', '--abandon', [CompletionResultType]::ParameterName, 'Close the interrupted rollback EVENT of this target as abandoned (recorded in the journal; nothing else changes), then plan afresh: for a rollback made obsolete since')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('--no-commit', '--no-commit', [CompletionResultType]::ParameterName, 'Leave the restored files staged instead of committing them')
            [CompletionResult]::new('--push', '--push', [CompletionResultType]::ParameterName, 'Push the commit with `git push`')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'Finish an interrupted feature rollback (steps the journal or the repository show done are not run again)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the plan and change nothing')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mlrb;rollback;retrain' {
            [CompletionResult]::new('--dataset-version', '--dataset-version', [CompletionResultType]::ParameterName, 'The known-good training dataset version')
            [CompletionResult]::new('--config-commit', '--config-commit', [CompletionResultType]::ParameterName, 'The training config commit (or ref) to run')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why: recorded with the rollback (registry tags keep 500 characters, commits, journal, report)')
            [CompletionResult]::new('--detected-at', '--detected-at', [CompletionResultType]::ParameterName, 'When the breach began: `15m` (ago), `22:04` or `YYYY-MM-DD HH:MM` (local time; add `UTC` for UTC), or RFC 3339 with an offset; the plan echoes it in UTC')
            [CompletionResult]::new('--triggered-by', '--triggered-by', [CompletionResultType]::ParameterName, 'Who or what started the rollback (default: $USER)')
            [CompletionResult]::new('--abandon', '--abandon', [CompletionResultType]::ParameterName, 'Close the interrupted rollback EVENT of this target as abandoned (recorded in the journal; nothing else changes), then plan afresh: for a rollback made obsolete since')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Follow the pipeline until it finishes')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'Finish an interrupted retrain (a trigger with no recorded answer is looked for in CI, never sent twice)')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the plan and change nothing')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mlrb;rollback;help' {
            [CompletionResult]::new('model', 'model', [CompletionResultType]::ParameterValue, 'Roll the model artifact back in the registry, reload serving, verify, report')
            [CompletionResult]::new('infra', 'infra', [CompletionResultType]::ParameterValue, 'Roll the serving infrastructure back: kubectl rollout undo or helm rollback, verify, report')
            [CompletionResult]::new('features', 'features', [CompletionResultType]::ParameterValue, 'Restore the feature pipeline (code + DVC data) to a known-good commit, commit, report')
            [CompletionResult]::new('retrain', 'retrain', [CompletionResultType]::ParameterValue, 'Trigger an emergency retrain on a known-good dataset version in CI')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mlrb;rollback;help;model' {
            break
        }
        'mlrb;rollback;help;infra' {
            break
        }
        'mlrb;rollback;help;features' {
            break
        }
        'mlrb;rollback;help;retrain' {
            break
        }
        'mlrb;rollback;help;help' {
            break
        }
        'mlrb;report' {
            [CompletionResult]::new('--root-cause', '--root-cause', [CompletionResultType]::ParameterName, 'Root cause, once known')
            [CompletionResult]::new('--factor', '--factor', [CompletionResultType]::ParameterName, 'A contributing factor (repeatable)')
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, 'A corrective action as "what|owner|due" (repeatable)')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Write the markdown report to FILE instead of stdout (an existing FILE is not replaced without --force)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('--last', '--last', [CompletionResultType]::ParameterName, 'The most recent event')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace an existing --out FILE')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mlrb;runbook' {
            [CompletionResult]::new('--topic', '--topic', [CompletionResultType]::ParameterName, 'Which runbook')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mlrb;init' {
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Where to write (default: ./mlrb.toml)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace an existing file')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mlrb;config' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mlrb;demo' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Keep the demo registry and journal in DIR (default: a temp dir, removed afterwards)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mlrb;watch' {
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines on stderr: human, or one JSON object per line (the rollbacks it starts included)')
            [CompletionResult]::new('--alias', '--alias', [CompletionResultType]::ParameterName, 'Live version = the version this alias points at (instead of the Production stage)')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Serve GET /metrics (Prometheus text: checks, breaches, rollbacks, last check, leader, blind models) and GET /healthz on this address, e.g. 0.0.0.0:9464')
            [CompletionResult]::new('--lease-name', '--lease-name', [CompletionResultType]::ParameterName, 'The Lease''s name')
            [CompletionResult]::new('--lease-namespace', '--lease-namespace', [CompletionResultType]::ParameterName, 'The Lease''s namespace [default: the pod''s namespace in a cluster, else "default"]')
            [CompletionResult]::new('--lease-duration', '--lease-duration', [CompletionResultType]::ParameterName, 'How long a standby waits after the lease was last renewed before taking it over')
            [CompletionResult]::new('--renew-deadline', '--renew-deadline', [CompletionResultType]::ParameterName, 'A leader that has not renewed for this long stops checking and acting (shorter than --lease-duration)')
            [CompletionResult]::new('--retry-period', '--retry-period', [CompletionResultType]::ParameterName, 'How often the leader renews, and a standby tries to acquire, the lease')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('--once', '--once', [CompletionResultType]::ParameterName, 'Check once and exit: 0 MONITOR, 10 INVESTIGATE, 11 ROLLBACK NOW, 1 metrics unreadable or all without data (blind)')
            [CompletionResult]::new('--recommend-only', '--recommend-only', [CompletionResultType]::ParameterName, 'Log and notify the rollbacks it would make without making them (`status` shows the last one): to tune thresholds before letting it act')
            [CompletionResult]::new('--leader-elect', '--leader-elect', [CompletionResultType]::ParameterName, 'Run as one of several replicas: only the holder of a Kubernetes Lease (coordination.k8s.io/v1, through kubectl: KUBECONFIG or in-cluster) checks and acts')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mlrb;drill' {
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'Who rolls back: the on-call engineer (manual) or the controller (auto)')
            [CompletionResult]::new('--mttr-objective', '--mttr-objective', [CompletionResultType]::ParameterName, 'Fail when the MTTR is longer than this, e.g. `2m` (default: [models.X.drill] mttr_objective)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('--sandbox', '--sandbox', [CompletionResultType]::ParameterName, 'On a throwaway embedded registry with synthetic metrics that mlrb serves itself')
            [CompletionResult]::new('--history', '--history', [CompletionResultType]::ParameterName, 'List the earlier drills (of MODEL, or all) with the MTTR trend, and change nothing')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Run a staging drill without asking (it changes the configured registry, then restores it)')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Run a staging drill without asking (it changes the configured registry, then restores it)')
            [CompletionResult]::new('--restore', '--restore', [CompletionResultType]::ParameterName, 'Put back what an interrupted staging drill of MODEL changed, from the state it saved')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mlrb;changes' {
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'How far back to look, e.g. `24h`, `7d`')
            [CompletionResult]::new('--breach-at', '--breach-at', [CompletionResultType]::ParameterName, 'When the breach began (default: searched in Prometheus history when metrics are configured)')
            [CompletionResult]::new('--alias', '--alias', [CompletionResultType]::ParameterName, 'Live version = the version this alias points at (instead of the Production stage)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: a table for people, JSON for scripts')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mlrb;export' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('prometheus-rules', 'prometheus-rules', [CompletionResultType]::ParameterValue, 'Prometheus alerting rules: per hard threshold a critical alert (ROLLBACK NOW), per soft one a warning (INVESTIGATE)')
            [CompletionResult]::new('argo-analysis', 'argo-analysis', [CompletionResultType]::ParameterValue, 'An Argo Rollouts AnalysisTemplate with the same queries, thresholds and failure rule')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mlrb;export;prometheus-rules' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'format')
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Write to FILE (0600, replaced whole) instead of stdout')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mlrb;export;argo-analysis' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Write to FILE (0600, replaced whole) instead of stdout')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mlrb;export;help' {
            [CompletionResult]::new('prometheus-rules', 'prometheus-rules', [CompletionResultType]::ParameterValue, 'Prometheus alerting rules: per hard threshold a critical alert (ROLLBACK NOW), per soft one a warning (INVESTIGATE)')
            [CompletionResult]::new('argo-analysis', 'argo-analysis', [CompletionResultType]::ParameterValue, 'An Argo Rollouts AnalysisTemplate with the same queries, thresholds and failure rule')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mlrb;export;help;prometheus-rules' {
            break
        }
        'mlrb;export;help;argo-analysis' {
            break
        }
        'mlrb;export;help;help' {
            break
        }
        'mlrb;completions' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file (default: $MLRB_CONFIG, ./mlrb.toml, then ~/.config/mlrb/mlrb.toml)')
            [CompletionResult]::new('--registry', '--registry', [CompletionResultType]::ParameterName, 'Registry: an MLflow URI (http://…) or the path of an embedded registry file [env: MLRB_REGISTRY]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'Where the journal lives (default: $MLRB_STATE_DIR or ~/.local/state/mlrb)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only data and errors: no status lines, no progress')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Trace every HTTP request on stderr (credentials and tokens redacted); one level: -vv is the same as -v')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'mlrb;help' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'What is live, what rollback would go to, and what looks wrong')
            [CompletionResult]::new('candidate', 'candidate', [CompletionResultType]::ParameterValue, 'The version a rollback would go to and why; --designate tags one before a deploy')
            [CompletionResult]::new('rollback', 'rollback', [CompletionResultType]::ParameterValue, 'Roll back one of the places an ML failure lives')
            [CompletionResult]::new('report', 'report', [CompletionResultType]::ParameterValue, 'Render the incident report of a recorded event, filled with what you know now')
            [CompletionResult]::new('runbook', 'runbook', [CompletionResultType]::ParameterValue, 'Print a model''s on-call runbook with its names filled in')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Write a commented starter mlrb.toml')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Which config file was read, and each resolved setting with where it came from')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run a complete model rollback on a throwaway embedded registry (no server needed)')
            [CompletionResult]::new('watch', 'watch', [CompletionResultType]::ParameterValue, 'The automated rollback controller: watch metrics, roll back on sustained hard breaches')
            [CompletionResult]::new('drill', 'drill', [CompletionResultType]::ParameterValue, 'Rehearse a rollback: breach, detect, roll back, verify, restore; record the MTTR')
            [CompletionResult]::new('changes', 'changes', [CompletionResultType]::ParameterValue, 'What changed lately in the registry, serving infra, feature pipeline and training data')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write the rule `watch` applies as Prometheus alerting rules or an Argo Rollouts analysis')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mlrb;help;status' {
            break
        }
        'mlrb;help;candidate' {
            break
        }
        'mlrb;help;rollback' {
            [CompletionResult]::new('model', 'model', [CompletionResultType]::ParameterValue, 'Roll the model artifact back in the registry, reload serving, verify, report')
            [CompletionResult]::new('infra', 'infra', [CompletionResultType]::ParameterValue, 'Roll the serving infrastructure back: kubectl rollout undo or helm rollback, verify, report')
            [CompletionResult]::new('features', 'features', [CompletionResultType]::ParameterValue, 'Restore the feature pipeline (code + DVC data) to a known-good commit, commit, report')
            [CompletionResult]::new('retrain', 'retrain', [CompletionResultType]::ParameterValue, 'Trigger an emergency retrain on a known-good dataset version in CI')
            break
        }
        'mlrb;help;rollback;model' {
            break
        }
        'mlrb;help;rollback;infra' {
            break
        }
        'mlrb;help;rollback;features' {
            break
        }
        'mlrb;help;rollback;retrain' {
            break
        }
        'mlrb;help;report' {
            break
        }
        'mlrb;help;runbook' {
            break
        }
        'mlrb;help;init' {
            break
        }
        'mlrb;help;config' {
            break
        }
        'mlrb;help;demo' {
            break
        }
        'mlrb;help;watch' {
            break
        }
        'mlrb;help;drill' {
            break
        }
        'mlrb;help;changes' {
            break
        }
        'mlrb;help;export' {
            [CompletionResult]::new('prometheus-rules', 'prometheus-rules', [CompletionResultType]::ParameterValue, 'Prometheus alerting rules: per hard threshold a critical alert (ROLLBACK NOW), per soft one a warning (INVESTIGATE)')
            [CompletionResult]::new('argo-analysis', 'argo-analysis', [CompletionResultType]::ParameterValue, 'An Argo Rollouts AnalysisTemplate with the same queries, thresholds and failure rule')
            break
        }
        'mlrb;help;export;prometheus-rules' {
            break
        }
        'mlrb;help;export;argo-analysis' {
            break
        }
        'mlrb;help;completions' {
            break
        }
        'mlrb;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
