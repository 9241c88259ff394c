//! How the raw insert places events: duplicates within a batch, a group
//! and the database, shared slots, events stamped on arrival.

use crate::{
    model::{Batch, Execution},
    storage::{
        Storage,
        commit::WriterState,
        test_support::{execution, memory_storage},
    },
};

async fn accepted(storage: &Storage, state: &mut WriterState, events: Vec<Execution>) -> usize {
    let batch = Batch::Executions(events);
    let (outcome, ()) = storage
        .commit_group(&[&batch], state, 1_000, |_| ())
        .await
        .unwrap();
    outcome.batches[0].accepted
}

#[tokio::test]
async fn events_sharing_a_millisecond_and_their_resends_count_once() {
    let storage = memory_storage().await;
    let mut state = WriterState::new(0);
    // 5 000 events of one millisecond: dozens of slots are shared.
    let ts = 1_795_000_000_000;
    let events = |from: usize, to: usize| -> Vec<Execution> {
        (from..to)
            .map(|i| execution(format!("same-ms-{i}"), ts, false))
            .collect()
    };
    assert_eq!(accepted(&storage, &mut state, events(0, 5000)).await, 5000);
    assert_eq!(accepted(&storage, &mut state, events(0, 5000)).await, 0);
    // Half old, half new, in one batch.
    assert_eq!(
        accepted(&storage, &mut state, events(2500, 7500)).await,
        2500
    );
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM executions_raw")
        .fetch_one(&storage.pool)
        .await
        .unwrap();
    assert_eq!(rows, 7500);
    let counted: i64 =
        sqlx::query_scalar("SELECT SUM(executions) FROM exec_rollup WHERE grain = 86400")
            .fetch_one(&storage.pool)
            .await
            .unwrap();
    assert_eq!(counted, 7500);
}

#[tokio::test]
async fn events_of_one_batch_sharing_a_slot_are_spread_before_writing() {
    use super::{Group, Placement, SLOTS, event_hash, first_id, insert, slot, spread_shared_slots};
    use crate::storage::facts::{Executions, Fact};
    // Three ids whose hashes share a slot.
    let mut by_slot: std::collections::HashMap<i64, Vec<String>> = Default::default();
    let shared = (0..)
        .find_map(|i| {
            let id = format!("slot-{i}");
            let ids = by_slot
                .entry(event_hash(&id).rem_euclid(SLOTS))
                .or_default();
            ids.push(id);
            (ids.len() == 3).then(|| ids.clone())
        })
        .unwrap();
    let ts = 1_795_000_000_000;
    let events: Vec<Execution> = shared
        .iter()
        .map(|id| execution(id.clone(), ts, false))
        .collect();
    let mut placed: Vec<super::Placed> = (0..3)
        .map(|index| super::Placed {
            index,
            id: slot(ts, event_hash(&shared[index]), 0),
            probe: 0,
            stamped_hash: None,
        })
        .collect();
    let refs: Vec<&Execution> = events.iter().collect();
    spread_shared_slots::<Executions>(&mut placed, &refs);
    let home = placed[0].id;
    let ids: Vec<(i64, i64)> = placed.iter().map(|p| (p.id, p.probe)).collect();
    assert_eq!(
        ids,
        vec![
            (home, 0),
            (slot(ts, event_hash(&shared[1]), 1), 1),
            (slot(ts, event_hash(&shared[2]), 2), 2)
        ]
    );
    assert!(
        ids.iter()
            .all(|(id, _)| (first_id(ts)..first_id(ts + 1)).contains(id))
    );

    // Stored whole, and found again when sent once more, alone or together.
    let storage = memory_storage().await;
    let mut state = WriterState::new(0);
    assert_eq!(accepted(&storage, &mut state, events.clone()).await, 3);
    assert_eq!(
        accepted(&storage, &mut state, events[2..].to_vec()).await,
        0
    );
    assert_eq!(accepted(&storage, &mut state, events.clone()).await, 0);
    let mut conn = storage.pool.acquire().await.unwrap();
    let group = Group::<Executions> {
        raw: Executions::DECL.raw.as_ref().unwrap(),
        events: &refs,
        ids: &NoIds,
        received_at_ms: 1_000,
    };
    let mut reported = Vec::new();
    let again = insert(&mut conn, &group, Placement::Careful, |i| reported.push(i))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, vec![false; 3]);
    assert!(reported.is_empty(), "nothing stored, nothing reported");
    // Optimistically, the insert gives up: the caller rolls back.
    let optimistic = insert(&mut conn, &group, Placement::Optimistic, |_| {})
        .await
        .unwrap();
    assert_eq!(optimistic, None);
}

struct NoIds;
impl crate::storage::facts::Ids for NoIds {
    fn key(&self, _: Option<&crate::model::KeyHash>) -> i64 {
        0
    }
    fn language(&self, _: &str) -> i64 {
        0
    }
    fn endpoint(&self, _: &str) -> i64 {
        0
    }
}

#[tokio::test]
async fn events_stamped_on_arrival_are_found_again_at_another_time() {
    let storage = memory_storage().await;
    let mut state = WriterState::new(0);
    let at = |ts: i64| -> Vec<Execution> {
        (0..300)
            .map(|i| execution(format!("no-time-{i}"), ts + i, true))
            .collect()
    };
    assert_eq!(
        accepted(&storage, &mut state, at(1_795_000_000_000)).await,
        300
    );
    // A retry an hour later is stamped with its own arrival time.
    assert_eq!(
        accepted(&storage, &mut state, at(1_795_003_600_000)).await,
        0
    );
    // The same ids with a timestamp of the producer's are other events.
    let timed: Vec<Execution> = (0..10)
        .map(|i| execution(format!("no-time-{i}"), 1_795_007_200_000, false))
        .collect();
    assert_eq!(accepted(&storage, &mut state, timed).await, 10);
}

#[tokio::test]
async fn a_group_stores_each_event_once_across_its_batches() {
    use crate::storage::commit::BatchOutcome;
    let storage = memory_storage().await;
    let mut state = WriterState::new(0);
    let ts = 1_795_000_000_000;
    let fresh = |n: i64, tag: &str| -> Vec<Execution> {
        (0..n)
            .map(|i| execution(format!("{tag}-{i}"), ts + i % 7, false))
            .collect()
    };
    // Two batches of new events: more rows than one statement holds.
    let (a, b) = (
        Batch::Executions(fresh(700, "a")),
        Batch::Executions(fresh(500, "b")),
    );
    let (outcome, ()) = storage
        .commit_group(&[&a, &b], &mut state, 1_000, |_| ())
        .await
        .unwrap();
    let all_new = |n| BatchOutcome {
        accepted: n,
        duplicates: 0,
    };
    assert_eq!(outcome.batches, [all_new(700), all_new(500)]);

    // One batch repeats an event of the other and one stored before: each
    // is a duplicate where it comes second, and the new events are stored.
    let first = Batch::Executions(fresh(1_100, "c"));
    let second = Batch::Executions(vec![
        execution("c-3".to_owned(), ts + 3, false),
        execution("a-10".to_owned(), ts + 3, false),
        execution("d-0".to_owned(), ts, false),
    ]);
    let (outcome, ()) = storage
        .commit_group(&[&first, &second], &mut state, 2_000, |_| ())
        .await
        .unwrap();
    assert_eq!(
        outcome.batches,
        [
            all_new(1_100),
            BatchOutcome {
                accepted: 1,
                duplicates: 2
            }
        ]
    );
    assert_eq!(outcome.stored[1], [false, false, true]);
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM executions_raw")
        .fetch_one(&storage.pool)
        .await
        .unwrap();
    assert_eq!(rows, 700 + 500 + 1_100 + 1);
}
