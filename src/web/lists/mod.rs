//! The lists' declarations: for each list, its address, the parameters it
//! accepts, their parser, the links that carry a filter, and the OpenAPI
//! documentation of those parameters. The page, its CSV download and the API
//! endpoint all read their query strings and build their links here, so they
//! cannot disagree on a name or a value; the OpenAPI document is generated
//! from the same parameter lists, so it cannot list a parameter the parser
//! refuses or leave out one it accepts.
//!
//! Nothing here renders: the page modules above and `api/` use these.

pub mod events;
pub mod overview;
pub mod registrations;
pub mod reports;
pub mod trends;
pub mod views;

use crate::db::timeline::validate_position;
use crate::domain::filter::{PagePosition, PageSize, RangeChoice, Search, SEARCH_MAX_CHARS};
use crate::web::error::AppResult;
use crate::web::params::Params;
use chrono::NaiveDateTime;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Required, Schema};

/// Days of events and activities kept; ranges may reach back this far.
pub const RETENTION_DAYS: u32 = 30;

/// A string schema with a fixed list of values.
pub fn one_of<'a>(values: impl IntoIterator<Item = &'a str>, description: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .into()
}

/// `values` and `all` (every value; the same as leaving the parameter out).
fn choice<'a>(values: impl IntoIterator<Item = &'a str>, description: &str) -> Schema {
    one_of(values.into_iter().chain(["all"]), description)
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// The documentation of one query parameter of a list.
fn query(name: &str, schema: impl Into<RefOr<Schema>>, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .style(Some(ParameterStyle::Form))
        .explode(Some(true))
        .build()
}

/// The documentation of the parameters every list shares (search, paging and
/// the time range); `None` for a name that is the list's own.
fn shared(name: &str) -> Option<Parameter> {
    let dates = "Used with range=custom (or without range): whole UTC days within the retention window, up to today.";
    let date = || {
        string()
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .build()
    };
    Some(match name {
        "q" => query(
            name,
            string().max_length(Some(SEARCH_MAX_CHARS)).build(),
            "Search: a part of the user's name or user name, any case.",
        ),
        "size" => query(
            name,
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(PageSize::MAX))
                .build(),
            &format!(
                "Rows per page, 1 to {} (default {}).",
                PageSize::MAX,
                PageSize::DEFAULT.get()
            ),
        ),
        "after" => query(
            name,
            string().build(),
            "The page after this position: copy it from @odata.nextLink, do not build it.",
        ),
        "before" => query(
            name,
            string().build(),
            "The page before this position (the pages' Previous link); not with after.",
        ),
        "range" => query(
            name,
            one_of(
                ["24h", "7d", "30d", "custom"],
                "24h, 7d, 30d (the default) or custom (with from and to).",
            ),
            "The time range of the list.",
        ),
        "from" => query(name, date(), &format!("First day (YYYY-MM-DD). {dates}")),
        "to" => query(name, date(), &format!("Last day (YYYY-MM-DD). {dates}")),
        _ => return None,
    })
}

/// The documentation of each of `names`, from the list's own `document`
/// first, then the shared parameters. A name neither knows is a defect the
/// tests catch (it reads "(undocumented)").
fn documented(names: &[&str], document: impl Fn(&str) -> Option<Parameter>) -> Vec<Parameter> {
    names
        .iter()
        .map(|name| {
            document(name)
                .or_else(|| shared(name))
                .unwrap_or_else(|| query(name, string().build(), "(undocumented)"))
        })
        .collect()
}

/// A list's time range (within [`RETENTION_DAYS`], up to `now`) and page
/// position, from its query string.
fn range_and_position(p: &Params, now: NaiveDateTime) -> AppResult<(RangeChoice, PagePosition)> {
    let range = RangeChoice::parse(
        p.one("range")?,
        p.one("from")?,
        p.one("to")?,
        now.date(),
        RETENTION_DAYS,
    )?;
    let position = PagePosition::parse(p.one("after")?, p.one("before")?)?;
    validate_position(&position)?;
    Ok((range, position))
}

/// The range as URL parameters; the default range gives none.
pub fn range_pairs(range: RangeChoice) -> Vec<(&'static str, String)> {
    match range {
        RangeChoice::Dates { from, to } => vec![
            ("range", "custom".into()),
            ("from", from.to_string()),
            ("to", to.to_string()),
        ],
        r if r == RangeChoice::default() => Vec::new(),
        r => vec![("range", r.key().into())],
    }
}

/// The search as its URL parameter (empty when there is none).
fn search_pair(search: &Option<Search>) -> (&'static str, String) {
    (
        "q",
        search
            .as_ref()
            .map(|s| s.typed().to_string())
            .unwrap_or_default(),
    )
}

/// `IntoParams` types naming an endpoint's parameters for `#[utoipa::path]`.
macro_rules! openapi_params {
    ($(#[$doc:meta])* $name:ident => $parameters:expr) => {
        $(#[$doc])*
        pub struct $name;
        impl utoipa::IntoParams for $name {
            fn into_params(
                _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
            ) -> Vec<utoipa::openapi::path::Parameter> {
                $parameters
            }
        }
    };
}
use openapi_params;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_a_parser_accepts_is_documented() {
        let lists: [(&str, Vec<Parameter>); 5] = [
            ("overview", overview::parameters()),
            ("registrations", registrations::parameters()),
            ("events", events::parameters()),
            (
                "registration activity",
                reports::parameters(reports::Report::RegistrationActivity),
            ),
            (
                "reset activity",
                reports::parameters(reports::Report::ResetActivity),
            ),
        ];
        for (list, parameters) in lists {
            for p in parameters {
                assert_ne!(
                    p.description.as_deref(),
                    Some("(undocumented)"),
                    "{list}: {}",
                    p.name
                );
            }
        }
    }

    #[test]
    fn the_default_range_gives_no_parameters() {
        assert!(range_pairs(RangeChoice::default()).is_empty());
        assert_eq!(
            range_pairs(RangeChoice::Last7Days),
            vec![("range", "7d".to_string())]
        );
    }
}
