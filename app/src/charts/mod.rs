//! Charts as data ([`ChartSpec`]), drawn with plotters independently of the
//! backend: the dashboard draws on a canvas (plotters-canvas), tests draw
//! to SVG. Every chart has a fixed [`Layout`] so the pointer position can be
//! mapped back to the data under it ([`hover`]).
//!
//! * [`draw`]: a spec on a plotters drawing area, one series emphasised
//!   when its legend entry is hovered.
//! * [`hover`]: the read-out of the point under the pointer.
//! * [`legend`]: which series a chart names, in which colour.
//! * [`summary`]: the chart in a sentence, its text alternative.
//! * [`axis_label`], [`short_number`], [`group_thousands`]: numbers as a
//!   reader wants them.

mod draw;
mod hover;
mod numbers;
mod summary;
#[cfg(test)]
mod tests;

use plotters::style::RGBColor;

pub use self::{
    draw::draw,
    hover::hover,
    numbers::{axis_label, group_thousands, short_number},
    summary::summary,
};

/// One line of a line chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
    /// Index into the palette.
    pub color: usize,
    /// Drawn lighter: the previous period.
    pub faint: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ChartSpec {
    /// Lines over shared x points, with a label per point.
    Lines {
        labels: Vec<String>,
        series: Vec<Series>,
        unit: String,
    },
    /// One bar per category, stacked by part.
    StackedBars {
        categories: Vec<String>,
        parts: Vec<(String, Vec<f64>)>,
    },
    /// A grid of cells, darker for larger values.
    Heatmap {
        rows: Vec<String>,
        columns: Vec<String>,
        values: Vec<Vec<f64>>,
    },
}

/// Colours of the current theme.
#[derive(Clone, Copy, Debug)]
pub struct Theme {
    pub background: RGBColor,
    pub text: RGBColor,
    pub grid: RGBColor,
    pub palette: [RGBColor; 8],
}

impl Theme {
    pub fn light() -> Self {
        Self {
            background: RGBColor(255, 255, 255),
            text: RGBColor(70, 78, 90),
            grid: RGBColor(226, 230, 235),
            palette: [
                RGBColor(37, 99, 235),
                RGBColor(220, 38, 38),
                RGBColor(5, 150, 105),
                RGBColor(217, 119, 6),
                RGBColor(124, 58, 237),
                RGBColor(8, 145, 178),
                RGBColor(219, 39, 119),
                RGBColor(101, 163, 13),
            ],
        }
    }

    pub fn dark() -> Self {
        Self {
            background: RGBColor(23, 27, 33),
            text: RGBColor(170, 180, 192),
            grid: RGBColor(48, 55, 64),
            palette: [
                RGBColor(110, 160, 255),
                RGBColor(255, 120, 110),
                RGBColor(80, 210, 160),
                RGBColor(250, 180, 80),
                RGBColor(180, 140, 255),
                RGBColor(90, 200, 230),
                RGBColor(250, 120, 180),
                RGBColor(170, 220, 90),
            ],
        }
    }

    pub fn color(&self, i: usize) -> RGBColor {
        self.palette[i % self.palette.len()]
    }
}

/// Plot-area margins in CSS pixels; multiplied by the device pixel ratio.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub scale: f64,
    /// How many x labels fit (line charts).
    pub x_labels: usize,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl Layout {
    /// The layout of `spec` on a chart `width_css` CSS pixels wide.
    pub fn for_width(spec: &ChartSpec, scale: f64, width_css: f64) -> Self {
        Self {
            x_labels: ((width_css / 95.0) as usize).clamp(2, 8),
            ..Self::for_spec(spec, scale)
        }
    }

    pub fn for_spec(spec: &ChartSpec, scale: f64) -> Self {
        let left = match spec {
            ChartSpec::Heatmap { .. } => 40.0,
            _ => 56.0,
        };
        Self {
            scale,
            x_labels: 6,
            left,
            right: 12.0,
            top: 10.0,
            bottom: 28.0,
        }
    }

    fn px(&self, css: f64) -> i32 {
        (css * self.scale).round() as i32
    }
}

/// Legends name at most this many series; the rest are counted.
pub const LEGEND_MAX: usize = 12;

/// One entry of a chart's legend: the series' name and palette colour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegendEntry {
    pub name: String,
    pub color: usize,
    /// The previous period, drawn lighter.
    pub faint: bool,
}

/// The legend of a chart that draws more than one series (lines, or parts
/// of stacked bars); none for a single series or a heatmap.
pub fn legend(spec: &ChartSpec) -> Vec<LegendEntry> {
    let entries: Vec<LegendEntry> = match spec {
        ChartSpec::Lines { series, .. } => series
            .iter()
            .map(|s| LegendEntry {
                name: s.name.clone(),
                color: s.color,
                faint: s.faint,
            })
            .collect(),
        ChartSpec::StackedBars { parts, .. } => parts
            .iter()
            .enumerate()
            .map(|(i, (name, _))| LegendEntry {
                name: name.clone(),
                color: i,
                faint: false,
            })
            .collect(),
        ChartSpec::Heatmap { .. } => Vec::new(),
    };
    if entries.len() > 1 {
        entries
    } else {
        Vec::new()
    }
}
