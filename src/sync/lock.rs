//! One sync at a time per database, whichever process or instance starts
//! it: on PostgreSQL a session advisory lock held by a connection of its
//! own, on SQLite an advisory lock on a file beside the database. Both end
//! with the process that holds them, so a crash leaves no lock behind.

use crate::db::{DatabaseUrl, DbConnection};
use diesel::prelude::*;
use diesel::sql_types::Bool;
use std::fs::File;

/// The advisory lock's key: "authinsights sync" in a number.
const ADVISORY_KEY: i64 = 0x4155_5448_5359_4e43;

/// Held while a sync runs; dropping it lets the next one start.
pub enum SyncLock {
    Postgres(Box<DbConnection>),
    File(File),
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

impl SyncLock {
    /// The lock, or `None` when another sync holds it.
    pub fn try_acquire(url: &DatabaseUrl) -> anyhow::Result<Option<SyncLock>> {
        match url {
            DatabaseUrl::Sqlite(path) => {
                let mut name = path.as_os_str().to_owned();
                name.push(".sync-lock");
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&name)
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "{}: the sync lock file cannot be opened: {e}",
                            std::path::Path::new(&name).display()
                        )
                    })?;
                match file.try_lock() {
                    Ok(()) => Ok(Some(SyncLock::File(file))),
                    Err(std::fs::TryLockError::WouldBlock) => Ok(None),
                    Err(std::fs::TryLockError::Error(e)) => {
                        Err(anyhow::anyhow!("the sync lock cannot be taken: {e}"))
                    }
                }
            }
            DatabaseUrl::Postgres(_) => {
                let mut conn = url.connect()?;
                let DbConnection::Postgresql(pg) = &mut conn else {
                    anyhow::bail!("a PostgreSQL address gave another kind of connection");
                };
                let got: Locked = diesel::sql_query(format!(
                    "SELECT pg_try_advisory_lock({ADVISORY_KEY}) AS locked"
                ))
                .get_result(pg)?;
                Ok(got.locked.then(|| SyncLock::Postgres(Box::new(conn))))
            }
        }
    }
}
