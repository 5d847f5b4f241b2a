//! Pieces the list pages share: select fields for GET forms, the pager, and
//! Yes/No cells.

use crate::domain::filter::{Cursor, PageSize, RangeChoice, TimeWindow};
use chrono::NaiveDate;

pub struct SelectOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A labelled `<select>` of a GET filter form.
pub struct SelectField {
    pub name: &'static str,
    pub label: &'static str,
    pub options: Vec<SelectOption>,
}

impl SelectField {
    pub fn new(
        name: &'static str,
        label: &'static str,
        options: &[(&str, &str)],
        current: &str,
    ) -> SelectField {
        SelectField::owned(
            name,
            label,
            options
                .iter()
                .map(|(v, l)| (v.to_string(), l.to_string()))
                .collect(),
            current,
        )
    }

    pub fn owned(
        name: &'static str,
        label: &'static str,
        options: Vec<(String, String)>,
        current: &str,
    ) -> SelectField {
        SelectField {
            name,
            label,
            options: options
                .into_iter()
                .map(|(value, label)| SelectOption {
                    selected: value == current,
                    value,
                    label,
                })
                .collect(),
        }
    }

    /// Adds `value` as an option when the URL asked for one the form does not offer.
    pub fn ensure_selected(&mut self, value: &str, label: &str) {
        if !self.options.iter().any(|o| o.selected) {
            self.options.push(SelectOption {
                value: value.to_string(),
                label: label.to_string(),
                selected: true,
            });
        }
    }
}

impl SelectField {
    /// The rows-per-page choice, showing a size from the URL the form does not offer.
    pub fn page_size(size: PageSize) -> SelectField {
        let current = size.get().to_string();
        let mut field = SelectField::owned(
            "size",
            "Rows per page",
            PageSize::CHOICES
                .iter()
                .map(|n| (n.to_string(), format!("{n} rows")))
                .collect(),
            &current,
        );
        field.ensure_selected(&current, &format!("{current} rows"));
        field
    }
}

/// Links to the first, previous and next pages, where there are such pages.
pub struct Pager {
    pub first: Option<String>,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// Keyset links: `link` makes a page's URL from an optional
    /// (`after`|`before`, cursor); `first` and `last` are the cursors of the
    /// page's first and last rows.
    pub fn keyset(
        has_prev: bool,
        has_next: bool,
        first: Option<Cursor>,
        last: Option<Cursor>,
        link: impl Fn(Option<(&str, String)>) -> String,
    ) -> Pager {
        Pager {
            first: has_prev.then(|| link(None)),
            prev: first
                .filter(|_| has_prev)
                .map(|c| link(Some(("before", c.encode())))),
            next: last
                .filter(|_| has_next)
                .map(|c| link(Some(("after", c.encode())))),
        }
    }

    pub fn is_needed(&self) -> bool {
        self.first.is_some() || self.prev.is_some() || self.next.is_some()
    }
}

/// Yes, No, or "—" where no source said.
pub fn yes_no_unknown(value: Option<bool>) -> &'static str {
    value.map_or(UNKNOWN, yes_no)
}

/// How a page shows a fact no source stated.
pub const UNKNOWN: &str = "—";

pub fn yes_no(value: bool) -> &'static str {
    if value {
        "Yes"
    } else {
        "No"
    }
}

/// The range fields of a time-ranged list: a preset or custom dates within
/// the retention window.
pub struct RangeFields {
    pub select: SelectField,
    pub from: String,
    pub to: String,
    pub min_date: String,
    pub max_date: String,
}

impl RangeFields {
    pub fn new(range: RangeChoice, today: NaiveDate, retention_days: u32) -> RangeFields {
        let ranges: Vec<(&str, &str)> = RangeChoice::PRESETS
            .iter()
            .map(|r| (r.key(), r.label()))
            .chain(std::iter::once(("custom", "Custom dates")))
            .collect();
        let (from, to) = match range {
            RangeChoice::Dates { from, to } => (from.to_string(), to.to_string()),
            _ => (String::new(), String::new()),
        };
        RangeFields {
            select: SelectField::new("range", "Range", &ranges, range.key()),
            from,
            to,
            min_date: (today - chrono::Duration::days(i64::from(retention_days))).to_string(),
            max_date: today.to_string(),
        }
    }

    /// The range in words: "in the last 30 days (since …)" or "from … to … (UTC)".
    pub fn span(range: RangeChoice, window: TimeWindow) -> String {
        match range {
            RangeChoice::Dates { from, to } => format!("from {from} to {to} (UTC)"),
            r => format!(
                "in the last {} (since {})",
                r.label(),
                window.start.format("%Y-%m-%d %H:%M UTC")
            ),
        }
    }
}
