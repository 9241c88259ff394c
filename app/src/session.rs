//! Whether the viewer is logged in, shared by the login form, the board and
//! every widget that can learn that the session expired.

use leptos::prelude::*;

/// Whether the viewer is logged in: `None` while asking the server.
#[derive(Clone, Copy)]
pub struct Auth(pub RwSignal<Option<bool>>);

impl Auth {
    /// Called when a server function answers `AppError::Unauthenticated`.
    pub fn expired(&self) {
        self.0.set(Some(false));
    }
}
