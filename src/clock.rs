//! The one source of "now": the real clock, or a pinned start (`MLRB_NOW`) that still advances.

use std::sync::OnceLock;
use std::time::Instant;

use chrono::{DateTime, Utc};

struct Origin {
    wall: DateTime<Utc>,
    mono: Instant,
}

static ORIGIN: OnceLock<Origin> = OnceLock::new();

fn origin() -> &'static Origin {
    ORIGIN.get_or_init(|| {
        let pinned = std::env::var("MLRB_NOW")
            .ok()
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.with_timezone(&Utc));
        Origin {
            wall: pinned.unwrap_or_else(Utc::now),
            mono: Instant::now(),
        }
    })
}

/// The current time. With `MLRB_NOW` set (tests, drills) it starts there and moves with the
/// monotonic clock, so phase durations stay real.
pub fn now() -> DateTime<Utc> {
    let o = origin();
    o.wall + chrono::Duration::from_std(o.mono.elapsed()).unwrap_or_default()
}

/// Fixes the origin at process start so durations are measured from there.
pub fn start() -> DateTime<Utc> {
    origin().wall
}

/// RFC 3339 with milliseconds and a `Z`, the format of every timestamp mlrb writes.
pub fn fmt(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parses a user-given time: RFC 3339, `YYYY-MM-DD HH:MM[:SS]` (UTC), `HH:MM` today (UTC),
/// or a duration ago (`15m`, `2h`, `15m ago`).
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    let t = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(t, f) {
            return Ok(n.and_utc());
        }
    }
    for f in ["%H:%M:%S", "%H:%M"] {
        if let Ok(clock) = chrono::NaiveTime::parse_from_str(t, f) {
            let today = now().date_naive().and_time(clock).and_utc();
            // "22:04" typed at 02:17 means yesterday evening.
            return Ok(if today > now() {
                today - chrono::Duration::days(1)
            } else {
                today
            });
        }
    }
    let ago = t.strip_suffix("ago").unwrap_or(t).trim();
    if let Ok(d) = humantime::parse_duration(ago) {
        let d =
            chrono::Duration::from_std(d).map_err(|_| format!("duration `{s}` is too large"))?;
        return now()
            .checked_sub_signed(d)
            .ok_or_else(|| format!("duration `{s}` is too large"));
    }
    Err(format!(
        "cannot read `{s}` as a time; use RFC 3339 (2026-11-26T22:04:00Z), `YYYY-MM-DD HH:MM` (UTC), `HH:MM` (UTC) or a duration ago (`15m`)"
    ))
}

/// Human duration with one decimal under a minute ("3.2s", "4m 05s").
pub fn human(d: chrono::Duration) -> String {
    let ms = d.num_milliseconds();
    if ms < 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms} ms");
    }
    if ms < 60_000 {
        return format!("{:.1}s", ms as f64 / 1000.0);
    }
    let s = ms / 1000;
    if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert!(parse_time("2026-11-26T22:04:00Z").is_ok());
        assert!(parse_time("2026-11-26 22:04").is_ok());
        assert!(parse_time("22:04").is_ok());
        assert!(parse_time("15m").is_ok());
        assert!(parse_time("15m ago").is_ok());
        assert!(parse_time("yesterday-ish").is_err());
        assert!(parse_time("25:99").is_err());
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(chrono::Duration::milliseconds(3200)), "3.2s");
        assert_eq!(human(chrono::Duration::milliseconds(41)), "41 ms");
        assert_eq!(human(chrono::Duration::seconds(245)), "4m 05s");
    }
}
