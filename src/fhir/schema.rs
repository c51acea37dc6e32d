//! The HL7 FHIR R4 JSON schema (vendored, patched for 4.0.1: see `schemas/README.md`) and the generic FHIR
//! checks it lacks (real calendar dates).
//!
//! How a document is checked:
//! - **Fast path**: one validator compiled from the whole schema answers `is_valid`. The root of the schema is
//!   a 146-way `oneOf` over the resource types, so that validator cannot *explain* a failure usefully.
//! - **Explaining a failure**: a validator per resource type (`{"$ref": "<BASE>#/definitions/<Type>"}` against
//!   one shared [`jsonschema::Registry`]), compiled lazily and cached. Nested resources (Bundle entries,
//!   `contained`, `Parameters.parameter.resource`, …, the schema's `ResourceList` positions) are swapped for a
//!   placeholder before the container is explained, and each invalid nested resource is then explained on its
//!   own with its own per-type validator, so a bad Bundle entry is reported at its precise path instead of as
//!   one 146-way `oneOf` failure holding a copy of the entry.
//! - `resourceType` is checked against the schema's discriminator mapping here (`unknown resourceType 'X'`).
//! - **Calendar dates**: the schema checks `date`/`dateTime`/`instant` by regex only, so `1980-02-30` passes
//!   it; [`FhirValidator`] walks the instance by the schema's element types and rejects impossible dates.
//!
//! Never build a `ValidatorMap` (`validator_map_for`/`build_map`) from this schema: it compiles 16,004
//! subschemas eagerly (21.7 GB measured).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::{Draft, Registry, Validator};
use regex::Regex;
use serde_json::{json, Map, Value};

use super::Finding;

/// The most findings [`FhirValidator::validate`] returns for one document.
pub const MAX_FINDINGS: usize = 50;

/// The schema's own `id`: the base URI the per-type validators resolve `#/definitions/<Type>` against.
pub const SCHEMA_BASE: &str = "http://hl7.org/fhir/json-schema/4.0";

/// The vendored, patched schema (`schemas/fhir/fhir.schema.json`, 3.4 MB).
const SCHEMA_JSON: &str = include_str!("../../schemas/fhir/fhir.schema.json");

/// Longest message kept; longer ones (a schema error can quote a large instance) are cut with `…`.
const MAX_MESSAGE_CHARS: usize = 400;

/// The resource a nested resource is replaced with while its container is explained: valid wherever the
/// schema allows a resource (`Parameters` has no required element besides `resourceType`).
const PLACEHOLDER_TYPE: &str = "Parameters";

/// Member names whose string values are FHIR dates/dateTimes/instants wherever they occur. Used where the
/// schema cannot say what an element is (unknown properties, unknown resource types).
const TEMPORAL_NAMES: &[&str] = &[
    "birthDate",
    "date",
    "recorded",
    "timestamp",
    "issued",
    "lastUpdated",
    "authoredOn",
    "effectiveDateTime",
    "onsetDateTime",
];

/// Why the FHIR validator could not be built. Only a broken vendored schema gets here.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SchemaError {
    #[error("the vendored FHIR schema (schemas/fhir/fhir.schema.json) is not valid JSON: {0}")]
    Parse(String),
    #[error("the vendored FHIR schema is not what the validator expects: {0}")]
    Shape(String),
    #[error("the vendored FHIR schema does not compile: {0}")]
    Compile(String),
}

/// What the schema says an element is, as far as the walker cares.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Element {
    Date,
    DateTime,
    Instant,
    /// A `ResourceList` position: any resource, chosen by its `resourceType`.
    Resource,
    /// A complex type or backbone element: a definition with `properties`.
    Complex(String),
    /// Any other primitive, or an enum/const.
    Other,
}

impl Element {
    fn temporal(&self) -> Option<&'static str> {
        match self {
            Element::Date => Some("date"),
            Element::DateTime => Some("dateTime"),
            Element::Instant => Some("instant"),
            _ => None,
        }
    }
}

type Slot = Arc<OnceLock<Result<Arc<Validator>, String>>>;

/// The FHIR R4 schema validator. Build it once ([`FhirValidator::shared`]); it is `Send + Sync`.
pub struct FhirValidator {
    /// The whole schema: the fast `is_valid`.
    full: Validator,
    /// The schema as a registry resource, for the per-type validators.
    registry: Registry<'static>,
    /// Resource types of the discriminator mapping.
    resource_types: BTreeSet<String>,
    /// definition → property → element kind, for every definition with `properties`.
    elements: HashMap<String, HashMap<String, Element>>,
    /// The schema's own patterns for date, dateTime and instant.
    date_re: Regex,
    date_time_re: Regex,
    instant_re: Regex,
    /// Per-type validators, compiled on first use.
    per_type: Mutex<HashMap<String, Slot>>,
    /// How many times each type's validator was compiled (once at most, by construction; tests check it
    /// per type, which other tests compiling other types cannot disturb).
    compilations: Mutex<HashMap<String, usize>>,
}

impl std::fmt::Debug for FhirValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirValidator")
            .field("resource_types", &self.resource_types.len())
            .field("type_validators_compiled", &self.type_validators_compiled())
            .finish_non_exhaustive()
    }
}

static SHARED: OnceLock<Result<FhirValidator, SchemaError>> = OnceLock::new();

impl FhirValidator {
    /// Parses and compiles the embedded schema (about 60–100 ms in a release build; more in debug).
    pub fn new() -> Result<Self, SchemaError> {
        let schema: Value = serde_json::from_str(SCHEMA_JSON).map_err(|e| SchemaError::Parse(e.to_string()))?;
        let resource_types: BTreeSet<String> = schema
            .pointer("/discriminator/mapping")
            .and_then(Value::as_object)
            .ok_or_else(|| SchemaError::Shape("no /discriminator/mapping".into()))?
            .keys()
            .cloned()
            .collect();
        let definitions = schema
            .get("definitions")
            .and_then(Value::as_object)
            .ok_or_else(|| SchemaError::Shape("no /definitions".into()))?;
        let pattern = |name: &str| -> Result<Regex, SchemaError> {
            let p = definitions
                .get(name)
                .and_then(|d| d.get("pattern"))
                .and_then(Value::as_str)
                .ok_or_else(|| SchemaError::Shape(format!("no pattern for the {name} primitive")))?;
            Regex::new(p).map_err(|e| SchemaError::Shape(format!("the {name} pattern does not compile: {e}")))
        };
        let (date_re, date_time_re, instant_re) = (pattern("date")?, pattern("dateTime")?, pattern("instant")?);
        let elements = element_map(definitions, [date_re.as_str(), date_time_re.as_str(), instant_re.as_str()]);

        let full = jsonschema::draft6::new(&schema).map_err(|e| SchemaError::Compile(e.to_string()))?;
        let registry = Registry::new()
            .draft(Draft::Draft6)
            .add(SCHEMA_BASE, schema)
            .and_then(|b| b.prepare())
            .map_err(|e| SchemaError::Compile(e.to_string()))?;
        Ok(FhirValidator {
            full,
            registry,
            resource_types,
            elements,
            date_re,
            date_time_re,
            instant_re,
            per_type: Mutex::new(HashMap::new()),
            compilations: Mutex::new(HashMap::new()),
        })
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

    /// How many times the per-type validator of `ty` has been compiled (0 or 1).
    pub fn compilations_of(&self, ty: &str) -> usize {
        self.compilations.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(ty).copied().unwrap_or(0)
    }

    /// How many per-type validators have been compiled so far (they are compiled only to explain failures).
    pub fn type_validators_compiled(&self) -> usize {
        self.lock_cache().values().filter(|slot| slot.get().is_some()).count()
    }

    /// Whether `v` is a valid FHIR R4 resource: the schema and the calendar checks. Fast; explains nothing.
    pub fn is_valid(&self, v: &Value) -> bool {
        self.full.is_valid(v) && (!any_impossible_date(v) || self.calendar_findings(v, None, "").is_empty())
    }

    /// Why `v` is not a valid FHIR R4 resource: empty when it is valid. Findings are ordered by path, at most
    /// [`MAX_FINDINGS`].
    pub fn validate(&self, v: &Value) -> Vec<Finding> {
        let ty = match self.resource_type_of(v) {
            Ok(ty) => ty,
            Err(finding) => return vec![finding],
        };
        let mut out = Vec::new();
        if !self.full.is_valid(v) {
            self.explain(v, ty, "", &mut out);
            if out.is_empty() {
                // Not expected: the per-type validators say more than the whole schema. The whole-schema
                // validator's own errors are not used: each holds a copy of the instance per `oneOf` branch.
                out.push(Finding {
                    path: String::new(),
                    message: format!("not a valid {ty} according to the FHIR R4 schema (no detail available)"),
                });
            }
        }
        if any_impossible_date(v) {
            out.extend(self.calendar_findings(v, None, ""));
        }
        finish(out)
    }

    /// Why `v` is not a valid instance of `resource_type`: a resource type, or any other definition of the
    /// schema (a data type such as `HumanName`, a backbone element such as `Bundle_Entry`). Empty when valid.
    pub fn validate_as(&self, v: &Value, resource_type: &str) -> Vec<Finding> {
        if !self.elements.contains_key(resource_type) {
            return vec![Finding { path: String::new(), message: format!("unknown resourceType '{resource_type}'") }];
        }
        let same_resource = self.resource_types.contains(resource_type)
            && v.get("resourceType").and_then(Value::as_str) == Some(resource_type);
        let mut out = Vec::new();
        if !(same_resource && self.full.is_valid(v)) {
            self.explain(v, resource_type, "", &mut out);
        }
        out.extend(self.calendar_findings(v, Some(resource_type), ""));
        finish(out)
    }

    /// The resource type of a resource, checked against the discriminator mapping.
    fn resource_type_of<'v>(&self, v: &'v Value) -> Result<&'v str, Finding> {
        let here = |message: String| Finding { path: String::new(), message };
        let Some(obj) = v.as_object() else {
            let found = match v {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                Value::Null | Value::Object(_) => "null",
            };
            return Err(here(format!("expected a JSON object (a FHIR resource); found {found}")));
        };
        match obj.get("resourceType") {
            None => Err(here("\"resourceType\" is a required property".into())),
            Some(Value::String(t)) if self.resource_types.contains(t) => Ok(t),
            Some(Value::String(t)) => Err(here(format!("unknown resourceType '{}'", clip(t)))),
            Some(other) => Err(here(format!("unknown resourceType {}", clip(&other.to_string())))),
        }
    }

    /// Explains why `v` (at `prefix`) is not a valid `ty`, appending to `out` (up to [`MAX_FINDINGS`]).
    fn explain(&self, v: &Value, ty: &str, prefix: &str, out: &mut Vec<Finding>) {
        let mut nested = Vec::new();
        self.walk(ty, v, &mut String::new(), false, &mut |path, element, value| {
            if *element == Element::Resource {
                nested.push((path.to_owned(), value));
            }
        });
        let instance: Cow<'_, Value> = if nested.is_empty() {
            Cow::Borrowed(v)
        } else {
            let mut copy = v.clone();
            for (path, _) in &nested {
                if let Some(slot) = copy.pointer_mut(path) {
                    *slot = json!({ "resourceType": PLACEHOLDER_TYPE });
                }
            }
            Cow::Owned(copy)
        };
        match self.type_validator(ty) {
            Ok(validator) => {
                for e in validator.iter_errors(&instance) {
                    if out.len() >= MAX_FINDINGS {
                        return;
                    }
                    out.push(Finding { path: format!("{prefix}{}", e.instance_path()), message: clip(&e.to_string()) });
                }
            }
            Err(message) => {
                out.push(Finding { path: prefix.to_owned(), message: format!("cannot check as {ty}: {message}") })
            }
        }
        for (path, value) in nested {
            if out.len() >= MAX_FINDINGS {
                return;
            }
            let path = format!("{prefix}{path}");
            match self.resource_type_of(value) {
                Err(mut finding) => {
                    finding.path = path;
                    out.push(finding);
                }
                Ok(nested_ty) => {
                    if !self.full.is_valid(value) {
                        self.explain(value, nested_ty, &path, out);
                    }
                }
            }
        }
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.per_type.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The validator for one definition, compiled on first use (50–250 ms) and cached.
    fn type_validator(&self, ty: &str) -> Result<Arc<Validator>, String> {
        let slot = Arc::clone(self.lock_cache().entry(ty.to_owned()).or_default());
        slot.get_or_init(|| {
            *self
                .compilations
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(ty.to_owned())
                .or_default() += 1;
            jsonschema::draft6::options()
                .with_registry(&self.registry)
                .build(&json!({ "$ref": format!("{SCHEMA_BASE}#/definitions/{ty}") }))
                .map(Arc::new)
                .map_err(|e| e.to_string())
        })
        .clone()
    }

    /// Impossible calendar dates in `date`/`dateTime`/`instant` values (`1980-02-30`), which the schema's
    /// regexes accept. `ty` is the type of `v` (`None`: its `resourceType`); `prefix` its path.
    fn calendar_findings(&self, v: &Value, ty: Option<&str>, prefix: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut check = |path: &str, element: &Element, value: &Value| {
            let Some(kind) = element.temporal() else { return };
            let Some(s) = value.as_str() else { return };
            let re = match element {
                Element::Date => &self.date_re,
                Element::Instant => &self.instant_re,
                _ => &self.date_time_re,
            };
            if re.is_match(s) {
                if let Some(why) = impossible_date(s) {
                    out.push(Finding {
                        path: format!("{prefix}{path}"),
                        message: format!("{} is not a valid {kind}: {why}", Value::from(clip(s))),
                    });
                }
            }
        };
        let mut path = String::new();
        match ty.or_else(|| v.get("resourceType").and_then(Value::as_str)) {
            Some(t) if self.elements.contains_key(t) => self.walk(t, v, &mut path, true, &mut check),
            _ => self.walk_by_name(v, &mut path, &mut check),
        }
        out
    }

    /// Walks `v`, an instance of definition `ty`, calling `visit(path, element, value)` for every member whose
    /// element kind the schema knows (array members once per item). Descends into complex elements, and into
    /// nested resources when `into_resources`. Members the schema does not know are walked by name.
    fn walk<'v>(
        &self,
        ty: &str,
        v: &'v Value,
        path: &mut String,
        into_resources: bool,
        visit: &mut dyn FnMut(&str, &Element, &'v Value),
    ) {
        let Some(obj) = v.as_object() else { return };
        let Some(props) = self.elements.get(ty) else {
            self.walk_by_name(v, path, visit);
            return;
        };
        for (key, value) in obj {
            let len = path.len();
            push_segment(path, key);
            match props.get(key) {
                Some(element) => match value {
                    Value::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            let len = path.len();
                            path.push('/');
                            path.push_str(&i.to_string());
                            self.visit_element(element, item, path, into_resources, visit);
                            path.truncate(len);
                        }
                    }
                    _ => self.visit_element(element, value, path, into_resources, visit),
                },
                None => self.walk_by_name(value, path, visit),
            }
            path.truncate(len);
        }
    }

    fn visit_element<'v>(
        &self,
        element: &Element,
        value: &'v Value,
        path: &mut String,
        into_resources: bool,
        visit: &mut dyn FnMut(&str, &Element, &'v Value),
    ) {
        visit(path, element, value);
        match element {
            Element::Complex(def) => self.walk(def, value, path, into_resources, visit),
            Element::Resource if into_resources => match value.get("resourceType").and_then(Value::as_str) {
                Some(t) if self.resource_types.contains(t) => self.walk(t, value, path, into_resources, visit),
                _ => self.walk_by_name(value, path, visit),
            },
            _ => {}
        }
    }

    /// Walks a subtree the schema cannot type, treating the members named in [`TEMPORAL_NAMES`] as dateTimes.
    fn walk_by_name<'v>(&self, v: &'v Value, path: &mut String, visit: &mut dyn FnMut(&str, &Element, &'v Value)) {
        match v {
            Value::Object(obj) => {
                for (key, value) in obj {
                    let len = path.len();
                    push_segment(path, key);
                    if value.is_string() && TEMPORAL_NAMES.contains(&key.as_str()) {
                        visit(path, &Element::DateTime, value);
                    } else {
                        self.walk_by_name(value, path, visit);
                    }
                    path.truncate(len);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&i.to_string());
                    self.walk_by_name(item, path, visit);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
}

/// definition → property → element kind. Temporal primitives are recognised by `$ref` or by an inline copy of
/// their pattern (`patterns`: date, dateTime, instant).
fn element_map(definitions: &Map<String, Value>, patterns: [&str; 3]) -> HashMap<String, HashMap<String, Element>> {
    let by_ref = |r: &str| -> Element {
        match r.strip_prefix("#/definitions/") {
            Some("date") => Element::Date,
            Some("dateTime") => Element::DateTime,
            Some("instant") => Element::Instant,
            Some("ResourceList") => Element::Resource,
            Some(name) if definitions.get(name).is_some_and(|d| d.get("properties").is_some()) => {
                Element::Complex(name.to_owned())
            }
            _ => Element::Other,
        }
    };
    let kind = |schema: &Value| -> Element {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            return by_ref(r);
        }
        match schema.get("pattern").and_then(Value::as_str) {
            Some(p) if p == patterns[0] => Element::Date,
            Some(p) if p == patterns[1] => Element::DateTime,
            Some(p) if p == patterns[2] => Element::Instant,
            _ => Element::Other,
        }
    };
    definitions
        .iter()
        .filter_map(|(name, def)| {
            let props = def.get("properties")?.as_object()?;
            let map = props
                .iter()
                .map(|(prop, schema)| {
                    let element = match schema.get("items") {
                        Some(items) => kind(items),
                        None => kind(schema),
                    };
                    (prop.clone(), element)
                })
                .collect();
            Some((name.clone(), map))
        })
        .collect()
}

/// Why a string that matches a FHIR date pattern is not a real date (`None` when it is, or has no day).
/// Whether any string in `v` is an impossible calendar date: a cheap scan that spares valid documents the
/// schema-typed walk of [`FhirValidator::calendar_findings`], which reports only such strings.
fn any_impossible_date(v: &Value) -> bool {
    match v {
        Value::String(s) => s.len() >= 10 && impossible_date(s).is_some(),
        Value::Array(items) => items.iter().any(any_impossible_date),
        Value::Object(map) => map.values().any(any_impossible_date),
        _ => false,
    }
}

fn impossible_date(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year: i32 = s.get(0..4)?.parse().ok()?;
    let month: u32 = s.get(5..7)?.parse().ok()?;
    let day: u32 = s.get(8..10)?.parse().ok()?;
    if chrono::NaiveDate::from_ymd_opt(year, month, day).is_some() {
        return None;
    }
    let days = (28..=31).rev().find(|d| chrono::NaiveDate::from_ymd_opt(year, month, *d).is_some())?;
    let name = chrono::Month::try_from(u8::try_from(month).ok()?).ok()?.name();
    Some(format!("{name} {year} has {days} days"))
}

/// Appends a JSON Pointer segment (RFC 6901 escaping).
fn push_segment(path: &mut String, key: &str) {
    path.push('/');
    for c in key.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

/// Cuts a long message to [`MAX_MESSAGE_CHARS`] characters.
fn clip(s: &str) -> String {
    match s.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
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
    fn calendar_names_apply_where_the_schema_cannot_type() {
        let v = validator();
        let odd = json!({"resourceType": "Basic", "code": {"text": "x"}, "extra": {"recorded": "2020-13-01"}});
        // 2020-13-01 does not match the pattern, so only the unknown property is reported.
        assert_eq!(paths(&v.validate(&odd)), vec![""]);
        let odd = json!({"resourceType": "Basic", "code": {"text": "x"}, "extra": {"recorded": "2019-02-29"}});
        assert_eq!(paths(&v.validate(&odd)), vec!["", "/extra/recorded"]);
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
