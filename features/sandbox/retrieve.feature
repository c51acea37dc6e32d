Feature: Sandbox: get the SCR id and read the SCR
  The NHS sandbox is stateless and answers from canned Spine responses: only the magic NHS number
  9000000009 has an SCR (id FA60BE64-1F34-11EB-A2A8-000C29A364EB, permission to view Yes); every other
  NHS number gets the no-consent refusal. These scenarios run unchanged against the mock in its
  sandbox profile and against the real NHS sandbox, and follow the sandbox code where the published
  spec table differs (reference §6).

  @sandbox @SCRA-SBX-001
  Scenario: The magic patient has an SCR with permission to view Yes
    Given the sandbox patient "A" is "9000000009"
    And the SCR id "FA60BE64-1F34-11EB-A2A8-000C29A364EB" for patient "A"
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response JSON at "/entry/0/resource/masterIdentifier/value" is "FA60BE64-1F34-11EB-A2A8-000C29A364EB"
    And the response holds the SCR id of patient "A"
    And the response shows permission to view "Yes"
    And the response matches the snapshot "sandbox-scr-id"

  @sandbox @SCRA-SBX-001
  Scenario: The magic patient's SCR id is found with every optional search parameter
    Given the sandbox patient "A" is "9000000009"
    And the SCR id "FA60BE64-1F34-11EB-A2A8-000C29A364EB" for patient "A"
    When I request the SCR id for patient "A" with "_sort=date&type=http://snomed.info/sct|196981000000101&_count=1"
    Then the response status is 200
    And the response holds the SCR id of patient "A"

  # ⚠ DISCREPANCY (reference §6): the spec's sandbox table says 9000000033 gets "200 Empty Bundle",
  # but the sandbox code answers every NHS number other than 9000000009 with the no-consent stub (403).
  # We follow the code; until the real sandbox is observed a failure here may mean the spec is right.
  @sandbox @SCRA-SBX-002
  Scenario: Any other patient is refused the SCR id
    Given the sandbox patient "A" is "9000000033"
    When I request the SCR id for patient "A"
    Then the response status is 403
    And the response is an OperationOutcome "forbidden" with the text "Code: 420, Display: Business condition related to access control  which prevents the action being performed by PSIS;Code: 30418, Display: [PSIS-30418] - ACF does not permit access to resource"
    And the response matches the snapshot "sandbox-no-consent"

  @sandbox @SCRA-SBX-003
  Scenario: A patient parameter without the NHS number system is rejected
    When I send GET "/DocumentReference?patient=INVALID%20NHS%20NUMBER"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Invalid value - INVALID NHS NUMBER in field 'patient'"

  @sandbox @SCRA-SBX-004
  Scenario: The magic patient's SCR can be read
    Given the sandbox patient "A" is "9000000009"
    And the SCR id "FA60BE64-1F34-11EB-A2A8-000C29A364EB" for patient "A"
    When I read the current SCR for patient "A"
    Then the response status is 200
    And the response JSON at "/resourceType" is "Bundle"
    And the response JSON at "/type" is "searchset"
    And the response JSON at "/entry/0/resource/resourceType" is "Composition"
    And the response matches the snapshot "sandbox-scr-document"

  @sandbox @SCRA-SBX-004
  Scenario: The lower-case form of the canned SCR id returns an empty Bundle
    Given the sandbox patient "A" is "9000000009"
    And the SCR id "FA60BE64-1F34-11EB-A2A8-000C29A364EB" for patient "A"
    When I read the SCR "{scr-lower:A}" for patient "A"
    Then the response status is 200
    And the response is an empty searchset Bundle
    # A control read: the canned id itself returns the document, so the empty answer was about the id.
    When I read the current SCR for patient "A"
    Then the response JSON at "/entry/0/resource/resourceType" is "Composition"

  @sandbox @SCRA-SBX-004
  Scenario: Any other SCR id for the magic patient returns an empty Bundle
    Given the sandbox patient "A" is "9000000009"
    When I read the SCR "29B2BAEB-E2E7-4B08-B30E-55C0F90CABDF" for patient "A"
    Then the response status is 200
    And the response is an empty searchset Bundle
    When I read the SCR "FA60BE64-1F34-11EB-A2A8-000C29A364EB" for patient "A"
    Then the response JSON at "/entry/0/resource/resourceType" is "Composition"

  # ⚠ DISCREPANCY (reference §6): spec table "200 Empty Bundle"; sandbox code: 403 no-consent stub.
  @sandbox @SCRA-SBX-002
  Scenario: Any other patient is refused the SCR document
    Given the sandbox patient "A" is "9000000033"
    When I read the SCR "FA60BE64-1F34-11EB-A2A8-000C29A364EB" for patient "A"
    Then the response status is 403
    And the response is an OperationOutcome "forbidden" with the text "Code: 420, Display: Business condition related to access control  which prevents the action being performed by PSIS;Code: 30418, Display: [PSIS-30418] - ACF does not permit access to resource"

  @sandbox @SCRA-SBX-003
  Scenario: Reading with an invalid id and an invalid NHS number is rejected
    When I send GET "/Bundle?composition.identifier=INVALID%20ID&composition.subject:Patient.identifier=INVALID%20NHS%20NUMBER"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Invalid value - INVALID NHS NUMBER in field 'patient'"
