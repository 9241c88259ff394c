//! Chart drawing with plotters, independent of the backend: the dashboard
//! draws on a canvas (plotters-canvas), tests draw to SVG. Every chart has
//! a fixed [`Layout`] so the pointer position can be mapped back to the
//! data under it ([`hover`]).

use plotters::{
    coord::Shift,
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
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

/// Draws `spec` on `root`, which is `width`×`height` device pixels.
pub fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    spec: &ChartSpec,
    theme: &Theme,
    layout: &Layout,
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
            for s in series {
                let color = theme.color(s.color);
                let style = if s.faint {
                    color.mix(0.45).stroke_width(layout.px(1.5) as u32)
                } else {
                    color.stroke_width(layout.px(2.0) as u32)
                };
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
                let color = theme.color(p);
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
struct HeatGrid {
    left: i32,
    top: i32,
    cell_w: i32,
    cell_h: i32,
}

impl HeatGrid {
    fn cell_origin(&self, row: usize, column: usize) -> (i32, i32) {
        (
            self.left + self.cell_w * column as i32,
            self.top + self.cell_h * row as i32,
        )
    }
}

fn heat_grid(layout: &Layout, width: u32, height: u32, rows: usize, columns: usize) -> HeatGrid {
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

/// What lies under the pointer at device pixel `(x, y)` of a `width`×`height`
/// chart: a read-out such as "2026-11-21 14:00 · executions 1,204".
pub fn hover(
    spec: &ChartSpec,
    layout: &Layout,
    width: u32,
    height: u32,
    x: f64,
    y: f64,
) -> Option<String> {
    match spec {
        ChartSpec::Lines {
            labels,
            series,
            unit,
        } => {
            let left = f64::from(layout.px(layout.left));
            let right = f64::from(width) - f64::from(layout.px(layout.right));
            if labels.is_empty() || x < left || x > right {
                return None;
            }
            let span = (labels.len() - 1).max(1) as f64;
            let i = (((x - left) / (right - left)) * span).round() as usize;
            let label = labels.get(i)?;
            let values: Vec<String> = series
                .iter()
                .filter_map(|s| {
                    let v = s.values.get(i).copied().flatten()?;
                    Some(format!("{} {}{unit}", s.name, group_thousands(v)))
                })
                .collect();
            Some(format!("{label} · {}", values.join(" · ")))
        }
        ChartSpec::StackedBars { categories, parts } => {
            let left = f64::from(layout.px(layout.left));
            let right = f64::from(width) - f64::from(layout.px(layout.right));
            if categories.is_empty() || x < left || x > right {
                return None;
            }
            let i = (((x - left) / (right - left)) * categories.len() as f64).floor() as usize;
            let category = categories.get(i)?;
            let total: f64 = parts
                .iter()
                .map(|(_, v)| v.get(i).copied().unwrap_or(0.0))
                .sum();
            let mut lines: Vec<String> = parts
                .iter()
                .filter_map(|(name, v)| {
                    let v = v.get(i).copied().unwrap_or(0.0);
                    (v > 0.0).then(|| format!("{name} {}", group_thousands(v)))
                })
                .collect();
            lines.insert(0, format!("{category}: {}", group_thousands(total)));
            Some(lines.join(" · "))
        }
        ChartSpec::Heatmap {
            rows,
            columns,
            values,
        } => {
            let grid = heat_grid(layout, width, height, rows.len(), columns.len());
            let c = ((x as i32 - grid.left) as f64 / f64::from(grid.cell_w)).floor();
            let r = ((y as i32 - grid.top) as f64 / f64::from(grid.cell_h)).floor();
            if c < 0.0 || r < 0.0 {
                return None;
            }
            let (r, c) = (r as usize, c as usize);
            let v = values.get(r)?.get(c)?;
            Some(format!(
                "{} {}:00 · {} executions",
                rows[r],
                columns[c],
                group_thousands(*v)
            ))
        }
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

/// A value axis label: durations (unit ` ms`) scale to seconds and minutes
/// (`30 s`, `2.5 min`), other values are short numbers with their unit.
pub fn axis_label(v: f64, unit: &str) -> String {
    if unit.trim() == "ms" {
        let a = v.abs();
        if a >= 60_000.0 {
            return format!("{} min", short_number(v / 60_000.0));
        }
        if a >= 1_000.0 {
            return format!("{} s", short_number(v / 1_000.0));
        }
    }
    format!("{}{unit}", short_number(v))
}

/// `1234567` → `1.2M`, for axis labels.
pub fn short_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// `1234567.8` → `1,234,568`; values below 100 keep one decimal.
pub fn group_thousands(v: f64) -> String {
    if v.abs() < 100.0 && v.fract() != 0.0 {
        return format!("{v:.1}");
    }
    let rounded = v.round() as i64;
    let digits = rounded.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if rounded < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &str, color: usize, faint: bool) -> Series {
        Series {
            name: name.into(),
            values: vec![Some(1.0), Some(2.0)],
            color,
            faint,
        }
    }

    #[test]
    fn legends_name_every_series_of_a_multi_series_chart() {
        let lines = ChartSpec::Lines {
            labels: vec!["a".into(), "b".into()],
            series: vec![
                line("executions", 0, false),
                line("errors", 1, false),
                line("previous period", 0, true),
            ],
            unit: String::new(),
        };
        let names: Vec<(String, usize, bool)> = legend(&lines)
            .into_iter()
            .map(|e| (e.name, e.color, e.faint))
            .collect();
        assert_eq!(
            names,
            [
                ("executions".to_owned(), 0, false),
                ("errors".to_owned(), 1, false),
                ("previous period".to_owned(), 0, true)
            ]
        );
        let single = ChartSpec::Lines {
            labels: vec!["a".into()],
            series: vec![line("success", 2, false)],
            unit: " %".into(),
        };
        assert!(legend(&single).is_empty());
        let bars = ChartSpec::StackedBars {
            categories: vec!["python".into()],
            parts: vec![("acme".into(), vec![1.0]), ("globex".into(), vec![2.0])],
        };
        let parts: Vec<(String, usize)> = legend(&bars)
            .into_iter()
            .map(|e| (e.name, e.color))
            .collect();
        assert_eq!(parts, [("acme".to_owned(), 0), ("globex".to_owned(), 1)]);
    }

    #[test]
    fn durations_on_an_axis_scale_to_seconds_and_minutes() {
        assert_eq!(axis_label(250.0, " ms"), "250 ms");
        assert_eq!(axis_label(2_500.0, " ms"), "2.5 s");
        assert_eq!(axis_label(30_000.0, " ms"), "30 s");
        assert_eq!(axis_label(150_000.0, " ms"), "2.5 min");
        assert_eq!(axis_label(0.0, " ms"), "0 ms");
        assert_eq!(axis_label(30_000.0, ""), "30k");
        assert_eq!(axis_label(50.0, " %"), "50 %");
    }

    fn svg(spec: &ChartSpec) -> String {
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, (640, 220)).into_drawing_area();
            draw(&root, spec, &Theme::light(), &Layout::for_spec(spec, 1.0)).unwrap();
        }
        out
    }

    #[test]
    fn every_chart_kind_draws() {
        let lines = ChartSpec::Lines {
            labels: (0..24).map(|h| format!("{h}:00")).collect(),
            series: vec![Series {
                name: "executions".into(),
                values: (0..24)
                    .map(|h| {
                        if h == 5 {
                            None
                        } else {
                            Some(f64::from(h) * 3.0)
                        }
                    })
                    .collect(),
                color: 0,
                faint: false,
            }],
            unit: String::new(),
        };
        assert!(svg(&lines).contains("<polyline"));
        let bars = ChartSpec::StackedBars {
            categories: vec!["python".into(), "go".into()],
            parts: vec![("a".into(), vec![3.0, 1.0]), ("b".into(), vec![2.0, 0.0])],
        };
        assert!(svg(&bars).matches("<rect").count() >= 3);
        let heat = ChartSpec::Heatmap {
            rows: vec!["Monday".into(), "Tuesday".into()],
            columns: (0..24).map(|h| format!("{h:02}")).collect(),
            values: vec![vec![1.0; 24], vec![0.0; 24]],
        };
        assert!(svg(&heat).matches("<rect").count() >= 48);
    }

    #[test]
    fn hover_reads_the_point_under_the_pointer() {
        let spec = ChartSpec::Lines {
            labels: vec!["a".into(), "b".into(), "c".into()],
            series: vec![Series {
                name: "n".into(),
                values: vec![Some(1.0), Some(2000.0), None],
                color: 0,
                faint: false,
            }],
            unit: " ms".into(),
        };
        let layout = Layout::for_spec(&spec, 1.0);
        // Plot area spans x 56..628 of 640: the middle is point "b".
        assert_eq!(
            hover(&spec, &layout, 640, 220, 342.0, 100.0).unwrap(),
            "b · n 2,000 ms"
        );
        assert_eq!(hover(&spec, &layout, 640, 220, 10.0, 100.0), None);
        let heat = ChartSpec::Heatmap {
            rows: vec!["Monday".into()],
            columns: vec!["00".into(), "01".into()],
            values: vec![vec![5.0, 7.0]],
        };
        let layout = Layout::for_spec(&heat, 1.0);
        assert_eq!(
            hover(&heat, &layout, 640, 220, 600.0, 50.0).unwrap(),
            "Monday 01:00 · 7 executions"
        );
    }

    #[test]
    fn numbers_are_readable() {
        assert_eq!(group_thousands(1_234_567.4), "1,234,567");
        assert_eq!(group_thousands(12.25), "12.2");
        assert_eq!(short_number(25_300.0), "25k");
        assert_eq!(short_number(1_500.0), "1.5k");
    }
}
