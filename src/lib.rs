//! authinsights: a self-hosted portal that shows how a directory's users
//! register and use authentication methods for SSPR and MFA.

pub mod accounts;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod ingest;
pub mod metrics;
pub mod notify;
pub mod service;
pub mod startup;
pub mod sync;
pub mod tls;
pub mod web;
