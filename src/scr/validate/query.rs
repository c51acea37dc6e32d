//! Query parameters of the two GET endpoints (reference §4.1, §4.2). Parameters arrive percent-decoded; when
//! one is repeated the first occurrence counts; unknown parameters are ignored.

use crate::scr::{codes, texts, ScrError};

/// `patient=https://fhir.nhs.uk/Id/nhs-number|<nhs>` prefix (reference §4.1).
const PATIENT_PREFIX: &str = "https://fhir.nhs.uk/Id/nhs-number|";

const PATIENT: &str = "patient";
const TYPE: &str = "type";
const SORT: &str = "_sort";
const COUNT: &str = "_count";
const COMPOSITION_IDENTIFIER: &str = "composition.identifier";
const COMPOSITION_SUBJECT: &str = "composition.subject:Patient.identifier";

/// `GET /DocumentReference` (reference §4.1): checks `patient`, `type`, `_sort`, `_count` in that order and
/// returns the NHS number text after the `|` (not checksum-validated, as in the backend).
pub fn document_reference_query(params: &[(String, String)]) -> Result<String, ScrError> {
    let patient = first(params, PATIENT).ok_or_else(|| ScrError::bad_request(texts::missing_parameter(PATIENT)))?;
    let nhs = patient_nhs_number(patient)?;
    check_type(first(params, TYPE))?;
    check_sort(first(params, SORT))?;
    check_count(first(params, COUNT))?;
    Ok(nhs)
}

/// `GET /Bundle` (reference §4.2): `composition.identifier` present, then the subject present, then its
/// form. Returns `(composition identifier, NHS number)`. A bad subject is reported in field `'patient'` (sic).
pub fn bundle_query(params: &[(String, String)]) -> Result<(String, String), ScrError> {
    let identifier = first(params, COMPOSITION_IDENTIFIER)
        .ok_or_else(|| ScrError::bad_request(texts::missing_parameter(COMPOSITION_IDENTIFIER)))?;
    let subject = first(params, COMPOSITION_SUBJECT)
        .ok_or_else(|| ScrError::bad_request(texts::missing_parameter(COMPOSITION_SUBJECT)))?;
    let nhs = patient_nhs_number(subject)?;
    Ok((identifier.to_owned(), nhs))
}

fn first<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// The NHS-number system prefix and a non-empty remainder (reference §4.1 `patient` row).
fn patient_nhs_number(given: &str) -> Result<String, ScrError> {
    match given.strip_prefix(PATIENT_PREFIX) {
        Some(nhs) if !nhs.is_empty() => Ok(nhs.to_owned()),
        _ => Err(ScrError::bad_request(texts::invalid_value(given, PATIENT))),
    }
}

/// Optional `type`, exactly the GP Summary SNOMED token (reference §4.1).
fn check_type(given: Option<&str>) -> Result<(), ScrError> {
    match given {
        Some(v) if v != codes::DOCUMENT_TYPE_PARAM => Err(ScrError::bad_request(texts::invalid_value(v, TYPE))),
        _ => Ok(()),
    }
}

/// Optional `_sort`, exactly `date` (reference §4.1).
fn check_sort(given: Option<&str>) -> Result<(), ScrError> {
    match given {
        Some(v) if v != "date" => Err(ScrError::bad_request(texts::invalid_value(v, SORT))),
        _ => Ok(()),
    }
}

/// Optional `_count`: an integer (else Spring's type-mismatch text) equal to 1 (else the validator's) —
/// both texts are the same (reference §3.4, §4.1).
fn check_count(given: Option<&str>) -> Result<(), ScrError> {
    match given {
        Some(v) if v.parse::<i32>() != Ok(1) => Err(ScrError::bad_request(texts::invalid_value(v, COUNT))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATIENT_OK: &str = "https://fhir.nhs.uk/Id/nhs-number|9000000009";

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    fn doc_ref_err(pairs: &[(&str, &str)]) -> String {
        match document_reference_query(&params(pairs)) {
            Ok(nhs) => panic!("expected an error, got {nhs}"),
            Err(e) => {
                assert_eq!((e.status, e.code.as_str()), (400, "value"));
                e.text
            }
        }
    }

    fn bundle_err(pairs: &[(&str, &str)]) -> String {
        match bundle_query(&params(pairs)) {
            Ok(ok) => panic!("expected an error, got {ok:?}"),
            Err(e) => {
                assert_eq!((e.status, e.code.as_str()), (400, "value"));
                e.text
            }
        }
    }

    #[test]
    fn document_reference_accepts_the_full_nhs_smoke_test_query() {
        let p = params(&[
            ("patient", PATIENT_OK),
            ("_sort", "date"),
            ("type", "http://snomed.info/sct|196981000000101"),
            ("_count", "1"),
            ("unknown", "whatever"),
        ]);
        assert_eq!(document_reference_query(&p), Ok("9000000009".to_owned()));
        assert_eq!(document_reference_query(&params(&[("patient", PATIENT_OK)])), Ok("9000000009".to_owned()));
    }

    #[test]
    fn document_reference_does_not_checksum_the_nhs_number() {
        let p = params(&[("patient", "https://fhir.nhs.uk/Id/nhs-number|12345")]);
        assert_eq!(document_reference_query(&p), Ok("12345".to_owned()));
    }

    #[test]
    fn document_reference_rules_with_exact_texts() {
        let rows: &[(&[(&str, &str)], &str)] = &[
            (&[], "Required request parameter 'patient' for method parameter type String is not present"),
            (
                &[("_count", "1")],
                "Required request parameter 'patient' for method parameter type String is not present",
            ),
            (&[("patient", "INVALID NHS NUMBER")], "Invalid value - INVALID NHS NUMBER in field 'patient'"),
            (&[("patient", "9000000009")], "Invalid value - 9000000009 in field 'patient'"),
            (
                &[("patient", "https://fhir.nhs.uk/Id/nhs-number|")],
                "Invalid value - https://fhir.nhs.uk/Id/nhs-number| in field 'patient'",
            ),
            (
                &[("patient", "https://fhir.nhs.uk/Id/nhs-number9000000009")],
                "Invalid value - https://fhir.nhs.uk/Id/nhs-number9000000009 in field 'patient'",
            ),
            (
                &[("patient", PATIENT_OK), ("type", "http://snomed.info/sct|123")],
                "Invalid value - http://snomed.info/sct|123 in field 'type'",
            ),
            (&[("patient", PATIENT_OK), ("_sort", "-date")], "Invalid value - -date in field '_sort'"),
            (&[("patient", PATIENT_OK), ("_count", "abc")], "Invalid value - abc in field '_count'"),
            (&[("patient", PATIENT_OK), ("_count", "2")], "Invalid value - 2 in field '_count'"),
            (&[("patient", PATIENT_OK), ("_count", "0")], "Invalid value - 0 in field '_count'"),
        ];
        for (pairs, text) in rows {
            assert_eq!(doc_ref_err(pairs), *text, "{pairs:?}");
        }
    }

    #[test]
    fn document_reference_checks_in_order_and_uses_the_first_repeat() {
        // patient before type, type before _sort, _sort before _count
        assert!(doc_ref_err(&[("_count", "x"), ("_sort", "x"), ("type", "x"), ("patient", "x")]).ends_with("'patient'"));
        assert!(
            doc_ref_err(&[("_count", "x"), ("_sort", "x"), ("type", "x"), ("patient", PATIENT_OK)]).ends_with("'type'")
        );
        assert!(doc_ref_err(&[("_count", "x"), ("_sort", "x"), ("patient", PATIENT_OK)]).ends_with("'_sort'"));
        assert_eq!(
            document_reference_query(&params(&[("patient", PATIENT_OK), ("patient", "bad")])),
            Ok("9000000009".to_owned())
        );
        assert!(doc_ref_err(&[("patient", "bad"), ("patient", PATIENT_OK)]).contains("bad"));
    }

    #[test]
    fn bundle_query_accepts_identifier_and_subject() {
        let p = params(&[
            ("composition.identifier", "FA60BE64-1F34-11EB-A2A8-000C29A364EB"),
            ("composition.subject:Patient.identifier", PATIENT_OK),
        ]);
        assert_eq!(bundle_query(&p), Ok(("FA60BE64-1F34-11EB-A2A8-000C29A364EB".to_owned(), "9000000009".to_owned())));
    }

    #[test]
    fn bundle_query_rules_with_exact_texts() {
        let missing_id =
            "Required request parameter 'composition.identifier' for method parameter type String is not present";
        let missing_subject = "Required request parameter 'composition.subject:Patient.identifier' for method parameter type String is not present";
        let rows: &[(&[(&str, &str)], &str)] = &[
            (&[], missing_id),
            (&[("composition.subject:Patient.identifier", "bad")], missing_id),
            (&[("composition.identifier", "X")], missing_subject),
            (&[("composition.identifier", "X"), ("patient", PATIENT_OK)], missing_subject),
            (
                &[
                    ("composition.identifier", "INVALID ID"),
                    ("composition.subject:Patient.identifier", "INVALID NHS NUMBER"),
                ],
                "Invalid value - INVALID NHS NUMBER in field 'patient'",
            ),
        ];
        for (pairs, text) in rows {
            assert_eq!(bundle_err(pairs), *text, "{pairs:?}");
        }
    }
}
