//! Stand-in for the HAPI FHIR strict JSON parser the backend runs on every POST body (reference §3.4):
//! the body must be JSON, a resource, of the expected type, and hold no empty string anywhere.
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
    if let Some(member) = first_empty_string(body)? {
        return Err(ScrError::bad_request(texts::empty_attribute_value(&member)));
    }
    Ok(value)
}

fn first_non_whitespace(body: &[u8]) -> char {
    String::from_utf8_lossy(body).chars().find(|c| !c.is_whitespace()).unwrap_or(' ')
}

/// Name of the member holding the first `""` in document order (depth-first), scanning the raw text so the
/// order is the sender's (a `serde_json::Value` map is sorted).
fn first_empty_string(body: &[u8]) -> Result<Option<String>, ScrError> {
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
        Ok(v.is_empty().then(|| self.member.to_owned()))
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
