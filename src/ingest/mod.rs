//! Data in: the demo-tenant generator (imports and live ingest follow).

pub mod bulk;
pub mod demo;
