Feature: Sandbox: set the permission to view
  The sandbox records nothing but answers $setPermission from canned responses: 201 for the magic NHS
  number 9000000009 when NHSD-Session-URID is one of the three roles in its canned CIS2 userinfo, the
  Spine PSIS-35160 error for any other NHS number, and — because the backend reads the bearer token
  for the job-role lookup — a 400 when the Authorization header is missing (reference §4.4, §6).

  @sandbox @SCRA-SBX-006 @status-only
  Scenario Outline: The magic patient's permission can be set with a canned role
    Given the sandbox patient "A" is "9000000009"
    And the request header "NHSD-Session-URID" is "<urid>"
    When I set permission to view "<code>" for patient "A"
    Then the response status is 201
    And the response body is empty

    Examples:
      | urid         | code | role                        |
      | 555254240100 | Yes  | R8001 Nurse                 |
      | 555254242102 | No   | R8000 Clinical Practitioner |
      | 555254241101 | Ask  | R8003 Health Professional   |

  @sandbox @SCRA-SBX-006
  Scenario: Any other patient's permission is refused by Spine with PSIS-35160
    Given the sandbox patient "A" is "9111231130"
    And the request header "NHSD-Session-URID" is "555254240100"
    When I set permission to view "Yes" for patient "A"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Code: 400, Display: Invalid Request;Code: 35160, Display: [PSIS-35160] - Invalid input message. Mandatory field NHS Number is missing or incorrect"

  @sandbox @SCRA-SBX-006 @SCRA-SBX-008
  Scenario: Setting permission without an Authorization header is rejected
    Given the sandbox patient "A" is "9000000009"
    And the request header "NHSD-Session-URID" is "555254240100"
    And the request header "Authorization" is absent
    When I set permission to view "Yes" for patient "A"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Required request header 'Authorization' for method parameter type String is not present"
