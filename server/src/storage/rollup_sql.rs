//! The SQL of rollup reads and the decoding of its rows: which buckets a
//! read names (a range or a list), which index it goes through, and how a
//! cold range is cut into parts loaded at once.

use std::sync::LazyLock;

use sqlx::{Row, sqlite::SqliteRow};

use super::{
    facts::{ColumnType, Dim, DimValues, FactDecl, MAX_DIMS, Merge, RollupDecl},
    sql::{Sql, interned},
};
use crate::histogram::Histogram;

/// Spans covering less than one bucket in this many of their range are read
/// by a list of buckets rather than the whole range.
const SPARSE_SPANS: i64 = 4;

/// The bucket starts of `spans` within `[from, to)` as a JSON array, when
/// they are a small part of that range (a zone's quarter hours at the edges
/// of its days): such spans are read bucket by bucket, not as one range.
pub(super) fn sparse_buckets(
    spans: &[(i64, i64)],
    from: i64,
    to: i64,
    width: i64,
) -> Option<String> {
    let inside: Vec<(i64, i64)> = spans
        .iter()
        .filter(|(a, b)| *b > from && *a < to)
        .map(|&(a, b)| (a.max(from), b.min(to)))
        .collect();
    let wanted: i64 = inside.iter().map(|(a, b)| (b - a) / width).sum();
    if inside.len() < 2 || wanted * SPARSE_SPANS >= (to - from) / width {
        return None;
    }
    let starts: Vec<String> = inside
        .iter()
        .flat_map(|&(a, b)| (a..b).step_by(width as usize))
        .map(|b| b.to_string())
        .collect();
    Some(format!("[{}]", starts.join(",")))
}

/// Buckets loaded at most in one part: a cold range of many buckets is split
/// in as many parts as the machine has cores (at most [`LOAD_PARTS`]); a few
/// missing buckets are one part.
pub(super) fn load_part_len(missing: usize) -> usize {
    // Asked once: on Linux the answer reads the cgroup's CPU quota from
    // /sys, which is no work for every read.
    static PARTS: LazyLock<usize> = LazyLock::new(|| {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, LOAD_PARTS)
    });
    missing.div_ceil(*PARTS).max(MIN_LOAD_PART)
}

/// Parts of a cold range loaded at once at most (the read pool has 8 connections).
const LOAD_PARTS: usize = 4;

/// Fewer buckets than this are not worth a part of their own.
const MIN_LOAD_PART: usize = 16;

/// Contiguous runs `[from, to)` of bucket starts `width` apart, each of at
/// most `max_len` buckets.
pub(super) fn runs(buckets: &[i64], width: i64, max_len: usize) -> Vec<(i64, i64)> {
    let longest = width.saturating_mul(i64::try_from(max_len.max(1)).unwrap_or(i64::MAX));
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for &b in buckets {
        match runs.last_mut() {
            Some(run) if run.1 == b && run.1 - run.0 < longest => run.1 = b + width,
            _ => runs.push((b, b + width)),
        }
    }
    runs
}

/// The buckets a read asks for: a range of this many, or a list bound as
/// a JSON array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Buckets {
    Range(usize),
    Listed,
}

/// Every key id a key-first rollup can hold: the dictionary's, and 0 for
/// events without a key (`commit::Resolved::key`).
pub(super) const ALL_KEY_IDS: &str = "SELECT 0 UNION ALL SELECT id FROM api_keys";

/// `SELECT bucket, dims.., measures.., [hist] FROM table WHERE grain = ?1
/// AND (bucket >= ?2 AND bucket < ?3 | bucket IN (a JSON array ?2))
/// [AND dim IN (..)]..`; `regrouped`: the rows added up per dimensions and
/// `(bucket - phase) / width` (two more parameters, phase then width), each
/// group at its first bucket, its measures merged by their rules (none
/// "last by", no histogram).
pub(super) fn select_sql(
    fact: &FactDecl,
    rollup: &RollupDecl,
    measures: &[usize],
    hist: bool,
    buckets: Buckets,
    lists: &[(Dim, usize)],
    regrouped: bool,
) -> Sql {
    let listed = buckets == Buckets::Listed;
    let key_list = lists.iter().any(|(d, _)| *d == Dim::Key);
    // A range of several whole buckets of a key-first rollup is read key by
    // key along the primary key (grain, key, bucket, ..): one seek per key,
    // then contiguous rows. Through the bucket index every row costs a seek
    // into the table (measured with the sqlite3 shell on the 1 000-key
    // database: a month of hours 1.08 s that way, 0.06 s key by key; one
    // bucket 1 ms through the index, 4 ms key by key).
    let by_key = rollup.key_first && !key_list && matches!(buckets, Buckets::Range(n) if n > 1);
    let key = format!(
        "rollup-select:{}:{measures:?}:{hist}:{listed}:{by_key}:{lists:?}:{regrouped}",
        rollup.table
    );
    interned(key, || {
        let dims: Vec<&str> = rollup.dims.iter().map(|d| d.column()).collect();
        let mut columns = vec![if regrouped { "MIN(bucket)" } else { "bucket" }.to_owned()];
        columns.extend(dims.iter().map(|d| (*d).to_owned()));
        columns.extend(measures.iter().map(|m| {
            let measure = &fact.measures[*m];
            match (regrouped, measure.merge) {
                (false, _) => measure.column.to_owned(),
                (true, Merge::Max) => format!("MAX({})", measure.column),
                (true, Merge::Min) => format!("MIN({})", measure.column),
                (true, _) => format!("SUM({})", measure.column),
            }
        }));
        if hist && fact.has_hist && !regrouped {
            columns.push("hist".to_owned());
        }
        let group = if regrouped {
            let mut by = vec!["(bucket - ?) / ?"];
            by.extend(&dims);
            format!(" GROUP BY {}", by.join(", "))
        } else {
            String::new()
        };
        let range = if listed {
            "bucket IN (SELECT value FROM json_each(?))"
        } else {
            "bucket >= ? AND bucket < ?"
        };
        let filters: String = lists
            .iter()
            .map(|(dim, n)| format!(" AND {} IN ({})", dim.column(), vec!["?"; *n].join(",")))
            .collect();
        // A key filter, or several whole buckets, read a key-first rollup
        // along its primary key (which SQLite, given a list of buckets,
        // would otherwise trade for the bucket index); one bucket or a list
        // of them goes through the bucket index.
        let (index, all_keys) = match rollup.bucket_index_name() {
            Some(_) if key_list => (" NOT INDEXED".to_owned(), String::new()),
            Some(_) if by_key => (
                " NOT INDEXED".to_owned(),
                format!(" AND {} IN ({ALL_KEY_IDS})", Dim::Key.column()),
            ),
            Some(name) => (format!(" INDEXED BY {name}"), String::new()),
            None => (String::new(), String::new()),
        };
        format!(
            "SELECT {} FROM {}{index} WHERE grain = ? AND {range}{all_keys}{filters}{group}",
            columns.join(", "),
            rollup.table
        )
    })
}

pub(super) type Decoded<'r> = (i64, DimValues, Vec<f64>, Option<&'r [u8]>);

pub(super) fn decode<'r>(
    fact: &FactDecl,
    rollup: &RollupDecl,
    measures: &[usize],
    hist: bool,
    row: &'r SqliteRow,
) -> Result<Decoded<'r>, sqlx::Error> {
    let bucket: i64 = row.try_get(0)?;
    let mut dims = [0; MAX_DIMS];
    for (i, slot) in dims.iter_mut().enumerate().take(rollup.dims.len()) {
        *slot = row.try_get(1 + i)?;
    }
    let at = 1 + rollup.dims.len();
    let mut values = Vec::with_capacity(measures.len());
    for (i, m) in measures.iter().enumerate() {
        values.push(match fact.measures[*m].kind {
            ColumnType::Int => row.try_get::<i64, _>(at + i)? as f64,
            _ => row.try_get::<f64, _>(at + i)?,
        });
    }
    let hist = if hist && fact.has_hist {
        let blob: &[u8] = row.try_get(at + measures.len())?;
        if !Histogram::is_encoding(blob) {
            return Err(sqlx::Error::Decode(
                format!("{}: a histogram blob is corrupt", rollup.table).into(),
            ));
        }
        Some(blob)
    } else {
        None
    };
    Ok((bucket, dims, values, hist))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_buckets_are_loaded_in_runs() {
        assert_eq!(runs(&[0, 10, 20, 40, 50], 10, 100), vec![(0, 30), (40, 60)]);
        assert!(runs(&[], 10, 100).is_empty());
        // A long run is cut into parts of at most `max_len` buckets.
        assert_eq!(
            runs(&[0, 10, 20, 30, 40, 60], 10, 2),
            vec![(0, 20), (20, 40), (40, 50), (60, 70)]
        );
    }

    #[test]
    fn a_cold_range_is_split_only_when_long() {
        assert_eq!(load_part_len(3), MIN_LOAD_PART);
        let long = 10_000;
        let len = load_part_len(long);
        assert!(len >= long / LOAD_PARTS && len <= long, "{len}");
    }

    #[test]
    fn sparse_spans_are_listed_bucket_by_bucket() {
        // Two quarter hours at each edge of a day of 96: listed.
        let edges = [(0, 1800), (86_400, 88_200)];
        assert_eq!(
            sparse_buckets(&edges, 0, 90_000, 900).as_deref(),
            Some("[0,900,86400,87300]")
        );
        // One span, or spans covering most of the range: read as a range.
        assert_eq!(sparse_buckets(&[(0, 1800)], 0, 90_000, 900), None);
        assert_eq!(
            sparse_buckets(&[(0, 900), (1800, 3600)], 0, 3600, 900),
            None
        );
        // Only the part inside the range counts.
        assert_eq!(
            sparse_buckets(&[(0, 1800), (9000, 9900)], 900, 90_000, 900).as_deref(),
            Some("[900,9000]")
        );
    }
}
