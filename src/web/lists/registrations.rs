//! Registration details (`/registrations`, its CSV and `/api/v1/registrations`):
//! one row per user, filtered by status, methods, user type, what the
//! directory's registration details said, and a search.

use super::{choice, documented, openapi_params, query, search_pair};
use crate::db::registrations::RegistrationQuery;
use crate::domain::filter::{
    parse_methods, parse_second_factor, LastUpdated, PagePosition, PageSize, RegistrationFilter,
    Search, Sort, Stated, Tristate, UserType,
};
use crate::domain::second_factor;
use crate::domain::Method;
use crate::web::error::AppResult;
use crate::web::params::{self, Params};
use utoipa::openapi::path::Parameter;
use utoipa::openapi::schema::ArrayBuilder;
use utoipa::openapi::RefOr;

pub const PATH: &str = "/registrations";

/// Every parameter the list accepts.
pub const PARAMS: [&str; 21] = [
    "registered",
    "enabled",
    "capable",
    "mfa_capable",
    "passwordless_capable",
    "method",
    "user_type",
    "admin",
    "role_known",
    "account_enabled",
    "mfa_registered",
    "default_mfa_method",
    "system_preferred_method",
    "last_updated",
    "verdicts_disagree",
    "verdicts_stale",
    "q",
    "sort",
    "size",
    "after",
    "before",
];

/// The yes/no filters: (parameter, label, what "yes" means).
pub const STATUS_FILTERS: [(&str, &str, &str); 9] = [
    ("registered", "Registered", "registered for SSPR"),
    (
        "enabled",
        "Enabled",
        "enabled for SSPR (in the policy's scope)",
    ),
    (
        "capable",
        "Capable",
        "capable of SSPR (registered and enabled)",
    ),
    ("mfa_capable", "MFA capable", "MFA capable"),
    (
        "passwordless_capable",
        "Passwordless capable",
        "passwordless capable",
    ),
    ("admin", "Admin", "administrators"),
    (
        "role_known",
        "Role known",
        "users whose directory role a source named (Graph's reports name none)",
    ),
    (
        "verdicts_disagree",
        "Directory and policy disagree",
        "users whose statuses a directory export states otherwise than this portal's policy computes",
    ),
    (
        "verdicts_stale",
        "Directory statuses stale",
        "users whose directory-stated statuses are older than the newest export (it did not include them)",
    ),
];

/// The yes/no/unknown filters, of facts a source may leave unsaid:
/// (parameter, label, what "yes" means).
pub const STATED_FILTERS: [(&str, &str, &str); 2] = [
    ("account_enabled", "Account enabled", "enabled accounts"),
    (
        "mfa_registered",
        "MFA registered",
        "registered for MFA, as the directory's registration details state",
    ),
];

/// The second-factor filters: (parameter, label, Graph's field).
pub const SECOND_FACTOR_FILTERS: [(&str, &str, &str); 2] = [
    (
        "default_mfa_method",
        "Default MFA method",
        "defaultMfaMethod",
    ),
    (
        "system_preferred_method",
        "System-preferred method",
        "systemPreferredAuthenticationMethods",
    ),
];

/// The value of one of the [`STATUS_FILTERS`] in a filter.
pub fn tristate_of(f: &RegistrationFilter, param: &str) -> Tristate {
    match param {
        "registered" => f.registered,
        "enabled" => f.enabled,
        "capable" => f.capable,
        "mfa_capable" => f.mfa_capable,
        "passwordless_capable" => f.passwordless_capable,
        "admin" => f.admin,
        "role_known" => f.role_known,
        "verdicts_disagree" => f.verdicts_disagree,
        _ => f.verdicts_stale,
    }
}

/// The value of one of the [`STATED_FILTERS`] in a filter.
pub fn stated_of(f: &RegistrationFilter, param: &str) -> Stated {
    match param {
        "account_enabled" => f.account_enabled,
        _ => f.mfa_registered,
    }
}

/// The value of one of the [`SECOND_FACTOR_FILTERS`] in a filter.
pub fn second_factor_of(f: &RegistrationFilter, param: &str) -> Option<u8> {
    match param {
        "default_mfa_method" => f.default_mfa_method,
        _ => f.system_preferred_method,
    }
}

/// Parses the whole query string of the list.
pub fn parse_query(query: &str) -> AppResult<RegistrationQuery> {
    let p = Params::parse(query, &PARAMS)?;
    let t = |name: &str| -> AppResult<Tristate> { Ok(Tristate::parse(name, p.one(name)?)?) };
    let stated = |name: &str| -> AppResult<Stated> { Ok(Stated::parse(name, p.one(name)?)?) };
    let factor =
        |name: &str| -> AppResult<Option<u8>> { Ok(parse_second_factor(name, p.one(name)?)?) };
    let filter = RegistrationFilter {
        registered: t("registered")?,
        enabled: t("enabled")?,
        capable: t("capable")?,
        mfa_capable: t("mfa_capable")?,
        passwordless_capable: t("passwordless_capable")?,
        methods: parse_methods("method", p.all("method"), &Method::ALL)?,
        user_type: UserType::parse("user_type", p.one("user_type")?)?,
        admin: t("admin")?,
        role_known: t("role_known")?,
        verdicts_disagree: t("verdicts_disagree")?,
        verdicts_stale: t("verdicts_stale")?,
        account_enabled: stated("account_enabled")?,
        mfa_registered: stated("mfa_registered")?,
        default_mfa_method: factor("default_mfa_method")?,
        system_preferred_method: factor("system_preferred_method")?,
        last_updated: LastUpdated::parse("last_updated", p.one("last_updated")?)?,
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
    for (param, _, _) in &STATUS_FILTERS[..5] {
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
    pairs.push(("role_known", f.role_known.key().into()));
    pairs.push(("verdicts_disagree", f.verdicts_disagree.key().into()));
    pairs.push(("verdicts_stale", f.verdicts_stale.key().into()));
    for (param, _, _) in &STATED_FILTERS {
        pairs.push((*param, stated_of(f, param).key().into()));
    }
    for (param, _, _) in &SECOND_FACTOR_FILTERS {
        let value = second_factor_of(f, param).map_or("", second_factor::filter_key);
        pairs.push((*param, value.into()));
    }
    pairs.push((
        "last_updated",
        f.last_updated.map(LastUpdated::key).unwrap_or_default(),
    ));
    pairs.push(search_pair(&f.search));
    pairs.retain(|(_, v)| !v.is_empty());
    pairs
}

/// The filter and a non-default order as URL parameters.
pub fn query_pairs(f: &RegistrationFilter, sort: Sort) -> Vec<(&'static str, String)> {
    let mut pairs = filter_pairs(f);
    if sort != Sort::default() {
        pairs.push(("sort", sort.key().into()));
    }
    pairs
}

/// The URL of the list for a filter (first page, default order).
pub fn filter_href(f: &RegistrationFilter) -> String {
    list_href(PATH, f, Sort::default(), PageSize::DEFAULT, None)
}

/// The URL of one page of the list at `path` (the page, its CSV, the API).
pub fn list_href(
    path: &str,
    f: &RegistrationFilter,
    sort: Sort,
    size: PageSize,
    position: Option<(&str, String)>,
) -> String {
    params::list_href(path, query_pairs(f, sort), size, position)
}

/// The documentation of a parameter only this list has.
fn document(name: &str) -> Option<Parameter> {
    if let Some((_, _, what)) = STATUS_FILTERS.iter().find(|(p, _, _)| *p == name) {
        return Some(query(
            name,
            choice(["yes", "no"], "yes, no, or all (the default)."),
            &format!("Only users who are (yes) or are not (no) {what}."),
        ));
    }
    if let Some((_, _, what)) = STATED_FILTERS.iter().find(|(p, _, _)| *p == name) {
        return Some(query(
            name,
            choice(
                ["yes", "no", "unknown"],
                "yes, no, unknown, or all (the default).",
            ),
            &format!(
                "Only users who are (yes) or are not (no) {what}, or of whom no source said (unknown)."
            ),
        ));
    }
    if let Some((_, _, graph)) = SECOND_FACTOR_FILTERS.iter().find(|(p, _, _)| *p == name) {
        let values = second_factor::KNOWN
            .iter()
            .map(|(n, _)| *n)
            .chain([second_factor::OTHER_KEY, second_factor::NOT_STATED_KEY]);
        return Some(query(
            name,
            choice(
                values,
                "A Graph method name, other (a name this portal does not know), none_stated, or all.",
            ),
            &format!(
                "Only users whose {graph} (its first method, for a list) is this one, as the directory's registration details state."
            ),
        ));
    }
    Some(match name {
        "last_updated" => {
            let keys: Vec<String> = LastUpdated::CHOICES.iter().map(|c| c.key()).collect();
            query(
                name,
                choice(
                    keys.iter().map(String::as_str),
                    "within_Nd, over_Nd (days before now), none_stated, or all.",
                ),
                "Only users whose registration details an export last updated (Graph's lastUpdatedDateTime) in that span, or never stated. Checked row by row: slower on a large directory than the other filters.",
            )
        }
        "user_type" => query(
            name,
            choice(["member", "guest"], "member, guest, or all."),
            "Only members or only guests.",
        ),
        "method" => query(
            name,
            ArrayBuilder::new()
                .items(RefOr::T(choice(
                    Method::ALL.iter().map(|m| m.key()),
                    "A method key, or all (no filter).",
                )))
                .build(),
            "Users with any of these methods registered; repeat the parameter for more than one.",
        ),
        "sort" => query(
            name,
            super::one_of(
                Sort::ALL.iter().map(|s| s.key()),
                "A column; a leading - sorts Z to A.",
            ),
            "Order of the list (default: name).",
        ),
        _ => return None,
    })
}

/// The OpenAPI documentation of [`PARAMS`], in order.
pub fn parameters() -> Vec<Parameter> {
    documented(&PARAMS, document)
}

openapi_params!(
    /// The parameters of registration details.
    OpenApiParams => parameters()
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_survives_its_own_link() {
        let query = "registered=no&enabled=yes&method=email&method=fido2&user_type=guest\
            &account_enabled=unknown&mfa_registered=no&default_mfa_method=mobilePhone\
            &system_preferred_method=other&last_updated=over_90d&q=ann&sort=-name";
        let q = parse_query(query).unwrap();
        let href = list_href(PATH, &q.filter, q.sort, q.size, None);
        let again = parse_query(href.split_once('?').unwrap().1).unwrap();
        assert_eq!(again.filter, q.filter);
        assert_eq!(q.filter.account_enabled, Stated::Unknown);
        assert_eq!(q.filter.default_mfa_method, Some(2));
        assert_eq!(q.filter.system_preferred_method, Some(second_factor::OTHER));
        assert_eq!(again.sort, q.sort);
        assert_eq!(filter_href(&RegistrationFilter::default()), PATH);
    }
}
