//! What every page's frame shows: title, breadcrumb, the active navigation
//! entry, the signed-in account and the "Last refreshed" time.

use chrono::NaiveDateTime;

/// The navigation entries: (key, href, label).
pub const NAV: [(&str, &str, &str); 6] = [
    ("overview", "/", "Overview"),
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
    ("admin", "/admin", "Admin"),
];

pub struct Crumb {
    pub label: String,
    pub href: Option<String>,
}

pub struct Layout {
    pub title: String,
    /// Key of the active navigation entry.
    pub nav: &'static str,
    pub breadcrumb: Vec<Crumb>,
    pub account: Option<String>,
    /// Newest data change, when known.
    pub last_refreshed: Option<NaiveDateTime>,
}

impl Layout {
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
            last_refreshed: None,
        }
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

    pub fn nav_items(&self) -> &'static [(&'static str, &'static str, &'static str)] {
        &NAV
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
