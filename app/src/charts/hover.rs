//! The read-out of the point under the pointer.

use super::{ChartSpec, Layout, draw::heat_grid, group_thousands};

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
