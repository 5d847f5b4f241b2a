//! Admin › Imports: upload the files `authinsights import` reads (same
//! validation, one transaction), see the result, the recent imports, and the
//! retention setting. Global Administrators only.

use super::auth::{csrf_form, Admin, Protected};
use super::error::{AppError, AppResult};
use super::layout::{see_other, Layout};
use super::{html, thousands, AppState};
use crate::accounts::secrets_match;
use crate::db::imports::{self, ImportRow, ImportSource};
use crate::db::{retention, sessions};
use crate::ingest::format::FileKind;
use crate::ingest::import::{ImportFile, ImportKind, ImportRequest};
use crate::ingest::records::{ImportError, Stop, Warnings};
use crate::ingest::writer::{Summary, WriterOptions};
use crate::metrics::Outcome;
use crate::web::auth;
use actix_multipart::form::tempfile::TempFile;
use actix_multipart::form::text::Text;
use actix_multipart::form::MultipartForm;
use actix_web::http::StatusCode;
use actix_web::middleware::from_fn;
use actix_web::{get, post, web, HttpResponse};
use askama::Template;

/// Recent imports listed on the page.
const RECENT: i64 = 20;

pub struct KindChoice {
    pub key: &'static str,
    pub label: &'static str,
}

fn kinds() -> Vec<KindChoice> {
    let label = |k: ImportKind| match k {
        ImportKind::File(FileKind::Users) => "Users (CSV or JSON lines)",
        ImportKind::File(FileKind::Groups) => "Groups",
        ImportKind::File(FileKind::Members) => "Group members",
        ImportKind::File(FileKind::Methods) => "Registered methods",
        ImportKind::File(FileKind::Activities) => "Activities with their method events",
        ImportKind::File(FileKind::SignIns) => "Daily sign-ins by authentication requirement",
        ImportKind::File(FileKind::SignInMethods) => "Daily sign-ins per authentication method",
        ImportKind::Graph => "Microsoft Graph exports (JSON pages or JSON lines)",
    };
    ImportKind::KEYS
        .iter()
        .filter_map(|k| ImportKind::from_key(k))
        .map(|k| KindChoice {
            key: k.key(),
            label: label(k),
        })
        .collect()
}

pub struct ImportLine {
    pub id: i64,
    pub finished: String,
    pub source: String,
    pub actor: String,
    pub kind: String,
    pub files: String,
    pub inserted: String,
    pub updated: String,
    pub skipped: String,
}

impl From<ImportRow> for ImportLine {
    fn from(r: ImportRow) -> Self {
        ImportLine {
            id: r.id,
            finished: r.finished_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            source: r.source,
            actor: r.actor,
            kind: r.kind,
            files: r.files,
            inserted: thousands(r.inserted),
            updated: thousands(r.updated),
            skipped: thousands(r.skipped),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/imports.html")]
struct ImportsPage {
    layout: Layout,
    csrf: String,
    kinds: Vec<KindChoice>,
    retention_days: i32,
    min_days: i32,
    max_days: i32,
    recent: Vec<ImportLine>,
}

#[get("/admin/imports", wrap = "from_fn(auth::admin)")]
pub async fn imports_page(state: web::Data<AppState>, admin: Admin) -> AppResult<HttpResponse> {
    let (days, recent) = state
        .db(|conn| {
            Ok((
                retention::retention_days(conn)?,
                imports::recent(conn, RECENT)?,
            ))
        })
        .await?;
    html(ImportsPage {
        layout: Layout::admin("Imports", &admin.0),
        csrf: admin.0.csrf.clone(),
        kinds: kinds(),
        retention_days: days,
        min_days: retention::MIN_DAYS,
        max_days: retention::MAX_DAYS,
        recent: recent.into_iter().map(ImportLine::from).collect(),
    })
}

/// Uploads up to 4 GiB in all, spooled to temporary files (not memory); a
/// form that is not a multipart upload gets a 400 page that says so.
pub fn upload_config() -> actix_multipart::form::MultipartFormConfig {
    actix_multipart::form::MultipartFormConfig::default()
        .total_limit(4 * 1024 * 1024 * 1024)
        .memory_limit(1024 * 1024)
        .error_handler(|e, _req| {
            AppError::BadPageRequest {
                message: format!("The upload could not be read: {e}."),
                page: "/admin/imports",
            }
            .into()
        })
}

#[derive(MultipartForm)]
pub struct UploadForm {
    csrf: Option<Text<String>>,
    kind: Option<Text<String>>,
    /// "on" when checked: refuse unknown values instead of warning.
    strict: Option<Text<String>>,
    #[multipart(limit = "4 GiB")]
    files: Vec<TempFile>,
}

pub struct SummaryLine {
    pub name: &'static str,
    pub inserted: String,
    pub updated: String,
    pub removed: String,
    pub skipped: String,
}

/// The kinds the import had records of (all six when it had none).
fn summary_lines(s: &Summary) -> Vec<SummaryLine> {
    let any = s.rows().iter().any(|(_, t)| *t != Default::default());
    s.rows()
        .into_iter()
        .filter(|(_, t)| !any || *t != Default::default())
        .map(|(name, t)| SummaryLine {
            name,
            inserted: thousands(t.inserted as i64),
            updated: thousands(t.updated as i64),
            removed: thousands(t.removed as i64),
            skipped: thousands(t.skipped as i64),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "admin/import_result.html")]
struct ResultPage {
    layout: Layout,
    kind: String,
    files: String,
    outcome: Result<(i64, Vec<SummaryLine>, String), ImportError>,
    /// What the import did beyond the table's records.
    notes: Vec<String>,
    warnings: Warnings,
}

#[post("/admin/imports", wrap = "from_fn(auth::admin)")]
pub async fn upload(
    state: web::Data<AppState>,
    admin: Admin,
    form: Result<MultipartForm<UploadForm>, actix_web::Error>,
) -> AppResult<HttpResponse> {
    let form = form
        .map_err(|e| AppError::BadPageRequest {
            message: format!(
                "The upload could not be read ({e}): send the form of Admin › Imports, a multipart/form-data upload."
            ),
            page: "/admin/imports",
        })?
        .into_inner();
    let token = form.csrf.as_ref().map(|t| t.0.as_str()).unwrap_or("");
    if !secrets_match(token, &admin.0.csrf) {
        return Err(AppError::Forbidden(
            "This form has expired or was not sent by this portal; open Admin › Imports again and resend it."
                .into(),
        ));
    }
    let bad = |message: String| AppError::BadPageRequest {
        message,
        page: "/admin/imports",
    };
    let kind_key = form.kind.as_ref().map(|t| t.0.clone()).unwrap_or_default();
    let strict = form.strict.as_ref().is_some_and(|t| t.0 == "on");
    let kind = ImportKind::from_key(&kind_key).ok_or_else(|| {
        bad(format!(
            "Choose what the files hold: one of {}.",
            ImportKind::KEYS.join(", ")
        ))
    })?;
    let files: Vec<(String, std::path::PathBuf, tempfile::NamedTempFile)> = form
        .files
        .into_iter()
        .filter(|f| f.size > 0 || f.file_name.as_deref().is_some_and(|n| !n.is_empty()))
        .map(|f| {
            let name = f
                .file_name
                .as_deref()
                .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).to_string())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "upload".into());
            let path = f.file.path().to_path_buf();
            (name, path, f.file)
        })
        .collect();
    if files.is_empty() {
        return Err(bad("Choose one or more files to import.".into()));
    }
    let names = files
        .iter()
        .map(|(n, _, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let request = ImportRequest {
        kind,
        source: ImportSource::Upload,
        actor: admin.0.username.clone(),
        options: WriterOptions {
            bulk: false,
            register_on_success: false,
        },
        strict,
    };
    let outcome = state
        .db(move |conn| {
            let mut opened = Vec::new();
            for (name, path, _keep) in &files {
                let file = std::fs::File::open(path)
                    .map_err(|e| AppError::Internal(format!("reopening an upload: {e}")))?;
                opened.push(ImportFile {
                    name: name.clone(),
                    reader: Box::new(std::io::BufReader::with_capacity(1 << 16, file)),
                });
            }
            match crate::service::imports::import(conn, &request, opened) {
                Ok(done) => Ok(Ok(done)),
                Err(Stop::Invalid(e)) => Ok(Err(e)),
                Err(Stop::Database(e)) => Err(e.into()),
                Err(Stop::Cancelled) => Err(AppError::Internal("the import stopped".into())),
            }
        })
        .await;
    let runs = &state.metrics.imports;
    match &outcome {
        Ok(Ok(done)) => runs.record(Outcome::Success, done.records),
        Ok(Err(_)) => runs.record(Outcome::Rejected, 0),
        Err(_) => runs.record(Outcome::Failed, 0),
    }
    let outcome = outcome?;
    let failed = outcome.is_err();
    let warnings = outcome
        .as_ref()
        .map(|done| done.warnings.clone())
        .unwrap_or_default();
    let notes = outcome
        .as_ref()
        .map(|done| done.summary.notes())
        .unwrap_or_default();
    let page = ResultPage {
        layout: Layout::admin(
            if failed {
                "Import failed"
            } else {
                "Import done"
            },
            &admin.0,
        ),
        kind: kind.key().to_string(),
        files: names,
        outcome: outcome.map(|done| {
            (
                done.import_id,
                summary_lines(&done.summary),
                format!("{:.1} s", done.seconds),
            )
        }),
        notes,
        warnings,
    };
    let status = if failed {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

#[derive(serde::Deserialize)]
pub struct RetentionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    days: String,
}
csrf_form!(RetentionForm);

#[post("/admin/imports/retention", wrap = "from_fn(auth::admin)")]
pub async fn set_retention(
    state: web::Data<AppState>,
    admin: Admin,
    form: Protected<RetentionForm>,
) -> AppResult<HttpResponse> {
    let days: i32 = form
        .0
        .days
        .trim()
        .parse()
        .ok()
        .filter(|d| (retention::MIN_DAYS..=retention::MAX_DAYS).contains(d))
        .ok_or_else(|| AppError::BadPageRequest {
            message: format!(
                "Keep events for a whole number of days from {} to {}.",
                retention::MIN_DAYS,
                retention::MAX_DAYS
            ),
            page: "/admin/imports",
        })?;
    let actor = admin.0.username.clone();
    let session = admin.0.session.clone();
    state
        .db(move |conn| {
            crate::service::retention::set_retention(conn, &actor, days).map_err(|e| match e {
                crate::service::ServiceError::Database(e) => AppError::from(e),
                crate::service::ServiceError::Refused(why) => AppError::Internal(why),
            })?;
            sessions::set_flash(
                conn,
                &session,
                &format!(
                    "Events are kept for {days} days; `authinsights prune` removes older ones."
                ),
            )?;
            Ok(())
        })
        .await?;
    Ok(see_other("/admin/imports"))
}
