//! Stand-in for the HAPI FHIR strict JSON parser the backend runs on every POST body (reference §3.4):
//! the body must be JSON, a resource, of the expected type, hold no empty string anywhere and no date the
//! parser cannot read.
//! It does **not** check FHIR structure (unknown elements, cardinalities, datatypes).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::scr::{texts, ScrError};

/// Parses `body` as a FHIR resource of type `expected_type` (reference §3.4 "body not parseable …").
///
/// Errors, all 400 `value`: not JSON → [`texts::unparseable_json`]; not an object or no `resourceType` →
/// the same prefix with HAPI's wording; another type → [`texts::incorrect_resource_type`]; an empty string
/// value → [`texts::empty_attribute_value`] naming the member that holds the first one in document order.
pub fn parse_resource(body: &[u8], expected_type: &str) -> Result<Value, ScrError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ScrError::bad_request(texts::unparseable_json(&e.to_string())))?;
    if !value.is_object() {
        return Err(ScrError::bad_request(texts::not_fhir_json(first_non_whitespace(body))));
    }
    let found = value
        .get("resourceType")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ScrError::bad_request(texts::unparseable_json(texts::MISSING_RESOURCE_TYPE)))?;
    if found != expected_type {
        return Err(ScrError::bad_request(texts::incorrect_resource_type(expected_type, found)));
    }
    if let Some(text) = first_bad_value(body)? {
        return Err(ScrError::bad_request(text));
    }
    Ok(value)
}

/// Members that hold a FHIR `date`, `dateTime` or `instant` wherever they occur in the SCR resources
/// (`AuditEvent.recorded`, `Bundle.timestamp`, `meta.lastUpdated`, `Composition.date`, `Period.start/end`, …).
const TEMPORAL_MEMBERS: &[&str] = &[
    "recorded",
    "timestamp",
    "lastUpdated",
    "date",
    "birthDate",
    "deceasedDateTime",
    "issued",
    "effectiveDateTime",
    "effectiveInstant",
    "onsetDateTime",
    "abatementDateTime",
    "recordedDate",
    "authoredOn",
    "occurrenceDateTime",
    "start",
    "end",
];

/// Whether HAPI's date parser can read `v`: `YYYY[-MM[-DD[Thh:mm[:ss[.f…]][Z|±hh:mm]]]]` with the fields in
/// range (HAPI reads minute precision too, as the NHS UAT upload fixtures' `meta.lastUpdated` shows).
pub(crate) fn readable_date_time(v: &str) -> bool {
    fn digits(s: &str, n: usize, range: std::ops::RangeInclusive<u32>) -> Option<&str> {
        let head = s.get(..n)?;
        let number: u32 = head.bytes().all(|b| b.is_ascii_digit()).then(|| head.parse().ok())??;
        range.contains(&number).then(|| &s[n..])
    }
    fn zone(rest: &str) -> bool {
        match rest.as_bytes().first() {
            None => true,
            Some(b'Z') => rest.len() == 1,
            Some(b'+' | b'-') => {
                let Some(rest) = digits(&rest[1..], 2, 0..=14) else { return false };
                rest.strip_prefix(':').and_then(|r| digits(r, 2, 0..=59)).is_some_and(str::is_empty)
            }
            _ => false,
        }
    }
    let parse = || -> Option<bool> {
        let rest = digits(v, 4, 0..=9999)?;
        if rest.is_empty() {
            return Some(true);
        }
        let rest = digits(rest.strip_prefix('-')?, 2, 1..=12)?;
        if rest.is_empty() {
            return Some(true);
        }
        let rest = digits(rest.strip_prefix('-')?, 2, 1..=31)?;
        if rest.is_empty() {
            return Some(true);
        }
        let rest = digits(rest.strip_prefix('T')?, 2, 0..=23)?;
        let mut rest = digits(rest.strip_prefix(':')?, 2, 0..=59)?;
        if let Some(seconds) = rest.strip_prefix(':') {
            rest = digits(seconds, 2, 0..=60)?;
            if let Some(fraction) = rest.strip_prefix('.') {
                let end = fraction.find(|c: char| !c.is_ascii_digit()).unwrap_or(fraction.len());
                if end == 0 {
                    return Some(false);
                }
                rest = &fraction[end..];
            }
        }
        Some(zone(rest))
    };
    parse().unwrap_or(false)
}

fn first_non_whitespace(body: &[u8]) -> char {
    String::from_utf8_lossy(body).chars().find(|c| !c.is_whitespace()).unwrap_or(' ')
}

/// The parser's text for the first bad value in document order (depth-first) — an empty string, or a date the
/// parser cannot read in a [`TEMPORAL_MEMBERS`] member — scanning the raw text so the order is the sender's
/// (a `serde_json::Value` map is sorted).
fn first_bad_value(body: &[u8]) -> Result<Option<String>, ScrError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    FirstEmpty { member: "" }
        .deserialize(&mut deserializer)
        .map_err(|e| ScrError::bad_request(texts::unparseable_json(&e.to_string())))
}

/// Walks one JSON value; `member` is the name of the object member the value (or its array) sits in.
struct FirstEmpty<'a> {
    member: &'a str,
}

impl<'de> DeserializeSeed<'de> for FirstEmpty<'_> {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FirstEmpty<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        if v.is_empty() {
            return Ok(Some(texts::empty_attribute_value(self.member)));
        }
        if TEMPORAL_MEMBERS.contains(&self.member) && !readable_date_time(v) {
            return Ok(Some(texts::invalid_date_time(self.member, v)));
        }
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(hit) = seq.next_element_seed(FirstEmpty { member: self.member })? {
            found = found.or(hit);
        }
        Ok(found)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            let hit = map.next_value_seed(FirstEmpty { member: &key })?;
            found = found.or(hit);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(body: &str, expected: &str) -> String {
        match parse_resource(body.as_bytes(), expected) {
            Ok(v) => panic!("expected an error, parsed {v}"),
            Err(e) => {
                assert_eq!((e.status, e.code.as_str()), (400, "value"), "{e}");
                e.text
            }
        }
    }

    #[test]
    fn parses_a_resource_of_the_expected_type() {
        let v = parse_resource(br#"{"resourceType":"Parameters","parameter":[]}"#, "Parameters");
        assert_eq!(v.ok().and_then(|v| v["resourceType"].as_str().map(str::to_owned)), Some("Parameters".into()));
    }

    #[test]
    fn rejects_what_is_not_json() {
        let text = text_of("{not json", "Bundle");
        assert!(text.starts_with("Failed to parse JSON encoded FHIR content: "), "{text}");
        assert!(text.contains("line 1"), "the serde detail is kept: {text}");
        assert!(text_of("", "Bundle").starts_with("Failed to parse JSON encoded FHIR content: "));
    }

    #[test]
    fn rejects_json_that_is_not_a_resource() {
        assert_eq!(
            text_of("  [1, 2]", "Bundle"),
            "Failed to parse JSON encoded FHIR content: Content does not appear to be FHIR JSON, first non-whitespace character was: '[' (must be '{')"
        );
        let missing = "Failed to parse JSON encoded FHIR content: Invalid JSON content detected, missing required element: 'resourceType'";
        assert_eq!(text_of(r#"{"type":"document"}"#, "Bundle"), missing);
        assert_eq!(text_of(r#"{"resourceType":5}"#, "Bundle"), missing);
        assert_eq!(text_of(r#"{"resourceType":""}"#, "Bundle"), missing);
    }

    #[test]
    fn rejects_another_resource_type() {
        assert_eq!(
            text_of(r#"{"resourceType":"Parameters"}"#, "Bundle"),
            r#"Incorrect resource type found, expected "Bundle" but found "Parameters""#
        );
    }

    #[test]
    fn the_type_is_checked_before_empty_values() {
        assert!(text_of(r#"{"resourceType":"Parameters","x":""}"#, "Bundle").starts_with("Incorrect resource type"));
    }

    #[test]
    fn rejects_the_first_empty_string_in_document_order() {
        let cases = [
            (r#"{"resourceType":"AuditEvent","outcomeDesc":""}"#, "outcomeDesc"),
            (r#"{"resourceType":"AuditEvent","z":{"deep":[{"b":""}]},"a":""}"#, "b"),
            (r#"{"resourceType":"AuditEvent","zeta":"","alpha":""}"#, "zeta"),
            (r#"{"resourceType":"AuditEvent","given":["x",""]}"#, "given"),
            (r#"{"resourceType":"AuditEvent","a":[[{"q\"uote":""}]]}"#, "q\"uote"),
        ];
        for (body, member) in cases {
            assert_eq!(text_of(body, "AuditEvent"), texts::empty_attribute_value(member), "{body}");
        }
        assert_eq!(
            texts::empty_attribute_value("outcomeDesc"),
            r#"[element="outcomeDesc"] Invalid attribute value "": Attribute value must not be empty ("")"#
        );
    }

    #[test]
    fn a_date_the_parser_cannot_read_is_rejected_in_document_order() {
        assert_eq!(
            text_of(r#"{"resourceType":"AuditEvent","recorded":"not-a-date"}"#, "AuditEvent"),
            r#"[element="recorded"] Invalid attribute value "not-a-date": Invalid date/time format: "not-a-date""#
        );
        // the first problem in document order wins, empty string or date alike
        assert!(text_of(r#"{"resourceType":"AuditEvent","a":"","recorded":"x"}"#, "AuditEvent")
            .contains("must not be empty"));
        assert!(text_of(r#"{"resourceType":"Bundle","timestamp":"2020-13-01","a":""}"#, "Bundle").contains("timestamp"));
        for ok in [
            "2020",
            "2020-11",
            "2020-11-13",
            "2020-11-13T00:00:00+00:00",
            "2020-11-13T00:00:00Z",
            "2020-11-13T00:00:00.123Z",
            "2017-10-11T09:50+00:00",
            "2020-11-13T10:00:00",
        ] {
            assert!(readable_date_time(ok), "{ok}");
        }
        for bad in [
            "",
            "20",
            "2020-1",
            "2020-00",
            "2020-11-32",
            "2020-11-13 10:00",
            "2020-11-13T25:00",
            "2020-11-13T10:00:00+1",
            "2020-11-13T10:00:00.Z",
            "yesterday",
        ] {
            assert!(!readable_date_time(bad), "{bad}");
        }
        // members that are not dates are not read as dates
        assert!(parse_resource(br#"{"resourceType":"AuditEvent","outcomeDesc":"not-a-date"}"#, "AuditEvent").is_ok());
    }

    #[test]
    fn whitespace_and_other_scalars_are_not_empty() {
        let body = r#"{"resourceType":"AuditEvent","a":" ","b":0,"c":null,"d":false,"e":[],"f":{}}"#;
        assert!(parse_resource(body.as_bytes(), "AuditEvent").is_ok());
    }

    #[test]
    fn nhs_example_and_uat_bodies_parse() {
        let bodies = [
            (include_str!("../../../fixtures/nhs/examples/UploadScrBundle.json"), "Bundle"),
            (include_str!("../../../fixtures/nhs/examples/AuditEvent.json"), "AuditEvent"),
            (include_str!("../../../fixtures/nhs/examples/SetPermission.json"), "Parameters"),
            (include_str!("../../../fixtures/nhs/uat/upload_scr/success/1-basic.request.json"), "Bundle"),
            (include_str!("../../../fixtures/nhs/uat/upload_scr/success/2-bulk.request.json"), "Bundle"),
            (include_str!("../../../fixtures/nhs/uat/upload_scr/success/3-bulk-sds.request.json"), "Bundle"),
            (include_str!("../../../fixtures/nhs/uat/send_alert/success/1-basic.request.json"), "AuditEvent"),
            (include_str!("../../../fixtures/nhs/uat/set_acs/success/1-basic.request.json"), "Parameters"),
        ];
        for (body, ty) in bodies {
            if let Err(e) = parse_resource(body.as_bytes(), ty) {
                panic!("{ty}: {e}");
            }
        }
    }
}
