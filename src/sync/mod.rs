//! The Graph connector: pulls a tenant's directory, registration details,
//! audit log and events from Microsoft Graph with an app registration's
//! client credentials (`authinsights sync`, `serve --sync-every`, Admin ›
//! Data sources › Sync now), through the same reading and storing as
//! `import graph`, so that a sync and an import of the same responses store
//! the same thing.

pub mod certificate;
pub mod client;
pub mod lock;
pub mod run;
pub mod schedule;
pub mod settings;
pub mod standin;

pub use client::{GraphClient, GraphError, Traffic};
pub use lock::SyncLock;
pub use run::{sync, Outcome, Progress, Quiet, SyncOptions, SyncReport, SyncResource};
pub use settings::{GraphArgs, GraphSettings};

/// A length of time: a number and a unit, `s`, `m`, `h` or `d` (`15m`).
pub fn parse_duration(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| {
        format!("\"{text}\" is not a length of time: write a number and a unit, e.g. 15m, 6h or 1d")
    })?;
    if n == 0 {
        return Err("the length of time must be more than zero".into());
    }
    match unit {
        "s" => Ok(chrono::Duration::seconds(n)),
        "m" => Ok(chrono::Duration::minutes(n)),
        "h" => Ok(chrono::Duration::hours(n)),
        "d" => Ok(chrono::Duration::days(n)),
        _ => Err(format!(
            "\"{text}\": the unit must be s (seconds), m (minutes), h (hours) or d (days)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_of_time_have_a_unit() {
        assert_eq!(parse_duration("15m"), Ok(chrono::Duration::minutes(15)));
        assert_eq!(parse_duration("2s"), Ok(chrono::Duration::seconds(2)));
        assert!(parse_duration("15").unwrap_err().contains("unit"));
        assert!(parse_duration("0m").unwrap_err().contains("more than zero"));
        assert!(parse_duration("soon").unwrap_err().contains("not a length"));
    }
}
