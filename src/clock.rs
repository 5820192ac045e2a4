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

/// Parses a user-given time: RFC 3339 (any offset), `YYYY-MM-DD HH:MM[:SS]` or `HH:MM[:SS]`
/// in local time (`… UTC` or `…Z` for UTC), or a duration ago (`15m`, `2h`, `15m ago`).
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    parse_time_explained(s).map(|(t, _)| t)
}

/// `parse_time`, with how the text was read when that was a choice (local time and its zone,
/// a time of day taken as yesterday's, a duration ago), for the plan to echo.
pub fn parse_time_explained(s: &str) -> Result<(DateTime<Utc>, Option<String>), String> {
    let t = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok((d.with_timezone(&Utc), None));
    }
    let (bare, utc) = match t
        .strip_suffix("UTC")
        .or_else(|| t.strip_suffix('Z'))
        .or_else(|| t.strip_suffix('z'))
    {
        Some(b) => (b.trim_end(), true),
        None => (t, false),
    };
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(bare, f) {
            return if utc {
                Ok((n.and_utc(), None))
            } else {
                local(n, s)
                    .map(|(at, zone)| (at, Some(format!("`{s}` read as local time, {zone}"))))
            };
        }
    }
    for f in ["%H:%M:%S", "%H:%M"] {
        if let Ok(clock) = chrono::NaiveTime::parse_from_str(bare, f) {
            // "22:04" typed at 02:17 means yesterday evening.
            let (today, zone) = if utc {
                (now().date_naive(), "UTC".to_string())
            } else {
                (
                    now().with_timezone(&chrono::Local).date_naive(),
                    String::new(),
                )
            };
            let at = |day: chrono::NaiveDate| -> Result<(DateTime<Utc>, String), String> {
                if utc {
                    Ok((day.and_time(clock).and_utc(), zone.clone()))
                } else {
                    local(day.and_time(clock), s)
                }
            };
            let (mut when, mut zone) = at(today)?;
            let mut day = "today";
            if when > now() {
                (when, zone) = at(today - chrono::Duration::days(1))?;
                day = "yesterday";
            }
            let how = if utc {
                "UTC".to_string()
            } else {
                format!("local time, {zone}")
            };
            return Ok((when, Some(format!("`{s}` read as {day}, {how}"))));
        }
    }
    let ago = t.strip_suffix("ago").unwrap_or(t).trim();
    if let Ok(d) = humantime::parse_duration(ago) {
        let too_large = || format!("duration `{s}` is too large");
        let d = chrono::Duration::from_std(d).map_err(|_| too_large())?;
        let at = now().checked_sub_signed(d).ok_or_else(too_large)?;
        return Ok((at, Some(format!("`{s}` read as {} ago", human(d)))));
    }
    Err(format!(
        "cannot read `{s}` as a time; use RFC 3339 (2026-11-26T22:04:00Z or …+01:00), `YYYY-MM-DD HH:MM` or `HH:MM` (local time; add UTC for UTC) or a duration ago (`15m`)"
    ))
}

/// A wall-clock time in the local zone ($TZ, else the system's), and the zone as shown.
fn local(n: chrono::NaiveDateTime, s: &str) -> Result<(DateTime<Utc>, String), String> {
    use chrono::{LocalResult, TimeZone};
    let t = match chrono::Local.from_local_datetime(&n) {
        LocalResult::Single(t) => t,
        // The hour a clock goes back happens twice: the first is taken, and said.
        LocalResult::Ambiguous(first, _) => first,
        LocalResult::None => {
            return Err(format!(
                "`{s}` does not exist in local time (the clock skipped it); give it in UTC or with an offset"
            ));
        }
    };
    let zone = match std::env::var("TZ").ok().filter(|z| !z.is_empty()) {
        Some(z) => format!("{} (UTC{})", z.trim_start_matches(':'), t.offset()),
        None => format!("UTC{}", t.offset()),
    };
    Ok((t.with_timezone(&Utc), zone))
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
    // Rounded, not cut: 599 999.6 ms is ten minutes, and `{:.1}` rounds below a minute too.
    if ms < 59_950 {
        return format!("{:.1}s", ms as f64 / 1000.0);
    }
    let s = (ms + 500) / 1000;
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
        assert_eq!(human(chrono::Duration::milliseconds(599_999)), "10m 00s");
        assert_eq!(human(chrono::Duration::milliseconds(59_960)), "1m 00s");
    }
}
