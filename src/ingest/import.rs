//! One import: files of one kind read in order, every record stored in one
//! transaction. The first bad record stops it and nothing of it is stored.

use super::format::{self, FileKind};
use super::graph::GraphImport;
use super::records::{ImportError, Located, Location, Position, Stop};
use super::writer::{Summary, Writer, WriterOptions};
use crate::db::directory::{load_policy, PolicyLoadError};
use crate::db::imports::{self, ImportSource, Totals};
use crate::db::DbConnection;
use chrono::Utc;
use diesel::Connection;
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
    pub reader: Box<dyn BufRead + 'a>,
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

/// Runs the import in one transaction.
pub fn run(
    conn: &mut DbConnection,
    request: &ImportRequest,
    files: Vec<ImportFile<'_>>,
) -> Result<ImportOutcome, Stop> {
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    run_with(conn, request, &names.join(", "), |writer| {
        let mut graph = GraphImport::new();
        for file in files {
            let mut sink = |record| writer.push(record);
            match request.kind {
                ImportKind::File(kind) => {
                    format::read_file(kind, &file.name, file.reader, &mut sink)?
                }
                ImportKind::Graph => graph.read_file(&file.name, file.reader, &mut sink)?,
            }
            writer.end_file()?;
        }
        graph.finish(&mut |record| writer.push(record))
    })
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
    conn.transaction(|conn| {
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
        imports::finish(
            conn,
            import_id,
            totals,
            summary.to_string().trim_end(),
            Utc::now().naive_utc(),
        )?;
        Ok(ImportOutcome {
            import_id,
            summary,
            records,
            seconds: started.elapsed().as_secs_f64(),
        })
    })
}
