//! The FHIR R4 validator: the vendored **strict** HL7 FHIR R4 JSON schema (`schemas/fhir/fhir.schema.json`,
//! patched by `schemas/fhir/patch.py`: see `schemas/README.md`), what the R4 StructureDefinitions say beyond it
//! (`schemas/fhir/r4-structure.json`: cardinality, choice types, required bindings) and real calendar dates.
//!
//! Both files are compiled once into a [`Model`](super::structure) and a document is checked by one walk while
//! it is parsed ([`super::structure`]): no `serde_json::Value` is built for a document given as text
//! ([`FhirValidator::validate_bytes`]), every finding has the JSON Pointer of the element at fault, nested
//! resources (Bundle entries, `contained`, `Parameters.parameter.resource`) are checked by their own
//! `resourceType` where they stand, and a failure is explained by the same walk that found it.
//!
//! The `jsonschema` crate is not on this path: it cannot check the StructureDefinition rules, and compiling
//! the 3.4 MB schema for it and explaining failures with per-type validators cost time and memory
//! (`benches/RESULTS.md`). It remains the oracle: `tests/fhir_validation.rs` checks that the walk and
//! `jsonschema` on the same strict schema agree on every schema-level verdict of the corpus and its mutants.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::Value;

use super::structure::Model;
pub use super::structure::ModelError as SchemaError;
use super::Finding;

/// The most findings [`FhirValidator::validate`] returns for one document.
pub const MAX_FINDINGS: usize = 50;

/// The vendored, strict schema (`schemas/fhir/fhir.schema.json`, 3.4 MB).
pub const SCHEMA_JSON: &str = include_str!("../../schemas/fhir/fhir.schema.json");

/// The digest of the R4 StructureDefinitions (`schemas/fhir/r4-structure.json`).
pub const STRUCTURE_JSON: &str = include_str!("../../schemas/fhir/r4-structure.json");

/// The FHIR R4 validator. Build it once ([`FhirValidator::shared`]); it is `Send + Sync`.
pub struct FhirValidator {
    model: Model,
    resource_types: BTreeSet<String>,
}

impl std::fmt::Debug for FhirValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirValidator").field("resource_types", &self.resource_types.len()).finish_non_exhaustive()
    }
}

static SHARED: OnceLock<Result<FhirValidator, SchemaError>> = OnceLock::new();

impl FhirValidator {
    /// Compiles the embedded schema and digest (about 20 ms in a release build: `benches/RESULTS.md`).
    pub fn new() -> Result<Self, SchemaError> {
        Model::build(SCHEMA_JSON, STRUCTURE_JSON).map(FhirValidator::from_model)
    }

    /// The strict schema alone, as the `jsonschema` crate reads it: no StructureDefinition rules, no calendar
    /// dates. For comparing the walk with `jsonschema` (the tests and the benchmark); not for checking payloads.
    pub fn schema_only() -> Result<Self, SchemaError> {
        Model::build(SCHEMA_JSON, r#"{"types": {}}"#).map(|m| FhirValidator::from_model(m.without_calendar()))
    }

    fn from_model(model: Model) -> Self {
        let resource_types = model.resource_types().map(str::to_owned).collect();
        FhirValidator { model, resource_types }
    }

    /// The process-wide validator: compiled on first call, then shared.
    pub fn shared() -> Result<&'static FhirValidator, SchemaError> {
        match SHARED.get_or_init(FhirValidator::new) {
            Ok(v) => Ok(v),
            Err(e) => Err(e.clone()),
        }
    }

    /// The resource types the schema knows (its discriminator mapping), sorted.
    pub fn resource_types(&self) -> impl Iterator<Item = &str> {
        self.resource_types.iter().map(String::as_str)
    }

    /// Whether `v` is a valid FHIR R4 resource. Stops at the first finding.
    pub fn is_valid(&self, v: &Value) -> bool {
        self.model.check(&to_json(v), None, 1).is_ok_and(|f| f.is_empty())
    }

    /// Why `v` is not a valid FHIR R4 resource: empty when it is valid. Findings are ordered by path, at most
    /// [`MAX_FINDINGS`].
    pub fn validate(&self, v: &Value) -> Vec<Finding> {
        match self.model.check(&to_json(v), None, MAX_FINDINGS) {
            Ok(findings) => finish(findings),
            // A `Value` always serialises to JSON the parser reads back.
            Err(e) => vec![Finding { path: String::new(), message: format!("cannot check: {e}") }],
        }
    }

    /// Why the JSON text `bytes` is not a valid FHIR R4 resource, checked while it is parsed (no
    /// `serde_json::Value` is built). `Err` when it is not JSON.
    pub fn validate_bytes(&self, bytes: &[u8]) -> Result<Vec<Finding>, serde_json::Error> {
        self.model.check(bytes, None, MAX_FINDINGS).map(finish)
    }

    /// Why `v` is not a valid instance of `resource_type`: a resource type, or any other definition of the
    /// schema (a data type such as `HumanName`, a backbone element such as `Bundle_Entry`). Empty when valid.
    pub fn validate_as(&self, v: &Value, resource_type: &str) -> Vec<Finding> {
        if !self.model.has_type(resource_type) {
            return vec![Finding { path: String::new(), message: format!("unknown resourceType '{resource_type}'") }];
        }
        match self.model.check(&to_json(v), Some(resource_type), MAX_FINDINGS) {
            Ok(findings) => finish(findings),
            Err(e) => vec![Finding { path: String::new(), message: format!("cannot check: {e}") }],
        }
    }
}

fn to_json(v: &Value) -> Vec<u8> {
    // Serialising a `Value` cannot fail (its map keys are strings).
    serde_json::to_vec(v).unwrap_or_default()
}

/// One segment of a JSON Pointer, ordered so that `/entry/2` comes before `/entry/10`.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Segment<'a> {
    Index(u64),
    Name(&'a str),
}

fn segments(path: &str) -> Vec<Segment<'_>> {
    path.split('/').skip(1).map(|s| s.parse().map_or(Segment::Name(s), Segment::Index)).collect()
}

fn by_path(a: &Finding, b: &Finding) -> Ordering {
    segments(&a.path).cmp(&segments(&b.path)).then_with(|| a.message.cmp(&b.message))
}

/// Sorts by path, drops duplicates, keeps at most [`MAX_FINDINGS`].
fn finish(mut out: Vec<Finding>) -> Vec<Finding> {
    out.sort_by(by_path);
    out.dedup();
    out.truncate(MAX_FINDINGS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::structure::{clip, impossible_date, push_segment, MAX_MESSAGE_CHARS};
    use serde_json::json;

    fn validator() -> &'static FhirValidator {
        FhirValidator::shared().expect("the vendored schema compiles")
    }

    fn patient() -> Value {
        json!({
            "resourceType": "Patient",
            "id": "pat-1",
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"}],
            "name": [{"family": "Smith", "given": ["Jane"]}],
            "gender": "female",
            "birthDate": "1980-10-22"
        })
    }

    fn paths(findings: &[Finding]) -> Vec<&str> {
        findings.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn validator_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<FhirValidator>();
    }

    #[test]
    fn a_valid_patient_has_no_findings() {
        let v = validator();
        assert!(v.is_valid(&patient()));
        assert_eq!(v.validate(&patient()), vec![]);
        assert_eq!(v.validate_as(&patient(), "Patient"), vec![]);
    }

    #[test]
    fn fhir_version_4_0_1_is_accepted() {
        let cs = json!({"resourceType": "CapabilityStatement", "status": "active", "date": "2024-01-01",
            "kind": "instance", "fhirVersion": "4.0.1", "format": ["json"]});
        assert_eq!(validator().validate(&cs), vec![]);
    }

    #[test]
    fn unknown_and_missing_resource_types() {
        let v = validator();
        let f = v.validate(&json!({"resourceType": "Patinet"}));
        assert_eq!(f, vec![Finding { path: String::new(), message: "unknown resourceType 'Patinet'".into() }]);
        assert_eq!(v.validate(&json!({"id": "x"}))[0].message, "\"resourceType\" is a required property");
        assert!(v.validate(&json!([1, 2]))[0].message.contains("expected a JSON object"));
        assert!(!v.is_valid(&json!({"resourceType": "Patinet"})));
    }

    #[test]
    fn wrong_pattern_reports_the_element() {
        let mut p = patient();
        p["birthDate"] = json!("22/10/1980");
        let f = validator().validate(&p);
        assert_eq!(paths(&f), vec!["/birthDate"]);
        assert!(f[0].message.starts_with("\"22/10/1980\" does not match"), "{}", f[0].message);
    }

    #[test]
    fn impossible_calendar_dates_are_rejected() {
        let v = validator();
        let mut p = patient();
        p["birthDate"] = json!("1980-02-30");
        assert!(!v.is_valid(&p));
        let f = v.validate(&p);
        assert_eq!(paths(&f), vec!["/birthDate"]);
        assert_eq!(f[0].message, "\"1980-02-30\" is not a valid date: February 1980 has 29 days");
        p["birthDate"] = json!("1980-02-29");
        assert!(v.is_valid(&p));
        p["birthDate"] = json!("1900-02-29");
        assert!(!v.is_valid(&p));
        p["birthDate"] = json!("1980-02");
        assert!(v.is_valid(&p));
    }

    #[test]
    fn calendar_dates_are_found_by_schema_type_and_in_nested_resources() {
        let bundle = json!({"resourceType": "Bundle", "type": "collection", "timestamp": "2021-04-31T10:00:00Z",
            "entry": [{"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                "effectivePeriod": {"start": "2021-06-31"}, "issued": "2021-02-29T00:00:00Z"}}]});
        let f = validator().validate(&bundle);
        assert_eq!(
            paths(&f),
            vec!["/entry/0/resource/effectivePeriod/start", "/entry/0/resource/issued", "/timestamp"]
        );
        assert_eq!(f[2].message, "\"2021-04-31T10:00:00Z\" is not a valid instant: April 2021 has 30 days");
    }

    #[test]
    fn unknown_elements_are_rejected_and_not_walked() {
        let v = validator();
        let odd = json!({"resourceType": "Basic", "code": {"text": "x"}, "extra": {"recorded": "2019-02-29"}});
        let f = v.validate(&odd);
        assert_eq!(
            f,
            vec![Finding {
                path: String::new(),
                message: "Additional properties are not allowed ('extra' was unexpected)".into()
            }]
        );
    }

    #[test]
    fn bundle_entries_are_explained_on_their_own() {
        let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": patient()},
            {"resource": {"resourceType": "Patient", "gender": "F"}},
            {"resource": {"resourceType": "Nope"}},
            {"resource": {"resourceType": "Bundle", "type": "collection",
                "entry": [{"resource": {"resourceType": "Condition", "subject": {"reference": 5}}}]}}
        ]});
        let f = validator().validate(&bundle);
        assert_eq!(
            paths(&f),
            vec![
                "/entry/1/resource/gender",
                "/entry/2/resource",
                "/entry/3/resource/entry/0/resource/subject/reference"
            ]
        );
        assert!(f[0].message.starts_with("\"F\" is not one of"), "{}", f[0].message);
        assert_eq!(f[1].message, "unknown resourceType 'Nope'");
        assert!(f[2].message.contains("is not of type \"string\""), "{}", f[2].message);
        assert!(f.iter().all(|f| !f.message.contains("oneOf")));
    }

    #[test]
    fn contained_resources_are_explained_too() {
        let mut p = patient();
        p["contained"] = json!([{"resourceType": "Organization", "active": "yes"}]);
        let f = validator().validate(&p);
        assert!(!f.is_empty());
        assert!(f.iter().all(|f| f.path == "/contained/0/active"), "{f:?}");
        assert!(f.iter().any(|f| f.message == "\"yes\" is not of type \"boolean\""), "{f:?}");
    }

    #[test]
    fn findings_are_bounded_and_ordered() {
        let entries: Vec<Value> =
            (0..80).map(|i| json!({"resource": {"resourceType": "Patient", "gender": format!("g{i}")}})).collect();
        let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": entries});
        let f = validator().validate(&bundle);
        assert_eq!(f.len(), MAX_FINDINGS);
        assert_eq!(f[0].path, "/entry/0/resource/gender");
        assert_eq!(f[2].path, "/entry/2/resource/gender");
        assert_eq!(f[10].path, "/entry/10/resource/gender");
    }

    #[test]
    fn validate_as_checks_the_named_type() {
        let v = validator();
        let f = v.validate_as(&patient(), "Organization");
        assert!(!f.is_empty());
        assert_eq!(v.validate_as(&json!({"family": "Smith"}), "HumanName"), vec![]);
        assert_eq!(paths(&v.validate_as(&json!({"family": 1}), "HumanName")), vec!["/family"]);
        assert_eq!(v.validate_as(&patient(), "Nope")[0].message, "unknown resourceType 'Nope'");
    }

    #[test]
    fn operation_outcome_needs_issue() {
        let f = validator().validate(&json!({"resourceType": "OperationOutcome"}));
        assert_eq!(f, vec![Finding { path: String::new(), message: "\"issue\" is a required property".into() }]);
    }

    #[test]
    fn pointer_segments_are_escaped_and_sorted_numerically() {
        let mut p = String::new();
        push_segment(&mut p, "a/b~c");
        assert_eq!(p, "/a~1b~0c");
        let mut f = vec![
            Finding { path: "/entry/10".into(), message: "x".into() },
            Finding { path: "/entry/9".into(), message: "x".into() },
            Finding { path: String::new(), message: "x".into() },
        ];
        f.sort_by(by_path);
        assert_eq!(paths(&f), vec!["", "/entry/9", "/entry/10"]);
    }

    #[test]
    fn impossible_date_reasons() {
        assert_eq!(impossible_date("2021-04-31"), Some("April 2021 has 30 days".into()));
        assert_eq!(impossible_date("2021-04-30T10:00:00Z"), None);
        assert_eq!(impossible_date("2021"), None);
        assert_eq!(impossible_date("2000-02-29"), None);
    }

    #[test]
    fn long_messages_are_clipped() {
        let long = "x".repeat(1000);
        let clipped = clip(&long);
        assert_eq!(clipped.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(clipped.ends_with('…'));
    }

    #[test]
    fn shared_is_compiled_once() {
        let a = FhirValidator::shared().expect("compiles");
        let b = FhirValidator::shared().expect("compiles");
        assert!(std::ptr::eq(a, b));
    }
}
