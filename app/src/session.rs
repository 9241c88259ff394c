//! Whether the viewer is logged in, shared by the login form, the board and
//! every widget that can learn that the session expired.

use leptos::prelude::*;

/// Whether the viewer is logged in: `None` while asking the server.
#[derive(Clone, Copy)]
pub struct Auth(pub RwSignal<Option<bool>>);

impl Auth {
    /// Unknown until the server answers whether there is a session already.
    pub fn ask() -> Self {
        let auth = Self(RwSignal::new(None));
        leptos::task::spawn_local(async move {
            auth.0
                .set(Some(crate::api::whoami().await.unwrap_or(false)));
        });
        auth
    }

    /// Called when a server function answers `AppError::Unauthenticated`.
    pub fn expired(&self) {
        self.0.set(Some(false));
    }
}
