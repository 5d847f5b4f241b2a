//! `GET /metrics`: the portal's metrics in Prometheus' text format, for an
//! API key with the read scope (docs/operations.md lists every family).
//! What the database knows (the data version, the last successful import,
//! ingest and sync, the outbox's pending and failed messages) is read at each scrape, so every instance on one
//! database shows the same; the rest is this instance's own.

use super::error::error_response;
use super::AppState;
use crate::db::imports::{self, ImportSource};
use crate::db::{counts, outbox, syncs};
use crate::metrics::{StoredState, CONTENT_TYPE};
use crate::web::auth;
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpResponse};
use chrono::NaiveDateTime;

fn unix(at: NaiveDateTime) -> i64 {
    at.and_utc().timestamp()
}

#[get("/metrics", wrap = "from_fn(auth::key_reader)")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let stored = state
        .db(|conn| {
            let (changed_at, version) = counts::data_state(conn)?;
            let mut stored = StoredState {
                data_version: version,
                data_changed_at: unix(changed_at),
                last_sync: syncs::last_succeeded(conn)?.map_or(0, unix),
                ..StoredState::default()
            };
            for (state, n) in outbox::count_unsent(conn)? {
                match state {
                    outbox::State::Pending => stored.notifications_pending = n,
                    outbox::State::Failed => stored.notifications_failed = n,
                    outbox::State::Sent => {}
                }
            }
            (
                stored.subscriptions_active,
                stored.subscriptions_paused,
                stored.alerts_firing,
            ) = crate::db::subscriptions::tally(conn)?;
            for (source, at) in imports::newest_by_source(conn)? {
                let last = match source {
                    ImportSource::CommandLine | ImportSource::Upload => &mut stored.last_import,
                    ImportSource::Api => &mut stored.last_ingest,
                    // A sync's success is its run's, not one resource's.
                    ImportSource::Sync => continue,
                };
                *last = (*last).max(unix(at));
            }
            Ok(stored)
        })
        .await;
    match stored {
        Ok(stored) => HttpResponse::Ok()
            .content_type(CONTENT_TYPE)
            .body(state.metrics.render(stored, state.pool.usage())),
        Err(e) => error_response(&e),
    }
}
