//! The one place mlrb spawns a process: resolved with `which`, an argv vector (never a shell),
//! stdin closed (or given bytes), output captured, a timeout, and errors that quote the command line.

use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A process failure, carrying what the user needs to see and fix it.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("{program} not on PATH: install {install}")]
    NotFound { program: String, install: String },
    #[error("cannot start `{cmdline}`: {detail}")]
    Spawn { cmdline: String, detail: String },
    #[error("`{cmdline}` did not finish within {secs} s and was stopped{}", tail_suffix(.stderr))]
    Timeout {
        cmdline: String,
        secs: u64,
        stderr: String,
    },
    #[error("`{cmdline}` failed ({status}){}", tail_suffix(.stderr))]
    Failed {
        cmdline: String,
        status: String,
        stdout: String,
        stderr: String,
    },
}

impl ExecError {
    /// The process's stderr, when it ran and failed (empty otherwise).
    pub fn stderr(&self) -> &str {
        match self {
            ExecError::Failed { stderr, .. } | ExecError::Timeout { stderr, .. } => stderr,
            _ => "",
        }
    }
}

fn tail_suffix(stderr: &str) -> String {
    let t = tail(stderr, 3, 400);
    if t.is_empty() {
        String::new()
    } else {
        format!(": {t}")
    }
}

/// The last `lines` non-empty lines of `s` on one line, at most `max` characters.
pub fn tail(s: &str, lines: usize, max: usize) -> String {
    let all: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let start = all.len().saturating_sub(lines);
    let joined = all[start..].join(" | ");
    let n = joined.chars().count();
    if n > max {
        let cut: String = joined.chars().skip(n - max).collect();
        format!("…{cut}")
    } else {
        joined
    }
}

/// What a finished process printed.
#[derive(Debug, Clone)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

/// A command to run: program, argv, environment additions, working directory, timeout.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: String,
    install: String,
    args: Vec<OsString>,
    envs: Vec<(String, String)>,
    cwd: Option<PathBuf>,
    timeout: Duration,
    /// What the program reads on stdin (closed when `None`).
    input: Option<Vec<u8>>,
}

impl Cmd {
    /// `install` completes "PROGRAM not on PATH: install …".
    pub fn new(program: &str, install: &str) -> Cmd {
        Cmd {
            program: program.to_string(),
            install: install.to_string(),
            args: Vec::new(),
            envs: Vec::new(),
            cwd: None,
            timeout: Duration::from_secs(60),
            input: None,
        }
    }

    pub fn arg(mut self, a: impl Into<OsString>) -> Cmd {
        self.args.push(a.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, it: I) -> Cmd {
        self.args.extend(it.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Cmd {
        self.envs.push((k.into(), v.into()));
        self
    }

    /// `bytes` on the program's stdin (`kubectl … -f -`): nothing is left on disk, whatever
    /// happens to mlrb meanwhile.
    pub fn input(mut self, bytes: Vec<u8>) -> Cmd {
        self.input = Some(bytes);
        self
    }

    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Cmd {
        self.cwd = Some(dir.into());
        self
    }

    pub fn timeout(mut self, t: Duration) -> Cmd {
        self.timeout = t;
        self
    }

    /// A command from an argv vector (program first), as plans store them.
    pub fn from_argv(argv: &[String], timeout: Duration) -> Cmd {
        let program = argv.first().map(String::as_str).unwrap_or("");
        let install = match program {
            "kubectl" => super::kubectl::INSTALL,
            "helm" => super::helm::INSTALL,
            other => other,
        };
        Cmd::new(program, install)
            .args(argv.iter().skip(1))
            .timeout(timeout)
    }

    /// The argv vector, program first.
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.program.clone())
            .chain(self.args.iter().map(|a| a.to_string_lossy().into_owned()))
            .collect()
    }

    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }

    /// The command line as a user would type it, for plans and errors.
    pub fn line(&self) -> String {
        std::iter::once(self.program.clone())
            .chain(self.args.iter().map(|a| quote(&a.to_string_lossy())))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether the program can be found on PATH.
    pub fn resolve(&self) -> Result<PathBuf, ExecError> {
        which::which(&self.program).map_err(|_| ExecError::NotFound {
            program: self.program.clone(),
            install: self.install.clone(),
        })
    }

    /// Runs to completion; a non-zero exit, a signal or the timeout is an error.
    pub fn run(&self) -> Result<Output, ExecError> {
        let path = self.resolve()?;
        let cmdline = self.line();
        #[allow(clippy::disallowed_methods)] // the one sanctioned spawn
        let mut c = Command::new(&path);
        c.args(&self.args)
            .stdin(if self.input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // kubectl, helm, dvc and git (their plugins and hooks) need none of mlrb's credentials.
        for k in crate::secrets::credential_vars() {
            c.env_remove(k);
        }
        for (k, v) in &self.envs {
            c.env(k, v);
        }
        if let Some(d) = &self.cwd {
            c.current_dir(d);
        }
        let mut child = c.spawn().map_err(|e| ExecError::Spawn {
            cmdline: cmdline.clone(),
            detail: e.to_string(),
        })?;
        // Written from a thread of its own and then closed, so a program that answers before
        // reading all of it cannot block mlrb (its output is read meanwhile).
        if let (Some(bytes), Some(mut stdin)) = (self.input.clone(), child.stdin.take()) {
            std::thread::spawn(move || {
                use std::io::Write;
                let _ = stdin.write_all(&bytes);
            });
        }
        let out = reader(child.stdout.take());
        let err = reader(child.stderr.take());
        let start = Instant::now();
        let status: ExitStatus = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s,
                Ok(None) if start.elapsed() >= self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(ExecError::Timeout {
                        cmdline,
                        secs: self.timeout.as_secs(),
                        stderr: err.join().unwrap_or_default(),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => {
                    return Err(ExecError::Spawn {
                        cmdline,
                        detail: e.to_string(),
                    });
                }
            }
        };
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        if status.success() {
            return Ok(Output { stdout, stderr });
        }
        Err(ExecError::Failed {
            cmdline,
            status: describe_status(status),
            stdout,
            stderr,
        })
    }
}

fn reader<R: Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut r) = r {
            let _ = r.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

fn describe_status(s: ExitStatus) -> String {
    if let Some(c) = s.code() {
        return format!("exit code {c}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = s.signal() {
            return format!("killed by signal {sig}");
        }
    }
    "no exit code".into()
}

/// Shell-style quoting for display only (mlrb never runs a shell).
fn quote(a: &str) -> String {
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_program_says_what_to_install() {
        let e = Cmd::new("mlrb-no-such-tool", "the thing (apt install thing)")
            .run()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "mlrb-no-such-tool not on PATH: install the thing (apt install thing)"
        );
    }

    #[test]
    fn failure_quotes_the_command_code_and_stderr_tail() {
        let e = Cmd::new("sh", "a POSIX shell")
            .args(["-c", "echo one >&2; echo two >&2; exit 3"])
            .run()
            .unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("`sh -c 'echo one >&2; echo two >&2; exit 3'`"),
            "{s}"
        );
        assert!(s.contains("exit code 3"), "{s}");
        assert!(s.ends_with("one | two"), "{s}");
    }

    #[test]
    fn timeout_stops_the_process() {
        let t0 = Instant::now();
        let e = Cmd::new("sleep", "coreutils")
            .arg("5")
            .timeout(Duration::from_millis(200))
            .run()
            .unwrap_err();
        assert!(matches!(e, ExecError::Timeout { .. }), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn stdin_is_closed_and_output_captured() {
        let o = Cmd::new("cat", "coreutils").run().unwrap();
        assert_eq!(o.stdout, "");
    }

    #[test]
    fn input_is_read_on_stdin_then_closed() {
        // More than a pipe holds, so the write must not wait for the program to finish.
        let big = "x".repeat(1 << 20);
        let o = Cmd::new("cat", "coreutils")
            .input(big.clone().into_bytes())
            .run()
            .unwrap();
        assert_eq!(o.stdout.len(), big.len());
    }
}
