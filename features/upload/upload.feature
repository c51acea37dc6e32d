Feature: Upload the GP Summary
  A GP system creates or replaces a patient's Summary Care Record by POSTing a FHIR document Bundle
  (the GP Summary) to /Bundle. A successful upload answers 201 with an empty body and becomes the
  patient's latest SCR; an upload whose Composition relatesTo "replaces" the current SCR id supersedes
  it. The body is validated before the consent check, a patient who has opted out is refused with 403,
  and Spine's own rejections are reported as 400 (reference §4.3).

  @SCRA-UPL-001
  Scenario: A valid GP Summary is created and becomes the latest SCR
    Given a patient "A" with no SCR
    When I upload an SCR for patient "A"
    Then the response status is 201
    And the response body is empty
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"
    When I read the current SCR for patient "A"
    Then the response status is 200
    And the response is the SCR document of patient "A"
    And the document holds what was uploaded for patient "A"

  @SCRA-UPL-001
  Scenario: A rejected upload leaves the latest SCR unchanged
    Given a patient "A" with an SCR
    When I upload an SCR for patient "A" with the change "remove /entry[Composition]/resource/section"
    Then the response status is 400
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"

  @SCRA-UPL-002
  Scenario: An upload that replaces the current SCR supersedes it
    Given a patient "A" with an SCR
    When I upload an SCR for patient "A" replacing the current one
    Then the response status is 201
    And the response body is empty
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"
    When I read the current SCR for patient "A"
    Then the response status is 200
    And the response is the SCR document of patient "A"
    And the document holds what was uploaded for patient "A"
    When I read the SCR "{previous-scr:A}" for patient "A"
    Then the response status is 200
    And the response is an empty searchset Bundle

  @SCRA-UPL-007
  Scenario: An upload for a patient with an SCR who has since opted out is refused
    Given a patient "A" with an SCR
    And patient "A" has permission to view "No"
    When I upload an SCR for patient "A"
    Then the response status is 403
    And the response is an OperationOutcome "forbidden" with the text "Code: 420, Display: Business condition related to access control  which prevents the action being performed by PSIS;Code: 30418, Display: [PSIS-30418] - ACF does not permit access to resource"

  @SCRA-UPL-007
  Scenario: An invalid upload for a patient who has opted out gets the validation error, not 403
    Given a patient "A" with no SCR
    And patient "A" has permission to view "No"
    When I upload an SCR for patient "A" with the change "remove /entry[Composition]"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Composition missing from payload"
    And the response matches the snapshot "upload-validation-error"

  @SCRA-UPL-007
  Scenario: A valid upload for a patient who has opted out gets 403
    Given a patient "A" with no SCR
    And patient "A" has permission to view "No"
    When I upload an SCR for patient "A"
    Then the response status is 403
    And the response is an OperationOutcome "forbidden" with the text "Code: 420, Display: Business condition related to access control  which prevents the action being performed by PSIS;Code: 30418, Display: [PSIS-30418] - ACF does not permit access to resource"

  # The backend's own answer: behind the gateway, a user with several roles and no NHSD-Session-URID is
  # refused by the UserRoleService first (§10.8), so this runs without a gateway in front.
  @SCRA-TRN-007 @open-access
  Scenario: An upload without NHSD-Session-URID is rejected
    Given a patient "A" with no SCR
    And the request header "NHSD-Session-URID" is absent
    When I upload an SCR for patient "A"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Required request header 'NHSD-Session-URID' for method parameter type String is not present"

  # The full Spine text holds real newlines ("Spine processing finished with errors:\n- 400: ...").
  # A quoted step string cannot hold a newline, so the details object is compared as a JSON literal,
  # where \n is the JSON escape for the newline.
  @SCRA-UPL-008
  Scenario: Spine rejects an NHS number that fails the Modulus 11 check
    Given a patient "A" with no SCR
    When I upload an SCR for patient "A" with the change "set /entry[Patient]/resource/identifier/0/value = "9000000008""
    Then the response status is 400
    And the response JSON at "/issue/0/severity" is "error"
    And the response JSON at "/issue/0/code" is "value"
    And the response JSON at "/issue/0/details" is {"text":"Spine processing finished with errors:\n- 400: Invalid Request\n- 35160: [PSIS-35160] - Invalid input message. Mandatory field NHS Number is missing or incorrect"}
