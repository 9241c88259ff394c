//! A chart said in a sentence: the text alternative of its canvas, read by
//! screen readers (beside the CSV link of its panel).

use super::{ChartSpec, group_thousands};

/// At most this many categories of a bar chart are named.
const NAMED: usize = 5;

/// What the chart shows, in one or a few sentences.
pub fn summary(spec: &ChartSpec) -> String {
    match spec {
        ChartSpec::Lines {
            labels,
            series,
            unit,
        } => {
            let (Some(first), Some(last)) = (labels.first(), labels.last()) else {
                return "No data in this period.".to_owned();
            };
            let mut out = format!("{} points from {first} to {last}.", labels.len());
            for s in series {
                let mut points = s
                    .values
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| v.map(|v| (i, v)));
                let Some((at, peak)) = points.clone().max_by(|a, b| a.1.total_cmp(&b.1)) else {
                    out.push_str(&format!(" {}: no data.", s.name));
                    continue;
                };
                let latest = points.next_back().map_or(0.0, |(_, v)| v);
                out.push_str(&format!(
                    " {}: peak {}{unit} at {}, latest {}{unit}.",
                    s.name,
                    group_thousands(peak),
                    labels[at],
                    group_thousands(latest),
                ));
            }
            out
        }
        ChartSpec::StackedBars { categories, parts } => {
            let mut totals: Vec<(&String, f64)> = categories
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let total = parts.iter().filter_map(|(_, v)| v.get(i)).sum();
                    (c, total)
                })
                .collect();
            if totals.is_empty() {
                return "No data in this period.".to_owned();
            }
            crate::order::sort_by(&mut totals, |a, b| b.1.total_cmp(&a.1));
            let named: Vec<String> = totals
                .iter()
                .take(NAMED)
                .map(|(c, v)| format!("{c} {}", group_thousands(*v)))
                .collect();
            let more = totals.len().saturating_sub(NAMED);
            let tail = if more > 0 {
                format!(", and {more} more")
            } else {
                String::new()
            };
            format!("{}{tail}.", named.join(", "))
        }
        ChartSpec::Heatmap {
            rows,
            columns,
            values,
        } => {
            let cells = values
                .iter()
                .enumerate()
                .flat_map(|(r, row)| row.iter().enumerate().map(move |(c, v)| (r, c, *v)));
            let busiest = cells.clone().max_by(|a, b| a.2.total_cmp(&b.2));
            let quietest = cells.min_by(|a, b| a.2.total_cmp(&b.2));
            match (busiest, quietest) {
                (Some((r, c, high)), Some((qr, qc, low))) => format!(
                    "Busiest hour {} {}:00 with {}; quietest {} {}:00 with {}.",
                    rows[r],
                    columns[c],
                    group_thousands(high),
                    rows[qr],
                    columns[qc],
                    group_thousands(low),
                ),
                _ => "No data in this period.".to_owned(),
            }
        }
    }
}
