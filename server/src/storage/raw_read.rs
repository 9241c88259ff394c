//! Aggregates over raw rows, for the parts of a range finer than any rollup
//! (sub-quarter-hour edges, minute series). The measures are the
//! declarations' raw SQL; histograms are binned in SQL with the
//! `histogram_bins` table, so they match the writer's bins.

use futures_util::TryStreamExt;
use sqlx::Row;

use super::{
    Storage,
    facts::{Dim, DimValues, FactDecl, MAX_DIMS},
    raw_write::first_id,
    rollup_read::{DimFilter, Hist, RowRef, Values},
    sql::{Sql, interned},
};

/// What to aggregate from a fact's raw rows.
#[derive(Clone, Copy, Debug)]
pub struct RawRead<'a> {
    pub fact: &'static FactDecl,
    pub from_ms: i64,
    pub to_ms: i64,
    /// Group by time in buckets of this many ms (aligned to the epoch);
    /// `None`: one time group, reported at `from_ms`.
    pub bucket_ms: Option<i64>,
    /// Group by these, in this order (the order of the rows' dimensions).
    pub dims: &'a [Dim],
    pub filters: &'a [DimFilter],
    /// The measures to compute (indices into the fact's); the others read
    /// as absent.
    pub measures: &'a [usize],
    pub hist: bool,
}

impl Storage {
    /// Calls `visit` for every group; a group's bucket is the later of its
    /// time bucket's start and `from_ms`. With a histogram, a group may come
    /// as several rows (one per histogram bin): add them up.
    pub async fn read_raw(
        &self,
        read: &RawRead<'_>,
        mut visit: impl FnMut(RowRef<'_>),
    ) -> Result<(), sqlx::Error> {
        let Some(raw) = &read.fact.raw else {
            return Ok(());
        };
        if read.from_ms >= read.to_ms || read.filters.iter().any(|f| f.values.is_empty()) {
            return Ok(());
        }
        let hist = read.hist && raw.hist_column.is_some();
        let lists: Vec<(Dim, Vec<i64>)> = read
            .filters
            .iter()
            .filter(|f| read.fact.dims.contains(&f.dim))
            .map(|f| (f.dim, f.values.iter().copied().collect()))
            .collect();
        let shape: Vec<(Dim, usize)> = lists.iter().map(|(d, v)| (*d, v.len())).collect();
        let sql = raw_sql(read, hist, &shape);
        let mut query = sqlx::query(sql)
            .bind(first_id(read.from_ms))
            .bind(first_id(read.to_ms))
            .bind(read.bucket_ms.unwrap_or(1).max(1));
        for (_, values) in &lists {
            for v in values {
                query = query.bind(*v);
            }
        }
        let measures = read.measures.len();
        let mut values = vec![f64::NAN; read.fact.measures.len()];
        let mut rows = query.fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let time: i64 = row.try_get(0)?;
            let mut dims: DimValues = [0; MAX_DIMS];
            for (i, slot) in dims.iter_mut().enumerate().take(read.dims.len()) {
                *slot = row.try_get::<Option<i64>, _>(1 + i)?.unwrap_or(0);
            }
            let at = 1 + read.dims.len();
            for (i, m) in read.measures.iter().enumerate() {
                values[*m] = number(&row, at + i)?;
            }
            let histogram = if hist {
                let bin: i64 = row.try_get::<Option<i64>, _>(at + measures)?.unwrap_or(0);
                let count: i64 = row.try_get(at + measures + 1)?;
                Hist::Bin(bin.max(0) as usize, count.max(0) as u64)
            } else {
                Hist::None
            };
            let bucket_ms = match read.bucket_ms {
                Some(_) => time.max(read.from_ms),
                None => read.from_ms,
            };
            visit(RowRef {
                bucket_ms,
                dims: &dims,
                values: Values::Row(&values),
                hist: histogram,
            });
        }
        Ok(())
    }
}

/// A numeric result, INTEGER or REAL; NULL (no rows) is 0. Unchecked:
/// SQLite converts an INTEGER to a double itself, and the checked decode
/// would build (and format) a type-mismatch error for every INTEGER value.
fn number(row: &sqlx::sqlite::SqliteRow, column: usize) -> Result<f64, sqlx::Error> {
    Ok(row
        .try_get_unchecked::<Option<f64>, _>(column)?
        .unwrap_or(0.0))
}

/// The SQL of a raw read. Parameters: ?1, ?2 the id range, ?3 the time
/// bucket width (ms), then the filter lists.
fn raw_sql(read: &RawRead<'_>, hist: bool, lists: &[(Dim, usize)]) -> Sql {
    let raw = read.fact.raw.as_ref().expect("a raw table");
    let key = format!(
        "raw-select:{}:{}:{:?}:{:?}:{hist}:{lists:?}",
        raw.table,
        read.bucket_ms.is_some(),
        read.dims,
        read.measures
    );
    interned(key, || {
        // Parameters are numbered explicitly: sqlx counts bare `?`
        // separately from `?NNN`, so mixing them would bind wrong values.
        let mut next = 4;
        let filters: String = lists
            .iter()
            .map(|(dim, n)| {
                let list: Vec<String> = (next..next + n).map(|i| format!("?{i}")).collect();
                next += n;
                format!(" AND {} IN ({})", dim.column(), list.join(","))
            })
            .collect();
        let time = if read.bucket_ms.is_some() {
            format!("({} / ?3) * ?3", raw.time_column)
        } else {
            "0 * ?3".to_owned()
        };
        let mut select = vec![time];
        select.extend(read.dims.iter().map(|d| d.column().to_owned()));
        select.extend(
            read.measures
                .iter()
                .map(|m| read.fact.measures[*m].raw.to_owned()),
        );
        let source = match (hist, raw.hist_column) {
            (true, Some(column)) => {
                select.push("b".to_owned());
                select.push("COUNT(*)".to_owned());
                format!(
                    "(SELECT *, (SELECT bin FROM histogram_bins WHERE lower_ms <= {column}
                       ORDER BY lower_ms DESC LIMIT 1) AS b
                      FROM {t} WHERE id >= ?1 AND id < ?2{filters})",
                    t = raw.table
                )
            }
            _ => format!(
                "(SELECT * FROM {t} WHERE id >= ?1 AND id < ?2{filters})",
                t = raw.table
            ),
        };
        let mut group: Vec<String> = (1..=1 + read.dims.len()).map(|i| i.to_string()).collect();
        if hist && raw.hist_column.is_some() {
            group.push((2 + read.dims.len() + read.measures.len()).to_string());
        }
        format!(
            "SELECT {} FROM {source} GROUP BY {}",
            select.join(", "),
            group.join(", ")
        )
    })
}
