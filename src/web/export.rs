//! CSV downloads of the lists: every matching row, streamed.
//!
//! A download reads its rows in blocks on a blocking thread, inside one
//! read-only transaction (one consistent snapshot of the data however long
//! the download takes), writes each block as CSV and hands it to the
//! response through a small bounded channel: memory holds a few blocks
//! whatever the number of rows, and a slow client slows the reading. The
//! query is checked before anything is sent, so bad parameters get a 400
//! page, never a file. Should the database fail part way, the response is
//! cut off without its final chunk, so the client reports a failed download
//! rather than keeping a file that looks complete.
//!
//! Downloads hold a database connection for as long as they stream, so they
//! have a share of the pool of their own (half of it unless configured): a
//! download beyond it gets a 503 with `Retry-After` at once, and pages, the
//! API and sign-in keep the other connections however slowly the downloads
//! are read. A download whose client reads nothing for the idle timeout is
//! cut off, so a stalled reader cannot keep its connection either.
//!
//! Files are UTF-8 with a byte-order mark (spreadsheets then read non-ASCII
//! names correctly), RFC 4180 (CRLF line ends, fields quoted when they hold a
//! comma, quote or line break, quotes doubled), with a header row.
//!
//! Spreadsheet formula injection: a cell that begins with `=`, `+`, `-`, `@`,
//! a tab or a carriage return is written with a leading apostrophe (`'`), so
//! spreadsheets show it as text instead of evaluating it.

use super::AppState;
use crate::db::DbConnection;
use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::web::Bytes;
use actix_web::HttpResponse;
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Rows per block handed to the response.
pub const BLOCK_ROWS: usize = 5_000;
/// Blocks queued between the reader and the response.
const BLOCKS_IN_FLIGHT: usize = 4;

/// Makes a cell safe to open in a spreadsheet: see the module documentation.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// The file name of a download: the report and the day (UTC).
pub fn file_name(report: &str, today: chrono::NaiveDate) -> String {
    format!("{report}-{}.csv", today.format("%Y-%m-%d"))
}

/// Writes rows of cells as CSV into a buffer.
pub struct CsvBlock {
    writer: csv::Writer<Vec<u8>>,
}

/// The UTF-8 byte-order mark that starts every file.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

impl CsvBlock {
    pub fn new() -> CsvBlock {
        CsvBlock::starting_with(Vec::with_capacity(256 * 1024))
    }

    fn starting_with(buffer: Vec<u8>) -> CsvBlock {
        CsvBlock {
            writer: csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(buffer),
        }
    }

    pub fn row<'c>(&mut self, cells: impl IntoIterator<Item = &'c str>) -> csv::Result<()> {
        self.writer
            .write_record(cells.into_iter().map(|c| match neutralise(c) {
                Cow::Borrowed(c) => Cow::Borrowed(c.as_bytes()),
                Cow::Owned(c) => Cow::Owned(c.into_bytes()),
            }))
    }

    pub fn into_bytes(self) -> Result<Bytes, ExportError> {
        self.writer
            .into_inner()
            .map(Bytes::from)
            .map_err(|e| ExportError::Csv(e.to_string()))
    }
}

impl Default for CsvBlock {
    fn default() -> Self {
        CsvBlock::new()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("database: {0}")]
    Database(#[from] crate::db::DbError),
    #[error("database pool: {0}")]
    Pool(#[from] crate::db::PoolError),
    #[error("csv: {0}")]
    Csv(String),
    #[error("the client closed the connection")]
    ClientGone,
    #[error("the client read nothing for {0:?}")]
    ClientStalled(Duration),
}

impl From<csv::Error> for ExportError {
    fn from(e: csv::Error) -> Self {
        ExportError::Csv(e.to_string())
    }
}

/// Where a download writes its rows: blocks of CSV handed to the response,
/// or (a subscription's file) one buffer.
pub struct Sink {
    block: CsvBlock,
    rows: usize,
    target: Target,
}

enum Target {
    /// The response's channel; a block waits at most `idle` for room.
    Stream {
        tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
        idle: Duration,
    },
    /// The file in memory up to `max_bytes` (beyond, only its size is
    /// kept), and the first `keep` rows' cells besides.
    Collect {
        file: Vec<u8>,
        size: u64,
        max_bytes: usize,
        rows: u64,
        first: Vec<Vec<String>>,
        keep: usize,
    },
}

impl Sink {
    /// Writes one row; sends the block when it is full.
    pub fn row<'c>(&mut self, cells: impl IntoIterator<Item = &'c str>) -> Result<(), ExportError> {
        if let Target::Collect {
            rows, first, keep, ..
        } = &mut self.target
        {
            *rows += 1;
            if first.len() < *keep {
                let cells: Vec<&str> = cells.into_iter().collect();
                first.push(cells.iter().map(|c| c.to_string()).collect());
                self.block.row(cells)?;
                return self.full();
            }
        }
        self.block.row(cells)?;
        self.full()
    }

    fn full(&mut self) -> Result<(), ExportError> {
        self.rows += 1;
        if self.rows >= BLOCK_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ExportError> {
        let bytes = std::mem::take(&mut self.block).into_bytes()?;
        self.rows = 0;
        match &mut self.target {
            Target::Stream { tx, idle } => send_within(tx, Ok(bytes), *idle),
            Target::Collect {
                file,
                size,
                max_bytes,
                ..
            } => {
                *size += bytes.len() as u64;
                if *size <= *max_bytes as u64 {
                    file.extend_from_slice(&bytes);
                } else {
                    // Too large to keep: memory stays flat, the size is known.
                    *file = Vec::new();
                }
                Ok(())
            }
        }
    }
}

/// What a view's download writes: its file name, header and rows. The
/// download and a subscription's file are made by the same [`Export`], so
/// they are the same bytes for the same data.
pub struct Export {
    pub name: String,
    pub header: &'static [&'static str],
    pub produce: Produce,
}

/// Writes a view's rows, reading inside one snapshot.
pub type Produce = Box<dyn FnOnce(&mut DbConnection, &mut Sink) -> Result<(), ExportError> + Send>;

/// A view's file, with its size, row count and first rows.
#[derive(Debug, Clone)]
pub struct Collected {
    pub name: String,
    pub header: &'static [&'static str],
    /// The whole file when it is at most the `max_bytes` asked for.
    pub file: Option<Vec<u8>>,
    pub size: u64,
    pub rows: u64,
    pub first: Vec<Vec<String>>,
}

/// Makes the file a download of `export` would be (byte for byte) inside one
/// snapshot: kept in memory when it is at most `max_bytes`, otherwise only
/// measured; the cells of the first `keep` rows are kept besides.
pub fn collect(
    conn: &mut DbConnection,
    export: Export,
    max_bytes: usize,
    keep: usize,
) -> Result<Collected, ExportError> {
    let mut sink = Sink {
        block: CsvBlock::starting_with(BOM.to_vec()),
        rows: 0,
        target: Target::Collect {
            file: Vec::new(),
            size: 0,
            max_bytes,
            rows: 0,
            first: Vec::new(),
            keep,
        },
    };
    sink.block.row(export.header.iter().copied())?;
    let produce = export.produce;
    crate::db::snapshot(conn, |conn| produce(conn, &mut sink))?;
    sink.flush()?;
    match sink.target {
        Target::Collect {
            file,
            size,
            max_bytes,
            rows,
            first,
            ..
        } => Ok(Collected {
            name: export.name,
            header: export.header,
            file: (size <= max_bytes as u64).then_some(file),
            size,
            rows,
            first,
        }),
        Target::Stream { .. } => Err(ExportError::Csv("a collected file streamed".into())),
    }
}

/// Hands a block to the response, waiting at most `idle` for the client to
/// read what is queued. The wait polls with a short, growing sleep: the
/// thread is a blocking one already, and a queue of several blocks keeps the
/// client busy meanwhile.
fn send_within(
    tx: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    item: Result<Bytes, std::io::Error>,
    idle: Duration,
) -> Result<(), ExportError> {
    use tokio::sync::mpsc::error::TrySendError;
    let deadline = Instant::now() + idle;
    let mut item = item;
    let mut pause = Duration::from_millis(1);
    loop {
        match tx.try_send(item) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(_)) => return Err(ExportError::ClientGone),
            Err(TrySendError::Full(back)) => {
                if Instant::now() >= deadline {
                    return Err(ExportError::ClientStalled(idle));
                }
                item = back;
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
        }
    }
}

/// Starts a download named `name` (see [`file_name`]): the header, then the
/// rows `produce` writes, reading from the database inside one snapshot. A
/// 503 with `Retry-After` when the downloads' share of the pool is taken.
pub fn download(state: &AppState, export: Export) -> HttpResponse {
    let Export {
        name,
        header,
        produce,
    } = export;
    let Ok(place) = state.downloads.clone().try_acquire_owned() else {
        return HttpResponse::ServiceUnavailable()
            .insert_header((actix_web::http::header::RETRY_AFTER, RETRY_AFTER_SECONDS))
            .insert_header(("Cache-Control", "no-store"))
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "Too many downloads are running at once; try again in {RETRY_AFTER_SECONDS} seconds.\n"
            ));
    };
    // Streaming until both the reader and the response are done with it:
    // the rows read, or the client gone (the stream is then dropped).
    let in_flight = Arc::new(state.metrics.download_started());
    let reading = in_flight.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(BLOCKS_IN_FLIGHT);
    let pool = state.pool.clone();
    let idle = state.settings.downloads.idle;
    let file = name.clone();
    // Set once every row is queued; a stream that ends without it was cut
    // off, and says so to the client instead of ending like a whole file.
    let complete = Arc::new(AtomicBool::new(false));
    let completed = complete.clone();
    actix_web::rt::task::spawn_blocking(move || {
        let _place = place;
        let _reading = reading;
        let mut sink = Sink {
            block: CsvBlock::starting_with(BOM.to_vec()),
            rows: 0,
            target: Target::Stream { tx, idle },
        };
        let sent = (|| -> Result<(), ExportError> {
            sink.block.row(header.iter().copied())?;
            let mut conn = pool.get()?;
            crate::db::snapshot(&mut conn, |conn| produce(conn, &mut sink))?;
            sink.flush()
        })();
        match sent {
            Ok(()) => completed.store(true, Ordering::Release),
            Err(ExportError::ClientGone) => {}
            Err(e @ ExportError::ClientStalled(_)) => {
                tracing::warn!("CSV download {file} cut off: {e}");
            }
            Err(e) => {
                tracing::error!("CSV download {file} failed part way: {e}");
                if let Target::Stream { tx, idle } = &sink.target {
                    let _ = send_within(tx, Err(std::io::Error::other(e.to_string())), *idle);
                }
            }
        }
    });
    let body = futures_util::stream::unfold(Some(rx), move |rx| {
        let _in_flight = &in_flight;
        let complete = complete.clone();
        async move {
            let mut rx = rx?;
            match rx.recv().await {
                Some(item) => Some((item, Some(rx))),
                None if complete.load(Ordering::Acquire) => None,
                None => Some((Err(std::io::Error::other("the download was cut off")), None)),
            }
        }
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(name)],
        })
        .insert_header(("Cache-Control", "no-store"))
        .streaming(body)
}

/// What a download refused for want of a place asks the client to wait.
const RETRY_AFTER_SECONDS: u64 = 5;
