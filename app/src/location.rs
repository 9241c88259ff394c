//! Where the dashboard is: the page's path and query in a signal that
//! follows the browser's history, and navigation that pushes to it.
//!
//! The dashboard has two pages (every key, one key), so it needs no router:
//! `history.pushState`, the `popstate` event, and a click handler that keeps
//! links to the dashboard's own pages inside the app (as a router would)
//! do the work, in a fraction of a router's WASM.

use leptos::prelude::*;

/// The path and the query (without `?`) of the page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Here {
    pub(crate) path: String,
    pub(crate) query: String,
}

/// What the path shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/monitoring`.
    Board,
    /// `/monitoring/keys/{key}` (the key as written, checked by the page).
    Key(String),
    NotFound,
}

/// The dashboard's paths start with this.
const BASE: &str = "/monitoring";

impl Here {
    pub(crate) fn route(&self) -> Route {
        match self.path.strip_prefix(BASE) {
            Some("" | "/") => Route::Board,
            Some(rest) => match rest.strip_prefix("/keys/") {
                Some(key) if !key.is_empty() && !key.contains('/') => Route::Key(key.to_owned()),
                _ => Route::NotFound,
            },
            None => Route::NotFound,
        }
    }

    /// The first value of the query's `name`, decoded.
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key) == name).then(|| decode(value))
        })
    }
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space);
/// malformed escapes are kept as written.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The page's location, tracked; provided as context by the app.
#[derive(Clone, Copy)]
pub(crate) struct Location(RwSignal<Here>);

impl Location {
    /// Reads the browser's location and follows it from then on.
    pub(crate) fn follow() -> Self {
        let location = Self(RwSignal::new(current()));
        #[cfg(target_arch = "wasm32")]
        {
            let _ = window_event_listener(leptos::ev::popstate, move |_| {
                location.0.set(current());
            });
            let _ = window_event_listener(leptos::ev::click, move |event| {
                if let Some(url) = own_link(&event) {
                    event.prevent_default();
                    location.navigate(&url);
                }
            });
        }
        location
    }

    /// The location, tracked.
    pub(crate) fn get(self) -> Here {
        self.0.get()
    }

    /// The route, tracked.
    pub(crate) fn route(self) -> Route {
        self.0.with(Here::route)
    }

    /// Goes to `url` (a path and query on this site), as a new history
    /// entry; the page scrolls to the top when the path changes.
    pub(crate) fn navigate(self, url: &str) {
        #[cfg(target_arch = "wasm32")]
        if let Some(window) = web_sys::window() {
            let pushed = window
                .history()
                .and_then(|h| h.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(url)));
            if pushed.is_err() {
                let _ = window.location().set_href(url);
                return;
            }
            let next = current();
            if next.path != self.0.with_untracked(|h| h.path.clone()) {
                window.scroll_to_with_x_and_y(0.0, 0.0);
            }
            self.0.set(next);
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let (path, query) = url.split_once('?').unwrap_or((url, ""));
            self.0.set(Here {
                path: path.to_owned(),
                query: query.to_owned(),
            });
        }
    }
}

/// The browser's location now.
fn current() -> Here {
    #[cfg(target_arch = "wasm32")]
    if let Some(location) = web_sys::window().map(|w| w.location()) {
        return Here {
            path: location.pathname().unwrap_or_default(),
            query: location
                .search()
                .unwrap_or_default()
                .trim_start_matches('?')
                .to_owned(),
        };
    }
    Here::default()
}

/// The path and query of a plain left click on a link to one of the
/// dashboard's pages, which the app shows itself; `None` for anything the
/// browser should handle (other sites, downloads, new tabs, modified
/// clicks).
#[cfg(target_arch = "wasm32")]
fn own_link(event: &web_sys::MouseEvent) -> Option<String> {
    use wasm_bindgen::JsCast;

    if event.default_prevented()
        || event.button() != 0
        || event.meta_key()
        || event.ctrl_key()
        || event.shift_key()
        || event.alt_key()
    {
        return None;
    }
    let target = event.target()?.dyn_into::<web_sys::Element>().ok()?;
    let anchor = target
        .closest("a[href]")
        .ok()??
        .dyn_into::<web_sys::HtmlAnchorElement>()
        .ok()?;
    if anchor.has_attribute("download") || !matches!(anchor.target().as_str(), "" | "_self") {
        return None;
    }
    let origin = web_sys::window()?.location().origin().ok()?;
    let path = anchor.pathname();
    let own = anchor.origin() == origin
        && (path == BASE || path.starts_with(&format!("{BASE}/")))
        && !path[BASE.len()..].contains('.');
    own.then(|| format!("{path}{}", anchor.search()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here(path: &str, query: &str) -> Here {
        Here {
            path: path.to_owned(),
            query: query.to_owned(),
        }
    }

    #[test]
    fn paths_map_to_the_two_pages() {
        assert_eq!(here("/monitoring", "").route(), Route::Board);
        assert_eq!(here("/monitoring/", "").route(), Route::Board);
        assert_eq!(
            here("/monitoring/keys/0123456789abcdef", "").route(),
            Route::Key("0123456789abcdef".to_owned())
        );
        for other in [
            "/monitoringx",
            "/monitoring/keys/",
            "/monitoring/keys/a/b",
            "/",
            "/other",
        ] {
            assert_eq!(here(other, "").route(), Route::NotFound, "{other}");
        }
    }

    #[test]
    fn query_values_are_decoded() {
        let h = here(
            "/monitoring",
            "period=week&tz=Asia%2FKolkata&q=a+b&empty=&flag&bad=%zz%4",
        );
        assert_eq!(h.param("period").as_deref(), Some("week"));
        assert_eq!(h.param("tz").as_deref(), Some("Asia/Kolkata"));
        assert_eq!(h.param("q").as_deref(), Some("a b"));
        assert_eq!(h.param("empty").as_deref(), Some(""));
        assert_eq!(h.param("flag").as_deref(), Some(""));
        assert_eq!(h.param("bad").as_deref(), Some("%zz%4"));
        assert_eq!(h.param("missing"), None);
        assert_eq!(decode("%C3%A9"), "é");
    }
}
