//! Numbers as a reader wants them: short on axes, grouped in tables.

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
