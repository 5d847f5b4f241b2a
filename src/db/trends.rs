//! Rollout trends, kept at write time: every change to the users-per-status
//! counts adds its change per day and per combination of the five statuses
//! (`status_history`), and every user whose statuses change gets a row in
//! `status_changes`. A day's figures are the sum of the changes up to it;
//! "who became capable since …" reads the changes since that day. Neither is
//! ever recomputed from events.

use super::models::StatusKey;
use super::schema::{audit_log, imports, status_changes, status_history};
use super::{with_backend, DbConnection};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::upsert::excluded;
use std::collections::{BTreeMap, HashMap};

/// Ids per `IN (…)` list and rows per insert: well under SQLite's limit.
const CHUNK: usize = 500;

/// The five statuses as bits 0–4 (registered, enabled, capable, MFA capable,
/// passwordless capable): the status key's bits 32–36.
pub fn status_bits(key: &StatusKey) -> i32 {
    ((key.pack() >> 32) & 0x1f) as i32
}

/// The five figures of one set of status bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusFigures {
    pub registered: i64,
    pub enabled: i64,
    pub capable: i64,
    pub mfa_capable: i64,
    pub passwordless_capable: i64,
}

impl StatusFigures {
    /// Adds `users` users with the status bits `bits`.
    pub fn add(&mut self, bits: i32, users: i64) {
        let on = |bit: i32| if bits & (1 << bit) != 0 { users } else { 0 };
        self.registered += on(0);
        self.enabled += on(1);
        self.capable += on(2);
        self.mfa_capable += on(3);
        self.passwordless_capable += on(4);
    }
}

/// Adds changes (users per status bits) to the day `day` of the history.
pub fn add_history(
    conn: &mut DbConnection,
    changes: &HashMap<i32, i64>,
    day: NaiveDateTime,
) -> QueryResult<()> {
    use status_history::dsl as h;
    let mut sorted: Vec<(i32, i64)> = changes
        .iter()
        .filter(|(_, d)| **d != 0)
        .map(|(s, d)| (*s, *d))
        .collect();
    sorted.sort_unstable();
    for (status, change) in sorted {
        let row = (
            h::day.eq(day),
            h::status.eq(status),
            h::user_change.eq(change),
        );
        with_backend!(&mut *conn, conn => diesel::insert_into(h::status_history)
            .values(row)
            .on_conflict((h::day, h::status))
            .do_update()
            .set(h::user_change.eq(h::user_change + excluded(h::user_change)))
            .execute(conn))?;
    }
    Ok(())
}

/// The changes per status bits that signed deltas per status key make.
pub fn history_changes(deltas: &HashMap<StatusKey, i64>) -> HashMap<i32, i64> {
    let mut changes: HashMap<i32, i64> = HashMap::new();
    for (key, delta) in deltas {
        *changes.entry(status_bits(key)).or_default() += delta;
    }
    changes
}

/// One user's statuses changing: `before` is `None` when the user arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub user_id: String,
    pub at: NaiveDateTime,
    pub before: Option<i32>,
    pub after: i32,
}

/// Stores users' status changes.
pub fn record_changes(conn: &mut DbConnection, changes: &[StatusChange]) -> QueryResult<()> {
    use status_changes::dsl as c;
    for chunk in changes.chunks(CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|ch| {
                (
                    c::user_id.eq(&ch.user_id),
                    c::changed_at.eq(ch.at),
                    c::status_before.eq(ch.before),
                    c::status_after.eq(ch.after),
                )
            })
            .collect();
        with_backend!(&mut *conn, conn => diesel::insert_into(c::status_changes)
            .values(&rows)
            .execute(conn))?;
    }
    Ok(())
}

/// Replaces the whole history (the demo generator, which writes the story of
/// its tenant): `changes` per day and status bits.
pub fn replace_history(
    conn: &mut DbConnection,
    changes: &BTreeMap<(NaiveDate, i32), i64>,
) -> QueryResult<()> {
    diesel::delete(status_history::table).execute(conn)?;
    let mut day_changes: BTreeMap<NaiveDate, HashMap<i32, i64>> = BTreeMap::new();
    for ((day, status), n) in changes {
        *day_changes
            .entry(*day)
            .or_default()
            .entry(*status)
            .or_default() += n;
    }
    for (day, changes) in day_changes {
        add_history(conn, &changes, day.and_time(chrono::NaiveTime::MIN))?;
    }
    Ok(())
}

/// The five figures at the end of each day from `first` to `last`.
pub fn daily_figures(
    conn: &mut DbConnection,
    first: NaiveDate,
    last: NaiveDate,
) -> QueryResult<Vec<(NaiveDate, StatusFigures)>> {
    use status_history::dsl as h;
    let start = first.and_time(chrono::NaiveTime::MIN);
    let end = last.and_time(chrono::NaiveTime::MIN);
    let mut users: BTreeMap<i32, i64> = BTreeMap::new();
    let before: Vec<(i32, i64)> = h::status_history
        .filter(h::day.lt(start))
        .select((h::status, h::user_change))
        .load(conn)?;
    for (status, change) in before {
        *users.entry(status).or_default() += change;
    }
    let rows: Vec<(NaiveDateTime, i32, i64)> = h::status_history
        .filter(h::day.ge(start))
        .filter(h::day.le(end))
        .order(h::day)
        .select((h::day, h::status, h::user_change))
        .load(conn)?;
    let mut rows = rows.into_iter().peekable();
    let mut days = Vec::new();
    let mut day = first;
    while day <= last {
        while let Some((_, status, change)) = rows.next_if(|r| r.0.date() <= day) {
            *users.entry(status).or_default() += change;
        }
        let mut figures = StatusFigures::default();
        for (status, n) in &users {
            figures.add(*status, *n);
        }
        days.push((day, figures));
        day = match day.succ_opt() {
            Some(next) => next,
            None => break,
        };
    }
    Ok(days)
}

/// The first day the history holds, if any.
pub fn first_day(conn: &mut DbConnection) -> QueryResult<Option<NaiveDate>> {
    let day: Option<NaiveDateTime> = status_history::table
        .select(diesel::dsl::min(status_history::day))
        .first(conn)?;
    Ok(day.map(|d| d.date()))
}

/// Something that moved the figures, marked on the trend chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub at: NaiveDateTime,
    /// `policy` or `import`.
    pub kind: &'static str,
    pub text: String,
}

/// The audit actions that change every user's statuses.
const POLICY_ACTIONS: [&str; 2] = ["policy changed", "verdict source changed"];

/// Policy changes and finished imports from `from` on, oldest first.
pub fn markers(conn: &mut DbConnection, from: NaiveDateTime) -> QueryResult<Vec<Marker>> {
    let policy: Vec<(NaiveDateTime, String, String)> = audit_log::table
        .filter(audit_log::at.ge(from))
        .filter(audit_log::action.eq_any(POLICY_ACTIONS))
        .order(audit_log::at)
        .select((audit_log::at, audit_log::actor, audit_log::details))
        .load(conn)?;
    let imported: Vec<(NaiveDateTime, String, String, String)> = imports::table
        .filter(imports::finished_at.ge(from))
        .order(imports::finished_at)
        .select((
            imports::finished_at,
            imports::kind,
            imports::source,
            imports::summary,
        ))
        .load(conn)?;
    let mut markers: Vec<Marker> = policy
        .into_iter()
        .map(|(at, actor, details)| Marker {
            at,
            kind: "policy",
            text: format!("Policy changed by {actor}: {details}"),
        })
        .chain(
            imported
                .into_iter()
                .map(|(at, kind, source, summary)| Marker {
                    at,
                    kind: "import",
                    text: format!("Import of {kind} ({source}): {summary}"),
                }),
        )
        .collect();
    markers.sort_by_key(|m| m.at);
    Ok(markers)
}

/// A user whose statuses changed since a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserChange {
    pub id: String,
    /// The statuses at that time; `None`: the user arrived since.
    pub before: Option<i32>,
    /// The statuses now: those the user's last change left.
    pub now: i32,
    /// When the user's statuses last changed.
    pub changed_at: NaiveDateTime,
}

/// Users whose statuses now differ from what they were at `since` (users
/// who arrived since count as having had none), the latest change first.
/// Every change of a user's statuses is recorded, so the first change since
/// then says what the user was and the last one what the user is: the users
/// table is not read.
pub fn changes_since(
    conn: &mut DbConnection,
    since: NaiveDateTime,
) -> QueryResult<Vec<UserChange>> {
    use status_changes::dsl as c;
    let rows: Vec<(String, NaiveDateTime, Option<i32>, i32)> = c::status_changes
        .filter(c::changed_at.ge(since))
        .order(c::id)
        .select((c::user_id, c::changed_at, c::status_before, c::status_after))
        .load(conn)?;
    let mut users: HashMap<String, UserChange> = HashMap::new();
    for (id, changed_at, before, after) in rows {
        users
            .entry(id)
            .and_modify(|u| {
                u.now = after;
                u.changed_at = changed_at;
            })
            .or_insert_with_key(|id| UserChange {
                id: id.clone(),
                before,
                now: after,
                changed_at,
            });
    }
    let mut changed: Vec<UserChange> = users
        .into_values()
        .filter(|u| u.before != Some(u.now))
        .collect();
    changed.sort_unstable_by(|a, b| {
        b.changed_at
            .cmp(&a.changed_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(changed)
}

/// Folds the history before the day of `cutoff` into that day and drops
/// users' changes before it: the window keeps its figures exactly, and a
/// comparison from that day still sees every change since its start.
pub fn prune(conn: &mut DbConnection, cutoff: NaiveDateTime) -> QueryResult<(u64, u64)> {
    use status_history::dsl as h;
    let cutoff_day = super::counts::day_bucket(cutoff);
    let older: Vec<(i32, i64)> = h::status_history
        .filter(h::day.lt(cutoff_day))
        .select((h::status, h::user_change))
        .load(conn)?;
    let mut folded: HashMap<i32, i64> = HashMap::new();
    for (status, change) in older {
        *folded.entry(status).or_default() += change;
    }
    let days = diesel::delete(h::status_history.filter(h::day.lt(cutoff_day))).execute(conn)?;
    add_history(conn, &folded, cutoff_day)?;
    let changes =
        diesel::delete(status_changes::table.filter(status_changes::changed_at.lt(cutoff_day)))
            .execute(conn)?;
    Ok((days as u64, changes as u64))
}
