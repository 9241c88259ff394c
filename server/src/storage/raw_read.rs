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
    /// time bucket's start and `from_ms`. With a histogram, a group comes as
    /// one row of measures and one row per histogram bin (its count, no
    /// measures): add them up.
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
        self.read_raw_groups(read, false, &mut visit).await?;
        if read.hist && raw.hist_column.is_some() {
            // Apart from the measures: grouped by bin as well, a group's
            // rows are many (hundreds of bins an edge at a busy hour), and
            // each would carry every measure.
            self.read_raw_groups(read, true, &mut visit).await?;
        }
        Ok(())
    }

    /// One query of [`Storage::read_raw`]: the measures of each group, or
    /// (`bins`) the count of each group's histogram bins.
    async fn read_raw_groups(
        &self,
        read: &RawRead<'_>,
        bins: bool,
        visit: &mut impl FnMut(RowRef<'_>),
    ) -> Result<(), sqlx::Error> {
        let lists: Vec<(Dim, Vec<i64>)> = read
            .filters
            .iter()
            .filter(|f| read.fact.dims.contains(&f.dim))
            .map(|f| (f.dim, f.values.iter().copied().collect()))
            .collect();
        let shape: Vec<(Dim, usize)> = lists.iter().map(|(d, v)| (*d, v.len())).collect();
        let sql = raw_sql(read, bins, &shape);
        let mut query = sqlx::query(sql)
            .bind(first_id(read.from_ms))
            .bind(first_id(read.to_ms))
            .bind(read.bucket_ms.unwrap_or(1).max(1));
        for (_, values) in &lists {
            for v in values {
                query = query.bind(*v);
            }
        }
        let mut values = vec![f64::NAN; read.fact.measures.len()];
        let mut rows = query.fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let time: i64 = row.try_get(0)?;
            let mut dims: DimValues = [0; MAX_DIMS];
            for (i, slot) in dims.iter_mut().enumerate().take(read.dims.len()) {
                *slot = row.try_get::<Option<i64>, _>(1 + i)?.unwrap_or(0);
            }
            let at = 1 + read.dims.len();
            let histogram = if bins {
                let bin: i64 = row.try_get::<Option<i64>, _>(at)?.unwrap_or(0);
                let count: i64 = row.try_get(at + 1)?;
                Hist::Bin(bin.max(0) as usize, count.max(0) as u64)
            } else {
                for (i, m) in read.measures.iter().enumerate() {
                    values[*m] = number(&row, at + i)?;
                }
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

/// The SQL of a raw read: the measures per group, or (`bins`) the count
/// per group and histogram bin. Parameters: ?1, ?2 the id range, ?3 the
/// time bucket width (ms), then the filter lists.
fn raw_sql(read: &RawRead<'_>, bins: bool, lists: &[(Dim, usize)]) -> Sql {
    let raw = read.fact.raw.as_ref().expect("a raw table");
    let key = format!(
        "raw-select:{}:{}:{:?}:{:?}:{bins}:{lists:?}",
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
        let mut group: Vec<String> = (1..=1 + read.dims.len()).map(|i| i.to_string()).collect();
        let source = match (bins, raw.hist_column) {
            (true, Some(column)) => {
                select.push("b".to_owned());
                select.push("COUNT(*)".to_owned());
                group.push((2 + read.dims.len()).to_string());
                format!(
                    "(SELECT *, (SELECT bin FROM histogram_bins WHERE lower_ms <= {column}
                       ORDER BY lower_ms DESC LIMIT 1) AS b
                      FROM {t} WHERE id >= ?1 AND id < ?2{filters})",
                    t = raw.table
                )
            }
            _ => {
                select.extend(
                    read.measures
                        .iter()
                        .map(|m| read.fact.measures[*m].raw.to_owned()),
                );
                format!(
                    "(SELECT * FROM {t} WHERE id >= ?1 AND id < ?2{filters})",
                    t = raw.table
                )
            }
        };
        format!(
            "SELECT {} FROM {source} GROUP BY {}",
            select.join(", "),
            group.join(", ")
        )
    })
}
