//! The overview's method charts (success and failure per method), shared by
//! the overview and the usage view: bars positioned in SVG units, each a
//! link to the reset details behind it.

use super::figures::ChartFigure;
use super::lists::events::kind_href;
use super::thousands;
use crate::domain::filter::{Outcome, RangeChoice};
use crate::domain::{Feature, Method};

/// One bar of a chart, positioned in the SVG's user units.
pub struct Bar {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub count: i64,
    pub count_text: String,
    pub text_x: u32,
    pub href: String,
    pub title: String,
    pub class: &'static str,
}

/// One method's row of a chart.
pub struct ChartRow {
    pub method: &'static str,
    pub label_y: u32,
    pub success: Bar,
    pub failure: Bar,
}

impl ChartRow {
    pub fn bars(&self) -> [&Bar; 2] {
        [&self.success, &self.failure]
    }
}

pub struct Chart {
    pub id: &'static str,
    pub title: &'static str,
    pub description: String,
    pub height: u32,
    pub rows: Vec<ChartRow>,
    pub total_success: String,
    pub total_failure: String,
}

const LABEL_WIDTH: u32 = 150;
pub const BAR_MAX: u32 = 290;
pub const BAR_HEIGHT: u32 = 13;
const ROW_HEIGHT: u32 = 38;
pub const CHART_WIDTH: u32 = 520;

impl Chart {
    pub fn new(figure: &ChartFigure, range: RangeChoice) -> Chart {
        let feature = figure.feature;
        let max = figure
            .rows
            .iter()
            .flat_map(|r| [r.success, r.failure])
            .max()
            .unwrap_or(0)
            .max(1);
        let what = match feature {
            Feature::Registration => "registrations",
            Feature::Reset => "verifications during password reset",
            Feature::Unlock => "verifications during account unlock",
        };
        let bar = |m: Method, outcome: Outcome, n: i64, y: u32| {
            let width = ((n as f64 / max as f64) * f64::from(BAR_MAX)).round() as u32;
            let width = if n > 0 { width.max(2) } else { 0 };
            Bar {
                x: LABEL_WIDTH,
                y,
                width,
                count: n,
                count_text: thousands(n),
                text_x: LABEL_WIDTH + width + 6,
                href: kind_href(feature, m, outcome, range),
                title: format!(
                    "{}: {} {} {}",
                    m.display_name(),
                    thousands(n),
                    outcome.display_name().to_lowercase(),
                    if n == 1 { "event" } else { "events" }
                ),
                class: match outcome {
                    Outcome::Success => "bar-success",
                    Outcome::Failure => "bar-failure",
                },
            }
        };
        let rows: Vec<ChartRow> = figure
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let top = 8 + i as u32 * ROW_HEIGHT;
                ChartRow {
                    method: r.method.display_name(),
                    label_y: top + BAR_HEIGHT + 4,
                    success: bar(r.method, Outcome::Success, r.success, top),
                    failure: bar(r.method, Outcome::Failure, r.failure, top + BAR_HEIGHT + 2),
                }
            })
            .collect();
        Chart {
            id: figure.key(),
            title: match feature {
                Feature::Registration => "Registrations",
                Feature::Reset => "Resets",
                Feature::Unlock => "Unlocks",
            },
            description: format!(
                "Successful and failed {what} per authentication method in the last {}.",
                range.label()
            ),
            height: 8 + rows.len() as u32 * ROW_HEIGHT,
            total_success: thousands(figure.total(true)),
            total_failure: thousands(figure.total(false)),
            rows,
        }
    }
}
