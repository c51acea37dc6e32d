Feature: Media types, methods, paths and mandatory headers
  The backend speaks application/fhir+json only: it answers in that media type, refuses POST bodies
  of another Content-Type with 415, refuses methods an endpoint does not support with 405 and an Allow
  header, answers unknown paths with 404, and requires NHSD-Session-URID on every POST. Each refusal is
  an OperationOutcome with one error issue and the exact Spring wording (reference §3.1, §3.3, §3.4).

  @SCRA-TRN-003
  Scenario Outline: Successful and error responses are application/fhir+json
    Given a patient "A" with an SCR
    When I send GET "<path>"
    Then the response status is <status>
    And the response Content-Type is "application/fhir+json"
    And the response JSON at "<pointer>" is "<value>"

    Examples:
      | case                | path                                                                                                                     | status | pointer                                  | value            |
      | SCR id found        | /DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number\|{nhs:A}                                                    | 200    | /entry/0/resource/masterIdentifier/value | {scr:A}          |
      | SCR document        | /Bundle?composition.identifier={scr:A}&composition.subject:Patient.identifier=https://fhir.nhs.uk/Id/nhs-number\|{nhs:A} | 200    | /entry/0/resource/identifier/value       | {scr:A}          |
      | malformed parameter | /DocumentReference?patient={nhs:A}                                                                                       | 400    | /resourceType                            | OperationOutcome |
      | unknown path        | /NotFound                                                                                                                | 404    | /resourceType                            | OperationOutcome |

  @SCRA-TRN-003
  Scenario: A refusal for lack of consent is application/fhir+json
    Given a patient "A" with an SCR
    And patient "A" has permission to view "No"
    When I request the SCR id for patient "A"
    Then the response status is 403
    And the response is an OperationOutcome "forbidden" with the text "Code: 420, Display: Business condition related to access control  which prevents the action being performed by PSIS;Code: 30418, Display: [PSIS-30418] - ACF does not permit access to resource"
    And the response Content-Type is "application/fhir+json"

  @SCRA-TRN-003
  Scenario: A refused upload is application/fhir+json
    Given a patient "A" with no SCR
    When I upload an SCR for patient "A" with the change "remove /entry[Composition]"
    Then the response status is 400
    And the response Content-Type is "application/fhir+json"

  # The Apigee proxy strips the base path before the backend, whose text is "<request URI> not found"
  # (reference §3.4, NHS test ScrTest.whenEndpointNotFoundThenExpect404: "/NotFound not found").
  @SCRA-TRN-004
  Scenario: An unknown path answers 404
    Given a patient "A" with no SCR
    When I send GET "/NotFound"
    Then the response status is 404
    And the response is an OperationOutcome "not-found" with the text "/NotFound not found"
    And the response matches the snapshot "not-found"

  @SCRA-TRN-004
  Scenario: A valid upload POSTed to an unknown path answers 404
    Given a patient "A" with no SCR
    When I send a valid upload for patient "A" to "/Composition"
    Then the response status is 404
    And the response is an OperationOutcome "not-found" with the text "/Composition not found"

  @SCRA-TRN-005
  Scenario Outline: An unsupported method answers 405 with the allowed methods
    Given a patient "A" with no SCR
    When I send "<method>" to "<path>"
    Then the response status is <status>
    And the response is an OperationOutcome "not-supported" with the text "Request method '<method>' not supported"
    And the response header "Allow" is "<allow>"

    Examples:
      | method | path               | status | allow    |
      | PUT    | /Bundle            | 405    | GET,POST |
      | DELETE | /Bundle            | 405    | GET,POST |
      | DELETE | /DocumentReference | 405    | GET      |
      | PUT    | /DocumentReference | 405    | GET      |
      | GET    | /$setPermission    | 405    | POST     |
      | GET    | /AuditEvent        | 405    | POST     |

  @SCRA-TRN-005
  Scenario: A valid upload POSTed to /DocumentReference answers 405
    Given a patient "A" with no SCR
    When I send a valid upload for patient "A" to "/DocumentReference"
    Then the response status is 405
    And the response is an OperationOutcome "not-supported" with the text "Request method 'POST' not supported"
    And the response header "Allow" is "GET"
    And the response matches the snapshot "method-not-allowed"

  @SCRA-TRN-006
  Scenario Outline: A POST body of another media type answers 415
    Given a patient "A" with no SCR
    When I send a valid <kind> for patient "A" with Content-Type "<type>"
    Then the response status is <status>
    And the response is an OperationOutcome "not-supported" with the text "Content type '<type>' not supported"

    Examples:
      | kind       | type            | status |
      | upload     | text/plain      | 415    |
      | permission | text/plain      | 415    |
      | alert      | text/plain      | 415    |
      | upload     | application/xml | 415    |

  # The backend's own answer, without a gateway in front (behind one the UserRoleService answers first).
  @SCRA-TRN-007 @open-access
  Scenario Outline: Every POST requires NHSD-Session-URID
    Given a patient "A" with no SCR
    And the request header "NHSD-Session-URID" is absent
    When I send a valid <kind> for patient "A" with Content-Type "application/fhir+json"
    Then the response status is <status>
    And the response is an OperationOutcome "value" with the text "Required request header 'NHSD-Session-URID' for method parameter type String is not present"

    Examples:
      | kind       | status |
      | upload     | 400    |
      | permission | 400    |
      | alert      | 400    |

  @SCRA-TRN-008
  Scenario: A POST body that is not JSON is refused
    Given a patient "A" with no SCR
    When I send POST "/Bundle" with the body:
      """
      this is not JSON
      """
    Then the response status is 400
    And the response JSON at "/resourceType" is "OperationOutcome"
    And the response JSON at "/issue/0/severity" is "error"
    And the response Content-Type is "application/fhir+json"
    And the response matches the snapshot "not-json"
