//! The declarations held against the live schema: every rollup and raw
//! table has exactly the columns, types and primary key its fact declares.

use sqlx::Row;

use super::{
    Location, Storage, Tuning,
    facts::{self, ColumnType, Executions, Fact, PoolEvents, Recorded, Requests},
    sql::rollup_columns,
};

/// (name, type, position in the primary key or 0) of every column.
async fn columns(storage: &Storage, table: &str) -> Vec<(String, String, i64)> {
    sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA table_info({table})")))
        .fetch_all(&storage.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("name"), r.get("type"), r.get("pk")))
        .collect()
}

fn raw_columns<R: Recorded>() -> Vec<(String, String)> {
    let mut expected = vec![
        ("id".to_owned(), "INTEGER".to_owned()),
        ("stamped_hash".to_owned(), "INTEGER".to_owned()),
    ];
    expected.extend(
        R::RAW_COLUMNS
            .iter()
            .map(|c| (c.name.to_owned(), c.kind.sql().to_owned())),
    );
    expected.push(("received_at".to_owned(), "INTEGER".to_owned()));
    expected
}

#[tokio::test]
async fn every_declaration_matches_the_live_schema() {
    let storage = Storage::open(Location::Memory, Tuning::default())
        .await
        .unwrap();
    for fact in facts::ALL {
        for rollup in fact.rollups {
            let live = columns(&storage, rollup.table).await;
            let expected: Vec<(String, String)> = rollup_columns(fact, rollup)
                .into_iter()
                .map(|c| {
                    let kind = match c {
                        "hist" => "BLOB",
                        c => fact
                            .measures
                            .iter()
                            .find(|m| m.column == c)
                            .map_or(ColumnType::Int.sql(), |m| m.kind.sql()),
                    };
                    (c.to_owned(), kind.to_owned())
                })
                .collect();
            let names: Vec<(String, String)> = live
                .iter()
                .map(|(n, t, _)| (n.clone(), t.clone()))
                .collect();
            assert_eq!(names, expected, "{}", rollup.table);
            let mut key: Vec<(i64, &str)> = live
                .iter()
                .filter(|(_, _, pk)| *pk > 0)
                .map(|(n, _, pk)| (*pk, n.as_str()))
                .collect();
            key.sort_unstable();
            let key: Vec<&str> = key.into_iter().map(|(_, n)| n).collect();
            assert_eq!(key, rollup.key_columns(), "{} primary key", rollup.table);
            let indexes: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT list || ':' || group_concat(name, ',') FROM (SELECT i.name AS list, c.name FROM
                   pragma_index_list('{}') i, pragma_index_info(i.name) c
                   WHERE i.origin = 'c' ORDER BY i.name, c.seqno) GROUP BY list",
                rollup.table
            )))
            .fetch_all(&storage.pool)
            .await
            .unwrap();
            let expected: Vec<String> = rollup
                .bucket_index_name()
                .map(|name| format!("{name}:grain,bucket"))
                .into_iter()
                .collect();
            assert_eq!(indexes, expected, "{} indexes", rollup.table);
        }
    }
    for (decl, expected) in [
        (Executions::DECL, raw_columns::<Executions>()),
        (Requests::DECL, raw_columns::<Requests>()),
        (PoolEvents::DECL, raw_columns::<PoolEvents>()),
    ] {
        let raw = decl.raw.as_ref().unwrap();
        let live: Vec<(String, String)> = columns(&storage, raw.table)
            .await
            .into_iter()
            .map(|(n, t, _)| (n, t))
            .collect();
        assert_eq!(live, expected, "{}", raw.table);
        // The measures' raw SQL runs on the table.
        let measures: Vec<&str> = decl.measures.iter().map(|m| m.raw).collect();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM {}",
            measures.join(", "),
            raw.table
        )))
        .fetch_all(&storage.pool)
        .await
        .unwrap();
        // The view shows the table under its readable name.
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {}", raw.view)))
            .fetch_all(&storage.pool)
            .await
            .unwrap();
    }
}
