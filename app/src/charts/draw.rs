//! Drawing a [`ChartSpec`] with plotters on any backend.

use plotters::{
    coord::Shift,
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
};

use super::{ChartSpec, Layout, Theme, axis_label, short_number};

/// How much of its colour a series keeps while another one is emphasised.
const MUTED: f64 = 0.2;

/// How one series is drawn while a legend entry may be hovered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Emphasis {
    /// Nothing is hovered.
    Normal,
    /// This series' legend entry is hovered.
    Focused,
    /// Another series' entry is hovered.
    Muted,
}

impl Emphasis {
    /// The emphasis of series `i` while `focus` (a series index) is hovered.
    fn of(i: usize, focus: Option<usize>) -> Self {
        match focus {
            None => Self::Normal,
            Some(f) if f == i => Self::Focused,
            Some(_) => Self::Muted,
        }
    }

    /// How much of its colour the series keeps (`faint`: the previous period).
    fn alpha(self, faint: bool) -> f64 {
        match (self, faint) {
            (Self::Muted, _) => MUTED,
            (Self::Normal, true) => 0.45,
            (Self::Focused, true) => 0.7,
            (_, false) => 1.0,
        }
    }
}

/// Draws `spec` on `root`; `focus` names the series (legend entry) to
/// emphasise, the others are drawn faintly.
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    spec: &ChartSpec,
    theme: &Theme,
    layout: &Layout,
    focus: Option<usize>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&theme.background)?;
    let font = ("sans-serif", 12.0 * layout.scale)
        .into_font()
        .color(&theme.text);
    match spec {
        ChartSpec::Lines {
            labels,
            series,
            unit,
        } => {
            let n = labels.len().max(1);
            let max = series
                .iter()
                .flat_map(|s| s.values.iter().flatten())
                .fold(0.0f64, |a, &b| a.max(b));
            let top = if max > 0.0 { max * 1.1 } else { 1.0 };
            let mut chart = ChartBuilder::on(root)
                .margin_top(layout.px(layout.top))
                .margin_right(layout.px(layout.right))
                .x_label_area_size(layout.px(layout.bottom))
                .y_label_area_size(layout.px(layout.left))
                .build_cartesian_2d(0f64..((n - 1).max(1)) as f64, 0f64..top)?;
            let label_of = |x: &f64| {
                let i = x.round().max(0.0) as usize;
                labels.get(i).cloned().unwrap_or_default()
            };
            let unit = unit.clone();
            chart
                .configure_mesh()
                .light_line_style(theme.grid)
                .bold_line_style(theme.grid)
                .axis_style(theme.grid)
                .x_labels(layout.x_labels)
                .y_labels(5)
                .label_style(font.clone())
                .x_label_formatter(&label_of)
                .y_label_formatter(&|y| axis_label(*y, &unit))
                .draw()?;
            // The emphasised series is drawn last, over the others.
            let mut order: Vec<usize> = (0..series.len()).collect();
            crate::order::sort_by_key(&mut order, |&i| Emphasis::of(i, focus) == Emphasis::Focused);
            for i in order {
                let (s, emphasis) = (&series[i], Emphasis::of(i, focus));
                let width = match (emphasis, s.faint) {
                    (Emphasis::Focused, _) => 3.0,
                    (_, true) => 1.5,
                    (_, false) => 2.0,
                };
                let style = theme
                    .color(s.color)
                    .mix(emphasis.alpha(s.faint))
                    .stroke_width(layout.px(width) as u32);
                // A gap in the data is a gap in the line.
                let mut run: Vec<(f64, f64)> = Vec::new();
                for (i, v) in s.values.iter().enumerate() {
                    match v {
                        Some(v) => run.push((i as f64, *v)),
                        None if !run.is_empty() => {
                            chart.draw_series(LineSeries::new(std::mem::take(&mut run), style))?;
                        }
                        None => {}
                    }
                }
                if run.len() == 1 {
                    chart.draw_series(std::iter::once(Circle::new(
                        run[0],
                        layout.px(2.5),
                        style.filled(),
                    )))?;
                } else if !run.is_empty() {
                    chart.draw_series(LineSeries::new(run, style))?;
                }
            }
        }
        ChartSpec::StackedBars { categories, parts } => {
            let n = categories.len().max(1);
            let totals: Vec<f64> = (0..n)
                .map(|i| {
                    parts
                        .iter()
                        .map(|(_, v)| v.get(i).copied().unwrap_or(0.0))
                        .sum()
                })
                .collect();
            let max = totals.iter().copied().fold(0.0, f64::max);
            let top = if max > 0.0 { max * 1.1 } else { 1.0 };
            let mut chart = ChartBuilder::on(root)
                .margin_top(layout.px(layout.top))
                .margin_right(layout.px(layout.right))
                .x_label_area_size(layout.px(layout.bottom))
                .y_label_area_size(layout.px(layout.left))
                .build_cartesian_2d(0f64..n as f64, 0f64..top)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .light_line_style(theme.grid)
                .bold_line_style(theme.grid)
                .axis_style(theme.grid)
                .x_labels(n.min(12) * 2 + 1)
                .y_labels(5)
                .label_style(font.clone())
                .x_label_formatter(&|x| {
                    // Label the middle of each bar only.
                    let i = x.floor() as usize;
                    if (x - x.floor() - 0.5).abs() < 1e-6 {
                        categories.get(i).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .y_label_formatter(&|y| short_number(*y))
                .draw()?;
            let mut base = vec![0.0; n];
            for (p, (_, values)) in parts.iter().enumerate() {
                let color = theme.color(p).mix(Emphasis::of(p, focus).alpha(false));
                chart.draw_series((0..n).filter_map(|i| {
                    let v = values.get(i).copied().unwrap_or(0.0);
                    if v <= 0.0 {
                        return None;
                    }
                    let (y0, y1) = (base[i], base[i] + v);
                    base[i] = y1;
                    Some(Rectangle::new(
                        [(i as f64 + 0.18, y0), (i as f64 + 0.82, y1)],
                        color.filled(),
                    ))
                }))?;
            }
        }
        ChartSpec::Heatmap {
            rows,
            columns,
            values,
        } => {
            let (w, h) = root.dim_in_pixel();
            let grid = heat_grid(layout, w, h, rows.len(), columns.len());
            let max = values.iter().flatten().copied().fold(0.0, f64::max);
            let accent = theme.color(0);
            for (r, row) in values.iter().enumerate() {
                for (c, v) in row.iter().enumerate() {
                    let (x0, y0) = grid.cell_origin(r, c);
                    let strength = if max > 0.0 { v / max } else { 0.0 };
                    let fill = blend(theme.background, accent, 0.06 + 0.94 * strength);
                    root.draw(&Rectangle::new(
                        [(x0, y0), (x0 + grid.cell_w - 1, y0 + grid.cell_h - 1)],
                        fill.filled(),
                    ))?;
                }
            }
            let right = font.pos(Pos::new(HPos::Right, VPos::Center));
            for (r, name) in rows.iter().enumerate() {
                let (_, y0) = grid.cell_origin(r, 0);
                let short: String = name.chars().take(3).collect();
                root.draw(&Text::new(
                    short,
                    (grid.left - layout.px(6.0), y0 + grid.cell_h / 2),
                    right.clone(),
                ))?;
            }
            let centered = font.pos(Pos::new(HPos::Center, VPos::Top));
            for (c, name) in columns.iter().enumerate().step_by(3) {
                let (x0, _) = grid.cell_origin(0, c);
                let y = grid.top + grid.cell_h * rows.len() as i32 + layout.px(6.0);
                root.draw(&Text::new(
                    name.clone(),
                    (x0 + grid.cell_w / 2, y),
                    centered.clone(),
                ))?;
            }
        }
    }
    root.present()
}

/// Geometry of a heatmap's cells in device pixels.
pub(super) struct HeatGrid {
    pub(super) left: i32,
    pub(super) top: i32,
    pub(super) cell_w: i32,
    pub(super) cell_h: i32,
}

impl HeatGrid {
    fn cell_origin(&self, row: usize, column: usize) -> (i32, i32) {
        (
            self.left + self.cell_w * column as i32,
            self.top + self.cell_h * row as i32,
        )
    }
}

pub(super) fn heat_grid(
    layout: &Layout,
    width: u32,
    height: u32,
    rows: usize,
    columns: usize,
) -> HeatGrid {
    let left = layout.px(layout.left);
    let top = layout.px(layout.top);
    let usable_w = width as i32 - left - layout.px(layout.right);
    let usable_h = height as i32 - top - layout.px(layout.bottom);
    HeatGrid {
        left,
        top,
        cell_w: (usable_w / columns.max(1) as i32).max(1),
        cell_h: (usable_h / rows.max(1) as i32).max(1),
    }
}

fn blend(a: RGBColor, b: RGBColor, t: f64) -> RGBColor {
    let mix = |x: u8, y: u8| {
        (f64::from(x) + (f64::from(y) - f64::from(x)) * t.clamp(0.0, 1.0)).round() as u8
    };
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}
