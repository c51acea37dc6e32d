Feature: Get the latest SCR id and the permission to view
  A clinical system first asks GET /DocumentReference for a patient's latest Summary Care Record id.
  The answer is a searchset Bundle holding one DocumentReference whose masterIdentifier is the SCR id
  and whose securityLabel tells whether the clinician may view the record (Yes, Ask) — or an empty
  Bundle when the patient has no SCR, or a 403 when the patient has opted out. The search parameters
  are validated strictly and every fault has its own exact message (reference §4.1).

  @SCRA-RET-001
  Scenario: A patient with an SCR gets the id of the latest SCR
    Given a patient "A" with an SCR
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"
    And the response Content-Type is "application/fhir+json"
    And the response matches the snapshot "scr-id"
    And the response is a valid FHIR Bundle
    And the response conforms to the SCR get SCR id response

  @SCRA-RET-002
  Scenario: A patient without an SCR gets an empty search result
    Given a patient "A" with no SCR
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response is an empty searchset Bundle
    And the response matches the snapshot "scr-id-empty"

  @SCRA-RET-003
  Scenario: With no recorded permission the permission to view is shown as Ask
    Given a patient "A" with an SCR
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"
    And the response shows permission to view "Ask"

  @SCRA-RET-003
  Scenario Outline: The recorded permission to view is shown with the SCR id
    Given a patient "A" with an SCR
    And patient "A" has permission to view "<permission>"
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"
    And the response shows permission to view "<permission>"

    Examples:
      | permission |
      | Yes        |
      | Ask        |

  @SCRA-RET-004
  Scenario: A patient who has opted out is refused the SCR id
    Given a patient "A" with an SCR
    And patient "A" has permission to view "No"
    When I request the SCR id for patient "A"
    Then the response status is 403
    And the response is an OperationOutcome "forbidden" with the text "Code: 420, Display: Business condition related to access control  which prevents the action being performed by PSIS;Code: 30418, Display: [PSIS-30418] - ACF does not permit access to resource"
    And the response matches the snapshot "no-consent"
    And the response is a valid FHIR OperationOutcome
    And the response conforms to the SCR error response

  @SCRA-RET-005
  Scenario Outline: Malformed search parameters are rejected with the exact message
    Given a patient "A" with no SCR
    When I send GET "<path>"
    Then the response status is <status>
    And the response is an OperationOutcome "value" with the text "<text>"

    Examples:
      | case                     | path                                                                                                   | status | text                                                                                 |
      | patient missing          | /DocumentReference                                                                                     | 400    | Required request parameter 'patient' for method parameter type String is not present |
      | patient missing, others  | /DocumentReference?_sort=date&_count=1                                                                 | 400    | Required request parameter 'patient' for method parameter type String is not present |
      | no system prefix         | /DocumentReference?patient={nhs:A}                                                                     | 400    | Invalid value - {nhs:A} in field 'patient'                                           |
      | wrong identifier system  | /DocumentReference?patient=https://fhir.nhs.uk/Id/nhsSCRUUID\|{nhs:A}                                  | 400    | Invalid value - https://fhir.nhs.uk/Id/nhsSCRUUID\|{nhs:A} in field 'patient'        |
      | nothing after the \|     | /DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number\|                                         | 400    | Invalid value - https://fhir.nhs.uk/Id/nhs-number\| in field 'patient'               |
      | wrong document type code | /DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number\|{nhs:A}&type=http://snomed.info/sct\|123 | 400    | Invalid value - http://snomed.info/sct\|123 in field 'type'                          |
      | document type, no system | /DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number\|{nhs:A}&type=196981000000101             | 400    | Invalid value - 196981000000101 in field 'type'                                      |
      | _sort not date           | /DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number\|{nhs:A}&_sort=name                       | 400    | Invalid value - name in field '_sort'                                                |
      | _count 2                 | /DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number\|{nhs:A}&_count=2                         | 400    | Invalid value - 2 in field '_count'                                                  |
      | _count not a number      | /DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number\|{nhs:A}&_count=abc                       | 400    | Invalid value - abc in field '_count'                                                |
      | _count 0                 | /DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number\|{nhs:A}&_count=0                         | 400    | Invalid value - 0 in field '_count'                                                  |

  @SCRA-RET-005
  Scenario Outline: The optional search parameters are accepted with their only valid values
    Given a patient "A" with an SCR
    When I request the SCR id for patient "A" with "<extra>"
    Then the response status is 200
    And the response holds the SCR id of patient "A"

    Examples:
      | extra                                                            |
      | type=http://snomed.info/sct\|196981000000101                     |
      | _sort=date                                                       |
      | _count=1                                                         |
      | type=http://snomed.info/sct\|196981000000101&_sort=date&_count=1 |

  @SCRA-RET-005
  Scenario: The patient identifier separator may be percent-encoded
    Given a patient "A" with an SCR
    When I send GET "/DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number%7C{nhs:A}"
    Then the response status is 200
    And the response holds the SCR id of patient "A"

  @SCRA-RET-011
  Scenario Outline: Empty type and _sort, and _count values Spring reads as the integer 1, are accepted
    Given a patient "A" with an SCR
    When I request the SCR id for patient "A" with "<extra>"
    Then the response status is 200
    And the response holds the SCR id of patient "A"

    Examples:
      | case                 | extra                |
      | empty type           | type=                |
      | empty _sort          | _sort=               |
      | all three empty      | type=&_sort=&_count= |
      | leading zero         | _count=01            |
      | explicit plus sign   | _count=%2B1          |
      | surrounding spaces   | _count=%201%20       |
      | hexadecimal          | _count=0x1           |

  @SCRA-RET-011
  Scenario Outline: A _count that is not an integer is reported before the other parameters are checked
    Given a patient "A" with no SCR
    When I send GET "<path>"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "<text>"

    Examples:
      | case                          | path                                                                                     | text                                                                                 |
      | before a bad patient and type | /DocumentReference?patient=INVALID&type=x&_sort=x&_count=abc                             | Invalid value - abc in field '_count'                                                |
      | a decimal                     | /DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number\|{nhs:A}&_count=1.0         | Invalid value - 1.0 in field '_count'                                                |
      | beyond a Java int             | /DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number\|{nhs:A}&_count=2147483648  | Invalid value - 2147483648 in field '_count'                                         |
      | an integer other than 1       | /DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number\|{nhs:A}&_count=02          | Invalid value - 2 in field '_count'                                                  |
      | but after a missing patient   | /DocumentReference?_count=abc                                                            | Required request parameter 'patient' for method parameter type String is not present |

  @SCRA-RET-012
  Scenario: Two faulty search parameters are reported together in one text
    Given a patient "A" with no SCR
    When I send GET "/DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number|{nhs:A}&_sort=name&_count=2"
    Then the response status is 400
    And the response is an OperationOutcome "value" with either text "Invalid value - name in field '_sort', getScrId.count: Invalid value - 2 in field '_count'" or "Invalid value - 2 in field '_count', getScrId.sort: Invalid value - name in field '_sort'"

  @SCRA-RET-013
  Scenario: The search result's Bundle, DocumentReference and Patient ids are upper-case UUIDs
    Given a patient "A" with an SCR
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the id at "/id" in the response is an upper-case UUID
    And the id at "/entry/0/resource/id" in the response is an upper-case UUID
    And the id at "/entry/1/resource/id" in the response is an upper-case UUID
