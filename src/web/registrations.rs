//! `/registrations`: registration details, one row per user.

use super::auth::Viewer;
use super::error::AppResult;
use super::export::{download, file_name};
use super::forms::{yes_no, Pager, SelectField};
use super::layout::Layout;
use super::params::{self, Params};
use super::{html, thousands, user_href, AppState};
use crate::db::counts::data_changed_at;
use crate::db::models::ListUser;
use crate::db::registrations::{registration_page, RegistrationPage, RegistrationQuery};
use crate::domain::filter::{
    parse_methods, PagePosition, PageSize, RegistrationFilter, Search, Sort, Tristate, UserType,
};
use crate::domain::Method;
use crate::web::auth;
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Utc;

pub const PATH: &str = "/registrations";

/// Every parameter the page accepts.
pub const PARAMS: [&str; 14] = [
    "registered",
    "enabled",
    "capable",
    "mfa_capable",
    "passwordless_capable",
    "method",
    "user_type",
    "admin",
    "account_enabled",
    "q",
    "sort",
    "size",
    "after",
    "before",
];

/// The status filters: (parameter, label).
const STATUS_FILTERS: [(&str, &str); 7] = [
    ("registered", "Registered"),
    ("enabled", "Enabled"),
    ("capable", "Capable"),
    ("mfa_capable", "MFA capable"),
    ("passwordless_capable", "Passwordless capable"),
    ("admin", "Admin"),
    ("account_enabled", "Account enabled"),
];

fn tristate_of(f: &RegistrationFilter, param: &str) -> Tristate {
    match param {
        "registered" => f.registered,
        "enabled" => f.enabled,
        "capable" => f.capable,
        "mfa_capable" => f.mfa_capable,
        "passwordless_capable" => f.passwordless_capable,
        "admin" => f.admin,
        _ => f.account_enabled,
    }
}

/// Parses the whole query string of the page.
pub fn parse_query(query: &str) -> AppResult<RegistrationQuery> {
    let p = Params::parse(query, &PARAMS)?;
    let t = |name: &str| -> AppResult<Tristate> { Ok(Tristate::parse(name, p.one(name)?)?) };
    let filter = RegistrationFilter {
        registered: t("registered")?,
        enabled: t("enabled")?,
        capable: t("capable")?,
        mfa_capable: t("mfa_capable")?,
        passwordless_capable: t("passwordless_capable")?,
        methods: parse_methods("method", p.all("method"), &Method::ALL)?,
        user_type: UserType::parse("user_type", p.one("user_type")?)?,
        admin: t("admin")?,
        account_enabled: t("account_enabled")?,
        search: Search::parse("q", p.one("q")?)?,
    };
    Ok(RegistrationQuery {
        filter,
        sort: Sort::parse("sort", p.one("sort")?)?,
        size: PageSize::parse("size", p.one("size")?)?,
        position: PagePosition::parse(p.one("after")?, p.one("before")?)?,
    })
}

/// The filter as URL parameters, in a stable order, defaults left out.
pub fn filter_pairs(f: &RegistrationFilter) -> Vec<(&'static str, String)> {
    let mut pairs = Vec::new();
    for (param, _) in &STATUS_FILTERS[..5] {
        pairs.push((*param, tristate_of(f, param).key().to_string()));
    }
    for m in f.methods.iter() {
        pairs.push(("method", m.key().to_string()));
    }
    pairs.push((
        "user_type",
        f.user_type.map(|u| u.key()).unwrap_or("").into(),
    ));
    pairs.push(("admin", f.admin.key().into()));
    pairs.push(("account_enabled", f.account_enabled.key().into()));
    pairs.push((
        "q",
        f.search
            .as_ref()
            .map(|s| s.typed().to_string())
            .unwrap_or_default(),
    ));
    pairs.retain(|(_, v)| !v.is_empty());
    pairs
}

/// The URL of the list for a filter (first page, default order).
pub fn filter_href(f: &RegistrationFilter) -> String {
    list_href(PATH, f, Sort::default(), PageSize::DEFAULT, None)
}

fn list_href(
    path: &str,
    f: &RegistrationFilter,
    sort: Sort,
    size: PageSize,
    position: Option<(&str, String)>,
) -> String {
    let mut pairs = filter_pairs(f);
    if sort != Sort::default() {
        pairs.push(("sort", sort.key().into()));
    }
    params::list_href(path, pairs, size, position)
}

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
}

/// The columns of the page and of the CSV, in order.
pub const COLUMNS: [&str; 11] = [
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
];

impl Row {
    /// The cells in [`COLUMNS`] order, as the page shows them.
    pub fn cells(&self) -> [&str; 11] {
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
        ]
    }

    fn new(u: &ListUser) -> Row {
        let key = u.key();
        Row {
            href: user_href(&u.id),
            name: u.display_name.clone(),
            user_name: u.user_principal_name.clone(),
            registered: yes_no(key.status.registered),
            enabled: yes_no(key.status.enabled),
            capable: yes_no(key.status.capable),
            mfa_capable: yes_no(key.status.mfa_capable),
            passwordless_capable: yes_no(key.status.passwordless_capable),
            admin: yes_no(key.is_admin),
            user_type: if key.is_guest { "Guest" } else { "Member" },
            account_enabled: yes_no(key.account_enabled),
            methods: u.methods().display(),
        }
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
    pub headings: Vec<SortHeading>,
    pub rows: Vec<Row>,
    pub pager: Pager,
}

impl RegistrationsPage {
    pub fn new(q: &RegistrationQuery, page: &RegistrationPage, layout: Layout) -> Self {
        let f = &q.filter;
        let mut selects: Vec<SelectField> = STATUS_FILTERS
            .iter()
            .map(|(param, label)| {
                SelectField::new(
                    param,
                    label,
                    &[("", "All"), ("yes", "Yes"), ("no", "No")],
                    tristate_of(f, param).key(),
                )
            })
            .collect();
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
    let (page, refreshed) = state
        .db(move |conn| Ok((registration_page(conn, &q)?, data_changed_at(conn)?)))
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
    let query = parse_query(req.query_string()).map_err(|e| e.on_page(PATH))?;
    let name = file_name("registration-details", Utc::now().date_naive());
    Ok(download(&state, name, &COLUMNS, move |conn, sink| {
        let mut q = RegistrationQuery {
            size: PageSize::EXPORT,
            position: PagePosition::First,
            ..query
        };
        loop {
            let page = registration_page(conn, &q)?;
            for u in &page.users {
                sink.row(Row::new(u).cells())?;
            }
            match page.users.last() {
                Some(last) if page.has_next => {
                    q.position = PagePosition::After(RegistrationPage::cursor(last, q.sort));
                }
                _ => return Ok(()),
            }
        }
    }))
}
