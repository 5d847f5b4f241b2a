//! What every page's frame shows: title, breadcrumb, the active navigation
//! entry, the signed-in account and the "Last refreshed" time.

use super::principal::Viewer;
use chrono::NaiveDateTime;

/// Prefix of a flash that reports a refusal rather than a success.
pub const FLASH_ERROR: &str = "error:";

/// The navigation entries: (key, href, label).
pub const NAV: [(&str, &str, &str); 9] = [
    ("overview", "/", "Overview"),
    ("trends", "/trends", "Trends"),
    ("usage", "/usage", "Usage"),
    ("registrations", "/registrations", "Registration details"),
    ("activity", "/activity", "Reset details"),
    (
        "registration-activity",
        "/reports/registration-activity",
        "Registration activity",
    ),
    (
        "reset-activity",
        "/reports/reset-activity",
        "Reset activity",
    ),
    ("subscriptions", "/subscriptions", "Subscriptions"),
    ("admin", "/admin", "Admin"),
];

pub struct Crumb {
    pub label: String,
    pub href: Option<String>,
}

/// The signed-in account in the top bar, with what its sign-out form needs.
pub struct AccountBar {
    pub username: String,
    pub role: &'static str,
    pub csrf: String,
    pub admin: bool,
}

pub struct Layout {
    pub title: String,
    /// Key of the active navigation entry.
    pub nav: &'static str,
    pub breadcrumb: Vec<Crumb>,
    pub account: Option<AccountBar>,
    /// False on the sign-in pages, which show no navigation.
    pub show_nav: bool,
    /// A one-time notice ("Policy saved …").
    pub flash: Option<String>,
    /// Newest data change, when known.
    pub last_refreshed: Option<NaiveDateTime>,
}

impl Layout {
    /// A page of the Admin area, under Admin in the breadcrumb.
    pub fn admin(title: &str, viewer: &Viewer) -> Layout {
        if title == "Admin" {
            Layout::page(title, "admin").signed(viewer)
        } else {
            Layout::child(title, "admin", ("Admin", "/admin")).signed(viewer)
        }
    }

    /// A page under Home: `Home › title`.
    pub fn page(title: impl Into<String>, nav: &'static str) -> Layout {
        let title = title.into();
        Layout {
            breadcrumb: vec![
                Crumb {
                    label: "Home".into(),
                    href: Some("/".into()),
                },
                Crumb {
                    label: title.clone(),
                    href: None,
                },
            ],
            title,
            nav,
            account: None,
            show_nav: true,
            flash: None,
            last_refreshed: None,
        }
    }

    /// A page without navigation, for someone not signed in (or not yet allowed in).
    pub fn bare(title: impl Into<String>) -> Layout {
        let title = title.into();
        Layout {
            breadcrumb: Vec::new(),
            title,
            nav: "",
            account: None,
            show_nav: false,
            flash: None,
            last_refreshed: None,
        }
    }

    /// Shows the signed-in account, its sign-out form and its pending notice.
    pub fn signed(mut self, viewer: &Viewer) -> Layout {
        self.account = Some(AccountBar {
            username: viewer.username.clone(),
            role: viewer.role.display_name(),
            csrf: viewer.csrf.clone(),
            admin: viewer.is_admin(),
        });
        self.flash = viewer.flash.clone();
        self
    }

    /// A page under a parent page: `Home › parent › title`.
    pub fn child(title: impl Into<String>, nav: &'static str, parent: (&str, &str)) -> Layout {
        let mut layout = Layout::page(title, nav);
        layout.breadcrumb.insert(
            1,
            Crumb {
                label: parent.0.into(),
                href: Some(parent.1.into()),
            },
        );
        layout
    }

    pub fn refreshed(mut self, at: NaiveDateTime) -> Layout {
        self.last_refreshed = Some(at);
        self
    }

    /// The navigation: Admin only for a Global Administrator.
    pub fn nav_items(&self) -> Vec<&'static (&'static str, &'static str, &'static str)> {
        let admin = self.account.as_ref().is_some_and(|a| a.admin);
        NAV.iter()
            .filter(|(key, _, _)| *key != "admin" || admin)
            .collect()
    }

    /// The pending notice when it reports a success.
    pub fn flash_notice(&self) -> Option<&str> {
        self.flash
            .as_deref()
            .filter(|f| !f.starts_with(FLASH_ERROR))
    }

    /// The pending notice when it reports a refusal.
    pub fn flash_error(&self) -> Option<&str> {
        self.flash
            .as_deref()
            .and_then(|f| f.strip_prefix(FLASH_ERROR))
    }

    pub fn refreshed_text(&self) -> String {
        self.last_refreshed
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_default()
    }

    pub fn refreshed_iso(&self) -> String {
        self.last_refreshed
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default()
    }
}

/// A 303 to `location`: where a form that changed something sends the browser.
pub fn see_other(location: &str) -> actix_web::HttpResponse {
    actix_web::HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location))
        .finish()
}
