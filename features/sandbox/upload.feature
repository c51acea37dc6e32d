Feature: Sandbox: upload the GP Summary
  The sandbox accepts a valid GP Summary upload only for the magic NHS number 9000000009 (201, empty
  body) and refuses any other patient with the no-consent 403. Validation still runs first, so an
  invalid Bundle answers 400 with the validation message for any patient (reference §6).

  @sandbox @SCRA-SBX-005 @status-only
  Scenario: A valid upload for the magic patient is accepted
    Given the sandbox patient "A" is "9000000009"
    When I upload an SCR for patient "A"
    Then the response status is 201
    And the response body is empty

  @sandbox @SCRA-SBX-005
  Scenario Outline: A valid upload for any other patient is refused
    Given the sandbox patient "A" is "<nhs number>"
    When I upload an SCR for patient "A"
    Then the response status is 403
    And the response is an OperationOutcome "forbidden" with the text "Code: 420, Display: Business condition related to access control  which prevents the action being performed by PSIS;Code: 30418, Display: [PSIS-30418] - ACF does not permit access to resource"

    Examples:
      | nhs number | source             |
      | 9111231130 | spec sandbox table |
      | 9995333333 | NHS smoke test     |

  @sandbox @SCRA-SBX-005
  Scenario Outline: An invalid upload is rejected with the validation message for any patient
    Given the sandbox patient "A" is "<nhs number>"
    When I upload an SCR for patient "A" with the change "remove /entry[Composition]"
    Then the response status is <status>
    And the response is an OperationOutcome "value" with the text "<text>"

    Examples:
      | nhs number | status | text                             |
      | 9000000009 | 400    | Composition missing from payload |
      | 9111231130 | 400    | Composition missing from payload |

  @sandbox @SCRA-SBX-005 @SCRA-TRN-007
  Scenario: An upload without NHSD-Session-URID is rejected
    Given the sandbox patient "A" is "9000000009"
    And the request header "NHSD-Session-URID" is absent
    When I upload an SCR for patient "A"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Required request header 'NHSD-Session-URID' for method parameter type String is not present"
