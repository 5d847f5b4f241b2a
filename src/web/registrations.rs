//! `/registrations`: registration details, one row per user.

use super::auth::Viewer;
use super::describe::{minute_utc, system_preferred_text};
use super::error::AppResult;
use super::export::{download, file_name, Export, ExportError, Sink};
use super::forms::{yes_no, yes_no_unknown, Pager, SelectField, UNKNOWN};
use super::layout::Layout;
use super::lists::registrations::{
    list_href, parse_query, second_factor_of, stated_of, tristate_of, PATH, SECOND_FACTOR_FILTERS,
    STATED_FILTERS, STATUS_FILTERS,
};
use super::lists::views::SubscribeLinks;
use super::{html, thousands, user_href, AppState};
use crate::db::cache::CountCache;
use crate::db::models::ListUser;
use crate::db::registrations::{registration_page, RegistrationPage, RegistrationQuery};
use crate::domain::filter::{
    LastUpdated, PagePosition, PageSize, RegistrationFilter, Sort, Stated,
};
use crate::domain::second_factor;
use crate::domain::Method;
use crate::web::auth;
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{NaiveDateTime, Timelike, Utc};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

pub struct Row {
    pub href: String,
    pub name: String,
    pub user_name: String,
    pub registered: &'static str,
    pub enabled: &'static str,
    pub capable: &'static str,
    pub mfa_capable: &'static str,
    pub passwordless_capable: &'static str,
    pub admin: &'static str,
    pub user_type: &'static str,
    pub account_enabled: &'static str,
    pub methods: String,
    pub mfa_registered: &'static str,
    pub default_mfa_method: String,
    pub system_preferred: String,
    pub last_updated: String,
}

/// The columns of the page and of the CSV, in order: the seed's, then what
/// the directory's registration details add.
pub const COLUMNS: [&str; 15] = [
    "Name",
    "User name",
    "Registered",
    "Enabled",
    "Capable",
    "Methods",
    "MFA capable",
    "Passwordless capable",
    "Admin",
    "User type",
    "Account enabled",
    "MFA registered",
    "Default MFA method",
    "System-preferred method",
    "Last updated",
];

impl Row {
    /// The cells in [`COLUMNS`] order, as the page shows them.
    pub fn cells(&self) -> [&str; 15] {
        [
            &self.name,
            &self.user_name,
            self.registered,
            self.enabled,
            self.capable,
            &self.methods,
            self.mfa_capable,
            self.passwordless_capable,
            self.admin,
            self.user_type,
            self.account_enabled,
            self.mfa_registered,
            &self.default_mfa_method,
            &self.system_preferred,
            &self.last_updated,
        ]
    }

    /// The row of a user as the page shows it (a download writes the same
    /// cells through [`CsvTexts`]).
    fn new(u: &ListUser) -> Row {
        let words = Words::of(u);
        Row {
            href: user_href(&u.id),
            name: u.display_name.clone(),
            user_name: u.user_principal_name.clone(),
            registered: words.registered,
            enabled: words.enabled,
            capable: words.capable,
            mfa_capable: words.mfa_capable,
            passwordless_capable: words.passwordless_capable,
            admin: words.admin,
            user_type: words.user_type,
            account_enabled: words.account_enabled,
            methods: methods_text(u),
            mfa_registered: words.mfa_registered,
            default_mfa_method: default_mfa_text(u).into_owned(),
            system_preferred: system_preferred_text(
                u.system_preferred_methods.as_deref(),
                u.is_system_preferred_enabled,
            ),
            last_updated: u.registration_updated_at.map_or(UNKNOWN.into(), minute_utc),
        }
    }
}

/// The cells of a user that are fixed words ("Yes", "Guest", …), for the
/// page's rows and the download's alike.
struct Words {
    registered: &'static str,
    enabled: &'static str,
    capable: &'static str,
    mfa_capable: &'static str,
    passwordless_capable: &'static str,
    admin: &'static str,
    user_type: &'static str,
    account_enabled: &'static str,
    mfa_registered: &'static str,
}

impl Words {
    fn of(u: &ListUser) -> Words {
        let key = u.key();
        Words {
            registered: yes_no(key.status.registered),
            enabled: yes_no(key.status.enabled),
            capable: yes_no(key.status.capable),
            mfa_capable: yes_no(key.status.mfa_capable),
            passwordless_capable: yes_no(key.status.passwordless_capable),
            admin: yes_no(key.is_admin),
            user_type: if key.is_guest { "Guest" } else { "Member" },
            account_enabled: yes_no_unknown(key.account_enabled),
            mfa_registered: yes_no_unknown(u.is_mfa_registered),
        }
    }
}

/// The user's methods as a cell shows them, other methods by their names.
fn methods_text(u: &ListUser) -> String {
    let methods = u.methods();
    if methods.contains(Method::Other) {
        methods.display_naming(&u.other_method_names())
    } else {
        methods.display()
    }
}

fn default_mfa_text(u: &ListUser) -> Cow<'_, str> {
    u.default_mfa_method
        .as_deref()
        .map_or(Cow::Borrowed(UNKNOWN), second_factor::display)
}

/// Writes users as download rows, the cells [`Row`] shows, borrowed where
/// they can be: the texts many users share (methods, system-preferred
/// methods, the minute of the last update) are made once and reused, since a
/// download of a million users would otherwise build each a million times.
#[derive(Default)]
struct CsvTexts {
    methods: HashMap<i32, String>,
    /// (methods as stored, enabled, text): a few combinations in a tenant.
    preferred: Vec<(Option<String>, Option<bool>, String)>,
    minute: Option<(NaiveDateTime, String)>,
}

impl CsvTexts {
    fn write(&mut self, u: &ListUser, sink: &mut Sink) -> Result<(), ExportError> {
        let words = Words::of(u);
        let named;
        let methods_text: &str = if u.methods().contains(Method::Other) {
            named = methods_text(u);
            &named
        } else {
            self.methods
                .entry(u.key().methods_mask)
                .or_insert_with(|| methods_text(u))
        };
        let stored = u.system_preferred_methods.as_deref();
        let enabled = u.is_system_preferred_enabled;
        let known = self
            .preferred
            .iter()
            .position(|(m, e, _)| m.as_deref() == stored && *e == enabled);
        let at = known.unwrap_or_else(|| {
            let text = system_preferred_text(stored, enabled);
            self.preferred
                .push((stored.map(str::to_string), enabled, text));
            self.preferred.len() - 1
        });
        let preferred = self.preferred[at].2.as_str();
        let minute = match u.registration_updated_at {
            None => UNKNOWN,
            Some(t) => {
                let t = t
                    .with_second(0)
                    .unwrap_or(t)
                    .with_nanosecond(0)
                    .unwrap_or(t);
                if self.minute.as_ref().map(|m| m.0) != Some(t) {
                    self.minute = Some((t, minute_utc(t)));
                }
                self.minute.as_ref().map_or(UNKNOWN, |m| m.1.as_str())
            }
        };
        let default_mfa = default_mfa_text(u);
        sink.row([
            u.display_name.as_str(),
            &u.user_principal_name,
            words.registered,
            words.enabled,
            words.capable,
            methods_text,
            words.mfa_capable,
            words.passwordless_capable,
            words.admin,
            words.user_type,
            words.account_enabled,
            words.mfa_registered,
            &default_mfa,
            preferred,
            minute,
        ])
    }
}

pub struct MethodChoice {
    pub key: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

/// A sortable column heading: the link flips or sets the order.
pub struct SortHeading {
    pub label: &'static str,
    pub href: String,
    /// `ascending`, `descending` or `none` (aria-sort).
    pub aria_sort: &'static str,
}

#[derive(Template)]
#[template(path = "registrations.html")]
pub struct RegistrationsPage {
    pub layout: Layout,
    pub selects: Vec<SelectField>,
    pub methods: Vec<MethodChoice>,
    pub q: String,
    pub sort_select: SelectField,
    pub size_select: SelectField,
    pub count: String,
    pub count_is_one: bool,
    /// "more than" before the count of a broad search.
    pub count_capped: bool,
    pub filtered: bool,
    pub clear_href: String,
    pub csv_href: String,
    pub subscribe: SubscribeLinks,
    pub headings: Vec<SortHeading>,
    pub rows: Vec<Row>,
    pub pager: Pager,
}

impl RegistrationsPage {
    pub fn new(q: &RegistrationQuery, page: &RegistrationPage, layout: Layout) -> Self {
        let f = &q.filter;
        let mut selects: Vec<SelectField> = STATUS_FILTERS
            .iter()
            .map(|(param, label, _)| {
                SelectField::new(
                    param,
                    label,
                    &[("", "All"), ("yes", "Yes"), ("no", "No")],
                    tristate_of(f, param).key(),
                )
            })
            .collect();
        for (param, label, _) in &STATED_FILTERS {
            let options: Vec<(&str, &str)> = std::iter::once(("", "All"))
                .chain(Stated::CHOICES.iter().map(|s| (s.key(), s.label())))
                .collect();
            selects.push(SelectField::new(
                param,
                label,
                &options,
                stated_of(f, param).key(),
            ));
        }
        for (param, label, _) in &SECOND_FACTOR_FILTERS {
            let codes = (1..=second_factor::KNOWN.len() as u8).chain([second_factor::OTHER, 0]);
            let options: Vec<(String, String)> = std::iter::once(("".into(), "All".into()))
                .chain(codes.map(|c| {
                    (
                        second_factor::filter_key(c).to_string(),
                        second_factor::filter_label(c).to_string(),
                    )
                }))
                .collect();
            selects.push(SelectField::owned(
                param,
                label,
                options,
                second_factor_of(f, param).map_or("", second_factor::filter_key),
            ));
        }
        let updated_options: Vec<(String, String)> = std::iter::once(("".into(), "All".into()))
            .chain(LastUpdated::CHOICES.iter().map(|c| (c.key(), c.label())))
            .collect();
        selects.push(SelectField::owned(
            "last_updated",
            "Last updated",
            updated_options,
            &f.last_updated.map(LastUpdated::key).unwrap_or_default(),
        ));
        selects.push(SelectField::new(
            "user_type",
            "User type",
            &[("", "All"), ("member", "Member"), ("guest", "Guest")],
            f.user_type.map(|u| u.key()).unwrap_or(""),
        ));
        let sort_options: Vec<(&str, &str)> =
            Sort::ALL.iter().map(|s| (s.key(), s.label())).collect();
        let size_select = SelectField::page_size(q.size);

        let link = |position: Option<(&str, String)>| list_href(PATH, f, q.sort, q.size, position);
        let pager = Pager::keyset(
            page.has_prev,
            page.has_next,
            page.users
                .first()
                .map(|u| RegistrationPage::cursor(u, q.sort)),
            page.users
                .last()
                .map(|u| RegistrationPage::cursor(u, q.sort)),
            link,
        );
        let heading = |label, field| {
            let current = q.sort.field == field;
            let next = Sort {
                field,
                descending: current && !q.sort.descending,
            };
            SortHeading {
                label,
                href: list_href(PATH, f, next, q.size, None),
                aria_sort: match (current, q.sort.descending) {
                    (false, _) => "none",
                    (true, false) => "ascending",
                    (true, true) => "descending",
                },
            }
        };
        use crate::domain::filter::SortField;
        RegistrationsPage {
            layout,
            selects,
            methods: Method::ALL
                .iter()
                .map(|m| MethodChoice {
                    key: m.key(),
                    label: m.display_name(),
                    checked: f.methods.contains(*m),
                })
                .collect(),
            q: f.search
                .as_ref()
                .map(|s| s.typed().to_string())
                .unwrap_or_default(),
            sort_select: SelectField::new("sort", "Sort by", &sort_options, q.sort.key()),
            size_select,
            count: thousands(page.count),
            count_is_one: page.count == 1 && !page.count_capped,
            count_capped: page.count_capped,
            filtered: *f != RegistrationFilter::default(),
            clear_href: PATH.to_string(),
            subscribe: SubscribeLinks::of_csv(&list_href(
                &format!("{PATH}.csv"),
                f,
                q.sort,
                PageSize::DEFAULT,
                None,
            )),
            csv_href: list_href(&format!("{PATH}.csv"), f, q.sort, PageSize::DEFAULT, None),
            headings: vec![
                heading("Name", SortField::Name),
                heading("User name", SortField::UserName),
            ],
            rows: page.users.iter().map(Row::new).collect(),
            pager,
        }
    }
}

#[get("/registrations", wrap = "from_fn(auth::reader)")]
pub async fn registrations(
    state: web::Data<AppState>,
    viewer: Viewer,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let query = parse_query(req.query_string()).map_err(|e| e.on_page(PATH))?;
    let q = query.clone();
    let cache = state.counts.clone();
    let (page, refreshed) = state
        .db(move |conn| {
            let counts = cache.read(conn)?;
            Ok((registration_page(conn, &counts, &q)?, counts.refreshed))
        })
        .await?;
    let layout = Layout::page("Registration details", "registrations")
        .signed(&viewer)
        .refreshed(refreshed);
    html(RegistrationsPage::new(&query, &page, layout))
}

#[get("/registrations.csv", wrap = "from_fn(auth::reader)")]
pub async fn registrations_csv(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> AppResult<HttpResponse> {
    let export = export(
        state.counts.clone(),
        req.query_string(),
        Utc::now().naive_utc(),
    )?;
    Ok(download(&state, export))
}

/// The view's download for a query string (a 400 naming the parameter when
/// it is wrong): the page's CSV and a subscription's file alike.
pub fn export(cache: Arc<CountCache>, query: &str, now: NaiveDateTime) -> AppResult<Export> {
    let query = parse_query(query).map_err(|e| e.on_page(PATH))?;
    Ok(Export {
        name: file_name("registration-details", now.date()),
        header: &COLUMNS,
        produce: Box::new(move |conn, sink| {
            let counts = cache.read(conn)?;
            let mut texts = CsvTexts::default();
            let mut q = RegistrationQuery {
                size: PageSize::EXPORT,
                position: PagePosition::First,
                ..query
            };
            loop {
                let page = registration_page(conn, &counts, &q)?;
                for u in &page.users {
                    texts.write(u, sink)?;
                }
                match page.users.last() {
                    Some(last) if page.has_next => {
                        q.position = PagePosition::After(RegistrationPage::cursor(last, q.sort));
                    }
                    _ => return Ok(()),
                }
            }
        }),
    })
}
