Feature: Sandbox: privacy alerts and open access
  The sandbox accepts any privacy alert that passes the alert validation, whatever the NHS number, and
  checks no access token: an invalid or absent Authorization header is ignored by every endpoint except
  $setPermission, which only needs the header to be present (reference §1, §6).

  @sandbox @SCRA-SBX-007 @status-only
  Scenario Outline: A valid privacy alert is accepted
    Given the sandbox patient "A" is "<nhs number>"
    And the SCR id "FA60BE64-1F34-11EB-A2A8-000C29A364EB" for patient "A"
    When I raise a privacy alert of type "<type>" and subtype "<subtype>" for patient "A"
    Then the response status is 201
    And the response body is empty

    Examples:
      | nhs number | type | subtype |
      | 9000000009 | 1    | 1       |
      | 9000000009 | 2    | 5       |
      | 9000000009 | 2    | 3       |
      | 9000000033 | 1    | 4       |

  @sandbox @SCRA-SBX-007
  Scenario: A forbidden alert combination is refused
    Given the sandbox patient "A" is "9000000009"
    When I raise a privacy alert of type "2" and subtype "4" for patient "A"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Invalid combination of alert type '2' and alert subtype '4'."

  @sandbox @SCRA-SBX-008
  Scenario: An invalid access token is ignored when getting the SCR id
    Given the sandbox patient "A" is "9000000009"
    And the SCR id "FA60BE64-1F34-11EB-A2A8-000C29A364EB" for patient "A"
    And the request header "Authorization" is "invalid_token"
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"

  @sandbox @SCRA-SBX-008 @status-only
  Scenario Outline: A privacy alert is accepted whatever the Authorization header
    Given the sandbox patient "A" is "9000000009"
    And the request header "Authorization" is "<authorization>"
    When I raise a privacy alert of type "1" and subtype "1" for patient "A"
    Then the response status is 201

    Examples:
      | authorization |
      | invalid_token |
      | Bearer 1      |

  @sandbox @SCRA-SBX-008 @status-only
  Scenario: A privacy alert is accepted without an Authorization header
    Given the sandbox patient "A" is "9000000009"
    And the request header "Authorization" is absent
    When I raise a privacy alert of type "1" and subtype "1" for patient "A"
    Then the response status is 201
