//! Stand-in for the HAPI FHIR 5.4 strict JSON parser (`StrictErrorHandler`) the backend runs on every POST
//! body (reference §3.4; `J/components/FhirParser.java`): the body must start with `{`, be JSON, be a
//! resource of the expected type, and — walking it in the sender's order, as HAPI does — hold no element the
//! FHIR R4 structure does not define, no empty string and no date the parser cannot read. The first problem
//! in document order is reported. Which elements exist, and which are dates, is read from the vendored HL7 R4
//! JSON schema (`schemas/fhir/fhir.schema.json`, its `definitions`). It does **not** check cardinalities or
//! JSON types (HAPI's "incorrect JSON type" errors), nor codes beyond those the validators check.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::scr::{texts, ScrError};

/// Parses `body` as a FHIR resource of type `expected_type` (reference §3.4 "body not parseable …").
///
/// Errors, all 400 `value`, in HAPI's order: no content → [`texts::NO_CONTENT_TO_PARSE`]; a first
/// non-whitespace character other than `{` → [`texts::not_fhir_json`]; not JSON → [`texts::unparseable_json`]
/// (the JSON library's detail is the mock's own: **derived**); no `resourceType` →
/// [`texts::MISSING_RESOURCE_TYPE`]; another type → [`texts::incorrect_resource_type`]; then the first of, in
/// document order: an element R4 does not define → [`texts::unknown_element`], an empty string →
/// [`texts::empty_attribute_value`], a date HAPI cannot read → [`texts::invalid_date_time`].
pub fn parse_resource(body: &[u8], expected_type: &str) -> Result<Value, ScrError> {
    match String::from_utf8_lossy(body).chars().find(|c| !is_java_whitespace(*c)) {
        None => return Err(ScrError::bad_request(texts::unparseable_json(texts::NO_CONTENT_TO_PARSE))),
        Some('{') => {}
        Some(first) => return Err(ScrError::bad_request(texts::not_fhir_json(first))),
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| ScrError::bad_request(texts::unparseable_json(&e.to_string())))?;
    let found = value
        .get("resourceType")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ScrError::bad_request(texts::MISSING_RESOURCE_TYPE))?;
    if found != expected_type {
        return Err(ScrError::bad_request(texts::incorrect_resource_type(expected_type, found)));
    }
    let ordered: Node =
        serde_json::from_slice(body).map_err(|e| ScrError::bad_request(texts::unparseable_json(&e.to_string())))?;
    if let Some(text) = first_problem(&ordered, Shape::Resource, "") {
        return Err(ScrError::bad_request(text));
    }
    Ok(value)
}

/// `Character.isWhitespace`, as HAPI skips it before the first character.
fn is_java_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | '\u{1C}'..='\u{1F}')
        || (c.is_whitespace() && !matches!(c, '\u{85}' | '\u{A0}' | '\u{2007}' | '\u{202F}'))
}

// ---- the R4 structure, from the vendored schema ----------------------------------------------------------

/// The vendored HL7 FHIR R4 JSON schema (also used by `fhir::schema`).
const SCHEMA_JSON: &str = include_str!("../../../schemas/fhir/fhir.schema.json");

/// What an element holds, as far as the parser cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// A complex type or backbone element: the name of its definition.
    Complex(&'static str),
    /// Any resource, chosen by its `resourceType` (`ResourceList`, `Bundle.entry.resource`, `contained`, …).
    Resource,
    /// A date, dateTime or instant.
    Temporal,
    /// Any other primitive (its value is not read here), or an element of a resource type the schema does
    /// not know (not walked).
    Opaque,
}

/// Every definition with properties: its element names and what each holds.
type Structure = HashMap<&'static str, HashMap<&'static str, Shape>>;

static STRUCTURE: LazyLock<Structure> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(SCHEMA_JSON).unwrap_or(Value::Null);
    let empty = serde_json::Map::new();
    let definitions = schema.get("definitions").and_then(Value::as_object).unwrap_or(&empty);
    let leak = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
    let mut names: HashMap<String, &'static str> = HashMap::new();
    let mut name = |s: &str| *names.entry(s.to_owned()).or_insert_with(|| leak(s));
    let mut structure = Structure::new();
    for (def_name, def) in definitions {
        let Some(properties) = def.get("properties").and_then(Value::as_object) else { continue };
        let mut children = HashMap::new();
        for (prop, spec) in properties {
            // `items` of a primitive-extension array (`_given`) is `anyOf` null or Element (schemas/README.md,
            // patch 4).
            let target = spec
                .get("$ref")
                .or_else(|| spec.pointer("/items/$ref"))
                .or_else(|| {
                    spec.pointer("/items/anyOf")
                        .and_then(Value::as_array)
                        .and_then(|alternatives| alternatives.iter().find_map(|a| a.get("$ref")))
                })
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/definitions/"));
            let shape = match target {
                Some("ResourceList") => Shape::Resource,
                Some("date" | "dateTime" | "instant") => Shape::Temporal,
                Some(t) if definitions.get(t).is_some_and(|d| d.get("properties").is_some()) => Shape::Complex(name(t)),
                _ => Shape::Opaque,
            };
            children.insert(name(prop), shape);
        }
        structure.insert(name(def_name), children);
    }
    structure
});

/// The resource types the schema defines (the top level of a resource's structure).
fn resource_definition(resource_type: &str) -> Option<&'static HashMap<&'static str, Shape>> {
    let def = STRUCTURE.get(resource_type)?;
    // a resource definition names itself in `resourceType`; data types and backbone elements do not
    def.contains_key("resourceType").then_some(def)
}

// ---- the body in the sender's order ----------------------------------------------------------------------

/// A JSON value with object members in the sender's order (a `serde_json::Value` map is sorted).
#[derive(Debug)]
enum Node {
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    String(String),
    Other,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::String(v))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Node>()? {
            members.push((key, value));
        }
        Ok(Node::Object(members))
    }
}

/// The parser's text for the first problem in document order (depth-first) under `node`, which holds
/// `shape`; `member` is the name of the element the node (or its array) sits in.
fn first_problem(node: &Node, shape: Shape, member: &str) -> Option<String> {
    match node {
        Node::Array(items) => items.iter().find_map(|item| first_problem(item, shape, member)),
        Node::String(v) if v.is_empty() => Some(texts::empty_attribute_value(member)),
        Node::String(v) if shape == Shape::Temporal && !readable_date_time(v) => {
            Some(texts::invalid_date_time(member, v))
        }
        Node::String(_) | Node::Other => None,
        Node::Object(members) => {
            let definition = match shape {
                Shape::Complex(name) => STRUCTURE.get(name),
                Shape::Resource => {
                    let resource_type = members.iter().find_map(|(k, v)| match (k.as_str(), v) {
                        ("resourceType", Node::String(t)) => Some(t.as_str()),
                        _ => None,
                    });
                    resource_type.and_then(resource_definition)
                }
                // a primitive's value as an object, or a type the schema does not know: only values checked
                Shape::Temporal | Shape::Opaque => None,
            };
            members.iter().find_map(|(key, value)| match definition {
                Some(_) if key == "fhir_comments" => None,
                Some(def) => match def.get(key.as_str()) {
                    Some(child) => first_problem(value, *child, key),
                    None => Some(texts::unknown_element(key)),
                },
                None => first_problem(value, Shape::Opaque, key),
            })
        }
    }
}

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
    }

    #[test]
    fn rejects_json_that_is_not_a_resource() {
        assert_eq!(
            text_of("  [1, 2]", "Bundle"),
            "Failed to parse JSON encoded FHIR content: Content does not appear to be FHIR JSON, first non-whitespace character was: '[' (must be '{')"
        );
        let missing = "Invalid JSON content detected, missing required element: 'resourceType'";
        assert_eq!(text_of(r#"{"type":"document"}"#, "Bundle"), missing);
        assert_eq!(text_of(r#"{"resourceType":5}"#, "Bundle"), missing);
        assert_eq!(text_of(r#"{"resourceType":""}"#, "Bundle"), missing);
    }

    #[test]
    fn primitive_extension_arrays_are_walked_past_their_nulls() {
        let body = |item: &str| {
            format!(
                r#"{{"resourceType":"Parameters","parameter":[{{"name":"p","resource":{{"resourceType":"Patient",
                "name":[{{"given":["A","B"],"_given":[null,{item}]}}]}}}}]}}"#
            )
        };
        let fine = body(r#"{"extension":[{"url":"http://example.org/x","valueString":"y"}]}"#);
        assert!(parse_resource(fine.as_bytes(), "Parameters").is_ok());
        let unknown = body(r#"{"bogus":1}"#);
        assert_eq!(text_of(&unknown, "Parameters"), crate::scr::texts::unknown_element("bogus"));
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
            (r#"{"resourceType":"AuditEvent","entity":[{"what":{"display":""}}],"outcomeDesc":""}"#, "display"),
            (r#"{"resourceType":"AuditEvent","outcomeDesc":"","id":""}"#, "outcomeDesc"),
            (r#"{"resourceType":"AuditEvent","id":"","outcomeDesc":""}"#, "id"),
            (r#"{"resourceType":"AuditEvent","purposeOfEvent":[{"text":"x"},{"text":""}]}"#, "text"),
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
    fn rejects_the_first_element_r4_does_not_define_in_document_order() {
        let unknown = |name: &str| format!("Unknown element '{name}' found during parse");
        let cases = [
            (r#"{"resourceType":"AuditEvent","colour":"red"}"#, "AuditEvent", "colour"),
            // nested in a backbone element, and before a later empty string
            (r#"{"resourceType":"AuditEvent","entity":[{"what":{"idd":"x"}}],"outcomeDesc":""}"#, "AuditEvent", "idd"),
            // an empty string first wins
            (r#"{"resourceType":"AuditEvent","outcomeDesc":"","colour":"red"}"#, "AuditEvent", ""),
            // inside a Bundle entry's resource, chosen by its resourceType wherever it stands
            (
                r#"{"resourceType":"Bundle","entry":[{"resource":{"gender":"male","resourceType":"Patient","nickname":"x"}}]}"#,
                "Bundle",
                "nickname",
            ),
            // element names are case-sensitive, and an element of another resource type is unknown
            (r#"{"resourceType":"Bundle","Type":"document"}"#, "Bundle", "Type"),
            (
                r#"{"resourceType":"Parameters","parameter":[{"name":"x","part":[{"name":"y","valueCoding":{"sytem":"s"}}]}]}"#,
                "Parameters",
                "sytem",
            ),
            // inside a primitive's extension object
            (
                r#"{"resourceType":"Bundle","_timestamp":{"extension":[{"url":"u","valueFoo":"x"}]}}"#,
                "Bundle",
                "valueFoo",
            ),
        ];
        for (body, ty, name) in cases {
            let text = text_of(body, ty);
            if name.is_empty() {
                assert!(text.contains("must not be empty"), "{body}: {text}");
            } else {
                assert_eq!(text, unknown(name), "{body}");
            }
        }
        // defined elements, primitive extensions, contained resources and fhir_comments are accepted
        for (body, ty) in [
            (r#"{"resourceType":"Bundle","_timestamp":{"id":"t"},"timestamp":"2020-01-01T00:00:00Z"}"#, "Bundle"),
            (
                r#"{"resourceType":"Patient","contained":[{"resourceType":"Organization","name":"o"}],"fhir_comments":["c"]}"#,
                "Patient",
            ),
            (r#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"NotAType","anything":1}}]}"#, "Bundle"),
        ] {
            if let Err(e) = parse_resource(body.as_bytes(), ty) {
                panic!("{body}: {e}");
            }
        }
        assert_eq!(unknown("x"), texts::unknown_element("x"));
    }

    #[test]
    fn a_body_that_does_not_start_with_a_brace_is_refused_before_it_is_read_as_json() {
        assert_eq!(
            text_of("FOO", "Bundle"),
            "Failed to parse JSON encoded FHIR content: Content does not appear to be FHIR JSON, first non-whitespace character was: 'F' (must be '{')"
        );
        assert_eq!(
            text_of(" \n\t <xml/>", "Bundle"),
            "Failed to parse JSON encoded FHIR content: Content does not appear to be FHIR JSON, first non-whitespace character was: '<' (must be '{')"
        );
        assert_eq!(
            text_of("  ", "Bundle"),
            "Failed to parse JSON encoded FHIR content: Did not find any content to parse"
        );
        assert_eq!(
            text_of("", "Bundle"),
            "Failed to parse JSON encoded FHIR content: Did not find any content to parse"
        );
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
