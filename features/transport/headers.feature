Feature: Request and correlation ids
  Every request may carry X-Request-ID and X-Correlation-ID. If present each must be a UUID of any
  version and either case; a malformed one is refused with 400 before anything else — X-Correlation-ID
  is checked first — and that refusal carries no echo headers. Otherwise both headers are echoed on
  the response, or generated as upper-case UUIDs when the client sent none (reference §3.1, §3.3, §3.4).

  @SCRA-TRN-001
  Scenario Outline: A malformed request or correlation id is refused without echo headers
    Given a patient "A" with no SCR
    And the request header "<header>" is "<value>"
    When I request the SCR id for patient "A"
    Then the response status is <status>
    And the response is an OperationOutcome "value" with the text "Invalid <header>. Should be a UUIDv4 matching "^[0-9a-fA-F]{8}+-[0-9a-fA-F]{4}+-[0-9a-fA-F]{4}+-[0-9a-fA-F]{4}+-[0-9a-fA-F]{12}+$""
    And the response header "X-Request-ID" is absent
    And the response header "X-Correlation-ID" is absent

    Examples:
      | header           | value                                | status |
      | X-Correlation-ID | not-a-uuid                           | 400    |
      | X-Correlation-ID | 0f8fad5bd9cb469fa16570867728950e     | 400    |
      | X-Correlation-ID | 0f8fad5b-d9cb-469f-a165-70867728950  | 400    |
      | X-Correlation-ID | 0f8fad5b-d9cb-469f-a165-70867728950g | 400    |
      | X-Request-ID     | not-a-uuid                           | 400    |
      | X-Request-ID     | 0f8fad5bd9cb469fa16570867728950e     | 400    |
      | X-Request-ID     | 0f8fad5b-d9cb-469f-a165-70867728950  | 400    |
      | X-Request-ID     | 0f8fad5b-d9cb-469f-a165-70867728950g | 400    |

  @SCRA-TRN-001
  Scenario: With both ids malformed the X-Correlation-ID error is reported
    Given a patient "A" with no SCR
    And the request header "X-Correlation-ID" is "not-a-uuid"
    And the request header "X-Request-ID" is "not-a-uuid-either"
    When I request the SCR id for patient "A"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Invalid X-Correlation-ID. Should be a UUIDv4 matching "^[0-9a-fA-F]{8}+-[0-9a-fA-F]{4}+-[0-9a-fA-F]{4}+-[0-9a-fA-F]{4}+-[0-9a-fA-F]{12}+$""
    And the response matches the snapshot "invalid-correlation-id"

  @SCRA-TRN-001
  Scenario: A malformed request id refuses an upload before it is processed
    Given a patient "A" with an SCR
    And the request header "X-Request-ID" is "not-a-uuid"
    When I upload an SCR for patient "A" replacing the current one
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Invalid X-Request-ID. Should be a UUIDv4 matching "^[0-9a-fA-F]{8}+-[0-9a-fA-F]{4}+-[0-9a-fA-F]{4}+-[0-9a-fA-F]{4}+-[0-9a-fA-F]{12}+$""
    Given the request header "X-Request-ID" is "{uuid}"
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"

  @SCRA-TRN-001 @SCRA-TRN-002
  Scenario Outline: UUIDs of any version and either case are accepted and echoed
    Given a patient "A" with an SCR
    And the request header "X-Request-ID" is "<id>"
    And the request header "X-Correlation-ID" is "<id>"
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"
    And the response header "X-Request-ID" is "<id>"
    And the response header "X-Correlation-ID" is "<id>"

    Examples:
      | kind            | id                                   |
      | version 1       | c232ab00-9414-11ec-b3c8-9f6bdeced846 |
      | version 4 lower | 0f8fad5b-d9cb-469f-a165-70867728950e |
      | version 4 upper | 0F8FAD5B-D9CB-469F-A165-70867728950E |
      | version 7 mixed | 01890A5D-ac96-774b-BCCE-b302099a8057 |
      | nil UUID        | 00000000-0000-0000-0000-000000000000 |

  @SCRA-TRN-002
  Scenario: The ids sent are echoed on a successful response
    Given a patient "A" with an SCR
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"
    And the response header "X-Request-ID" echoes the request
    And the response header "X-Correlation-ID" echoes the request

  @SCRA-TRN-002
  Scenario: The ids sent are echoed on a validation error
    Given a patient "A" with no SCR
    When I send GET "/DocumentReference?patient={nhs:A}"
    Then the response status is 400
    And the response header "X-Request-ID" echoes the request
    And the response header "X-Correlation-ID" echoes the request

  @SCRA-TRN-002
  Scenario: The ids sent are echoed on a refusal for lack of consent
    Given a patient "A" with an SCR
    And patient "A" has permission to view "No"
    When I request the SCR id for patient "A"
    Then the response status is 403
    And the response is an OperationOutcome "forbidden" with the text "Code: 420, Display: Business condition related to access control  which prevents the action being performed by PSIS;Code: 30418, Display: [PSIS-30418] - ACF does not permit access to resource"
    And the response header "X-Request-ID" echoes the request
    And the response header "X-Correlation-ID" echoes the request

  @SCRA-TRN-002
  Scenario: The ids sent are echoed on an upload
    Given a patient "A" with no SCR
    When I upload an SCR for patient "A"
    Then the response status is 201
    And the response header "X-Request-ID" echoes the request
    And the response header "X-Correlation-ID" echoes the request
    When I request the SCR id for patient "A"
    Then the response holds the SCR id of patient "A"

  @SCRA-TRN-002
  Scenario Outline: A missing id is generated as an upper-case UUID
    Given a patient "A" with no SCR
    And the request header "<header>" is absent
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response header "<header>" is a generated upper-case UUID

    Examples:
      | header           |
      | X-Request-ID     |
      | X-Correlation-ID |
