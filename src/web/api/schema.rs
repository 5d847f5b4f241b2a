//! The OpenAPI pieces that come from the domain itself: the value lists of
//! keys (methods, results, …) and the query parameters of each endpoint,
//! generated from the same constants the parsers use, so the document cannot
//! list a value or a parameter the code does not accept.

use crate::domain::filter::{PageSize, Sort, SEARCH_MAX_CHARS};
use crate::domain::{ActivityResult, Details, Feature, Method, PolicyMethod};
use serde::{Serialize, Serializer};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Required, Schema};
use utoipa::{PartialSchema, ToSchema};

/// A string schema with a fixed list of values.
fn one_of<'a>(values: impl IntoIterator<Item = &'a str>, description: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .into()
}

/// A domain value written as its stable key, with the list of keys as its schema.
macro_rules! key_type {
    ($(#[$doc:meta])* $name:ident($inner:ty), $all:expr, $description:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name(pub $inner);

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.0.key())
            }
        }

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                one_of($all.iter().map(|x| x.key()), $description).into()
            }
        }

        impl ToSchema for $name {}
    };
}

key_type!(
    /// Any authentication method of the catalogue.
    MethodKey(Method),
    Method::ALL,
    "An authentication method: the seven SSPR usage methods and the other methods a directory holds (FIDO2 security keys, passkeys, …)."
);
key_type!(
    /// Authentication info as the SSPR policy counts it.
    PolicyMethodKey(PolicyMethod),
    PolicyMethod::ALL,
    "Authentication info as the SSPR policy counts it: a mobile phone serves SMS and calls and counts once."
);
key_type!(
    FeatureKey(Feature),
    Feature::ALL,
    "registration (SSPR registration) or reset (self-service password reset)."
);
key_type!(
    ResultKey(ActivityResult),
    ActivityResult::ALL,
    "How the operation ended (the classic reports' Result)."
);
key_type!(
    DetailsKey(Details),
    Details::ALL,
    "Why a password reset ended as it did: a stable code for the classic Reset activity report's Details."
);

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// `values` and `all` (every value; the same as leaving the parameter out).
fn choice<'a>(values: impl IntoIterator<Item = &'a str>, description: &str) -> Schema {
    one_of(values.into_iter().chain(["all"]), description)
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

/// The endpoints whose parameters differ by name or meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Overview,
    Registrations,
    Events,
    RegistrationActivity,
    ResetActivity,
}

/// The parameter `name` of an endpoint, as the parser accepts it.
fn parameter(endpoint: Endpoint, name: &str) -> Parameter {
    let status = |what: &str| {
        query(
            name,
            choice(["yes", "no"], "yes, no, or all (the default)."),
            &format!("Only users who are (yes) or are not (no) {what}."),
        )
    };
    let dates = "Used with range=custom (or without range): whole UTC days within the retention window, up to today.";
    match name {
        "registered" => status("registered for SSPR"),
        "enabled" => status("enabled for SSPR (in the policy's scope)"),
        "capable" => status("capable of SSPR (registered and enabled)"),
        "mfa_capable" => status("MFA capable"),
        "passwordless_capable" => status("passwordless capable"),
        "admin" => status("administrators"),
        "account_enabled" => status("enabled accounts"),
        "user_type" => query(
            name,
            choice(["member", "guest"], "member, guest, or all."),
            "Only members or only guests.",
        ),
        "method" => match endpoint {
            Endpoint::Registrations => query(
                name,
                ArrayBuilder::new()
                    .items(RefOr::T(choice(
                        Method::ALL.iter().map(|m| m.key()),
                        "A method key, or all (no filter).",
                    )))
                    .build(),
                "Users with any of these methods registered; repeat the parameter for more than one.",
            ),
            Endpoint::Events => query(
                name,
                choice(
                    Method::USAGE.iter().map(|m| m.key()),
                    "One of the seven usage methods, or all.",
                ),
                "Only events of this authentication method.",
            ),
            _ => query(
                name,
                choice(
                    PolicyMethod::ALL.iter().map(|m| m.key()),
                    "Authentication info, or all.",
                ),
                "Only operations that used this authentication info.",
            ),
        },
        "q" => query(
            name,
            string().max_length(Some(SEARCH_MAX_CHARS)).build(),
            "Search: a part of the user's name or user name, any case.",
        ),
        "sort" => query(
            name,
            one_of(Sort::ALL.iter().map(|s| s.key()), "A column; a leading - sorts Z to A."),
            "Order of the list (default: name).",
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
        "feature" => query(
            name,
            choice(Feature::ALL.iter().map(|f| f.key()), "registration, reset, or all."),
            "Only events of this feature.",
        ),
        "status" => query(
            name,
            choice(["success", "failure"], "success, failure, or all."),
            "Only successful or only failed events.",
        ),
        "range" if endpoint == Endpoint::Overview => query(
            name,
            one_of(["24h", "7d", "30d"], "24h, 7d or 30d (the default)."),
            "The time range of the charts.",
        ),
        "range" => query(
            name,
            one_of(
                ["24h", "7d", "30d", "custom"],
                "24h, 7d, 30d (the default) or custom (with from and to).",
            ),
            "The time range of the list.",
        ),
        "from" => query(
            name,
            string()
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
                .build(),
            &format!("First day (YYYY-MM-DD). {dates}"),
        ),
        "to" => query(
            name,
            string()
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
                .build(),
            &format!("Last day (YYYY-MM-DD). {dates}"),
        ),
        "result" => query(
            name,
            choice(
                ActivityResult::ALL.iter().map(|r| r.key()),
                "A result, or all.",
            ),
            "Only resets that ended with this result.",
        ),
        other => query(other, string().build(), "(undocumented)"),
    }
}

/// The parameters of an endpoint, in the order its parser lists them.
pub fn parameters(endpoint: Endpoint) -> Vec<Parameter> {
    use super::super::{activity, overview, registrations, reports};
    let names: &[&str] = match endpoint {
        Endpoint::Overview => &overview::PARAMS,
        Endpoint::Registrations => &registrations::PARAMS,
        Endpoint::Events => &activity::PARAMS,
        Endpoint::RegistrationActivity => reports::Report::RegistrationActivity.params(),
        Endpoint::ResetActivity => reports::Report::ResetActivity.params(),
    };
    names.iter().map(|n| parameter(endpoint, n)).collect()
}

/// `IntoParams` types naming each endpoint's parameters for `#[utoipa::path]`.
macro_rules! params_of {
    ($($name:ident => $endpoint:expr),* $(,)?) => {
        $(
            pub struct $name;
            impl utoipa::IntoParams for $name {
                fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
                    parameters($endpoint)
                }
            }
        )*
    };
}

params_of! {
    OverviewParams => Endpoint::Overview,
    RegistrationParams => Endpoint::Registrations,
    EventParams => Endpoint::Events,
    RegistrationActivityParams => Endpoint::RegistrationActivity,
    ResetActivityParams => Endpoint::ResetActivity,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_a_parser_accepts_is_documented() {
        for endpoint in [
            Endpoint::Overview,
            Endpoint::Registrations,
            Endpoint::Events,
            Endpoint::RegistrationActivity,
            Endpoint::ResetActivity,
        ] {
            for p in parameters(endpoint) {
                assert_ne!(
                    p.description.as_deref(),
                    Some("(undocumented)"),
                    "{endpoint:?}: {}",
                    p.name
                );
            }
        }
    }

    #[test]
    fn keys_serialise_as_their_stable_names() {
        let v =
            serde_json::to_value([MethodKey(Method::MobileSms), MethodKey(Method::Email)]).unwrap();
        assert_eq!(v, serde_json::json!(["mobile_sms", "email"]));
    }
}
