//! Security headers on every response: a Content-Security-Policy that lets
//! the dashboard's WASM run and nothing else, no sniffing, no framing, no
//! referrer.

use std::path::Path;

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};
use base64::Engine;
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct SecurityHeaders {
    csp: HeaderValue,
}

/// Builds the policy. Trunk's `index.html` starts the WASM from an inline
/// module script, which is allowed by its hash (read from the built file),
/// not by `'unsafe-inline'`.
pub fn headers(dist: &Path) -> SecurityHeaders {
    let index = std::fs::read_to_string(dist.join("index.html")).unwrap_or_default();
    let hashes: String = inline_scripts(&index)
        .map(|script| {
            let digest = Sha256::digest(script.as_bytes());
            format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect();
    let policy = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    SecurityHeaders {
        csp: HeaderValue::from_str(&policy)
            .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'")),
    }
}

/// The contents of `<script>` elements without a `src`.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (attributes, body) = rest.split_once('>')?;
        if attributes.contains("src=") {
            return None;
        }
        body.split_once("</script>").map(|(script, _)| script)
    })
}

pub async fn apply(headers: SecurityHeaders, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, headers.csp);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_inline_scripts_only() {
        let html = r#"<script type="module">import init from '/a.js';</script><script src="/b.js"></script>"#;
        assert_eq!(
            inline_scripts(html).collect::<Vec<_>>(),
            vec!["import init from '/a.js';"]
        );
    }
}
