//! The incident report of one event, composed from its records: the rendered template, the
//! frozen "What Changed" facts, the drill, the metric charts and what is known since.

/// `report` with `section` placed last, before its closing rule (or at the end).
pub fn append_section(report: &str, section: &str) -> String {
    match report.rfind("\n---\n") {
        Some(i) => format!("{}\n{section}{}", &report[..i], &report[i..]),
        None => format!("{report}\n{section}"),
    }
}

/// `report` with `section` placed before its Root Cause section (or at the end).
pub fn insert_section(report: &str, section: &str) -> String {
    match report.find("\n## Root Cause") {
        Some(i) => format!("{}{section}{}", &report[..i + 1], &report[i..]),
        None => format!("{report}\n{section}"),
    }
}
