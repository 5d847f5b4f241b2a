//! One import's reading side: files of one kind read in order on a thread
//! of their own, their records handed on in chunks. Storing them, in one
//! transaction, is `service::imports`. The first bad record stops it and
//! nothing of it is stored.

use super::format::{self, FileKind};
use super::graph::GraphImport;
use super::records::{Located, Stop, Warnings};
use super::writer::{Summary, WriterOptions};
use crate::db::imports::ImportSource;
use std::io::BufRead;

/// What the files hold: one kind of our format, or Microsoft Graph exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    File(FileKind),
    Graph,
}

impl ImportKind {
    pub const KEYS: [&'static str; 8] = [
        "users",
        "groups",
        "members",
        "methods",
        "activities",
        "sign-ins",
        "sign-in-methods",
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
    /// Refuse a value the import does not know rather than keep it with a
    /// warning (`--strict`).
    pub strict: bool,
}

/// What only some imports ask for.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportExtras {
    /// Read and store everything, report what it did, then roll it all back.
    pub dry_run: bool,
    /// Graph: leave out audit flows that began before this (an incremental
    /// pull of the audit log; see `GraphImport::flows_from`).
    pub flows_from: Option<chrono::NaiveDateTime>,
}

/// A finished import.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    pub import_id: i64,
    pub summary: Summary,
    /// Values kept although unknown.
    pub warnings: Warnings,
    pub records: u64,
    pub seconds: f64,
}

/// Records handed from the reading thread to the writer at a time.
const CHUNK: usize = 1_024;

/// What the reading thread sends the writer.
pub enum Feed {
    Records(Vec<Located>),
    EndOfFile,
}

/// The reading thread: parses every file in order and sends its records;
/// returns early (with `Ok`) when the writer has hung up.
pub fn read_all(
    kind: ImportKind,
    strict: bool,
    extras: ImportExtras,
    files: Vec<ImportFile<'_>>,
    tx: std::sync::mpsc::SyncSender<Feed>,
) -> Result<(), Stop> {
    let mut graph = GraphImport::new()
        .strict(strict)
        .flows_from(extras.flows_from);
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
