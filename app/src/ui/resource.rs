//! One way for every widget to load its data: call a server function with
//! the widget's input, and again when that input changes or the board's
//! refresh tick moves.

use std::{future::Future, pin::Pin};

use leptos::prelude::*;

use crate::error::AppError;

/// A server function's answer: `None` while the first call is under way.
pub(crate) type Loaded<T> = LocalResource<Result<T, AppError>>;

/// A counter: every resource that tracks it loads again when it is bumped
/// (by auto-refresh, or after a change the widgets should show).
#[derive(Clone, Copy)]
pub(crate) struct Tick(RwSignal<u64>);

impl Tick {
    pub(crate) fn new() -> Self {
        Self(RwSignal::new(0))
    }

    pub(crate) fn bump(self) {
        self.0.update(|t| *t += 1);
    }

    fn track(self) {
        self.0.track();
    }
}

impl Default for Tick {
    fn default() -> Self {
        Self::new()
    }
}

/// Loads `fetch(input())`, and loads it again whenever a signal `input`
/// reads changes or `tick` is bumped, e.g.
/// `reloading(tick, move || query.get(), get_summary)`.
pub(crate) fn reloading<I, T, F>(
    tick: Tick,
    input: impl Fn() -> I + 'static,
    fetch: impl Fn(I) -> F + 'static,
) -> Loaded<T>
where
    F: Future<Output = Result<T, AppError>> + 'static,
    T: 'static,
{
    resource(tick, Box::new(move || Box::pin(fetch(input()))))
}

type Call<T> = Pin<Box<dyn Future<Output = Result<T, AppError>>>>;

/// The resource itself, compiled once per answer type rather than once per
/// call of [`reloading`] (measured: 5 KB of gzipped WASM in all).
fn resource<T: 'static>(tick: Tick, call: Box<dyn Fn() -> Call<T>>) -> Loaded<T> {
    LocalResource::new(move || {
        let call = call();
        tick.track();
        call
    })
}
