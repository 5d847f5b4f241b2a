//! `POST /api/v1/events`: live events from an identity provider's hook or a
//! script, with an API key holding the ingest scope.
//!
//! The body is `{"activities": [ … ]}`, each activity in the JSON form of the
//! import format (docs/import-format.md) with its method events. The whole
//! batch is checked first — every bad record is named in one 400 answer —
//! and then stored in one transaction with the per-user status and the
//! counts, so the next page load shows it. Ids make it idempotent: a batch
//! sent twice stores nothing the second time.

use super::auth::Principal;
use super::error::error_response;
use super::error::AppError;
use super::AppState;
use crate::db::imports::ImportSource;
use crate::ingest::format::activity_from_json;
use crate::ingest::format::FileKind;
use crate::ingest::import::{ImportKind, ImportRequest};
use crate::ingest::records::{Identity, Located, Location, Position, Record, Stop};
use crate::ingest::writer::{Tally, WriterOptions};
use crate::metrics::Outcome;
use crate::web::auth;
use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{post, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashSet;

/// The largest body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// The most activities one batch may hold.
pub const MAX_ACTIVITIES: usize = 10_000;

/// One bad record of a batch.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct BadRecord {
    /// Position in `activities`, from 0.
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub field: String,
    pub reason: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Counts {
    inserted: u64,
    skipped: u64,
}

impl From<Tally> for Counts {
    fn from(t: Tally) -> Self {
        Counts {
            inserted: t.inserted,
            skipped: t.skipped,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    import_id: i64,
    received: usize,
    activities: Counts,
    method_events: Counts,
    registered_methods_added: u64,
}

fn too_large(message: String) -> HttpResponse {
    HttpResponse::build(StatusCode::PAYLOAD_TOO_LARGE).json(json!({
        "error": { "code": "payload_too_large", "message": message }
    }))
}

fn bad_request(message: impl Into<String>) -> HttpResponse {
    error_response(&AppError::BadRequest(message.into()))
}

fn invalid_records(received: usize, records: Vec<BadRecord>) -> HttpResponse {
    let bad: HashSet<usize> = records.iter().map(|r| r.index).collect();
    HttpResponse::BadRequest().json(json!({
        "error": {
            "code": "invalid_records",
            "message": format!(
                "{} of the {received} activities are invalid; nothing of the batch was stored.",
                bad.len()
            ),
            "records": records,
        }
    }))
}

#[post("/api/v1/events", wrap = "from_fn(auth::api_ingest)")]
pub async fn ingest(
    state: web::Data<AppState>,
    principal: Principal,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let (outcome, events, response) = match receive(&state, principal, req, payload).await {
        Ok((events, response)) => (Outcome::Success, events, response),
        Err(response) if response.status().is_server_error() => (Outcome::Failed, 0, response),
        Err(response) => (Outcome::Rejected, 0, response),
    };
    state.metrics.ingest.record(outcome, events);
    response
}

/// Reads, checks and stores a batch: the method events stored and the
/// answer, or the answer of a batch not stored.
async fn receive(
    state: &AppState,
    principal: Principal,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<(u64, HttpResponse), HttpResponse> {
    // The route's rule already demands the ingest scope; a handler that
    // writes checks its own permission again all the same.
    let key = match principal {
        Principal::Key(key) if key.can_ingest => key,
        _ => {
            return Err(error_response(&AppError::Forbidden(
                "Live ingest needs an API key with the ingest scope.".into(),
            )))
        }
    };
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let limit_message = || {
        format!(
            "The body is larger than {} MiB; send at most {MAX_ACTIVITIES} activities per batch.",
            MAX_BODY_BYTES / (1024 * 1024)
        )
    };
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(too_large(limit_message()));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            return Err(bad_request("The body could not be read."));
        };
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large(limit_message()));
        }
        body.extend_from_slice(&chunk);
    }
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return Err(bad_request(format!("The body is not valid JSON: {e}."))),
    };
    let Some(items) = value.get("activities").and_then(Value::as_array) else {
        return Err(bad_request(
            "The body must be a JSON object with an \"activities\" list: {\"activities\": [ … ]}.",
        ));
    };
    if let Some(other) = value
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "activities"))
    {
        return Err(bad_request(format!(
            "Unknown top-level field \"{other}\": the body holds \"activities\" only."
        )));
    }
    if items.len() > MAX_ACTIVITIES {
        return Err(too_large(format!(
            "The batch holds {} activities; send at most {MAX_ACTIVITIES} per batch.",
            items.len()
        )));
    }
    let received = items.len();
    let (records, mut bad) = check_batch(items);
    let request = ImportRequest {
        kind: ImportKind::File(FileKind::Activities),
        source: ImportSource::Api,
        actor: format!("API key '{}'", key.name),
        options: WriterOptions {
            bulk: false,
            register_on_success: true,
        },
        strict: false,
    };
    let outcome = state
        .db(move |conn| {
            let user_ids: Vec<&str> = records
                .iter()
                .filter_map(|l| match &l.record {
                    Record::Activity(a, _) => a.activity.user_id.as_deref(),
                    _ => None,
                })
                .collect();
            let known = crate::db::users::existing_ids(conn, &user_ids)?;
            let unknown = records.iter().filter_map(|l| {
                let index = batch_index(&l.at);
                match &l.record {
                    Record::Activity(a, _) => a
                        .activity
                        .user_id
                        .as_ref()
                        .filter(|id| !known.contains(*id))
                        .map(|id| BadRecord {
                            index,
                            id: Some(a.activity.id.clone()),
                            field: "user_id".into(),
                            reason: format!("unknown user \"{id}\""),
                        }),
                    _ => None,
                }
            });
            // Every bad record in one answer, in batch order.
            bad.extend(unknown);
            if !bad.is_empty() {
                bad.sort_by_key(|b| b.index);
                return Ok(Err(bad));
            }
            match crate::service::imports::ingest(conn, &request, "POST /api/v1/events", records) {
                Ok(done) => Ok(Ok(done)),
                Err(Stop::Database(e)) => Err(e.into()),
                Err(Stop::Cancelled) => Err(AppError::Internal("the ingest stopped".into())),
                Err(Stop::Invalid(e)) => {
                    let index = batch_index(&e.at);
                    Ok(Err(vec![BadRecord {
                        index,
                        id: None,
                        field: e.field.unwrap_or_default(),
                        reason: e.reason,
                    }]))
                }
            }
        })
        .await;
    match outcome {
        Ok(Ok(done)) => Ok((
            done.summary.events.inserted,
            HttpResponse::Ok().json(Stored {
                import_id: done.import_id,
                received,
                activities: done.summary.activities.into(),
                method_events: done.summary.events.into(),
                registered_methods_added: done.summary.methods.inserted,
            }),
        )),
        Ok(Err(bad)) => Err(invalid_records(received, bad)),
        Err(e) => Err(error_response(&e)),
    }
}

/// The place in `activities` (from 0) of a record located by [`check_batch`].
fn batch_index(at: &Location) -> usize {
    match at.position {
        Position::Record(n) => n.saturating_sub(1) as usize,
        _ => 0,
    }
}

/// Parses every activity and checks the batch's own rules (ids distinct);
/// returns the records, or every problem found.
fn check_batch(items: &[Value]) -> (Vec<Located>, Vec<BadRecord>) {
    let mut records = Vec::with_capacity(items.len());
    let mut bad = Vec::new();
    let mut activity_ids = HashSet::new();
    let mut event_ids = HashSet::new();
    for (index, item) in items.iter().enumerate() {
        let id = item.get("id").and_then(Value::as_str).map(str::to_string);
        match activity_from_json(item) {
            Ok(record) => {
                if !activity_ids.insert(record.activity.id.clone()) {
                    bad.push(BadRecord {
                        index,
                        id,
                        field: "id".into(),
                        reason: "this activity id is given twice in the batch".into(),
                    });
                    continue;
                }
                if let Some((i, e)) = record
                    .events
                    .iter()
                    .enumerate()
                    .find(|(_, e)| !event_ids.insert(e.id.clone()))
                {
                    bad.push(BadRecord {
                        index,
                        id,
                        field: format!("events[{i}].id"),
                        reason: format!("event id \"{}\" is given twice in the batch", e.id),
                    });
                    continue;
                }
                if let Some(reason) = future_time(&record) {
                    bad.push(BadRecord {
                        index,
                        id,
                        field: "occurred_at".into(),
                        reason,
                    });
                    continue;
                }
                records.push(Located {
                    at: Location {
                        file: "activities".into(),
                        position: Position::Record(index as u64 + 1),
                    },
                    record: Record::Activity(record, Identity::Given),
                });
            }
            Err((field, reason)) => bad.push(BadRecord {
                index,
                id,
                field,
                reason,
            }),
        }
    }
    (records, bad)
}

/// Live events cannot come from the future (a clock more than five minutes
/// ahead is a sender's mistake the charts would carry for days).
fn future_time(record: &crate::ingest::records::ActivityRecord) -> Option<String> {
    let limit = chrono::Utc::now().naive_utc() + chrono::Duration::minutes(5);
    let latest = record
        .events
        .iter()
        .map(|e| e.occurred_at)
        .chain([record.activity.occurred_at])
        .max()?;
    (latest > limit).then(|| {
        format!(
            "{} is in the future; times are UTC (end them in Z or give an offset)",
            latest.format("%Y-%m-%dT%H:%M:%SZ")
        )
    })
}
