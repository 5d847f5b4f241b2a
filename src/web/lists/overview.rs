//! The overview's one parameter (`/` and `/api/v1/overview`): the range of
//! its charts, a preset only.

use super::{documented, one_of, openapi_params, query};
use crate::domain::filter::RangeChoice;
use crate::web::error::AppResult;
use crate::web::params::Params;
use utoipa::openapi::path::Parameter;

/// Every parameter the overview accepts.
pub const PARAMS: [&str; 1] = ["range"];

/// Parses the overview's query string: only `range`, a preset.
pub fn parse_range(query: &str) -> AppResult<RangeChoice> {
    let params = Params::parse(query, &PARAMS)?;
    Ok(RangeChoice::parse_preset("range", params.one("range")?)?)
}

fn document(name: &str) -> Option<Parameter> {
    (name == "range").then(|| {
        query(
            name,
            one_of(["24h", "7d", "30d"], "24h, 7d or 30d (the default)."),
            "The time range of the charts.",
        )
    })
}

/// The OpenAPI documentation of [`PARAMS`].
pub fn parameters() -> Vec<Parameter> {
    documented(&PARAMS, document)
}

openapi_params!(
    /// The parameters of the overview's figures.
    OpenApiParams => parameters()
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overview_takes_presets_only() {
        assert_eq!(parse_range("range=7d").unwrap(), RangeChoice::Last7Days);
        assert_eq!(parse_range("").unwrap(), RangeChoice::default());
        assert!(parse_range("range=custom").is_err());
        assert!(parse_range("from=2026-01-01").is_err());
    }
}
