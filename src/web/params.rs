//! The query string of a page: every parameter known to the page, each given
//! at most once unless it repeats by design. Anything else is a 400 that names
//! the parameter and lists what the page accepts.

use super::error::{AppError, AppResult};
use crate::domain::filter::{FilterError, PageSize};

pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses `query`, refusing names outside `accepted`.
    pub fn parse(query: &str, accepted: &[&str]) -> AppResult<Params> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if let Some((name, _)) = pairs.iter().find(|(k, _)| !accepted.contains(&k.as_str())) {
            return Err(AppError::BadParameter {
                param: name.clone(),
                message: if accepted.is_empty() {
                    format!("Unknown parameter '{name}'. This address takes no parameters.")
                } else {
                    format!(
                        "Unknown parameter '{}'. This page accepts: {}.",
                        name,
                        accepted.join(", ")
                    )
                },
            });
        }
        Ok(Params { pairs })
    }

    /// The one value of `name`, if given. Given twice with different values is an error.
    pub fn one<'a>(&'a self, name: &str) -> AppResult<Option<&'a str>> {
        let mut values = self
            .pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if let Some(other) = values.find(|v| Some(*v) != first) {
            return Err(AppError::BadParameter {
                param: name.to_string(),
                message: format!(
                    "Parameter '{name}' is given more than once ('{}' and '{other}'); give it once.",
                    first.unwrap_or_default()
                ),
            });
        }
        Ok(first)
    }

    /// Every value of a repeatable parameter, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl From<FilterError> for AppError {
    fn from(e: FilterError) -> Self {
        AppError::BadParameter {
            message: e.to_string(),
            param: e.param,
        }
    }
}

/// Builds a query string from (name, value) pairs, leaving out empty values.
pub fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if !v.is_empty() {
            out.append_pair(k, v);
        }
    }
    out.finish()
}

/// The URL of a list: its filter parameters, then the page size (unless the
/// default) and a keyset position.
pub fn list_href(
    path: &str,
    mut pairs: Vec<(&'static str, String)>,
    size: PageSize,
    position: Option<(&str, String)>,
) -> String {
    if size != PageSize::DEFAULT {
        pairs.push(("size", size.get().to_string()));
    }
    let position = position.iter().map(|(k, v)| (*k, v.as_str()));
    href(
        path,
        &query_string(pairs.iter().map(|(k, v)| (*k, v.as_str())).chain(position)),
    )
}

/// `path` with the query string, or the bare path when there is none.
pub fn href(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_repeated_parameters_are_refused() {
        let p = Params::parse(
            "registered=yes&method=email&method=mobile_sms",
            &["registered", "method"],
        )
        .unwrap();
        assert_eq!(p.one("registered").unwrap(), Some("yes"));
        assert_eq!(p.all("method").collect::<Vec<_>>(), ["email", "mobile_sms"]);
        assert!(p.one("method").is_err());
        let e = Params::parse("registred=yes", &["registered"])
            .err()
            .unwrap();
        assert!(e.to_string().contains("Unknown parameter 'registred'"));
        // The same value twice is harmless.
        let p = Params::parse("q=a&q=a", &["q"]).unwrap();
        assert_eq!(p.one("q").unwrap(), Some("a"));
    }

    #[test]
    fn query_strings_leave_out_empty_values_and_escape() {
        assert_eq!(
            query_string([("q", "O'Brien & co"), ("sort", "")]),
            "q=O%27Brien+%26+co"
        );
        assert_eq!(href("/a", ""), "/a");
    }
}
