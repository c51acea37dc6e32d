//! FHIR schema validation: the HL7 regression corpus (`fixtures/fhir-examples/`), the broken variants
//! (`fixtures/fhir-broken/`), NHS's own payloads (`fixtures/nhs/`), the bound on findings, the shared validator,
//! and `scr-assure validate` through a real process.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use scr_assure::fhir::schema::{FhirValidator, MAX_FINDINGS};
use scr_assure::fhir::Finding;
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_scr-assure");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn validator() -> &'static FhirValidator {
    FhirValidator::shared().expect("the vendored FHIR schema compiles")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The `*.json` files of a folder (not recursive), without `expected.json`, sorted.
fn resources_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.ends_with("expected.json"))
        .collect();
    files.sort();
    files
}

/// The `*.json` files under a folder, recursively, sorted.
fn json_files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            json_files_under(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    out.sort();
}

fn name_of(path: &Path) -> String {
    path.file_name().expect("a file name").to_string_lossy().into_owned()
}

fn show(findings: &[Finding]) -> String {
    findings.iter().map(|f| format!("\n    {f}")).collect()
}

#[test]
fn hl7_corpus_verdicts_match_expected_json() {
    let dir = root().join("fixtures/fhir-examples");
    let expected = read_json(&dir.join("expected.json"));
    let expected = expected.as_object().expect("expected.json is an object");
    let files = resources_in(&dir);
    let names: Vec<String> = files.iter().map(|p| name_of(p)).collect();
    let listed: Vec<String> = expected.keys().cloned().collect();
    assert_eq!(names, listed, "expected.json lists exactly the example files");
    assert!(files.len() >= 60, "the corpus has {} files", files.len());

    let mut problems = Vec::new();
    let (mut valid, mut invalid) = (0, 0);
    for (path, name) in files.iter().zip(&names) {
        let want = &expected[name];
        let doc = read_json(path);
        let findings = validator().validate(&doc);
        let want_valid = want["valid"].as_bool().expect("valid is a bool");
        assert_eq!(validator().is_valid(&doc), findings.is_empty(), "{name}: is_valid agrees with validate");
        if want_valid {
            valid += 1;
            if !findings.is_empty() {
                problems.push(format!("{name}: expected valid, got{}", show(&findings)));
            }
        } else {
            invalid += 1;
            let want_path = want["first_path"].as_str().expect("first_path is a string");
            match findings.first() {
                None => problems.push(format!("{name}: expected invalid at {want_path:?}, got valid")),
                Some(first) if first.path != want_path => problems
                    .push(format!("{name}: expected the first finding at {want_path:?}, got{}", show(&findings))),
                Some(_) => {}
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(valid > 0 && invalid > 0, "the corpus holds both verdicts ({valid} valid, {invalid} invalid)");
}

#[test]
fn broken_variants_report_the_expected_path_and_message() {
    let dir = root().join("fixtures/fhir-broken");
    let expected = read_json(&dir.join("expected.json"));
    let expected = expected.as_object().expect("expected.json is an object");
    let names: Vec<String> = resources_in(&dir).iter().map(|p| name_of(p)).collect();
    assert_eq!(names, expected.keys().cloned().collect::<Vec<_>>(), "expected.json lists exactly the broken files");

    let mut problems = Vec::new();
    for (name, want) in expected {
        let doc = read_json(&dir.join(name));
        let want_path = want["path"].as_str().expect("path is a string");
        let want_message = want["message_contains"].as_str().expect("message_contains is a string");
        let findings = validator().validate(&doc);
        assert!(!validator().is_valid(&doc), "{name}: is_valid must say no");
        let first_ok = findings.first().is_some_and(|f| f.path == want_path);
        let message_ok = findings.iter().any(|f| f.path == want_path && f.message.contains(want_message));
        if !(first_ok && message_ok) {
            problems.push(format!(
                "{name}: expected first at {want_path:?} containing {want_message:?}, got{}",
                show(&findings)
            ));
        }
        for f in &findings {
            assert!(!f.message.contains("oneOf"), "{name}: a oneOf failure leaked: {f}");
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// NHS's own payloads that are not valid FHIR R4, with every finding: (path, message substring). They are NHS's
/// defects, recorded here; the validator is not weakened for them (`fhir::conformance::known_deviation` tolerates
/// them in a run). What they share: the Composition has no `title` (1..1 in R4); Conditions and Procedures have no
/// `subject` (1..1); Conditions code `clinicalStatus` with the value set URL as the coding's system, so no coding
/// is in the required value set; some dateTime/instant values lack seconds; one ImmunizationRecommendation has
/// no `recommendation.forecastStatus` (1..1).
const NHS_NOT_FHIR_R4: &[(&str, &[(&str, &str)])] = &[
    (
        "examples/GetScrBundle.json",
        &[
            ("/entry/0/resource", "\"title\" is a required property"),
            ("/entry/3/resource", "\"subject\" is a required property"),
            ("/entry/3/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/7/resource", "\"subject\" is a required property"),
            ("/entry/7/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/12/resource", "\"subject\" is a required property"),
            ("/entry/12/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/19/resource", "\"subject\" is a required property"),
            ("/entry/19/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/25/resource", "\"subject\" is a required property"),
            ("/entry/25/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
        ],
    ),
    (
        "examples/UploadScrBundle.json",
        &[
            ("/entry/0/resource", "\"title\" is a required property"),
            ("/entry/3/resource", "\"subject\" is a required property"),
            ("/entry/3/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/7/resource", "\"subject\" is a required property"),
            ("/entry/7/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/12/resource", "\"subject\" is a required property"),
            ("/entry/12/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/19/resource", "\"subject\" is a required property"),
            ("/entry/19/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/25/resource", "\"subject\" is a required property"),
            ("/entry/25/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
        ],
    ),
    (
        "uat/get_scr/additional_information/1-basic.response.json",
        &[
            ("/entry/0/resource", "\"title\" is a required property"),
            ("/entry/8/resource", "\"subject\" is a required property"),
            ("/entry/8/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/9/resource", "\"subject\" is a required property"),
            ("/entry/9/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/14/resource", "\"subject\" is a required property"),
            ("/entry/15/resource", "\"subject\" is a required property"),
            ("/entry/16/resource", "\"subject\" is a required property"),
        ],
    ),
    (
        "uat/get_scr/agent_person_author_success/1-basic.response.json",
        &[
            ("/entry/0/resource", "\"title\" is a required property"),
            ("/entry/4/resource", "\"subject\" is a required property"),
            ("/entry/4/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/8/resource", "\"subject\" is a required property"),
            ("/entry/8/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/13/resource", "\"subject\" is a required property"),
            ("/entry/13/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/20/resource", "\"subject\" is a required property"),
            ("/entry/20/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/26/resource", "\"subject\" is a required property"),
            ("/entry/26/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
        ],
    ),
    (
        "uat/get_scr/init_upload_org_sds_success/1-basic.response.json",
        &[
            ("/entry/0/resource", "\"title\" is a required property"),
            ("/entry/0/resource/date", "\"2007-03-14T01:00+00:00\" does not match"),
            ("/entry/0/resource/meta/lastUpdated", "\"2007-03-15T01:00+00:00\" does not match"),
        ],
    ),
    (
        "uat/get_scr/init_upload_success/1-basic.response.json",
        &[
            ("/entry/0/resource", "\"title\" is a required property"),
            ("/entry/0/resource/date", "\"2007-03-14T01:00+00:00\" does not match"),
            ("/entry/0/resource/meta/lastUpdated", "\"2007-03-15T01:00+00:00\" does not match"),
        ],
    ),
    (
        "uat/get_scr/success/1-basic.response.json",
        &[
            ("/entry/0/resource", "\"title\" is a required property"),
            ("/entry/3/resource", "\"subject\" is a required property"),
            ("/entry/3/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/7/resource", "\"subject\" is a required property"),
            ("/entry/7/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/12/resource", "\"subject\" is a required property"),
            ("/entry/12/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/19/resource", "\"subject\" is a required property"),
            ("/entry/19/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/25/resource", "\"subject\" is a required property"),
            ("/entry/25/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
        ],
    ),
    (
        "uat/upload_scr/no_consent/1-dissent.request.json",
        &[
            ("/entry/0/resource", "\"title\" is a required property"),
            ("/entry/3/resource", "\"subject\" is a required property"),
            ("/entry/3/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/7/resource", "\"subject\" is a required property"),
            ("/entry/7/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/12/resource", "\"subject\" is a required property"),
            ("/entry/12/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/19/resource", "\"subject\" is a required property"),
            ("/entry/19/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/25/resource", "\"subject\" is a required property"),
            ("/entry/25/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/48/resource/recommendation/0", "\"forecastStatus\" is a required property"),
            ("/entry/52/resource", "\"subject\" is a required property"),
            ("/entry/53/resource", "\"subject\" is a required property"),
        ],
    ),
    (
        "uat/upload_scr/not_found/1-basic.request.json",
        &[
            ("/entry/0/resource", "\"title\" is a required property"),
            ("/entry/3/resource", "\"subject\" is a required property"),
            ("/entry/3/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/7/resource", "\"subject\" is a required property"),
            ("/entry/7/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/12/resource", "\"subject\" is a required property"),
            ("/entry/12/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/19/resource", "\"subject\" is a required property"),
            ("/entry/19/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/25/resource", "\"subject\" is a required property"),
            ("/entry/25/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
        ],
    ),
    (
        "uat/upload_scr/success/1-basic.request.json",
        &[
            ("/entry/0/resource", "\"title\" is a required property"),
            ("/entry/3/resource", "\"subject\" is a required property"),
            ("/entry/3/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/7/resource", "\"subject\" is a required property"),
            ("/entry/7/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/12/resource", "\"subject\" is a required property"),
            ("/entry/12/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/19/resource", "\"subject\" is a required property"),
            ("/entry/19/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
            ("/entry/25/resource", "\"subject\" is a required property"),
            ("/entry/25/resource/clinicalStatus", "no coding is in the required value set http://hl7.org/fhir/ValueSet/condition-clinical|4.0.1 (found http://hl7.org/fhir/ValueSet/condition-clinical|"),
        ],
    ),
    (
        "uat/upload_scr/success/2-bulk.request.json",
        &[
            ("/entry/0/resource", "\"title\" is a required property"),
            ("/entry/0/resource/meta/lastUpdated", "\"2017-10-11T09:50+00:00\" does not match"),
        ],
    ),
    (
        "uat/upload_scr/success/3-bulk-sds.request.json",
        &[
            ("/entry/0/resource", "\"title\" is a required property"),
            ("/entry/0/resource/meta/lastUpdated", "\"2017-10-11T09:50+00:00\" does not match"),
        ],
    ),
];

#[test]
fn nhs_example_and_uat_bodies_are_valid_fhir_except_the_recorded_ones() {
    let nhs = root().join("fixtures/nhs");
    let mut files = Vec::new();
    json_files_under(&nhs.join("examples"), &mut files);
    json_files_under(&nhs.join("uat"), &mut files);
    assert!(files.len() >= 30, "found {} NHS bodies", files.len());
    let known: BTreeMap<&str, &[(&str, &str)]> = NHS_NOT_FHIR_R4.iter().copied().collect();

    let mut problems = Vec::new();
    for path in &files {
        let rel = path.strip_prefix(&nhs).expect("under fixtures/nhs").to_string_lossy().replace('\\', "/");
        let findings = validator().validate(&read_json(path));
        match known.get(rel.as_str()) {
            None if findings.is_empty() => {}
            None => problems.push(format!("{rel}: expected valid FHIR R4, got{}", show(&findings))),
            Some(want) => {
                let matches = findings.len() == want.len()
                    && findings.iter().zip(want.iter()).all(|(f, (p, m))| f.path == *p && f.message.contains(m));
                if !matches {
                    problems.push(format!("{rel}: expected the recorded findings {want:?}, got{}", show(&findings)));
                }
            }
        }
    }
    for rel in known.keys() {
        assert!(nhs.join(rel).is_file(), "recorded file {rel} exists");
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn findings_are_bounded_and_ordered_by_path() {
    let entries: Vec<Value> = (0..200)
        .map(|i| json!({"resource": {"resourceType": "Condition", "id": format!("c{i}"), "subject": {"reference": i}}}))
        .collect();
    let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": entries});
    let findings = validator().validate(&bundle);
    assert_eq!(findings.len(), MAX_FINDINGS);
    assert_eq!(findings[0].path, "/entry/0/resource/subject/reference");
    assert_eq!(findings[9].path, "/entry/9/resource/subject/reference");
    assert_eq!(findings[10].path, "/entry/10/resource/subject/reference");
    let indexes: Vec<u64> = findings
        .iter()
        .map(|f| f.path.split('/').nth(2).and_then(|s| s.parse().ok()).expect("an entry index"))
        .collect();
    assert!(indexes.windows(2).all(|w| w[0] < w[1]), "ordered by entry index: {indexes:?}");

    // Many errors in one resource are bounded too.
    let names: Vec<Value> = (0..120).map(|i| json!({"family": i})).collect();
    let patient = json!({"resourceType": "Patient", "name": names});
    assert_eq!(validator().validate(&patient).len(), MAX_FINDINGS);
}

#[test]
fn the_validator_is_shared_and_compiled_once() {
    let here = validator() as *const FhirValidator as usize;
    let others: Vec<usize> = (0..4)
        .map(|_| std::thread::spawn(|| FhirValidator::shared().expect("compiles") as *const FhirValidator as usize))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    assert!(others.iter().all(|p| *p == here), "every caller gets the same validator");

    // The same findings every time, from any thread.
    let v = validator();
    let bad = json!({"resourceType": "Observation", "status": 1, "code": {}});
    let first = v.validate(&bad);
    assert!(!first.is_empty());
    let again: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                FhirValidator::shared()
                    .expect("compiles")
                    .validate(&json!({"resourceType": "Observation", "status": 1, "code": {}}))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    assert!(again.iter().all(|f| *f == first), "the same findings every time");
}

/// Mutants of a resource for the comparison with `jsonschema`: each of its first members (and each member of
/// its first Bundle entry's or contained resource) replaced by a string, a number, an empty array, an empty
/// object, `null`, or itself wrapped in an array.
fn structural_mutants(doc: &Value) -> Vec<Value> {
    let replacements =
        |v: &Value| vec![json!("x"), json!(5), json!(1.5), json!([]), json!({}), Value::Null, json!([v.clone()])];
    let mut out = Vec::new();
    let Some(obj) = doc.as_object() else { return out };
    for key in obj.keys().filter(|k| *k != "resourceType").take(4) {
        for r in replacements(&obj[key]) {
            let mut m = doc.clone();
            m[key] = r;
            out.push(m);
        }
    }
    let nested = ["/entry/0/resource", "/contained/0"].into_iter().find(|p| doc.pointer(p).is_some());
    if let Some(at) = nested {
        let keys: Vec<String> =
            doc.pointer(at).and_then(Value::as_object).map(|o| o.keys().cloned().collect()).unwrap_or_default();
        for key in keys.iter().filter(|k| *k != "resourceType").take(4) {
            for r in replacements(&doc.pointer(at).map(|n| n[key.as_str()].clone()).unwrap_or_default()) {
                let mut m = doc.clone();
                if let Some(n) = m.pointer_mut(at) {
                    n[key.as_str()] = r;
                }
                out.push(m);
            }
        }
    }
    out
}

/// The walk is an implementation of the strict schema: on every HL7 example, every broken fixture and a few
/// thousand structural mutants of the examples, the walk without the StructureDefinition rules and calendar
/// dates (`FhirValidator::schema_only`) and the `jsonschema` crate on the same vendored schema give the same
/// verdict.
#[test]
fn the_walk_agrees_with_jsonschema_on_the_strict_schema() {
    let schema: Value = serde_json::from_str(scr_assure::fhir::schema::SCHEMA_JSON).expect("the schema is JSON");
    let oracle = jsonschema::draft6::new(&schema).expect("the schema compiles");
    let walk = FhirValidator::schema_only().expect("the model builds");
    let mut docs: Vec<(String, Value)> = Vec::new();
    for dir in ["fixtures/fhir-examples", "fixtures/fhir-broken"] {
        for path in resources_in(&root().join(dir)) {
            let doc = read_json(&path);
            for (i, m) in structural_mutants(&doc).into_iter().enumerate() {
                docs.push((format!("{} mutant {i}", name_of(&path)), m));
            }
            docs.push((name_of(&path), doc));
        }
    }
    assert!(docs.len() > 2000, "{} documents", docs.len());
    let mut disagreements = Vec::new();
    let (mut valid, mut invalid) = (0, 0);
    for (name, doc) in &docs {
        let (expected, got) = (oracle.is_valid(doc), walk.is_valid(doc));
        if expected {
            valid += 1
        } else {
            invalid += 1
        }
        if expected != got {
            disagreements
                .push(format!("{name}: jsonschema says {expected}, the walk says {got}{}", show(&walk.validate(doc))));
        }
    }
    assert!(valid > 100 && invalid > 1000, "both verdicts are exercised: {valid} valid, {invalid} invalid");
    assert!(
        disagreements.is_empty(),
        "{} of {} documents judged differently:\n{}",
        disagreements.len(),
        docs.len(),
        disagreements.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn validate_as_checks_against_the_named_type() {
    let v = validator();
    let oo = json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "invalid"}]});
    assert_eq!(v.validate_as(&oo, "OperationOutcome"), vec![]);
    let as_patient = v.validate_as(&oo, "Patient");
    assert!(as_patient.iter().any(|f| f.path == "/resourceType"), "{}", show(&as_patient));
    assert_eq!(v.validate_as(&json!({"system": "s", "value": 5}), "Identifier")[0].path, "/value");
}

// ---- the `validate` subcommand ----

fn validate_cmd(args: &[&str]) -> Output {
    Command::new(BIN).current_dir(root()).arg("validate").args(args).output().expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn cli_exit_0_when_every_file_is_valid() {
    let o = validate_cmd(&[
        "fixtures/nhs/examples/AuditEvent.json",
        "fixtures/fhir-examples/Patient-ihe-pcd.json",
        "fixtures/nhs/uat/get_scr_id",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            "ok  fixtures/fhir-examples/Patient-ihe-pcd.json",
            "ok  fixtures/nhs/examples/AuditEvent.json",
            "ok  fixtures/nhs/uat/get_scr_id/no_consent/1-basic.response.json",
            "ok  fixtures/nhs/uat/get_scr_id/no_results/1-basic.response.json",
            "ok  fixtures/nhs/uat/get_scr_id/success/1-basic.response.json",
        ],
        "one line per file, sorted"
    );
}

#[test]
fn cli_exit_1_and_text_report_when_a_file_is_invalid() {
    let o = validate_cmd(&[
        "fixtures/fhir-broken/impossible-date.json",
        "fixtures/fhir-broken/bundle-entry-wrong-type.json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "FAIL fixtures/fhir-broken/bundle-entry-wrong-type.json\n  /entry/4/resource/status: 5 is not of type \"string\"\n\
         FAIL fixtures/fhir-broken/impossible-date.json\n  /birthDate: \"1980-02-30\" is not a valid date: February 1980 has 29 days\n"
    );
}

#[test]
fn cli_json_report() {
    let o = validate_cmd(&[
        "--format",
        "json",
        "fixtures/fhir-broken/operation-outcome-missing-issue.json",
        "fixtures/nhs/examples/AuditEvent.json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(
        report,
        json!([
            {"file": "fixtures/fhir-broken/operation-outcome-missing-issue.json", "valid": false,
             "errors": [{"path": "", "message": "\"issue\" is a required property"}]},
            {"file": "fixtures/nhs/examples/AuditEvent.json", "valid": true, "errors": []}
        ])
    );
}

#[test]
fn cli_directory_is_searched_recursively_and_every_broken_file_fails() {
    let o = validate_cmd(&["--format", "json", "fixtures/fhir-broken"]);
    assert_eq!(o.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    let report = report.as_array().expect("an array");
    let files: Vec<&str> = report.iter().map(|r| r["file"].as_str().expect("file")).collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(files, sorted, "files are sorted");
    // Every broken variant (and expected.json, which is no resource) is invalid.
    assert!(report.iter().all(|r| r["valid"] == json!(false)));
    assert_eq!(report.len(), resources_in(&root().join("fixtures/fhir-broken")).len() + 1);
}

#[test]
fn cli_exit_2_when_a_path_is_unreadable_or_not_json_and_the_others_are_still_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let not_json = dir.path().join("broken.json");
    std::fs::write(&not_json, "{ not json").expect("write");
    let valid = dir.path().join("valid.json");
    std::fs::copy(root().join("fixtures/nhs/examples/AuditEvent.json"), &valid).expect("copy");
    let missing = dir.path().join("missing.json");

    for format in ["text", "json"] {
        let o = Command::new(BIN)
            .args(["validate", "--format", format])
            .arg(&missing)
            .arg(dir.path())
            .arg(root().join("fixtures/fhir-broken/bad-enum.json"))
            .output()
            .expect("runs");
        assert_eq!(o.status.code(), Some(2), "{format}: {}", stdout(&o));
        let out = stdout(&o);
        if format == "text" {
            assert!(out.contains(&format!("ERROR {}\n  not JSON:", not_json.display())), "{out}");
            assert!(out.contains(&format!("ERROR {}\n  cannot read:", missing.display())), "{out}");
            assert!(out.contains(&format!("ok  {}", valid.display())), "{out}");
            assert!(out.contains("FAIL ") && out.contains("/gender: \"F\" is not one of"), "{out}");
        } else {
            let report: Value = serde_json::from_str(&out).expect("JSON on stdout");
            let report = report.as_array().expect("an array");
            assert_eq!(report.len(), 4);
            let by_file = |p: &Path| {
                report.iter().find(|r| r["file"] == json!(p.display().to_string())).expect("reported").clone()
            };
            assert!(by_file(&not_json)["error"].as_str().expect("error").starts_with("not JSON"));
            assert!(by_file(&missing)["error"].as_str().expect("error").starts_with("cannot read"));
            assert_eq!(by_file(&valid)["valid"], json!(true));
        }
    }
}

#[test]
fn cli_scr_rules_reject_a_document_that_is_no_scr_payload() {
    let o = validate_cmd(&["--rules", "scr", "fixtures/fhir-examples/Patient-ihe-pcd.json"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.starts_with("FAIL fixtures/fhir-examples/Patient-ihe-pcd.json\n  (root): not an SCR payload"), "{out}");

    // The same file passes the FHIR rules alone.
    assert_eq!(
        validate_cmd(&["--rules", "fhir", "fixtures/fhir-examples/Patient-ihe-pcd.json"]).status.code(),
        Some(0)
    );
    // An NHS alert request is an SCR payload and valid FHIR.
    let o = validate_cmd(&["--rules", "scr", "--format", "json", "fixtures/nhs/examples/AuditEvent.json"]);
    let report: Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(report[0]["errors"], json!([]), "{report}");
    assert_eq!(o.status.code(), Some(0));
}
