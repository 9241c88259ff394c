//! The browser's side of the server functions: one call path for all of
//! them. Arguments travel as the form the server functions read
//! (`query[period]=week&query[tz]=UTC`), answers as JSON, failures as
//! Tally's error body, read back into the [`AppError`] the server raised.

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::error::AppError;

/// An argument as JSON, on its way to the form.
pub(super) fn arg(value: &impl Serialize) -> Result<Value, AppError> {
    serde_json::to_value(value)
        .map_err(|error| AppError::Transport(format!("an argument could not be sent: {error}")))
}

/// Posts `args` to the server function at `path` and reads its answer.
pub(super) async fn call<T: DeserializeOwned>(
    path: &str,
    args: &[(&str, Value)],
) -> Result<T, AppError> {
    let answer = post(path, form(args)).await?;
    serde_json::from_str(&answer).map_err(|error| {
        AppError::Transport(format!("the answer of {path} could not be read: {error}"))
    })
}

/// The POST itself: the answer's body on a 2xx, the server's error otherwise.
#[cfg(target_arch = "wasm32")]
async fn post(path: &str, body: String) -> Result<String, AppError> {
    use gloo_net::http::Request;

    let transport = |error: gloo_net::Error| AppError::Transport(error.to_string());
    let response = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body)
        .map_err(transport)?
        .send()
        .await
        .map_err(transport)?;
    let text = response.text().await.map_err(transport)?;
    if response.ok() {
        return Ok(text);
    }
    Err(serde_json::from_str::<AppError>(&text)
        .unwrap_or_else(|_| AppError::Transport(format!("{path} answered {}", response.status()))))
}

/// Outside a browser (native unit tests) there is no server to call.
#[cfg(not(target_arch = "wasm32"))]
async fn post(path: &str, _body: String) -> Result<String, AppError> {
    Err(AppError::Transport(format!(
        "{path}: server functions are called from the browser build"
    )))
}

/// `application/x-www-form-urlencoded`, nested as the server functions'
/// decoder (serde_qs) reads it: `name[field]=value`; `null` is left out.
fn form(args: &[(&str, Value)]) -> String {
    let mut out = String::new();
    for (name, value) in args {
        pairs(&mut out, &escape(name), value);
    }
    out
}

fn pairs(out: &mut String, key: &str, value: &Value) {
    let mut push = |text: &str| {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(&escape(text));
    };
    match value {
        Value::Null => {}
        Value::String(text) => push(text),
        Value::Bool(_) | Value::Number(_) => push(&value.to_string()),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                pairs(out, &format!("{key}[{index}]"), item);
            }
        }
        Value::Object(fields) => {
            for (field, item) in fields {
                pairs(out, &format!("{key}[{}]", escape(field)), item);
            }
        }
    }
}

/// Percent-encodes all but `A–Z a–z 0–9 - . _ *`, a space as `+`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 15)]));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::MetricsQuery;

    #[test]
    fn arguments_become_the_nested_form_the_server_reads() {
        let query = MetricsQuery {
            period: Some("week".into()),
            tz: Some("Asia/Kolkata".into()),
            stack_by_api_key: Some(true),
            ..MetricsQuery::default()
        };
        let args = [
            ("name", arg(&"queue depth & more").unwrap()),
            ("query", arg(&query).unwrap()),
            ("attributes", arg(&"").unwrap()),
        ];
        // The order of a struct's fields depends on serde_json's map; the
        // decoder does not care.
        let mut pairs: Vec<_> = form(&args).split('&').map(str::to_owned).collect();
        pairs.sort();
        assert_eq!(
            pairs,
            [
                "attributes=",
                "name=queue+depth+%26+more",
                "query[period]=week",
                "query[stack_by_api_key]=true",
                "query[tz]=Asia%2FKolkata",
            ]
        );
        assert_eq!(form(&[]), "");
    }

    #[test]
    fn text_beyond_ascii_is_percent_encoded_as_utf8() {
        assert_eq!(escape("é=1"), "%C3%A9%3D1");
        assert_eq!(escape("a-b.c_d*"), "a-b.c_d*");
    }
}
