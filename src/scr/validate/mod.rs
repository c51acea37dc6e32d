//! The backend's request validation (reference §3.4, §4.1–§4.5), as pure functions over query parameters and
//! JSON values. Every failure is a [`ScrError`](super::ScrError) carrying the backend's exact text from
//! [`texts`](super::texts); the first failing rule wins, in the backend's order.
//!
//! Typical use for a POST body: [`parse::parse_resource`] (the HAPI strict parser stand-in), then the
//! endpoint's validator ([`upload::validate_upload`], [`permission::validate_set_permission`],
//! [`alert::validate_alert`]).

pub mod alert;
pub mod parse;
pub mod permission;
pub mod query;
pub mod upload;

use serde_json::Value;

/// The string at `pointer`, if there is one.
pub(crate) fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// The non-empty string at `pointer`, if there is one.
pub(crate) fn text_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    str_at(value, pointer).filter(|s| !s.is_empty())
}

/// The given string as Java would print it: the value itself, or `null` when absent or not a string.
pub(crate) fn or_null(value: Option<&str>) -> &str {
    value.unwrap_or("null")
}

/// The array at `pointer`, or an empty slice when absent or not an array.
pub(crate) fn array_at<'a>(value: &'a Value, pointer: &str) -> &'a [Value] {
    value.pointer(pointer).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}
