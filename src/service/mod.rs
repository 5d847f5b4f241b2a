//! Every change of the portal's state, in one place: the web handlers and
//! the command line call these functions and nothing else to change
//! anything. Each runs as one transaction that includes its audit-trail row
//! ([`crate::db::write`]: the writers' lock first, so concurrent writers on
//! any number of instances run one after another), so a change is never
//! made without its audit row, nor an audit row written for a change that
//! was not made.

pub mod accounts;
pub mod api_keys;
pub mod imports;
pub mod outbox;
pub mod policy;
pub mod retention;
pub mod sessions;
pub mod subscriptions;
pub mod syncs;

use std::fmt;

/// Why a change was not made.
#[derive(Debug)]
pub enum ServiceError {
    /// The change is not allowed; the text says why.
    Refused(String),
    Database(crate::db::DbError),
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceError::Refused(m) => f.write_str(m),
            ServiceError::Database(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for ServiceError {}

impl From<crate::db::DbError> for ServiceError {
    fn from(e: crate::db::DbError) -> Self {
        ServiceError::Database(e)
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

pub(crate) fn refused<T>(message: impl Into<String>) -> ServiceResult<T> {
    Err(ServiceError::Refused(message.into()))
}
