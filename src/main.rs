use authinsights::config::LogFormat;
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    authinsights::db::use_system_certificates();
    let format = match LogFormat::from_env() {
        Ok(format) => format,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let filter =
        EnvFilter::try_from_env("AUTHINSIGHTS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        // One object per line: the event's fields beside timestamp, level
        // and target (no spans are used).
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
    let cli = authinsights::cli::Cli::parse();
    match authinsights::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            match format {
                LogFormat::Text => eprintln!("error: {e:#}"),
                // Standard error stays one JSON object per line.
                LogFormat::Json => tracing::error!("{e:#}"),
            }
            std::process::ExitCode::FAILURE
        }
    }
}
