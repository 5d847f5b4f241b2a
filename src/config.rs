//! Settings read once from flags and the environment.

use std::path::PathBuf;

/// What the web layer needs besides the database.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Folder of the stylesheet and other static files.
    pub static_dir: PathBuf,
}

impl WebSettings {
    /// `AUTHINSIGHTS_STATIC_DIR`, else `static/` of the source tree the binary
    /// was built from, else `./static`.
    pub fn from_env() -> WebSettings {
        let static_dir = std::env::var_os("AUTHINSIGHTS_STATIC_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("static");
                if built.is_dir() {
                    built
                } else {
                    PathBuf::from("static")
                }
            });
        WebSettings { static_dir }
    }
}

/// Default database when neither `--database-url` nor `DATABASE_URL` is given.
pub const DEFAULT_DATABASE_URL: &str = "./authinsights.db";
/// Default listen address of `serve`.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
