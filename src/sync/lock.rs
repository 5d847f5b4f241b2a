//! One sync at a time per database, whichever process or instance starts
//! it: on PostgreSQL a session advisory lock held by a connection of its
//! own, on SQLite an advisory lock on a file beside the database. Both end
//! with the process that holds them, so a crash leaves no lock behind.

use crate::db::{syncs, DatabaseUrl, DbConnection};
use std::fs::File;

/// Held while a sync runs; dropping it lets the next one start.
pub enum SyncLock {
    Postgres(Box<DbConnection>),
    File(File),
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
                match syncs::try_sync_lock(&mut conn)? {
                    Some(true) => Ok(Some(SyncLock::Postgres(Box::new(conn)))),
                    Some(false) => Ok(None),
                    None => anyhow::bail!("a PostgreSQL address gave another kind of connection"),
                }
            }
        }
    }
}
