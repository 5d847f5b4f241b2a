//! The rules of the product in plain Rust: no SQL, no HTTP.

pub mod activity;
pub mod explain;
pub mod filter;
pub mod method;
pub mod policy;
pub mod schedule;
pub mod second_factor;
pub mod sign_in;
pub mod status;

pub use activity::{ActivityResult, Details, Feature, Verification};
pub use method::{Method, MethodSet, PolicyMethod, PolicyMethodSet};
pub use policy::{Scope, SsprPolicy};
pub use status::{
    assess, evaluate, Assessment, ScopeReason, StatusKey, UserFacts, UserStatus, VerdictSource,
    Verdicts,
};
