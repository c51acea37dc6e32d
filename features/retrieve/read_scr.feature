Feature: Read the Summary Care Record
  With the SCR id from GET /DocumentReference a clinical system reads the GP Summary document through
  GET /Bundle. Only the patient's latest SCR id, matched exactly and case-sensitively, returns the
  document; any other id returns an empty searchset Bundle. A patient who has opted out is refused
  with 403, and the two search parameters are validated with exact messages (reference §4.2).

  @SCRA-RET-006
  Scenario: Reading the current SCR id returns the GP Summary document
    Given a patient "A" with an SCR
    When I read the current SCR for patient "A"
    Then the response status is 200
    And the response is the SCR document of patient "A"
    And the document holds what was uploaded for patient "A"
    And the response Content-Type is "application/fhir+json"
    And the response matches the snapshot "scr-document"
    # Not "a valid FHIR Bundle": the NHS document's Conditions carry no subject (a known NHS deviation).
    And the response conforms to the SCR read SCR response

  @SCRA-RET-006
  Scenario: After a replacement the new SCR id returns the document
    Given a patient "A" with an SCR
    And patient "A" has a replacement SCR
    When I read the current SCR for patient "A"
    Then the response status is 200
    And the response is the SCR document of patient "A"
    And the document holds what was uploaded for patient "A"

  @SCRA-RET-007
  Scenario: An out-of-date SCR id returns an empty Bundle
    Given a patient "A" with an SCR
    And patient "A" has a replacement SCR
    When I read the SCR "{previous-scr:A}" for patient "A"
    Then the response status is 200
    And the response is an empty searchset Bundle
    # A control read: the same service returns the document for the latest id, so the empty answer above
    # was a decision about the id, not a service that answers every read with an empty Bundle.
    When I read the current SCR for patient "A"
    Then the response is the SCR document of patient "A"

  @SCRA-RET-007
  Scenario: The SCR id is case-sensitive
    Given a patient "A" with an SCR
    When I read the SCR "{scr-lower:A}" for patient "A"
    Then the response status is 200
    And the response is an empty searchset Bundle
    When I read the current SCR for patient "A"
    Then the response is the SCR document of patient "A"

  @SCRA-RET-007
  Scenario: An unknown SCR id returns an empty Bundle
    Given a patient "A" with an SCR
    When I read the SCR "{UUID}" for patient "A"
    Then the response status is 200
    And the response is an empty searchset Bundle
    When I read the current SCR for patient "A"
    Then the response is the SCR document of patient "A"

  @SCRA-RET-007
  Scenario: Another patient's SCR id returns an empty Bundle
    Given a patient "A" with an SCR
    And a patient "B" with an SCR
    When I read the SCR "{scr:B}" for patient "A"
    Then the response status is 200
    And the response is an empty searchset Bundle
    When I read the current SCR for patient "B"
    Then the response is the SCR document of patient "B"

  @SCRA-RET-007
  Scenario: Any SCR id for a patient without an SCR returns an empty Bundle
    Given a patient "A" with no SCR
    And a patient "B" with an SCR
    When I read the SCR "{UUID}" for patient "A"
    Then the response status is 200
    And the response is an empty searchset Bundle
    When I read the SCR "{scr:B}" for patient "A"
    Then the response is an empty searchset Bundle
    When I read the current SCR for patient "B"
    Then the response is the SCR document of patient "B"

  @SCRA-RET-004
  Scenario: A patient who has opted out is refused the SCR document
    Given a patient "A" with an SCR
    And patient "A" has permission to view "No"
    When I read the current SCR for patient "A"
    Then the response status is 403
    And the response is an OperationOutcome "forbidden" with the text "Code: 420, Display: Business condition related to access control  which prevents the action being performed by PSIS;Code: 30418, Display: [PSIS-30418] - ACF does not permit access to resource"

  @SCRA-RET-008
  Scenario Outline: Malformed read parameters are rejected with the exact message
    Given a patient "A" with an SCR
    When I send GET "<path>"
    Then the response status is <status>
    And the response is an OperationOutcome "value" with the text "<text>"

    Examples:
      | case                          | path                                                                                                              | status | text                                                                                                                |
      | composition.identifier absent | /Bundle?composition.subject:Patient.identifier=https://fhir.nhs.uk/Id/nhs-number\|{nhs:A}                         | 400    | Required request parameter 'composition.identifier' for method parameter type String is not present                 |
      | subject absent                | /Bundle?composition.identifier={scr:A}                                                                            | 400    | Required request parameter 'composition.subject:Patient.identifier' for method parameter type String is not present |
      | subject without system        | /Bundle?composition.identifier={scr:A}&composition.subject:Patient.identifier={nhs:A}                             | 400    | Invalid value - {nhs:A} in field 'patient'                                                                          |
      | subject with wrong system     | /Bundle?composition.identifier={scr:A}&composition.subject:Patient.identifier=https://example.org\|{nhs:A}        | 400    | Invalid value - https://example.org\|{nhs:A} in field 'patient'                                                     |
      | subject empty after the \|    | /Bundle?composition.identifier={scr:A}&composition.subject:Patient.identifier=https://fhir.nhs.uk/Id/nhs-number\| | 400    | Invalid value - https://fhir.nhs.uk/Id/nhs-number\| in field 'patient'                                              |
