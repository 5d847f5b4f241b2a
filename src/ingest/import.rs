//! One import: files of one kind read in order, every record stored in one
//! transaction. The first bad record stops it and nothing of it is stored.

use super::format::{self, FileKind};
use super::graph::GraphImport;
use super::records::{ImportError, Located, Location, Position, Stop};
use super::writer::{Summary, Writer, WriterOptions};
use crate::db::counts::touch_data_changed;
use crate::db::directory::{load_policy, PolicyLoadError};
use crate::db::imports::{self, ImportSource, Totals};
use crate::db::DbConnection;
use chrono::Utc;
use std::io::BufRead;
use std::time::Instant;

/// What the files hold: one kind of our format, or Microsoft Graph exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    File(FileKind),
    Graph,
}

impl ImportKind {
    pub const KEYS: [&'static str; 6] = [
        "users",
        "groups",
        "members",
        "methods",
        "activities",
        "graph",
    ];

    pub fn from_key(key: &str) -> Option<ImportKind> {
        match key {
            "graph" => Some(ImportKind::Graph),
            other => FileKind::from_key(other).map(ImportKind::File),
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            ImportKind::File(k) => k.key(),
            ImportKind::Graph => "graph",
        }
    }
}

/// One file to import: a name for messages and its contents.
pub struct ImportFile<'a> {
    pub name: String,
    pub reader: Box<dyn BufRead + Send + 'a>,
}

/// Who imports, from where, and how.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub kind: ImportKind,
    pub source: ImportSource,
    pub actor: String,
    pub options: WriterOptions,
}

/// A finished import.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    pub import_id: i64,
    pub summary: Summary,
    pub records: u64,
    pub seconds: f64,
}

/// Records handed from the reading thread to the writer at a time.
const CHUNK: usize = 1_024;

/// What the reading thread sends the writer.
enum Feed {
    Records(Vec<Located>),
    EndOfFile,
}

/// Runs the import in one transaction. The files are read and parsed on a
/// thread of their own while this one writes, so parsing and storing
/// overlap; a bounded channel between them keeps memory flat.
pub fn run(
    conn: &mut DbConnection,
    request: &ImportRequest,
    files: Vec<ImportFile<'_>>,
) -> Result<ImportOutcome, Stop> {
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    let kind = request.kind;
    run_with(conn, request, &names.join(", "), |writer| {
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Feed>(16);
            let reading = scope.spawn(move || read_all(kind, files, tx));
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

/// The reading thread: parses every file in order and sends its records;
/// returns early (with `Ok`) when the writer has hung up.
fn read_all(
    kind: ImportKind,
    files: Vec<ImportFile<'_>>,
    tx: std::sync::mpsc::SyncSender<Feed>,
) -> Result<(), Stop> {
    let mut graph = GraphImport::new();
    let mut chunk = Vec::with_capacity(CHUNK);
    let send = |chunk: &mut Vec<Located>| -> Result<(), Stop> {
        let full = std::mem::replace(chunk, Vec::with_capacity(CHUNK));
        tx.send(Feed::Records(full)).map_err(|_| Stop::Cancelled)
    };
    let outcome = (|| {
        for file in files {
            let mut sink = |record| {
                chunk.push(record);
                if chunk.len() >= CHUNK {
                    send(&mut chunk)?;
                }
                Ok(())
            };
            match kind {
                ImportKind::File(kind) => {
                    format::read_file(kind, &file.name, file.reader, &mut sink)?
                }
                ImportKind::Graph => graph.read_file(&file.name, file.reader, &mut sink)?,
            }
            send(&mut chunk)?;
            if tx.send(Feed::EndOfFile).is_err() {
                return Err(Stop::Cancelled);
            }
        }
        graph.finish(&mut |record| {
            chunk.push(record);
            if chunk.len() >= CHUNK {
                send(&mut chunk)?;
            }
            Ok(())
        })?;
        send(&mut chunk)
    })();
    match outcome {
        Err(Stop::Cancelled) => Ok(()),
        other => other,
    }
}

/// Stores records already read (a live-ingest batch) as one import.
pub fn store(
    conn: &mut DbConnection,
    request: &ImportRequest,
    label: &str,
    records: Vec<Located>,
) -> Result<ImportOutcome, Stop> {
    run_with(conn, request, label, |writer| {
        records.into_iter().try_for_each(|r| writer.push(r))
    })
}

fn run_with(
    conn: &mut DbConnection,
    request: &ImportRequest,
    files: &str,
    feed: impl FnOnce(&mut Writer<'_>) -> Result<(), Stop>,
) -> Result<ImportOutcome, Stop> {
    let started = Instant::now();
    let mut outcome = crate::db::write::<_, Stop, _>(conn, |conn| {
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
        let summary = writer.finish()?;
        let t = summary.totals();
        let totals = Totals {
            inserted: t.inserted as i64,
            updated: (t.updated + t.removed) as i64,
            skipped: t.skipped as i64,
        };
        let finished = Utc::now().naive_utc();
        imports::finish(
            conn,
            import_id,
            totals,
            summary.to_string().trim_end(),
            finished,
        )?;
        // "Last refreshed" is the newest import or ingest, whether or not it
        // found anything new: the data is known current as of its end.
        touch_data_changed(conn, finished)?;
        Ok(ImportOutcome {
            import_id,
            summary,
            records,
            seconds: 0.0,
        })
    })?;
    // The time to the commit's end: what the import took.
    outcome.seconds = started.elapsed().as_secs_f64();
    Ok(outcome)
}
