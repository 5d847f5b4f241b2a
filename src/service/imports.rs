//! Imports and live ingest: records read by `ingest` stored in one
//! transaction, the writers' lock first (see [`crate::db::write`]), with
//! the import's row in the import log. The first bad record stops it and
//! nothing of it is stored.

use crate::db::audit;
use crate::db::counts::touch_data_changed;
use crate::db::directory::{load_policy, PolicyLoadError};
use crate::db::imports::{self, ImportSource, Totals};
use crate::db::{self, DbConnection, DbError};
use crate::ingest::import::{
    read_all, Feed, ImportExtras, ImportFile, ImportOutcome, ImportRequest,
};
use crate::ingest::records::{ImportError, Located, Location, Position, Stop};
use crate::ingest::writer::Writer;
use chrono::Utc;
use std::time::Instant;

/// Runs the import in one transaction. The files are read and parsed on a
/// thread of their own while this one writes, so parsing and storing
/// overlap; a bounded channel between them keeps memory flat.
pub fn import(
    conn: &mut DbConnection,
    request: &ImportRequest,
    files: Vec<ImportFile<'_>>,
) -> Result<ImportOutcome, Stop> {
    import_with(conn, request, ImportExtras::default(), files)
}

/// [`import`], with what only some imports ask for: a dry run, a window of
/// audit flows.
pub fn import_with(
    conn: &mut DbConnection,
    request: &ImportRequest,
    extras: ImportExtras,
    files: Vec<ImportFile<'_>>,
) -> Result<ImportOutcome, Stop> {
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    let label = match names.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [first, .., last] if names.len() > 20 => {
            format!("{first} … {last} ({} files)", names.len())
        }
        _ => names.join(", "),
    };
    let (kind, strict) = (request.kind, request.strict);
    run_with(conn, request, extras.dry_run, &label, |writer| {
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Feed>(16);
            let reading = scope.spawn(move || read_all(kind, strict, extras, files, tx));
            let mut written = Ok(());
            'feed: for feed in &rx {
                match feed {
                    Feed::Records(records) => {
                        for record in records {
                            if let Err(e) = writer.push(record) {
                                written = Err(e);
                                break 'feed;
                            }
                        }
                    }
                    Feed::EndOfFile => {
                        if let Err(e) = writer.end_file() {
                            written = Err(e);
                            break 'feed;
                        }
                    }
                }
            }
            // A writer that stopped hangs up: the reader stops at its next send.
            drop(rx);
            let read = match reading.join() {
                Ok(read) => read,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            written.and(read)
        })
    })
}

/// Stores records already read (a live-ingest batch) as one import.
pub fn ingest(
    conn: &mut DbConnection,
    request: &ImportRequest,
    label: &str,
    records: Vec<Located>,
) -> Result<ImportOutcome, Stop> {
    run_with(conn, request, false, label, |writer| {
        records.into_iter().try_for_each(|r| writer.push(r))
    })
}

/// Why the transaction of [`run_with`] ends without a commit.
enum Unstored {
    Stop(Stop),
    /// A dry run got this far: everything is rolled back.
    DryRun(Box<ImportOutcome>),
}

impl From<DbError> for Unstored {
    fn from(e: DbError) -> Self {
        Unstored::Stop(Stop::Database(e))
    }
}

impl From<Stop> for Unstored {
    fn from(e: Stop) -> Self {
        Unstored::Stop(e)
    }
}

fn run_with(
    conn: &mut DbConnection,
    request: &ImportRequest,
    dry_run: bool,
    files: &str,
    feed: impl FnOnce(&mut Writer<'_>) -> Result<(), Stop>,
) -> Result<ImportOutcome, Stop> {
    let started = Instant::now();
    let written = db::write::<_, Unstored, _>(conn, |conn| {
        let now = Utc::now().naive_utc();
        let import_id = imports::start(
            conn,
            request.source,
            &request.actor,
            request.kind.key(),
            files,
            now,
        )?;
        let policy = load_policy(conn).map_err(|e| match e {
            PolicyLoadError::Database(e) => Stop::Database(e),
            PolicyLoadError::Invalid(e) => Stop::Invalid(ImportError::new(
                Location {
                    file: "(the stored SSPR policy)".into(),
                    position: Position::File,
                },
                None,
                e.to_string(),
            )),
        })?;
        let mut writer = Writer::new(conn, policy, import_id, now, request.options);
        feed(&mut writer)?;
        let records = writer.records();
        let warnings = writer.warnings().clone();
        let summary = writer.finish()?;
        let t = summary.totals();
        let totals = Totals {
            inserted: t.inserted as i64,
            updated: (t.updated + t.removed) as i64,
            skipped: t.skipped as i64,
        };
        let finished = Utc::now().naive_utc();
        let mut report = summary.to_string().trim_end().to_string();
        if !warnings.is_empty() {
            report.push('\n');
            report.push_str(&warnings.report());
        }
        imports::finish(conn, import_id, totals, &report, finished)?;
        // A file import is an administrator's change, audited with it; a
        // live-ingest batch and a pull from Graph are in the import log only.
        if !matches!(request.source, ImportSource::Api | ImportSource::Sync) {
            audit::record(
                conn,
                &request.actor,
                "Import",
                &format!("{} import {import_id}", request.kind.key()),
                &report,
            )?;
        }
        // "Last refreshed" is the newest import or ingest, whether or not it
        // found anything new: the data is known current as of its end.
        touch_data_changed(conn, finished)?;
        let outcome = ImportOutcome {
            import_id,
            summary,
            warnings,
            records,
            seconds: 0.0,
        };
        if dry_run {
            return Err(Unstored::DryRun(Box::new(outcome)));
        }
        Ok(outcome)
    });
    let mut outcome = match written {
        Ok(outcome) => outcome,
        Err(Unstored::DryRun(outcome)) => *outcome,
        Err(Unstored::Stop(stop)) => return Err(stop),
    };
    // The time to the commit's end: what the import took.
    outcome.seconds = started.elapsed().as_secs_f64();
    Ok(outcome)
}
