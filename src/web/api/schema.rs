//! The OpenAPI pieces that come from the domain itself: the value lists of
//! keys (methods, results, …), generated from the same constants the parsers
//! use, so the document cannot list a value the code does not accept. The
//! query parameters are declared with their lists, in `web::lists`.

use crate::domain::{ActivityResult, Details, Feature, Method, PolicyMethod};
use crate::web::lists::one_of;
use serde::{Serialize, Serializer};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_serialise_as_their_stable_names() {
        let v =
            serde_json::to_value([MethodKey(Method::MobileSms), MethodKey(Method::Email)]).unwrap();
        assert_eq!(v, serde_json::json!(["mobile_sms", "email"]));
    }
}
