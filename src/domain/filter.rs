//! The filters of the list pages as typed values. Raw query-string values are
//! parsed here once; anything that does not parse becomes a [`FilterError`]
//! naming the parameter and what it allows, so nothing downstream re-checks.

use super::activity::{ActivityResult, Feature};
use super::method::{Method, MethodSet, PolicyMethod};
use super::status::StatusKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, NaiveDate, NaiveDateTime, Timelike};
use std::fmt;

/// A parameter that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    pub param: String,
    pub message: String,
}

impl FilterError {
    pub fn new(param: &str, message: impl Into<String>) -> FilterError {
        FilterError {
            param: param.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Parameter '{}': {}", self.param, self.message)
    }
}

impl std::error::Error for FilterError {}

pub type FilterResult<T> = Result<T, FilterError>;

/// All / Yes / No, as the seed's status filters offer them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tristate {
    #[default]
    All,
    Yes,
    No,
}

impl Tristate {
    pub fn parse(param: &str, value: Option<&str>) -> FilterResult<Tristate> {
        match value.unwrap_or("") {
            "" | "all" => Ok(Tristate::All),
            "yes" => Ok(Tristate::Yes),
            "no" => Ok(Tristate::No),
            other => Err(FilterError::new(
                param,
                format!("'{other}' is not allowed; use yes, no or all"),
            )),
        }
    }

    pub fn admits(self, value: bool) -> bool {
        match self {
            Tristate::All => true,
            Tristate::Yes => value,
            Tristate::No => !value,
        }
    }

    /// The URL value; empty for All, which is the default.
    pub fn key(self) -> &'static str {
        match self {
            Tristate::All => "",
            Tristate::Yes => "yes",
            Tristate::No => "no",
        }
    }

    pub fn is_all(self) -> bool {
        self == Tristate::All
    }
}

/// All / Yes / No / Unknown: a filter on a fact a source may leave unsaid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stated {
    #[default]
    All,
    Yes,
    No,
    /// No source said.
    Unknown,
}

impl Stated {
    pub const CHOICES: [Stated; 3] = [Stated::Yes, Stated::No, Stated::Unknown];

    pub fn parse(param: &str, value: Option<&str>) -> FilterResult<Stated> {
        match value.unwrap_or("") {
            "" | "all" => Ok(Stated::All),
            "yes" => Ok(Stated::Yes),
            "no" => Ok(Stated::No),
            "unknown" => Ok(Stated::Unknown),
            other => Err(FilterError::new(
                param,
                format!("'{other}' is not allowed; use yes, no, unknown or all"),
            )),
        }
    }

    pub fn admits(self, value: Option<bool>) -> bool {
        match self {
            Stated::All => true,
            Stated::Yes => value == Some(true),
            Stated::No => value == Some(false),
            Stated::Unknown => value.is_none(),
        }
    }

    /// The URL value; empty for All, which is the default.
    pub fn key(self) -> &'static str {
        match self {
            Stated::All => "",
            Stated::Yes => "yes",
            Stated::No => "no",
            Stated::Unknown => "unknown",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Stated::All => "All",
            Stated::Yes => "Yes",
            Stated::No => "No",
            Stated::Unknown => "Unknown",
        }
    }
}

/// When a registration-details export last updated a user's record (Graph's
/// `lastUpdatedDateTime`), relative to now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastUpdated {
    /// Within the last so many days.
    Within(u16),
    /// More than so many days ago.
    Over(u16),
    /// No export stated it.
    NotStated,
}

impl LastUpdated {
    pub const CHOICES: [LastUpdated; 6] = [
        LastUpdated::Within(7),
        LastUpdated::Within(30),
        LastUpdated::Within(90),
        LastUpdated::Over(90),
        LastUpdated::Over(365),
        LastUpdated::NotStated,
    ];

    pub fn key(self) -> String {
        match self {
            LastUpdated::Within(d) => format!("within_{d}d"),
            LastUpdated::Over(d) => format!("over_{d}d"),
            LastUpdated::NotStated => "none_stated".into(),
        }
    }

    pub fn label(self) -> String {
        match self {
            LastUpdated::Within(d) => format!("In the last {d} days"),
            LastUpdated::Over(d) => format!("More than {d} days ago"),
            LastUpdated::NotStated => "Not stated".into(),
        }
    }

    pub fn parse(param: &str, value: Option<&str>) -> FilterResult<Option<LastUpdated>> {
        match value.unwrap_or("") {
            "" | "all" => Ok(None),
            v => LastUpdated::CHOICES
                .into_iter()
                .find(|c| c.key() == v)
                .map(Some)
                .ok_or_else(|| {
                    let keys: Vec<String> = LastUpdated::CHOICES.iter().map(|c| c.key()).collect();
                    FilterError::new(
                        param,
                        format!("'{v}' is not allowed; use {} or all", keys.join(", ")),
                    )
                }),
        }
    }
}

/// A filter on a second-factor field: the code it asks for
/// ([`crate::domain::second_factor`]); `None` for all.
pub fn parse_second_factor(param: &str, value: Option<&str>) -> FilterResult<Option<u8>> {
    use crate::domain::second_factor as sf;
    match value.unwrap_or("") {
        "" | "all" => Ok(None),
        v => sf::parse_filter(v).map(Some).ok_or_else(|| {
            let names: Vec<&str> = sf::KNOWN.iter().map(|(n, _)| *n).collect();
            FilterError::new(
                param,
                format!(
                    "'{v}' is not a method name; use one of {}, {} (a name this portal does not know), {} or all",
                    names.join(", "),
                    sf::OTHER_KEY,
                    sf::NOT_STATED_KEY
                ),
            )
        }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserType {
    Member,
    Guest,
}

impl UserType {
    pub fn parse(param: &str, value: Option<&str>) -> FilterResult<Option<UserType>> {
        match value.unwrap_or("") {
            "" | "all" => Ok(None),
            "member" => Ok(Some(UserType::Member)),
            "guest" => Ok(Some(UserType::Guest)),
            other => Err(FilterError::new(
                param,
                format!("'{other}' is not allowed; use member, guest or all"),
            )),
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            UserType::Member => "member",
            UserType::Guest => "guest",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            UserType::Member => "Member",
            UserType::Guest => "Guest",
        }
    }
}

/// Longest search text accepted; longer input is a mistake, not a name.
pub const SEARCH_MAX_CHARS: usize = 200;

/// Search text: trimmed and lower-cased the way the stored search column is,
/// so that a substring match is case-insensitive on both backends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    typed: String,
    lowered: String,
}

impl Search {
    pub fn parse(param: &str, value: Option<&str>) -> FilterResult<Option<Search>> {
        let typed = value.unwrap_or("").trim();
        if typed.is_empty() {
            return Ok(None);
        }
        if typed.chars().count() > SEARCH_MAX_CHARS {
            return Err(FilterError::new(
                param,
                format!("the search is longer than {SEARCH_MAX_CHARS} characters"),
            ));
        }
        if typed.chars().any(char::is_control) {
            return Err(FilterError::new(
                param,
                "the search contains control characters",
            ));
        }
        Ok(Some(Search {
            typed: typed.to_string(),
            lowered: typed.to_lowercase(),
        }))
    }

    /// What the administrator typed (for the search box).
    pub fn typed(&self) -> &str {
        &self.typed
    }

    /// The lower-cased text the search column is matched against.
    pub fn lowered(&self) -> &str {
        &self.lowered
    }

    /// A `LIKE` pattern for a substring match, with `\` as escape character.
    pub fn like_pattern(&self) -> String {
        let mut p = String::with_capacity(self.lowered.len() + 2);
        p.push('%');
        for c in self.lowered.chars() {
            if matches!(c, '%' | '_' | '\\') {
                p.push('\\');
            }
            p.push(c);
        }
        p.push('%');
        p
    }
}

/// The filters of registration details.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegistrationFilter {
    pub registered: Tristate,
    pub enabled: Tristate,
    pub capable: Tristate,
    pub mfa_capable: Tristate,
    pub passwordless_capable: Tristate,
    /// Users with any of these methods; empty means no method filter.
    pub methods: MethodSet,
    pub user_type: Option<UserType>,
    pub admin: Tristate,
    pub account_enabled: Stated,
    /// Graph's `isMfaRegistered`.
    pub mfa_registered: Stated,
    /// Graph's `defaultMfaMethod` ([`crate::domain::second_factor`] code).
    pub default_mfa_method: Option<u8>,
    /// The first of Graph's `systemPreferredAuthenticationMethods`.
    pub system_preferred_method: Option<u8>,
    /// A directory export's verdicts differ from this portal's policy.
    pub verdicts_disagree: Tristate,
    /// The verdicts are older than the newest export stating verdicts.
    pub verdicts_stale: Tristate,
    /// A source named the user's directory role.
    pub role_known: Tristate,
    /// Graph's `lastUpdatedDateTime`: not in the status key, so the list
    /// checks it row by row.
    pub last_updated: Option<LastUpdated>,
    pub search: Option<Search>,
}

impl RegistrationFilter {
    /// Whether users with this key pass every filter but the search.
    pub fn admits(&self, key: &StatusKey) -> bool {
        let s = key.status;
        self.registered.admits(s.registered)
            && self.enabled.admits(s.enabled)
            && self.capable.admits(s.capable)
            && self.mfa_capable.admits(s.mfa_capable)
            && self.passwordless_capable.admits(s.passwordless_capable)
            && (self.methods.is_empty()
                || MethodSet::from_mask(key.methods_mask).intersects(self.methods))
            && match self.user_type {
                None => true,
                Some(UserType::Guest) => key.is_guest,
                Some(UserType::Member) => !key.is_guest,
            }
            && self.admin.admits(key.is_admin)
            && self.account_enabled.admits(key.account_enabled)
            && self.mfa_registered.admits(key.mfa_registered)
            && self
                .default_mfa_method
                .is_none_or(|c| c == key.default_mfa_method)
            && self
                .system_preferred_method
                .is_none_or(|c| c == key.system_preferred_method)
            && self.verdicts_disagree.admits(key.disagrees)
            && self.verdicts_stale.admits(key.stale)
            && self.role_known.admits(key.role_known)
    }

    /// Whether anything but the search and the last update narrows the
    /// list by the status key.
    pub fn narrows_by_key(&self) -> bool {
        *self
            != RegistrationFilter {
                search: self.search.clone(),
                last_updated: self.last_updated,
                ..RegistrationFilter::default()
            }
    }
}

/// Parses repeated `method` values: keys of the method catalogue.
pub fn parse_methods<'a>(
    param: &str,
    values: impl IntoIterator<Item = &'a str>,
    allowed: &[Method],
) -> FilterResult<MethodSet> {
    let mut set = MethodSet::EMPTY;
    for value in values {
        if value.is_empty() || value == "all" {
            continue;
        }
        match Method::from_key(value).filter(|m| allowed.contains(m)) {
            Some(m) => set.insert(m),
            None => {
                let keys: Vec<&str> = allowed.iter().map(|m| m.key()).collect();
                return Err(FilterError::new(
                    param,
                    format!(
                        "'{value}' is not an authentication method; use one of {}",
                        keys.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(set)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortField {
    #[default]
    Name,
    UserName,
}

/// Sort order of registration details: a column, either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sort {
    pub field: SortField,
    pub descending: bool,
}

impl Sort {
    pub const ALL: [Sort; 4] = [
        Sort {
            field: SortField::Name,
            descending: false,
        },
        Sort {
            field: SortField::Name,
            descending: true,
        },
        Sort {
            field: SortField::UserName,
            descending: false,
        },
        Sort {
            field: SortField::UserName,
            descending: true,
        },
    ];

    pub fn parse(param: &str, value: Option<&str>) -> FilterResult<Sort> {
        match value.unwrap_or("") {
            "" => Ok(Sort::default()),
            v => Sort::ALL.into_iter().find(|s| s.key() == v).ok_or_else(|| {
                FilterError::new(
                    param,
                    format!("'{v}' is not a sort order; use name, -name, user_name or -user_name"),
                )
            }),
        }
    }

    pub fn key(self) -> &'static str {
        match (self.field, self.descending) {
            (SortField::Name, false) => "name",
            (SortField::Name, true) => "-name",
            (SortField::UserName, false) => "user_name",
            (SortField::UserName, true) => "-user_name",
        }
    }

    pub fn label(self) -> &'static str {
        match (self.field, self.descending) {
            (SortField::Name, false) => "Name, A to Z",
            (SortField::Name, true) => "Name, Z to A",
            (SortField::UserName, false) => "User name, A to Z",
            (SortField::UserName, true) => "User name, Z to A",
        }
    }
}

/// Rows per page: a default, a choice in the form, and a hard maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u32);

impl PageSize {
    pub const DEFAULT: PageSize = PageSize(50);
    pub const MAX: u32 = 500;
    /// Rows a CSV download reads at a time (not a size a URL may ask for).
    pub const EXPORT: PageSize = PageSize(5_000);
    /// The sizes the page's form offers (any size up to the maximum works in a URL).
    pub const CHOICES: [u32; 4] = [25, 50, 100, 200];

    pub fn parse(param: &str, value: Option<&str>) -> FilterResult<PageSize> {
        match value.unwrap_or("") {
            "" => Ok(PageSize::DEFAULT),
            v => match v.parse::<u32>() {
                Ok(n) if (1..=Self::MAX).contains(&n) => Ok(PageSize(n)),
                _ => Err(FilterError::new(
                    param,
                    format!(
                        "'{v}' is not a page size; use a number from 1 to {}",
                        Self::MAX
                    ),
                )),
            },
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for PageSize {
    fn default() -> Self {
        PageSize::DEFAULT
    }
}

/// A keyset position: the sort value and id of a row the page starts after
/// (or ends before). Opaque in URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub value: String,
    pub id: String,
}

const CURSOR_SEPARATOR: char = '\u{1f}';

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}{CURSOR_SEPARATOR}{}", self.value, self.id))
    }

    pub fn parse(param: &str, value: &str) -> FilterResult<Cursor> {
        let invalid = || {
            FilterError::new(
                param,
                "not a page position this portal made; start again from the first page",
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(value).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (value, id) = text.split_once(CURSOR_SEPARATOR).ok_or_else(invalid)?;
        if id.is_empty() {
            return Err(invalid());
        }
        Ok(Cursor {
            value: value.to_string(),
            id: id.to_string(),
        })
    }

    /// A cursor over event times.
    pub fn for_time(at: NaiveDateTime, id: &str) -> Cursor {
        Cursor {
            value: at.format(CURSOR_TIME).to_string(),
            id: id.to_string(),
        }
    }

    pub fn time(&self, param: &str) -> FilterResult<NaiveDateTime> {
        NaiveDateTime::parse_from_str(&self.value, CURSOR_TIME).map_err(|_| {
            FilterError::new(
                param,
                "not a page position this portal made; start again from the first page",
            )
        })
    }
}

const CURSOR_TIME: &str = "%Y-%m-%dT%H:%M:%S%.f";

/// Where a page starts: at the beginning, after a row, or before a row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PagePosition {
    #[default]
    First,
    After(Cursor),
    Before(Cursor),
}

impl PagePosition {
    pub fn parse(after: Option<&str>, before: Option<&str>) -> FilterResult<PagePosition> {
        match (
            after.filter(|v| !v.is_empty()),
            before.filter(|v| !v.is_empty()),
        ) {
            (None, None) => Ok(PagePosition::First),
            (Some(a), None) => Ok(PagePosition::After(Cursor::parse("after", a)?)),
            (None, Some(b)) => Ok(PagePosition::Before(Cursor::parse("before", b)?)),
            (Some(_), Some(_)) => Err(FilterError::new(
                "before",
                "give either after or before, not both",
            )),
        }
    }
}

/// The date ranges the charts and reset details offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RangeChoice {
    Last24Hours,
    Last7Days,
    #[default]
    Last30Days,
    Dates {
        from: NaiveDate,
        to: NaiveDate,
    },
}

impl RangeChoice {
    pub const PRESETS: [RangeChoice; 3] = [
        RangeChoice::Last24Hours,
        RangeChoice::Last7Days,
        RangeChoice::Last30Days,
    ];

    /// Parses a preset (`24h`, `7d`, `30d`) only: the overview's control.
    pub fn parse_preset(param: &str, value: Option<&str>) -> FilterResult<RangeChoice> {
        match value.unwrap_or("") {
            "" => Ok(RangeChoice::default()),
            v => RangeChoice::PRESETS
                .into_iter()
                .find(|r| r.key() == v)
                .ok_or_else(|| {
                    FilterError::new(param, format!("'{v}' is not a range; use 24h, 7d or 30d"))
                }),
        }
    }

    /// Parses `range` with `from`/`to`: a preset wins; `range=custom` (or no
    /// range) with dates asks for whole UTC days within the retention window
    /// ending `today`.
    pub fn parse(
        range: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
        retention_days: u32,
    ) -> FilterResult<RangeChoice> {
        let from = from.filter(|v| !v.is_empty());
        let to = to.filter(|v| !v.is_empty());
        let date = |param: &str, v: Option<&str>| {
            v.map(|v| {
                NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
                    FilterError::new(param, format!("'{v}' is not a date; use YYYY-MM-DD"))
                })
            })
            .transpose()
        };
        // Dates are checked even when a preset range wins over them.
        let (from, to) = (date("from", from)?, date("to", to)?);
        let custom = match range.unwrap_or("") {
            "custom" => true,
            "" => from.is_some() || to.is_some(),
            v => {
                return RangeChoice::PRESETS
                    .into_iter()
                    .find(|r| r.key() == v)
                    .ok_or_else(|| {
                        FilterError::new(
                            "range",
                            format!("'{v}' is not a range; use 24h, 7d, 30d or custom"),
                        )
                    })
            }
        };
        if !custom {
            return Ok(RangeChoice::default());
        }
        let earliest = today - Duration::days(i64::from(retention_days));
        let from_date = from.unwrap_or(earliest);
        let to_date = to.unwrap_or(today);
        if from_date < earliest {
            return Err(FilterError::new(
                "from",
                format!(
                    "{from_date} is outside the {retention_days}-day retention; the earliest date is {earliest}"
                ),
            ));
        }
        if to_date > today {
            return Err(FilterError::new(
                "to",
                format!("{to_date} is in the future; the latest date is {today}"),
            ));
        }
        if from_date > to_date {
            return Err(FilterError::new(
                "from",
                format!("{from_date} is after the end date {to_date}"),
            ));
        }
        Ok(RangeChoice::Dates {
            from: from_date,
            to: to_date,
        })
    }

    pub fn key(self) -> &'static str {
        match self {
            RangeChoice::Last24Hours => "24h",
            RangeChoice::Last7Days => "7d",
            RangeChoice::Last30Days => "30d",
            RangeChoice::Dates { .. } => "custom",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RangeChoice::Last24Hours => "24 hours",
            RangeChoice::Last7Days => "7 days",
            RangeChoice::Last30Days => "30 days",
            RangeChoice::Dates { .. } => "Custom dates",
        }
    }

    /// The time window at `now`. Windows start on a whole hour — the grain of
    /// the maintained counts — so the last 24 hours are the hours since the
    /// start of the hour 24 hours ago: the charts, the counts and the lists
    /// then agree exactly.
    pub fn window(self, now: NaiveDateTime) -> TimeWindow {
        let hour = now.date().and_hms_opt(now.hour(), 0, 0).unwrap_or(now);
        let back = |hours: i64| TimeWindow {
            start: hour - Duration::hours(hours),
            end: None,
        };
        match self {
            RangeChoice::Last24Hours => back(24),
            RangeChoice::Last7Days => back(7 * 24),
            RangeChoice::Last30Days => back(30 * 24),
            RangeChoice::Dates { from, to } => TimeWindow {
                start: from.and_time(chrono::NaiveTime::MIN),
                end: (to + Duration::days(1)).and_hms_opt(0, 0, 0),
            },
        }
    }
}

/// Events with `start <= occurred_at < end` (no end: up to now and beyond).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub start: NaiveDateTime,
    pub end: Option<NaiveDateTime>,
}

impl TimeWindow {
    pub fn contains(&self, t: NaiveDateTime) -> bool {
        t >= self.start && self.end.is_none_or(|end| t < end)
    }
}

/// Success or failure of a method event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn parse(param: &str, value: Option<&str>) -> FilterResult<Option<Outcome>> {
        match value.unwrap_or("") {
            "" | "all" => Ok(None),
            "success" => Ok(Some(Outcome::Success)),
            "failure" => Ok(Some(Outcome::Failure)),
            other => Err(FilterError::new(
                param,
                format!("'{other}' is not a status; use success, failure or all"),
            )),
        }
    }

    pub fn from_success(success: bool) -> Outcome {
        if success {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }

    pub fn is_success(self) -> bool {
        self == Outcome::Success
    }

    pub fn key(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Outcome::Success => "Success",
            Outcome::Failure => "Failure",
        }
    }
}

/// Parses the feature filter (`registration`, `reset`, or all).
pub fn parse_feature(param: &str, value: Option<&str>) -> FilterResult<Option<Feature>> {
    match value.unwrap_or("") {
        "" | "all" => Ok(None),
        v => Feature::from_key(v).map(Some).ok_or_else(|| {
            FilterError::new(
                param,
                format!("'{v}' is not a feature; use registration, reset, unlock or all"),
            )
        }),
    }
}

/// The filters of reset details (method events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    pub feature: Option<Feature>,
    /// One authentication method, or all.
    pub method: Option<Method>,
    pub outcome: Option<Outcome>,
    pub range: RangeChoice,
    pub window: TimeWindow,
    pub search: Option<Search>,
    /// Events of users in the directory (yes), of users not in it (no: a
    /// user deleted since, or not exported yet), or both.
    pub in_directory: Tristate,
}

impl EventFilter {
    /// Whether a (feature, method, success) kind of event passes the filter.
    pub fn admits_kind(&self, feature: Feature, method: Method, success: bool) -> bool {
        self.feature.is_none_or(|f| f == feature)
            && self.method.is_none_or(|m| m == method)
            && self.outcome.is_none_or(|o| o.is_success() == success)
    }
}

/// The filters of the classic reports: one feature's activities (Registration
/// activity or Reset activity) in a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityFilter {
    pub feature: Feature,
    /// One of the six results, or all.
    pub result: Option<ActivityResult>,
    /// Activities that used this authentication info (any usage method of it).
    pub method: Option<PolicyMethod>,
    pub range: RangeChoice,
    pub window: TimeWindow,
    pub search: Option<Search>,
}

impl ActivityFilter {
    /// Whether activities with this result and these methods used pass.
    pub fn admits(&self, result: i32, methods_mask: i32) -> bool {
        self.result.is_none_or(|r| r.code() == result)
            && self.method.is_none_or(|m| {
                MethodSet::from_mask(methods_mask)
                    .policy_methods()
                    .contains(m)
            })
    }

    /// The usage methods of the method filter, as a mask to test against
    /// an activity's methods.
    pub fn method_bits(&self) -> Option<i32> {
        self.method.map(|p| {
            Method::ALL
                .iter()
                .filter(|m| m.policy_method() == Some(p))
                .fold(0, |bits, m| bits | m.bit())
        })
    }
}

/// Parses the method filter of the classic reports: a policy method key.
pub fn parse_policy_method(param: &str, value: Option<&str>) -> FilterResult<Option<PolicyMethod>> {
    match value.unwrap_or("") {
        "" | "all" => Ok(None),
        v => PolicyMethod::from_key(v).map(Some).ok_or_else(|| {
            let keys: Vec<&str> = PolicyMethod::ALL.iter().map(|m| m.key()).collect();
            FilterError::new(
                param,
                format!(
                    "'{v}' is not authentication info of the classic reports; use one of {}",
                    keys.join(", ")
                ),
            )
        }),
    }
}

/// Parses the result filter of reset activity.
pub fn parse_result(param: &str, value: Option<&str>) -> FilterResult<Option<ActivityResult>> {
    match value.unwrap_or("") {
        "" | "all" => Ok(None),
        v => ActivityResult::from_key(v).map(Some).ok_or_else(|| {
            let keys: Vec<&str> = ActivityResult::ALL.iter().map(|r| r.key()).collect();
            FilterError::new(
                param,
                format!("'{v}' is not a result; use one of {}", keys.join(", ")),
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::status::UserStatus;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    #[test]
    fn tristates_parse_and_name_the_parameter() {
        assert_eq!(Tristate::parse("registered", None), Ok(Tristate::All));
        assert_eq!(Tristate::parse("registered", Some("")), Ok(Tristate::All));
        assert_eq!(
            Tristate::parse("registered", Some("yes")),
            Ok(Tristate::Yes)
        );
        assert_eq!(Tristate::parse("registered", Some("no")), Ok(Tristate::No));
        let e = Tristate::parse("registered", Some("maybe")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Parameter 'registered': 'maybe' is not allowed; use yes, no or all"
        );
    }

    #[test]
    fn search_is_trimmed_lowered_and_escaped() {
        let s = Search::parse("q", Some("  Ana_50% ")).unwrap().unwrap();
        assert_eq!(s.typed(), "Ana_50%");
        assert_eq!(s.lowered(), "ana_50%");
        assert_eq!(s.like_pattern(), "%ana\\_50\\%%");
        assert_eq!(Search::parse("q", Some("   ")), Ok(None));
        assert!(Search::parse("q", Some(&"x".repeat(201))).is_err());
        assert!(Search::parse("q", Some("a\u{0}b")).is_err());
    }

    #[test]
    fn filters_admit_status_keys() {
        let key = StatusKey {
            status: UserStatus {
                registered: true,
                enabled: false,
                capable: false,
                mfa_capable: true,
                passwordless_capable: false,
            },
            is_guest: true,
            is_admin: false,
            account_enabled: None,
            mfa_registered: Some(true),
            default_mfa_method: 0,
            system_preferred_method: 12,
            disagrees: true,
            stale: false,
            role_known: false,
            methods_mask: MethodSet::EMPTY.with(Method::Email).mask(),
        };
        let mut f = RegistrationFilter::default();
        assert!(f.admits(&key));
        assert!(!f.narrows_by_key());
        f.registered = Tristate::Yes;
        f.enabled = Tristate::No;
        f.user_type = Some(UserType::Guest);
        assert!(f.admits(&key));
        assert!(f.narrows_by_key());
        f.methods = MethodSet::EMPTY.with(Method::MobileSms);
        assert!(!f.admits(&key), "no SMS registered");
        f.methods.insert(Method::Email);
        assert!(f.admits(&key), "any of the methods");
        f.account_enabled = Stated::Unknown;
        f.mfa_registered = Stated::Yes;
        f.system_preferred_method = Some(12);
        f.default_mfa_method = Some(0);
        assert!(f.admits(&key), "unknown, stated yes, not stated, SMS");
        f.account_enabled = Stated::Yes;
        assert!(!f.admits(&key), "an unknown account is not an enabled one");
        f.account_enabled = Stated::No;
        assert!(!f.admits(&key), "nor a disabled one");
        f.account_enabled = Stated::All;
        f.default_mfa_method = Some(1);
        assert!(!f.admits(&key), "a default the export did not state");
        f.default_mfa_method = None;
        f.verdicts_disagree = Tristate::Yes;
        f.verdicts_stale = Tristate::No;
        assert!(f.admits(&key), "disagrees, not stale");
        f.verdicts_disagree = Tristate::No;
        assert!(!f.admits(&key));
        f.verdicts_disagree = Tristate::All;
        f.user_type = Some(UserType::Member);
        assert!(!f.admits(&key));
    }

    #[test]
    fn methods_parse_from_keys() {
        let set = parse_methods("method", ["email", "mobile_sms"], &Method::ALL).unwrap();
        assert_eq!(set.len(), 2);
        let e = parse_methods("method", ["fido2"], &Method::USAGE).unwrap_err();
        assert_eq!(e.param, "method");
        assert!(e.message.contains("app_notification"), "{}", e.message);
    }

    #[test]
    fn sorts_and_page_sizes() {
        assert_eq!(
            Sort::parse("sort", Some("-user_name")).unwrap().key(),
            "-user_name"
        );
        assert!(Sort::parse("sort", Some("age")).is_err());
        assert_eq!(PageSize::parse("size", None).unwrap().get(), 50);
        assert_eq!(PageSize::parse("size", Some("500")).unwrap().get(), 500);
        assert!(PageSize::parse("size", Some("501")).is_err());
        assert!(PageSize::parse("size", Some("0")).is_err());
        assert!(PageSize::parse("size", Some("ten")).is_err());
    }

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let c = Cursor {
            value: "Zoë O'Brien".into(),
            id: "u-1".into(),
        };
        assert_eq!(Cursor::parse("after", &c.encode()), Ok(c));
        assert!(Cursor::parse("after", "not base64!").is_err());
        assert!(Cursor::parse("after", &URL_SAFE_NO_PAD.encode("no separator")).is_err());
        let t = NaiveDate::from_ymd_opt(2026, 11, 2)
            .unwrap()
            .and_hms_milli_opt(3, 4, 5, 678)
            .unwrap();
        assert_eq!(Cursor::for_time(t, "ev-1").time("after"), Ok(t));
        assert!(PagePosition::parse(Some("x"), Some("y")).is_err());
    }

    #[test]
    fn ranges_start_on_whole_hours() {
        let now = today().and_hms_opt(14, 35, 0).unwrap();
        let w = RangeChoice::Last24Hours.window(now);
        assert_eq!(
            w.start,
            today().pred_opt().unwrap().and_hms_opt(14, 0, 0).unwrap()
        );
        assert_eq!(w.end, None);
        let w = RangeChoice::Last7Days.window(now);
        assert_eq!(
            w.start,
            NaiveDate::from_ymd_opt(2026, 11, 16)
                .unwrap()
                .and_hms_opt(14, 0, 0)
                .unwrap()
        );
    }

    #[test]
    fn date_ranges_are_validated_against_retention() {
        let r =
            RangeChoice::parse(None, Some("2026-11-01"), Some("2026-11-02"), today(), 30).unwrap();
        let w = r.window(today().and_hms_opt(9, 0, 0).unwrap());
        assert_eq!(
            w.start,
            NaiveDate::from_ymd_opt(2026, 11, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
        );
        assert_eq!(
            w.end,
            NaiveDate::from_ymd_opt(2026, 11, 3)
                .unwrap()
                .and_hms_opt(0, 0, 0)
        );
        // A preset wins over dates.
        assert_eq!(
            RangeChoice::parse(Some("7d"), Some("2026-11-01"), None, today(), 30),
            Ok(RangeChoice::Last7Days)
        );
        let bad = |range, from, to| {
            RangeChoice::parse(range, from, to, today(), 30)
                .unwrap_err()
                .param
        };
        assert_eq!(bad(Some("1y"), None, None), "range");
        assert_eq!(bad(None, Some("2026-02-30"), None), "from");
        assert_eq!(bad(None, Some("2026-10-01"), None), "from");
        // A preset wins over dates, but a date that is not one is still refused.
        assert_eq!(bad(Some("7d"), None, Some("true")), "to");
        assert_eq!(bad(Some("24h"), Some("6102-1-1x"), None), "from");
        assert_eq!(bad(None, None, Some("2026-11-24")), "to");
        assert_eq!(
            bad(Some("custom"), Some("2026-11-20"), Some("2026-11-10")),
            "from"
        );
    }
}
