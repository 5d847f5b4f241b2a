//! The OpenAPI description of what `/graph/…` answers: Graph's records and
//! collections. Every property may be left out (by `$select`), so none is
//! required; the records themselves are built as JSON in [`super::records`].

#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;

/// A Graph collection page of `T`.
macro_rules! collection {
    ($(#[$doc:meta])* $name:ident of $row:ty) => {
        $(#[$doc])*
        #[derive(Serialize, ToSchema)]
        pub struct $name {
            /// The metadata address of the collection (and of `$select`).
            #[serde(rename = "@odata.context")]
            pub context: String,
            /// With `$count=true` and `ConsistencyLevel: eventual`: how
            /// many records pass the filter on all pages.
            #[serde(rename = "@odata.count", skip_serializing_if = "Option::is_none")]
            #[schema(nullable = false)]
            pub count: Option<i64>,
            /// The next page: the same query with `$skiptoken`; absent on
            /// the last page.
            #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
            #[schema(nullable = false)]
            pub next_link: Option<String>,
            pub value: Vec<$row>,
        }
    };
}

/// `microsoft.graph.userRegistrationDetails`.
#[derive(Serialize, ToSchema)]
#[schema(as = graph::UserRegistrationDetails)]
#[allow(non_snake_case)]
pub struct UserRegistrationDetails {
    /// The user's directory id.
    #[schema(nullable = false)]
    pub id: Option<String>,
    #[schema(nullable = false)]
    pub userPrincipalName: Option<String>,
    #[schema(nullable = false)]
    pub userDisplayName: Option<String>,
    /// `member` or `guest`.
    #[schema(nullable = false)]
    pub userType: Option<String>,
    #[schema(nullable = false)]
    pub isAdmin: Option<bool>,
    #[schema(nullable = false)]
    pub isSsprRegistered: Option<bool>,
    #[schema(nullable = false)]
    pub isSsprEnabled: Option<bool>,
    #[schema(nullable = false)]
    pub isSsprCapable: Option<bool>,
    #[schema(nullable = false)]
    pub isMfaRegistered: Option<bool>,
    #[schema(nullable = false)]
    pub isMfaCapable: Option<bool>,
    #[schema(nullable = false)]
    pub isPasswordlessCapable: Option<bool>,
    #[schema(nullable = false)]
    pub isSystemPreferredAuthenticationMethodEnabled: Option<bool>,
    /// When the directory last computed the details (`0001-01-01T00:00:00Z`:
    /// no source said).
    #[schema(nullable = false, format = DateTime)]
    pub lastUpdatedDateTime: Option<String>,
    /// Graph's method names (`mobilePhone`, `microsoftAuthenticatorPush`, …).
    #[schema(nullable = false)]
    pub methodsRegistered: Option<Vec<String>>,
    #[schema(nullable = false)]
    pub systemPreferredAuthenticationMethods: Option<Vec<String>>,
    /// `push`, `oath`, `voiceMobile`, `voiceAlternateMobile`, `voiceOffice`,
    /// `sms`, `none` or `unknownFutureValue`.
    #[schema(nullable = false)]
    pub userPreferredMethodForSecondaryAuthentication: Option<String>,
    /// Beta only.
    #[schema(nullable = false)]
    pub defaultMfaMethod: Option<String>,
}

/// One user's registration details, as a single entity.
#[derive(Serialize, ToSchema)]
#[allow(non_snake_case)]
pub struct UserRegistrationDetailsEntity {
    #[serde(rename = "@odata.context")]
    pub context: String,
    #[serde(flatten)]
    pub details: UserRegistrationDetails,
}

collection!(
    /// A page of `userRegistrationDetails`.
    UserRegistrationDetailsCollection of UserRegistrationDetails
);

/// `microsoft.graph.userEventsSummary` (beta): one registration or reset
/// verification of one method; `id` is the user's.
#[derive(Serialize, ToSchema)]
#[schema(as = graph::UserEventsSummary)]
#[allow(non_snake_case)]
pub struct UserEventsSummary {
    #[serde(rename = "@odata.type")]
    #[schema(nullable = false)]
    pub odata_type: Option<String>,
    #[schema(nullable = false)]
    pub id: Option<String>,
    /// `registration` or `reset`.
    #[schema(nullable = false)]
    pub feature: Option<String>,
    #[schema(nullable = false)]
    pub userPrincipalName: Option<String>,
    #[schema(nullable = false)]
    pub userDisplayName: Option<String>,
    #[schema(nullable = false)]
    pub isSuccess: Option<bool>,
    /// A `usageAuthMethod` member.
    #[schema(nullable = false)]
    pub authMethod: Option<String>,
    /// Empty when the event succeeded.
    #[schema(nullable = false)]
    pub failureReason: Option<String>,
    #[schema(nullable = false, format = DateTime)]
    pub eventDateTime: Option<String>,
}

collection!(
    /// A page of `userEventsSummary`.
    UserEventsSummaryCollection of UserEventsSummary
);

/// `microsoft.graph.directoryAudit`.
#[derive(Serialize, ToSchema)]
#[schema(as = graph::DirectoryAudit)]
#[allow(non_snake_case)]
pub struct DirectoryAudit {
    #[schema(nullable = false)]
    pub id: Option<String>,
    #[schema(nullable = false)]
    pub category: Option<String>,
    #[schema(nullable = false)]
    pub correlationId: Option<String>,
    /// `success` or `failure`.
    #[schema(nullable = false)]
    pub result: Option<String>,
    #[schema(nullable = false)]
    pub resultReason: Option<String>,
    #[schema(nullable = false)]
    pub activityDisplayName: Option<String>,
    #[schema(nullable = false, format = DateTime)]
    pub activityDateTime: Option<String>,
    #[schema(nullable = false)]
    pub loggedByService: Option<String>,
    #[schema(nullable = false)]
    pub operationType: Option<String>,
    /// `{"app": null, "user": {"id", "displayName", "userPrincipalName", …}}`.
    #[schema(nullable = false, value_type = Object)]
    pub initiatedBy: Option<serde_json::Value>,
    /// The user the entry is about: `[{"id", "displayName", "type": "User", "userPrincipalName", …}]`.
    #[schema(nullable = false, value_type = Vec<Object>)]
    pub targetResources: Option<Vec<serde_json::Value>>,
    #[schema(nullable = false, value_type = Vec<Object>)]
    pub additionalDetails: Option<Vec<serde_json::Value>>,
}

collection!(
    /// A page of `directoryAudit`.
    DirectoryAuditCollection of DirectoryAudit
);

/// `microsoft.graph.user`, of the properties the portal holds.
#[derive(Serialize, ToSchema)]
#[schema(as = graph::User)]
#[allow(non_snake_case)]
pub struct User {
    #[schema(nullable = false)]
    pub id: Option<String>,
    #[schema(nullable = false)]
    pub displayName: Option<String>,
    #[schema(nullable = false)]
    pub userPrincipalName: Option<String>,
    /// Null while no source has said.
    pub accountEnabled: Option<bool>,
    /// `Member` or `Guest`.
    #[schema(nullable = false)]
    pub userType: Option<String>,
    /// Always empty: the portal does not keep phones.
    #[schema(nullable = false)]
    pub businessPhones: Option<Vec<String>>,
    /// Always null, as the next six: the portal does not keep them.
    pub givenName: Option<String>,
    pub jobTitle: Option<String>,
    pub mail: Option<String>,
    pub mobilePhone: Option<String>,
    pub officeLocation: Option<String>,
    pub preferredLanguage: Option<String>,
    pub surname: Option<String>,
}

collection!(
    /// A page of `user`.
    UserCollection of User
);

/// `microsoft.graph.userRegistrationFeatureCount`.
#[derive(Serialize, ToSchema)]
#[allow(non_snake_case)]
pub struct FeatureCount {
    /// `ssprRegistered`, `ssprEnabled`, `ssprCapable`,
    /// `passwordlessCapable` or `mfaCapable`.
    pub feature: String,
    pub userCount: i64,
}

/// `microsoft.graph.userRegistrationFeatureSummary`.
#[derive(Serialize, ToSchema)]
#[allow(non_snake_case)]
pub struct FeatureSummary {
    #[serde(rename = "@odata.context")]
    pub context: String,
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    pub totalUserCount: i64,
    /// `all`, `member` or `guest`.
    pub userTypes: String,
    /// `all`, `privilegedAdmin`, `admin` or `user`.
    pub userRoles: String,
    pub userRegistrationFeatureCounts: Vec<FeatureCount>,
}

/// `microsoft.graph.userRegistrationMethodCount`.
#[derive(Serialize, ToSchema)]
#[allow(non_snake_case)]
pub struct MethodCount {
    /// Graph's method name (`password`, `mobilePhone`, `email`, …).
    pub authenticationMethod: String,
    pub userCount: i64,
}

/// `microsoft.graph.userRegistrationMethodSummary`.
#[derive(Serialize, ToSchema)]
#[allow(non_snake_case)]
pub struct MethodSummary {
    #[serde(rename = "@odata.context")]
    pub context: String,
    #[serde(rename = "@odata.type")]
    pub odata_type: String,
    pub totalUserCount: i64,
    pub userTypes: String,
    pub userRoles: String,
    pub userRegistrationMethodCounts: Vec<MethodCount>,
}

/// The Graph versions the portal answers.
#[derive(Serialize, ToSchema)]
pub enum GraphVersion {
    #[serde(rename = "v1.0")]
    V1,
    #[serde(rename = "beta")]
    Beta,
}

/// Graph's `includedUserTypes`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum IncludedUserTypes {
    All,
    Member,
    Guest,
}

/// Graph's `includedUserRoles`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum IncludedUserRoles {
    All,
    PrivilegedAdmin,
    Admin,
    User,
}
