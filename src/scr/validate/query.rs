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

/// `GET /DocumentReference` (reference §4.1), as Spring runs `GetScrController.getScrId`:
///
/// 1. argument resolution in the method's parameter order — `patient` missing → Spring's missing-parameter
///    text; `_count` converted to a Java `Integer` ([`java_integer`]), a value that does not convert → the
///    type-mismatch text `Invalid value - <raw> in field '_count'` (`OperationOutcomeExceptionHandler.
///    handleMethodArgumentTypeMismatch`), **before** any check of `patient`, `type` or `_sort`;
/// 2. bean validation of every constrained parameter at once (`@PatientId`, `@TypeCode`, `@SortMethod`,
///    `@RecordCount`): every violation is reported, joined into one text ([`texts::constraint_violations`]).
///    An empty `type=` or `_sort=` is valid (`isEmpty`), as is an empty `_count=` (Spring converts it to null).
///
/// Returns the NHS number text after the `|` (not checksum-validated, as in the backend).
pub fn document_reference_query(params: &[(String, String)]) -> Result<String, ScrError> {
    let patient = first(params, PATIENT).ok_or_else(|| ScrError::bad_request(texts::missing_parameter(PATIENT)))?;
    let count = match first(params, COUNT) {
        None => None,
        Some(raw) => java_integer(raw).map_err(|()| ScrError::bad_request(texts::invalid_value(raw, COUNT)))?,
    };
    let nhs = patient_nhs_number(patient);
    let mut violations: Vec<(&str, String)> = Vec::new();
    if nhs.is_none() {
        violations.push(("patient", texts::invalid_value(patient, PATIENT)));
    }
    if let Some(v) = first(params, TYPE).filter(|v| !v.is_empty() && *v != codes::DOCUMENT_TYPE_PARAM) {
        violations.push(("type", texts::invalid_value(v, TYPE)));
    }
    if let Some(v) = first(params, SORT).filter(|v| !v.is_empty() && *v != "date") {
        violations.push(("sort", texts::invalid_value(v, SORT)));
    }
    if let Some(n) = count.filter(|n| *n != 1) {
        violations.push(("count", texts::invalid_value(&n.to_string(), COUNT)));
    }
    match nhs {
        Some(nhs) if violations.is_empty() => Ok(nhs),
        _ => Err(ScrError::bad_request(texts::constraint_violations("getScrId", &violations))),
    }
}

/// Spring's conversion of a query value to `java.lang.Integer` (`StringToNumberConverterFactory` and
/// `NumberUtils.parseNumber`, Spring 5.3): an empty value is `null` (`Ok(None)`); otherwise every whitespace
/// character is removed, a value starting (after an optional `-`) with `0x`, `0X` or `#` is read by
/// `Integer.decode` as hexadecimal, anything else by `Integer.valueOf` (optional sign, decimal digits), and
/// a value outside the `int` range does not convert. `Err(())` is Spring's type mismatch.
/// Unlike Java, only ASCII digits are digits here.
fn java_integer(raw: &str) -> Result<Option<i32>, ()> {
    if raw.is_empty() {
        return Ok(None);
    }
    let trimmed: String = raw.chars().filter(|c| !is_java_whitespace(*c)).collect();
    let unsigned = trimmed.strip_prefix('-').unwrap_or(&trimmed);
    let negative = unsigned.len() != trimmed.len();
    let hex =
        unsigned.strip_prefix("0x").or_else(|| unsigned.strip_prefix("0X")).or_else(|| unsigned.strip_prefix('#'));
    let value: i64 = match hex {
        Some(digits) => {
            // `Integer.decode`: no second sign after the radix prefix.
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(());
            }
            let magnitude = i64::from_str_radix(digits, 16).map_err(|_| ())?;
            if negative {
                -magnitude
            } else {
                magnitude
            }
        }
        None => {
            let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(&trimmed);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(());
            }
            trimmed.parse::<i64>().map_err(|_| ())?
        }
    };
    i32::try_from(value).map(Some).map_err(|_| ())
}

/// `Character.isWhitespace` for the characters a query value can carry: Unicode space separators other than
/// the no-break spaces, and the ASCII controls 9–13 and 28–31.
fn is_java_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | '\u{1C}'..='\u{1F}')
        || (c.is_whitespace() && !matches!(c, '\u{85}' | '\u{A0}' | '\u{2007}' | '\u{202F}'))
}

/// `GET /Bundle` (reference §4.2): `composition.identifier` present, then the subject present, then its
/// form. Returns `(composition identifier, NHS number)`. A bad subject is reported in field `'patient'` (sic).
pub fn bundle_query(params: &[(String, String)]) -> Result<(String, String), ScrError> {
    let identifier = first(params, COMPOSITION_IDENTIFIER)
        .ok_or_else(|| ScrError::bad_request(texts::missing_parameter(COMPOSITION_IDENTIFIER)))?;
    let subject = first(params, COMPOSITION_SUBJECT)
        .ok_or_else(|| ScrError::bad_request(texts::missing_parameter(COMPOSITION_SUBJECT)))?;
    let nhs =
        patient_nhs_number(subject).ok_or_else(|| ScrError::bad_request(texts::invalid_value(subject, PATIENT)))?;
    Ok((identifier.to_owned(), nhs))
}

fn first<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// The NHS-number system prefix and a non-empty remainder (reference §4.1 `patient` row; `PatientIdValidator`).
fn patient_nhs_number(given: &str) -> Option<String> {
    match given.strip_prefix(PATIENT_PREFIX) {
        Some(nhs) if !nhs.is_empty() => Some(nhs.to_owned()),
        _ => None,
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
    fn document_reference_type_mismatch_of_count_comes_before_every_other_check() {
        // patient missing is found first (argument resolution in parameter order) …
        assert!(doc_ref_err(&[("_count", "x")]).starts_with("Required request parameter 'patient'"));
        // … then `_count`'s conversion, before any bean validation of patient, type or _sort
        assert_eq!(
            doc_ref_err(&[("_count", "x"), ("_sort", "x"), ("type", "x"), ("patient", "x")]),
            "Invalid value - x in field '_count'"
        );
        assert_eq!(doc_ref_err(&[("patient", "bad"), ("_count", "1.0")]), "Invalid value - 1.0 in field '_count'");
    }

    #[test]
    fn document_reference_joins_every_violation_in_one_text() {
        assert_eq!(
            doc_ref_err(&[("patient", "x"), ("type", "t"), ("_sort", "s"), ("_count", "2")]),
            "Invalid value - x in field 'patient', getScrId.type: Invalid value - t in field 'type', \
             getScrId.sort: Invalid value - s in field '_sort', getScrId.count: Invalid value - 2 in field '_count'"
        );
        assert_eq!(
            doc_ref_err(&[("patient", PATIENT_OK), ("_sort", "name"), ("_count", "02")]),
            "Invalid value - name in field '_sort', getScrId.count: Invalid value - 2 in field '_count'"
        );
        // one violation: no prefix left
        assert_eq!(doc_ref_err(&[("patient", PATIENT_OK), ("_count", "0x2")]), "Invalid value - 2 in field '_count'");
    }

    #[test]
    fn document_reference_accepts_empty_optional_parameters() {
        let p = params(&[("patient", PATIENT_OK), ("type", ""), ("_sort", ""), ("_count", "")]);
        assert_eq!(document_reference_query(&p), Ok("9000000009".to_owned()));
        // whitespace is not empty for `type` and `_sort` (commons-lang `isEmpty`)
        assert_eq!(doc_ref_err(&[("patient", PATIENT_OK), ("type", " ")]), "Invalid value -   in field 'type'");
    }

    #[test]
    fn count_converts_as_spring_converts_an_integer() {
        for ok in ["1", "+1", "01", " 1 ", "1\t", "0x1", "0X01", "#1", "1 "] {
            assert_eq!(java_integer(ok), Ok(Some(1)), "{ok:?}");
        }
        assert_eq!(java_integer(""), Ok(None));
        assert_eq!(java_integer("-0x10"), Ok(Some(-16)));
        assert_eq!(java_integer("2147483647"), Ok(Some(i32::MAX)));
        assert_eq!(java_integer("-2147483648"), Ok(Some(i32::MIN)));
        assert_eq!(java_integer("-0x80000000"), Ok(Some(i32::MIN)));
        for bad in [" ", "abc", "1.0", "2147483648", "0x", "#", "+0x1", "0x-1", "--1", "+", "1e3"] {
            assert_eq!(java_integer(bad), Err(()), "{bad:?}");
        }
        let p = params(&[("patient", PATIENT_OK), ("_count", " 0x1 ")]);
        assert_eq!(document_reference_query(&p), Ok("9000000009".to_owned()));
        assert_eq!(doc_ref_err(&[("patient", PATIENT_OK), ("_count", " ")]), "Invalid value -   in field '_count'");
    }

    #[test]
    fn document_reference_uses_the_first_repeat() {
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
