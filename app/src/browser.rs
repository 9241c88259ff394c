//! The few facts the dashboard asks the browser. Outside wasm32 (the server
//! build) they have neutral answers.

/// The viewer's IANA time zone, e.g. `Europe/Berlin`.
pub fn time_zone() -> String {
    #[cfg(target_arch = "wasm32")]
    {
        let options =
            js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
                .resolved_options();
        if let Some(zone) = js_sys::Reflect::get(&options, &"timeZone".into())
            .ok()
            .and_then(|v| v.as_string())
        {
            return zone;
        }
    }
    "UTC".to_owned()
}

/// Whether the system asks for a dark theme.
#[cfg(target_arch = "wasm32")]
pub fn prefers_dark() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
        .is_some_and(|query| query.matches())
}

/// Device pixels per CSS pixel.
#[cfg(target_arch = "wasm32")]
pub fn pixel_ratio() -> f64 {
    web_sys::window().map_or(1.0, |w| w.device_pixel_ratio().max(1.0))
}
