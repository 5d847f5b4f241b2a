//! The record of pulls from Microsoft Graph: one row per run and one per
//! resource of a run, for resuming a run that was cut short, for the audit
//! log's next window and for Admin › Data sources.

use super::schema::{portal_state, sync_resources, sync_runs};
use super::DbConnection;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = sync_runs)]
pub struct SyncRun {
    pub id: i64,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub trigger: String,
    pub outcome: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = sync_resources)]
pub struct ResourceRow {
    pub run_id: i64,
    pub resource: String,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub outcome: Option<String>,
    pub pages: i64,
    pub records: i64,
    pub inserted: i64,
    pub updated: i64,
    pub warnings: i64,
    pub requests: i64,
    pub retries: i64,
    pub import_id: Option<i64>,
    pub window_start: Option<NaiveDateTime>,
    pub requested_at: Option<NaiveDateTime>,
    pub message: String,
}

/// What one resource of a run came to.
#[derive(Debug, Clone, Default, PartialEq, Eq, AsChangeset)]
#[diesel(table_name = sync_resources, treat_none_as_null = true)]
pub struct ResourceResult {
    pub outcome: &'static str,
    pub pages: i64,
    pub records: i64,
    pub inserted: i64,
    pub updated: i64,
    pub warnings: i64,
    pub requests: i64,
    pub retries: i64,
    pub import_id: Option<i64>,
    pub window_start: Option<NaiveDateTime>,
    pub requested_at: Option<NaiveDateTime>,
    pub message: String,
}

/// The outcome of a run that stored everything.
pub const SUCCEEDED: &str = "succeeded";
/// The outcome of a run that did not.
pub const FAILED: &str = "failed";

/// When the newest run that stored everything ended.
pub fn last_succeeded(conn: &mut DbConnection) -> QueryResult<Option<NaiveDateTime>> {
    sync_runs::table
        .filter(sync_runs::outcome.eq(SUCCEEDED))
        .select(diesel::dsl::max(sync_runs::finished_at))
        .first(conn)
}

/// The newest run.
pub fn latest_run(conn: &mut DbConnection) -> QueryResult<Option<SyncRun>> {
    sync_runs::table
        .order(sync_runs::id.desc())
        .select(SyncRun::as_select())
        .first(conn)
        .optional()
}

/// The newest runs, newest first.
pub fn recent_runs(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<SyncRun>> {
    sync_runs::table
        .order(sync_runs::id.desc())
        .limit(limit)
        .select(SyncRun::as_select())
        .load(conn)
}

pub fn start_run(conn: &mut DbConnection, trigger: &str, now: NaiveDateTime) -> QueryResult<i64> {
    diesel::insert_into(sync_runs::table)
        .values((
            sync_runs::started_at.eq(now),
            sync_runs::trigger.eq(trigger),
            sync_runs::message.eq(""),
        ))
        .returning(sync_runs::id)
        .get_result(conn)
}

pub fn finish_run(
    conn: &mut DbConnection,
    id: i64,
    outcome: &str,
    message: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(sync_runs::table.find(id))
        .set((
            sync_runs::finished_at.eq(now),
            sync_runs::outcome.eq(outcome),
            sync_runs::message.eq(message),
        ))
        .execute(conn)
        .map(drop)
}

/// The resources of one run, in the order they began.
pub fn resources_of(conn: &mut DbConnection, run_id: i64) -> QueryResult<Vec<ResourceRow>> {
    sync_resources::table
        .filter(sync_resources::run_id.eq(run_id))
        .order(sync_resources::started_at.asc())
        .select(ResourceRow::as_select())
        .load(conn)
}

/// A resource begins (again, when a cut-short run is taken up).
pub fn start_resource(
    conn: &mut DbConnection,
    run_id: i64,
    resource: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(
        sync_resources::table
            .filter(sync_resources::run_id.eq(run_id))
            .filter(sync_resources::resource.eq(resource)),
    )
    .execute(conn)?;
    diesel::insert_into(sync_resources::table)
        .values((
            sync_resources::run_id.eq(run_id),
            sync_resources::resource.eq(resource),
            sync_resources::started_at.eq(now),
            sync_resources::message.eq(""),
        ))
        .execute(conn)
        .map(drop)
}

pub fn finish_resource(
    conn: &mut DbConnection,
    run_id: i64,
    resource: &str,
    result: &ResourceResult,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        sync_resources::table
            .filter(sync_resources::run_id.eq(run_id))
            .filter(sync_resources::resource.eq(resource)),
    )
    .set((sync_resources::finished_at.eq(now), result))
    .execute(conn)
    .map(drop)
}

/// The last time `resource` was stored, by any run: its row.
pub fn last_stored(conn: &mut DbConnection, resource: &str) -> QueryResult<Option<ResourceRow>> {
    sync_resources::table
        .filter(sync_resources::resource.eq(resource))
        .filter(sync_resources::outcome.eq("stored"))
        .order(sync_resources::finished_at.desc())
        .select(ResourceRow::as_select())
        .first(conn)
        .optional()
}

/// The newest row of each resource, whatever its outcome.
pub fn latest_per_resource(conn: &mut DbConnection) -> QueryResult<Vec<ResourceRow>> {
    let rows: Vec<ResourceRow> = sync_resources::table
        .order((
            sync_resources::run_id.desc(),
            sync_resources::started_at.desc(),
        ))
        .limit(200)
        .select(ResourceRow::as_select())
        .load(conn)?;
    let mut seen = std::collections::HashSet::new();
    Ok(rows
        .into_iter()
        .filter(|r| seen.insert(r.resource.clone()))
        .collect())
}

/// The interval an administrator set on Admin › Data sources, in minutes.
pub fn sync_every_minutes(conn: &mut DbConnection) -> QueryResult<Option<i64>> {
    portal_state::table
        .find(1)
        .select(portal_state::sync_every_minutes)
        .first(conn)
}

pub fn set_sync_every_minutes(conn: &mut DbConnection, minutes: Option<i64>) -> QueryResult<()> {
    diesel::update(portal_state::table.find(1))
        .set(portal_state::sync_every_minutes.eq(minutes))
        .execute(conn)
        .map(drop)
}

#[derive(diesel::QueryableByName)]
struct Locked {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    locked: bool,
}

/// The sync's advisory lock's key: "authinsights sync" in a number.
const SYNC_LOCK_KEY: i64 = 0x4155_5448_5359_4e43;

/// On PostgreSQL, takes the sync's session advisory lock on this
/// connection if no other session holds it (it ends with the connection);
/// `None` on SQLite, which has no such lock.
pub fn try_sync_lock(conn: &mut DbConnection) -> QueryResult<Option<bool>> {
    match conn {
        DbConnection::Postgresql(pg) => {
            let got: Locked = diesel::sql_query(format!(
                "SELECT pg_try_advisory_lock({SYNC_LOCK_KEY}) AS locked"
            ))
            .get_result(pg)?;
            Ok(Some(got.locked))
        }
        DbConnection::Sqlite(_) => Ok(None),
    }
}
