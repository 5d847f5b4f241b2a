//! The outbox's changes an administrator makes: Retry now.

use super::{refused, ServiceResult};
use crate::db::outbox::{self, NotRetried, OutboxEntry};
use crate::db::{self, audit, DbConnection};

/// Makes message `id` due now (a failed one pending again, for one more
/// attempt), on behalf of `actor`, with its audit row; refused when the
/// message does not exist, was sent, or is being sent this moment.
pub fn retry_now(conn: &mut DbConnection, actor: &str, id: i64) -> ServiceResult<OutboxEntry> {
    db::write(conn, |conn| {
        let now = chrono::Utc::now().naive_utc();
        let entry = match outbox::retry_now(conn, id, now)? {
            Ok(entry) => entry,
            Err(NotRetried::NotFound) => return refused(format!("There is no message {id}.")),
            Err(NotRetried::AlreadySent) => {
                return refused(format!("Message {id} was sent already; it is not sent again."))
            }
            Err(NotRetried::BeingSent) => {
                return refused(format!(
                    "Message {id} is being sent this moment; its result shows here when the attempt ends."
                ))
            }
        };
        audit::record(
            conn,
            actor,
            "Delivery retried",
            &format!("message {} ({})", entry.id, entry.origin),
            &format!(
                "{} to {}: {}",
                entry.channel.key(),
                entry.destination,
                entry.subject
            ),
        )?;
        Ok(entry)
    })
}
