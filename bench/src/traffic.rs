//! The traffic of a generated dataset: which key, language, status, time
//! and size each execution has. Deterministic: every batch has its own
//! seeded xorshift.

use serde::Serialize;

use crate::datasets::{BATCH, DAY_MS, Dataset, HOUR_MS, SPAN_MS, Shape, raw_key};

const ZIPF_EXPONENT: f64 = 1.1;

/// Languages with their popularity (the skewed set's key preferences).
const LANGUAGES: [(&str, f64); 10] = [
    ("python", 30.0),
    ("javascript", 18.0),
    ("typescript", 14.0),
    ("go", 9.0),
    ("rust", 7.0),
    ("java", 7.0),
    ("bash", 6.0),
    ("ruby", 4.0),
    ("c", 3.0),
    ("cpp", 2.0),
];

/// One execution as producers send it.
#[derive(Serialize)]
struct Event<'a> {
    execution_id: String,
    api_key: &'a str,
    language: &'static str,
    status: &'static str,
    execution_time_ms: f64,
    memory_peak_mb: f64,
    cpu_time_ms: f64,
    container_source: &'static str,
    files_uploaded: u32,
    files_generated: u32,
    output_size_bytes: u64,
    queue_wait_ms: f64,
    created_at: String,
}

pub struct Generator {
    set: Dataset,
    start_ms: i64,
    keys: Vec<String>,
    /// Skewed: cumulative share of the events by key.
    key_cdf: Vec<f64>,
    /// Skewed: each key's preferred languages, most used first.
    key_languages: Vec<Vec<&'static str>>,
    /// Skewed: cumulative share of the events by hour since `start_ms`.
    hour_cdf: Vec<f64>,
}

impl Generator {
    pub fn new(set: Dataset, now_ms: i64) -> Self {
        let start_ms = now_ms - SPAN_MS;
        let keys = (0..set.keys).map(raw_key).collect();
        if set.shape == Shape::Uniform {
            return Self {
                set,
                start_ms,
                keys,
                key_cdf: Vec::new(),
                key_languages: Vec::new(),
                hour_cdf: Vec::new(),
            };
        }
        let key_cdf = cumulative((0..set.keys).map(|k| ((k + 1) as f64).powf(-ZIPF_EXPONENT)));
        let key_languages = (0..set.keys)
            .map(|k| {
                let mut rng = Rng::seeded(0x9e37_79b9 ^ k as u64);
                let mut chosen: Vec<&'static str> = Vec::new();
                let wanted = 1 + (rng.next() % 3) as usize;
                while chosen.len() < wanted {
                    // Drawn by popularity, without repeats.
                    let total: f64 = LANGUAGES
                        .iter()
                        .filter(|(l, _)| !chosen.contains(l))
                        .map(|(_, w)| w)
                        .sum();
                    let mut x = rng.unit() * total;
                    let pick = LANGUAGES
                        .iter()
                        .filter(|(l, _)| !chosen.contains(l))
                        .find(|(_, w)| {
                            x -= w;
                            x < 0.0
                        })
                        .or_else(|| LANGUAGES.iter().rev().find(|(l, _)| !chosen.contains(l)))
                        .map(|(l, _)| *l)
                        .unwrap_or("python");
                    chosen.push(pick);
                }
                chosen
            })
            .collect();
        let hour_cdf = cumulative((0..SPAN_MS / HOUR_MS).map(|h| {
            let t = start_ms + h * HOUR_MS + HOUR_MS / 2;
            let hour = (t.rem_euclid(DAY_MS) / HOUR_MS) as f64;
            // 1970-01-01 was a Thursday: day 0 of the week is Sunday.
            let weekday = (t.div_euclid(DAY_MS) + 4).rem_euclid(7);
            let daily =
                0.35 + 0.65 * (1.0 + (std::f64::consts::TAU * (hour - 15.0) / 24.0).cos()) / 2.0;
            let weekly = if weekday == 0 || weekday == 6 {
                0.55
            } else {
                1.0
            };
            daily * weekly
        }));
        Self {
            set,
            start_ms,
            keys,
            key_cdf,
            key_languages,
            hour_cdf,
        }
    }

    /// Timestamp of the `i`-th event: in order over the 89 days.
    fn created_at_ms(&self, i: usize) -> i64 {
        let n = self.set.executions;
        if self.hour_cdf.is_empty() {
            return self.start_ms + (i as i64 * SPAN_MS) / n as i64;
        }
        let u = i as f64 / n as f64;
        let h = self.hour_cdf.partition_point(|&c| c <= u);
        let below = if h == 0 { 0.0 } else { self.hour_cdf[h - 1] };
        let within = (u - below) / (self.hour_cdf[h] - below);
        self.start_ms + h as i64 * HOUR_MS + (within * HOUR_MS as f64) as i64
    }

    /// The JSON body of batch `chunk` and its number of events.
    pub fn batch(&self, chunk: usize) -> (Vec<u8>, usize) {
        let first = chunk * BATCH;
        let last = (first + BATCH).min(self.set.executions);
        let mut rng = Rng::seeded(0x2545_f491_4f6c_dd1d ^ chunk as u64);
        let events: Vec<Event> = (first..last)
            .map(|i| {
                let r = rng.next();
                let (key, language) = match self.set.shape {
                    Shape::Uniform => (
                        ((r >> 30) % self.set.keys as u64) as usize,
                        LANGUAGES[((r >> 34) % 10) as usize].0,
                    ),
                    Shape::Skewed => {
                        let u = rng.unit();
                        let key = self
                            .key_cdf
                            .partition_point(|&c| c <= u)
                            .min(self.set.keys - 1);
                        let preferred = &self.key_languages[key];
                        // 70 / 20 / 10 % over the key's languages.
                        let index = match (r >> 34) % 10 {
                            0..=6 => 0,
                            7 | 8 => 1,
                            _ => 2,
                        };
                        (key, preferred[index.min(preferred.len() - 1)])
                    }
                };
                let time = 5.0 + ((r >> 8) % 2000) as f64 * ((r >> 20) % 7 + 1) as f64 / 3.0;
                let time = (time * 1000.0).round() / 1000.0;
                let created_at = chrono::DateTime::from_timestamp_millis(self.created_at_ms(i))
                    .expect("a timestamp of this century")
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                Event {
                    execution_id: format!("q{i}"),
                    api_key: &self.keys[key],
                    language,
                    status: match r % 100 {
                        0..=92 => "completed",
                        93..=96 => "failed",
                        97..=98 => "timeout",
                        _ => "error",
                    },
                    execution_time_ms: time,
                    memory_peak_mb: 10.0 + ((r >> 40) % 200) as f64,
                    cpu_time_ms: (time * 800.0).round() / 1000.0,
                    container_source: if (r >> 48).is_multiple_of(10) {
                        "pool_miss"
                    } else {
                        "pool_hit"
                    },
                    files_uploaded: 1,
                    files_generated: ((r >> 52) % 3) as u32,
                    output_size_bytes: 1000,
                    queue_wait_ms: 2.0,
                    created_at,
                }
            })
            .collect();
        let body = serde_json::to_vec(&events).expect("events serialise");
        (body, last - first)
    }
}

/// Running sums of `weights`, divided by their total (the last is 1).
fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut sum = 0.0;
    let mut out: Vec<f64> = weights
        .map(|w| {
            sum += w;
            sum
        })
        .collect();
    for c in &mut out {
        *c /= sum;
    }
    if let Some(last) = out.last_mut() {
        *last = 1.0;
    }
    out
}

/// xorshift64, seeded through splitmix64 so neighbouring seeds differ.
struct Rng(u64);

impl Rng {
    fn seeded(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Self((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
