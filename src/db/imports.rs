//! The log of imports and live-ingest batches: the provenance of events, the
//! Admin imports page and the "Last refreshed" time.

use super::schema::imports;
use super::DbConnection;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Where an import came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportSource {
    CommandLine,
    Upload,
    Api,
    /// A pull from Microsoft Graph (`sync`, scheduled or Sync now).
    Sync,
}

impl ImportSource {
    pub fn key(self) -> &'static str {
        match self {
            ImportSource::CommandLine => "command line",
            ImportSource::Upload => "upload",
            ImportSource::Api => "api",
            ImportSource::Sync => "graph sync",
        }
    }

    pub fn from_key(key: &str) -> Option<ImportSource> {
        [
            ImportSource::CommandLine,
            ImportSource::Upload,
            ImportSource::Api,
            ImportSource::Sync,
        ]
        .into_iter()
        .find(|s| s.key() == key)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = imports)]
pub struct ImportRow {
    pub id: i64,
    pub started_at: NaiveDateTime,
    pub finished_at: NaiveDateTime,
    pub source: String,
    pub actor: String,
    pub kind: String,
    pub files: String,
    pub inserted: i64,
    pub updated: i64,
    pub skipped: i64,
    pub summary: String,
}

/// Opens an import's row (inside the import's transaction, so a failed
/// import leaves none) and returns its id.
pub fn start(
    conn: &mut DbConnection,
    source: ImportSource,
    actor: &str,
    kind: &str,
    files: &str,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    diesel::insert_into(imports::table)
        .values((
            imports::started_at.eq(now),
            imports::finished_at.eq(now),
            imports::source.eq(source.key()),
            imports::actor.eq(actor),
            imports::kind.eq(kind),
            imports::files.eq(files),
            imports::inserted.eq(0i64),
            imports::updated.eq(0i64),
            imports::skipped.eq(0i64),
            imports::summary.eq(""),
        ))
        .returning(imports::id)
        .get_result(conn)
}

/// What an import changed, for its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub inserted: i64,
    pub updated: i64,
    pub skipped: i64,
}

pub fn finish(
    conn: &mut DbConnection,
    id: i64,
    totals: Totals,
    summary: &str,
    finished_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(imports::table.find(id))
        .set((
            imports::finished_at.eq(finished_at),
            imports::inserted.eq(totals.inserted),
            imports::updated.eq(totals.updated),
            imports::skipped.eq(totals.skipped),
            imports::summary.eq(summary),
        ))
        .execute(conn)?;
    Ok(())
}

/// The newest imports first.
pub fn recent(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<ImportRow>> {
    imports::table
        .order(imports::id.desc())
        .limit(limit)
        .select(ImportRow::as_select())
        .load(conn)
}

/// When the newest import or ingest finished.
pub fn newest(conn: &mut DbConnection) -> QueryResult<Option<NaiveDateTime>> {
    imports::table
        .select(diesel::dsl::max(imports::finished_at))
        .first(conn)
}

/// When the newest import of each source finished (the log holds only
/// imports that were stored), for the metrics.
pub fn newest_by_source(
    conn: &mut DbConnection,
) -> QueryResult<Vec<(ImportSource, NaiveDateTime)>> {
    let rows: Vec<(String, Option<NaiveDateTime>)> = imports::table
        .group_by(imports::source)
        .select((imports::source, diesel::dsl::max(imports::finished_at)))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(source, at)| Some((ImportSource::from_key(&source)?, at?)))
        .collect())
}
