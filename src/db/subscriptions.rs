//! Subscriptions and alerts: what is sent, to whom, when, and what the last
//! run came to. Each row carries a revision that every change bumps: a run
//! records its outcome only if the row is still at the revision it read, so
//! of several instances looking at one due row exactly one acts on it.

use super::schema::{accounts, subscriptions};
use super::DbConnection;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// A report: the view's rows on a schedule.
pub const REPORT: &str = "report";
/// An alert: a rule on the view's count.
pub const ALERT: &str = "alert";
pub const ACTIVE: &str = "active";
/// The alert conditions on the count itself (the others compare with the
/// previous check).
pub const THRESHOLD_CONDITIONS: [&str; 2] = ["above", "below"];
pub const PAUSED: &str = "paused";

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = subscriptions)]
pub struct Subscription {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub owner_id: String,
    pub view_path: String,
    pub view_query: String,
    pub channel: String,
    pub destination: String,
    pub secret: String,
    pub webhook_rows: i64,
    pub frequency: String,
    pub weekday: Option<String>,
    pub day_of_month: Option<i64>,
    pub hour: i64,
    pub time_zone: String,
    pub condition: Option<String>,
    pub threshold: Option<i64>,
    pub check_minutes: Option<i64>,
    pub repeat_minutes: Option<i64>,
    pub state: String,
    pub paused_reason: Option<String>,
    pub next_run_at: NaiveDateTime,
    pub last_run_at: Option<NaiveDateTime>,
    pub last_result: Option<String>,
    pub last_value: Option<i64>,
    pub checked_version: Option<i64>,
    pub firing: bool,
    pub firing_since: Option<NaiveDateTime>,
    pub notified_at: Option<NaiveDateTime>,
    pub revision: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Subscription {
    pub fn is_alert(&self) -> bool {
        self.kind == ALERT
    }

    pub fn is_active(&self) -> bool {
        self.state == ACTIVE
    }
}

/// The owner's account as it is now: a run checks it may still read reports.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Owner {
    pub id: String,
    pub username: String,
    pub role: String,
    pub disabled: bool,
}

/// A subscription with its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    pub subscription: Subscription,
    pub owner: Owner,
}

/// What a form sets: everything but the run state.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = subscriptions, treat_none_as_null = true)]
pub struct Settings {
    pub kind: String,
    pub name: String,
    pub view_path: String,
    pub view_query: String,
    pub channel: String,
    pub destination: String,
    pub webhook_rows: i64,
    pub frequency: String,
    pub weekday: Option<String>,
    pub day_of_month: Option<i64>,
    pub hour: i64,
    pub time_zone: String,
    pub condition: Option<String>,
    pub threshold: Option<i64>,
    pub check_minutes: Option<i64>,
    pub repeat_minutes: Option<i64>,
    pub next_run_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// What a run records (the row must still be at the revision it read).
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = subscriptions, treat_none_as_null = true)]
pub struct RunRecord {
    pub state: String,
    pub paused_reason: Option<String>,
    pub next_run_at: NaiveDateTime,
    pub last_run_at: Option<NaiveDateTime>,
    pub last_result: Option<String>,
    pub last_value: Option<i64>,
    pub checked_version: Option<i64>,
    pub firing: bool,
    pub firing_since: Option<NaiveDateTime>,
    pub notified_at: Option<NaiveDateTime>,
}

impl RunRecord {
    /// The row's run state as it is, to change a few fields of.
    pub fn of(s: &Subscription) -> RunRecord {
        RunRecord {
            state: s.state.clone(),
            paused_reason: s.paused_reason.clone(),
            next_run_at: s.next_run_at,
            last_run_at: s.last_run_at,
            last_result: s.last_result.clone(),
            last_value: s.last_value,
            checked_version: s.checked_version,
            firing: s.firing,
            firing_since: s.firing_since,
            notified_at: s.notified_at,
        }
    }
}

type OwnerColumns = (
    accounts::id,
    accounts::username,
    accounts::role,
    accounts::disabled,
);

const OWNER: OwnerColumns = (
    accounts::id,
    accounts::username,
    accounts::role,
    accounts::disabled,
);

fn pair((subscription, owner): (Subscription, Owner)) -> Owned {
    Owned {
        subscription,
        owner,
    }
}

/// Every subscription (of one owner when given), alerts and reports, by name.
pub fn list(conn: &mut DbConnection, owner_id: Option<&str>) -> QueryResult<Vec<Owned>> {
    let mut query = subscriptions::table
        .inner_join(accounts::table)
        .select((Subscription::as_select(), OWNER))
        .order((subscriptions::name, subscriptions::id))
        .into_boxed();
    if let Some(owner) = owner_id {
        query = query.filter(subscriptions::owner_id.eq(owner.to_string()));
    }
    Ok(query
        .load::<(Subscription, Owner)>(conn)?
        .into_iter()
        .map(pair)
        .collect())
}

pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Owned>> {
    Ok(subscriptions::table
        .inner_join(accounts::table)
        .filter(subscriptions::id.eq(id))
        .select((Subscription::as_select(), OWNER))
        .first::<(Subscription, Owner)>(conn)
        .optional()?
        .map(pair))
}

/// Active subscriptions to run now: reports due by their schedule; alerts
/// due by their check interval, and threshold alerts (`above`, `below`)
/// also because the data changed since their last check (`version`). A
/// change alert compares with its previous check, so it runs only at its
/// interval: otherwise every small write would become its baseline.
pub fn due(conn: &mut DbConnection, now: NaiveDateTime, version: i64) -> QueryResult<Vec<Owned>> {
    let due_now = subscriptions::next_run_at.le(now);
    let data_changed = subscriptions::kind
        .eq(ALERT)
        .and(subscriptions::condition.eq_any(THRESHOLD_CONDITIONS))
        .and(
            subscriptions::checked_version
                .is_null()
                .or(subscriptions::checked_version.ne(version)),
        );
    Ok(subscriptions::table
        .inner_join(accounts::table)
        .filter(subscriptions::state.eq(ACTIVE))
        .filter(due_now.or(data_changed))
        .select((Subscription::as_select(), OWNER))
        .order(subscriptions::id)
        .load::<(Subscription, Owner)>(conn)?
        .into_iter()
        .map(pair)
        .collect())
}

/// Records a run's outcome if the row is still at `revision`; false when
/// another instance (or an edit) changed it first.
pub fn record_run(
    conn: &mut DbConnection,
    id: i64,
    revision: i64,
    record: &RunRecord,
) -> QueryResult<bool> {
    let n = diesel::update(
        subscriptions::table
            .filter(subscriptions::id.eq(id))
            .filter(subscriptions::revision.eq(revision)),
    )
    .set((record, subscriptions::revision.eq(revision + 1)))
    .execute(conn)?;
    Ok(n == 1)
}

/// Changes what a form sets; a changed rule starts afresh (not firing).
pub fn update(conn: &mut DbConnection, id: i64, settings: &Settings) -> QueryResult<bool> {
    let n = diesel::update(subscriptions::table.find(id))
        .set((
            settings,
            subscriptions::revision.eq(subscriptions::revision + 1),
            subscriptions::last_value.eq(None::<i64>),
            subscriptions::checked_version.eq(None::<i64>),
            subscriptions::firing.eq(false),
            subscriptions::firing_since.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Pauses (with the reason) or resumes (due next at `next_run_at`).
pub fn set_state(
    conn: &mut DbConnection,
    id: i64,
    state: &str,
    reason: Option<&str>,
    next_run_at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(subscriptions::table.find(id))
        .set((
            subscriptions::state.eq(state),
            subscriptions::paused_reason.eq(reason),
            subscriptions::next_run_at.eq(next_run_at),
            subscriptions::updated_at.eq(now),
            subscriptions::revision.eq(subscriptions::revision + 1),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// How many run, how many are paused, how many alerts fire: (active,
/// paused, firing).
pub fn tally(conn: &mut DbConnection) -> QueryResult<(i64, i64, i64)> {
    let by_state: Vec<(String, bool, i64)> = subscriptions::table
        .group_by((subscriptions::state, subscriptions::firing))
        .select((
            subscriptions::state,
            subscriptions::firing,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    let mut tally = (0, 0, 0);
    for (state, firing, n) in by_state {
        if state == ACTIVE {
            tally.0 += n;
            if firing {
                tally.2 += n;
            }
        } else {
            tally.1 += n;
        }
    }
    Ok(tally)
}

pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
    Ok(diesel::delete(subscriptions::table.find(id)).execute(conn)? == 1)
}

/// Creates a subscription (active), with its signing secret.
pub fn insert(
    conn: &mut DbConnection,
    owner_id: &str,
    settings: &Settings,
    secret: &str,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    diesel::insert_into(subscriptions::table)
        .values((
            settings,
            subscriptions::owner_id.eq(owner_id),
            subscriptions::secret.eq(secret),
            subscriptions::state.eq(ACTIVE),
            subscriptions::created_at.eq(now),
        ))
        .returning(subscriptions::id)
        .get_result(conn)
}
