//! Data in: file imports (our format and Microsoft Graph exports), live
//! ingest, retention, and the demo-tenant generator.

pub mod demo;
pub mod export;
pub mod format;
pub mod graph;
pub mod import;
pub mod records;
pub mod writer;
