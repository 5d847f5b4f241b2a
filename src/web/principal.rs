//! Who is asking: a signed-in account (its session) or an API key. Plain
//! data, established by the routes' guards in `auth`; pages and the layout
//! read it.

use crate::accounts::Role;

/// A signed-in portal account, as its session shows it.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub account_id: String,
    pub username: String,
    pub role: Role,
    pub must_change_password: bool,
    /// SHA-256 of the session token: the session's key.
    pub session: String,
    pub csrf: String,
    /// A one-time notice left by the previous request.
    pub flash: Option<String>,
}

impl Viewer {
    pub fn is_admin(&self) -> bool {
        self.role.may_change()
    }
}

/// An API key presented as `Authorization: Bearer …`.
#[derive(Debug, Clone)]
pub struct KeyHolder {
    pub id: String,
    pub name: String,
    pub can_read: bool,
    pub can_ingest: bool,
}

/// Who is asking, as the route's guard established it.
#[derive(Debug, Clone)]
pub enum Principal {
    Session(Viewer),
    Key(KeyHolder),
}
