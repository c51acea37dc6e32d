Feature: Set the patient's permission to view
  POST /$setPermission records the patient's SCR consent preference in the Spine Access Control
  Service: Yes, No or Ask (any letter case). It answers 201 with an empty body, and the recorded
  preference then governs every later read and upload: No refuses them with 403, Yes and Ask allow
  them and are shown on the SCR id. The Parameters body, the NHS number, the session role and the
  Authorization header are all checked, each with an exact message (reference §4.4, §7).

  # The read that follows shows the code was taken, not merely answered 201: Yes and Ask appear on the
  # SCR id, No refuses the read (reference §4.1, §7).
  @SCRA-CON-001
  Scenario Outline: Each permission code is accepted in any letter case
    Given a patient "A" with an SCR
    When I set permission to view "<code>" for patient "A"
    Then the response status is 201
    And the response body is empty
    When I request the SCR id for patient "A"
    Then the response status is <read status>
    And the response JSON at "<pointer>" is "<value>"

    Examples:
      | code | read status | pointer                                          | value     |
      | Yes  | 200         | /entry/0/resource/securityLabel/0/coding/0/code | Yes       |
      | No   | 403         | /issue/0/code                                    | forbidden |
      | Ask  | 200         | /entry/0/resource/securityLabel/0/coding/0/code | Ask       |
      | yes  | 200         | /entry/0/resource/securityLabel/0/coding/0/code | Yes       |
      | NO   | 403         | /issue/0/code                                    | forbidden |
      | aSk  | 200         | /entry/0/resource/securityLabel/0/coding/0/code | Ask       |

  @SCRA-CON-002
  Scenario Outline: A permission of Yes or Ask is shown on the SCR id and the SCR can be read
    Given a patient "A" with an SCR
    When I set permission to view "<code>" for patient "A"
    Then the response status is 201
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"
    And the response shows permission to view "<shown>"
    When I read the current SCR for patient "A"
    Then the response status is 200
    And the response is the SCR document of patient "A"

    Examples:
      | code | shown |
      | Yes  | Yes   |
      | Ask  | Ask   |
      | yes  | Yes   |
      | aSk  | Ask   |

  @SCRA-CON-002
  Scenario Outline: A permission of No refuses every later read
    Given a patient "A" with an SCR
    When I set permission to view "<code>" for patient "A"
    Then the response status is 201
    When I request the SCR id for patient "A"
    Then the response status is 403
    And the response is an OperationOutcome "forbidden" with the text "Code: 420, Display: Business condition related to access control  which prevents the action being performed by PSIS;Code: 30418, Display: [PSIS-30418] - ACF does not permit access to resource"
    When I read the current SCR for patient "A"
    Then the response status is 403
    And the response is an OperationOutcome "forbidden" with the text "Code: 420, Display: Business condition related to access control  which prevents the action being performed by PSIS;Code: 30418, Display: [PSIS-30418] - ACF does not permit access to resource"

    Examples:
      | code |
      | No   |
      | NO   |

  @SCRA-CON-002
  Scenario: Setting Yes after No makes the SCR readable again
    Given a patient "A" with an SCR
    And patient "A" has permission to view "No"
    When I set permission to view "Yes" for patient "A"
    Then the response status is 201
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"
    And the response shows permission to view "Yes"
    When I read the current SCR for patient "A"
    Then the response status is 200
    And the response is the SCR document of patient "A"

  @SCRA-CON-002
  Scenario: A permission of No refuses uploads
    Given a patient "A" with no SCR
    When I set permission to view "No" for patient "A"
    Then the response status is 201
    When I upload an SCR for patient "A"
    Then the response status is 403
    And the response is an OperationOutcome "forbidden" with the text "Code: 420, Display: Business condition related to access control  which prevents the action being performed by PSIS;Code: 30418, Display: [PSIS-30418] - ACF does not permit access to resource"

  @SCRA-CON-002
  Scenario: A permission of Ask still allows uploads
    Given a patient "A" with no SCR
    When I set permission to view "Ask" for patient "A"
    Then the response status is 201
    When I upload an SCR for patient "A"
    Then the response status is 201
    And the response body is empty
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"
    And the response shows permission to view "Ask"

  @SCRA-CON-003
  Scenario Outline: A malformed Parameters body is rejected with the exact message
    Given a patient "A" with no SCR
    When I set permission to view for patient "A" with the change "<change>"
    Then the response status is <status>
    And the response is an OperationOutcome "value" with the text "<text>"

    Examples:
      | case                               | change                                                                                                                                      | status | text                                                                                                                              |
      | setPermissions removed             | remove /parameter/0                                                                                                                         | 400    | Parameter named 'setPermissions' name not found                                                                                   |
      | setPermissions renamed             | set /parameter/0/name = "getPermissions"                                                                                                    | 400    | Parameter named 'setPermissions' name not found                                                                                   |
      | setPermissions twice               | add /parameter/- = {"name":"setPermissions"}                                                                                                | 400    | Exactly 1 parameter named 'setPermissions' expected                                                                               |
      | nhsNumber part missing             | remove /parameter/0/part/0                                                                                                                  | 400    | Missing value for Parameter.Part 'nhsNumber'                                                                                      |
      | nhsNumber without value            | remove /parameter/0/part/0/valueString                                                                                                      | 400    | Missing value for Parameter.Part 'nhsNumber'                                                                                      |
      | nhsNumber twice                    | add /parameter/0/part/- = {"name":"nhsNumber","valueString":"{nhs:A}"}                                                                      | 400    | Exactly 1 Parameter.Part named 'nhsNumber' with not empty value expected                                                          |
      | permissionCode missing             | remove /parameter/0/part/1                                                                                                                  | 400    | Parameter.Part named 'permissionCode' with valueCoding.system https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission not found          |
      | permissionCode with another system | set /parameter/0/part/1/valueCoding/system = "https://fhir.nhs.uk/CodeSystem/SCR-AlertType"                                                 | 400    | Parameter.Part named 'permissionCode' with valueCoding.system https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission not found          |
      | permissionCode twice               | add /parameter/0/part/- = {"name":"permissionCode","valueCoding":{"system":"https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission","code":"No"}} | 400    | Exactly 1 Parameter.Part named 'permissionCode' with valueCoding.system https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission expected |
      | invalid permission code            | set /parameter/0/part/1/valueCoding/code = "Maybe"                                                                                          | 400    | Invalid value - Maybe in field 'valueCoding.code'                                                                                 |
      | permission code Clear              | set /parameter/0/part/1/valueCoding/code = "Clear"                                                                                          | 400    | Invalid value - Clear in field 'valueCoding.code'                                                                                 |
      | empty NHS number (parser)          | set /parameter/0/part/0/valueString = ""                                                                                                    | 400    | [element="valueString"] Invalid attribute value "": Attribute value must not be empty ("")                                        |
      | another resource type (parser)     | set /resourceType = "Patient"                                                                                                               | 400    | Incorrect resource type found, expected "Parameters" but found "Patient"                                                          |

  @SCRA-CON-004
  Scenario: An NHS number that fails the Modulus 11 check is rejected by Spine
    Given a patient "A" with no SCR
    When I set permission to view for patient "A" with the change "set /parameter/0/part/0/valueString = "9000000008""
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Code: 400, Display: Invalid Request;Code: 35160, Display: [PSIS-35160] - Invalid input message. Mandatory field NHS Number is missing or incorrect"

  # The backend's own answer. On INT the Apigee UserRoleService shared flow rejects an unknown role before
  # the backend is reached (§10.8), so this scenario runs without a gateway in front (@open-access).
  @SCRA-CON-005 @open-access
  Scenario: A session role id that is not one of the user's roles is rejected
    Given a patient "A" with no SCR
    And the request header "NHSD-Session-URID" is "123456789012"
    When I set permission to view "Yes" for patient "A"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Unable to determine Job Role Code for the given RoleID via the SDS Service: 123456789012"

  # The backend's own answer (the sandbox gives it too). On INT Apigee answers 401 for a missing token before
  # the backend is reached (§3.5), so this scenario runs without a gateway in front (@open-access).
  @SCRA-CON-006 @open-access
  Scenario: Setting permission without an Authorization header is rejected
    Given a patient "A" with no SCR
    And the request header "Authorization" is absent
    When I set permission to view "Yes" for patient "A"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Required request header 'Authorization' for method parameter type String is not present"

  @SCRA-TRN-007 @open-access
  Scenario: Setting permission without NHSD-Session-URID is rejected
    Given a patient "A" with no SCR
    And the request header "NHSD-Session-URID" is absent
    When I set permission to view "Yes" for patient "A"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Required request header 'NHSD-Session-URID' for method parameter type String is not present"

  # The UserRoleService resolves a single-role user's role without the header (SFT tests/test_user_roles.py, "one
  # role - no header"), but nothing in SCR's proxy (scr-target.xml) writes the role into NHSD-Session-URID, and
  # AcsController requires the header (@RequestHeader(NHSD_SESSION_URID)): the request passes the gateway and the
  # adaptor refuses it. NHS's own tests always send the header (tests/non_prod/api_tests.py).
  @SCRA-EDG-009 @mock-only
  Scenario: A user-restricted $setPermission without NHSD-Session-URID passes the gateway and is refused by the adaptor
    Given a patient "A" with no SCR
    And I hold a user-restricted token for persona "single-role" by combined authentication
    And the request header "NHSD-Session-URID" is absent
    When I set permission to view "Yes" for patient "A"
    Then the response status is 400
    And the response Content-Type is "application/fhir+json"
    And the response is an OperationOutcome "value" with the text "Required request header 'NHSD-Session-URID' for method parameter type String is not present"

  # AcsRequestValidator casts the value of every part named permissionCode to a Coding: any other value type
  # (or none) fails the cast, Hibernate Validator wraps the failure (HV000028) and the adaptor answers 500.
  # Behind the live proxy a backend 500 becomes the proxy's catch-all answer, so this runs without a gateway
  # in front (@open-access).
  @SCRA-CON-011 @open-access
  Scenario Outline: A permissionCode that is not a Coding makes the adaptor fail with 500
    Given a patient "A" with no SCR
    When I set permission to view for patient "A" with the change "<change>"
    Then the response status is 500
    And the response is an OperationOutcome "exception" with the text "HV000028: Unexpected exception during isValid call."

    Examples:
      | case                           | change                                                                                  |
      | a valueString                  | remove /parameter/0/part/1/valueCoding ; add /parameter/0/part/1/valueString = "Yes"    |
      | a valueCode                    | remove /parameter/0/part/1/valueCoding ; add /parameter/0/part/1/valueCode = "Yes"      |
      | no value at all                | remove /parameter/0/part/1/valueCoding                                                  |
      | after a valid permissionCode   | add /parameter/0/part/- = {"name":"permissionCode","valueString":"No"}                  |
