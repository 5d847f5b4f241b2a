//! `/`: the overview blade.

use super::error::AppResult;
use super::{percent, thousands, AppState};
use crate::db::overview::{last_refreshed, status_totals, StatusTotals};
use actix_web::{get, web, HttpResponse};
use askama::Template;

pub struct Tile {
    pub title: &'static str,
    pub count: String,
    pub share: String,
    pub href: &'static str,
    pub note: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    pub backend: &'static str,
    pub last_refreshed: String,
    pub total_users: String,
    pub tiles: Vec<Tile>,
}

impl OverviewPage {
    fn new(t: StatusTotals, backend: &'static str, last_refreshed: String) -> Self {
        let tile = |title, n: i64, href, note: String| Tile {
            title,
            count: thousands(n),
            share: percent(n, t.users),
            href,
            note,
        };
        OverviewPage {
            backend,
            last_refreshed,
            total_users: thousands(t.users),
            tiles: vec![
                tile(
                    "Users registered",
                    t.registered,
                    "/registrations?registered=yes",
                    format!(
                        "{} enabled users are not registered",
                        thousands(t.enabled_not_registered)
                    ),
                ),
                tile(
                    "Users enabled",
                    t.enabled,
                    "/registrations?enabled=yes",
                    format!(
                        "{} registered users are not enabled",
                        thousands(t.registered_not_enabled)
                    ),
                ),
                tile(
                    "Users capable",
                    t.capable,
                    "/registrations?capable=yes",
                    format!("{} users are not capable", thousands(t.users - t.capable)),
                ),
            ],
        }
    }
}

#[get("/")]
pub async fn overview(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let (totals, refreshed) = state
        .db(|conn| Ok((status_totals(conn)?, last_refreshed(conn)?)))
        .await?;
    let page = OverviewPage::new(
        totals,
        state.backend,
        refreshed.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}
