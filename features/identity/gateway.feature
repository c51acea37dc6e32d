Feature: The API gateway's access control in front of the SCR API
  Before anything reaches the SCR backend the Apigee proxy verifies the access token, derives the access
  mode from its scopes and applies the mode's rules. Token failures answer 401 with an ACCESS_DENIED
  OperationOutcome served as application/json. Application-restricted tokens may only GET
  /DocumentReference, GET /Bundle and POST /Bundle: other GETs and POSTs answer 401 UNKNOWN_ERROR, other
  methods 403 INVALID_METHOD. For user-restricted tokens the UserRoleService resolves the user's role
  from NHSD-Session-URID (which must be one of the user's roles), else the id_token's selected_roleid,
  else the user's only role, and refuses with 400 INVALID_VALUE and its own text otherwise
  (reference §3.1, §3.5, §10.6, §10.7, §10.8).

  @SCRA-GTW-001
  Scenario: A request without an access token is refused
    Given a patient "A" with an SCR
    And I send no access token
    When I request the SCR id for patient "A"
    Then the response is the gateway's access-denied OperationOutcome "Invalid access token"
    And the response Content-Type is "application/json"
    And the response matches the snapshot "gateway-no-token"

  @SCRA-GTW-001 @SCRA-GTW-002
  Scenario Outline: A request with an empty or unknown access token is refused
    Given a patient "A" with an SCR
    And I send the access token "<token>"
    When I request the SCR id for patient "A"
    Then the response is the gateway's access-denied OperationOutcome "<display>"
    And the response Content-Type is "application/json"

    Examples:
      | case          | token                             | display              |
      | empty token   |                                   | Invalid access token |
      | unknown token | not-a-token-the-service-issued-42 | Invalid Access Token |

  @SCRA-GTW-003
  Scenario Outline: An application-restricted token may read the SCR
    Given a patient "A" with an SCR
    And I hold an application-restricted token
    When I send GET "<path>"
    Then the response status is 200
    And the response JSON at "<pointer>" is "{scr:A}"

    Examples:
      | endpoint               | path                                                                                                                     | pointer                                  |
      | GET /DocumentReference | /DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number\|{nhs:A}                                                    | /entry/0/resource/masterIdentifier/value |
      | GET /Bundle            | /Bundle?composition.identifier={scr:A}&composition.subject:Patient.identifier=https://fhir.nhs.uk/Id/nhs-number\|{nhs:A} | /entry/0/resource/identifier/value       |

  @SCRA-GTW-003
  Scenario: An application-restricted token may upload an SCR
    Given a patient "A" with no SCR
    And I hold an application-restricted token
    When I upload an SCR for patient "A"
    Then the response status is 201
    When I request the SCR id for patient "A"
    Then the response holds the SCR id of patient "A"

  @SCRA-GTW-004
  Scenario Outline: An application-restricted token may not set the permission nor raise an alert
    Given a patient "A" with an SCR
    And I hold an application-restricted token
    When I send a valid <kind> for patient "A" to "<path>"
    Then the response is the gateway's "UNKNOWN_ERROR" OperationOutcome with status 401, code "unknown" and diagnostics "Your app has insufficient permissions to use this method. Please contact support."
    And the response Content-Type is "application/json"

    Examples:
      | endpoint             | kind       | path            |
      | POST /$setPermission | permission | /$setPermission |
      | POST /AuditEvent     | alert      | /AuditEvent     |

  @SCRA-GTW-004
  Scenario Outline: An application-restricted token may use no other method or GET
    Given a patient "A" with an SCR
    And I hold an application-restricted token
    When I send "<method>" to "<path>"
    Then the response is the gateway's "<coding>" OperationOutcome with status <status>, code "<code>" and diagnostics "Your app has insufficient permissions to use this method. Please contact support."

    Examples:
      | method | path               | status | code      | coding         |
      | PUT    | /Bundle            | 403    | forbidden | INVALID_METHOD |
      | DELETE | /Bundle            | 403    | forbidden | INVALID_METHOD |
      | PATCH  | /DocumentReference | 403    | forbidden | INVALID_METHOD |
      | GET    | /AuditEvent        | 401    | unknown   | UNKNOWN_ERROR  |
      | GET    | /$setPermission    | 401    | unknown   | UNKNOWN_ERROR  |

  @SCRA-GTW-005 @mock-only
  Scenario Outline: A user-restricted token may use every operation
    Given a patient "A" with no SCR
    And I hold a user-restricted token for persona "default-clinician" by combined authentication
    When I send a valid <kind> for patient "A" to "<path>"
    Then the response status is 201
    And the mock's audit trail records the request as user "910000000001" in role "555254242102"

    Examples:
      | endpoint             | kind       | path            |
      | POST /Bundle         | upload     | /Bundle         |
      | POST /$setPermission | permission | /$setPermission |
      | POST /AuditEvent     | alert      | /AuditEvent     |

  @SCRA-GTW-005 @mock-only
  Scenario: A user-restricted token may read the SCR id
    Given a patient "A" with an SCR
    And I hold a user-restricted token for persona "default-clinician" by combined authentication
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"

  @SCRA-GTW-006 @mock-only
  Scenario Outline: The user's role is resolved from the header, the selected role or the only role
    Given a patient "A" with an SCR
    And I hold a user-restricted token for persona "<persona>" by <auth> authentication
    And the request header "NHSD-Session-URID" is <urid>
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"
    And the mock's audit trail records the request as user "<user>" in role "<role>"

    Examples:
      | case                                     | persona           | auth     | urid           | user         | role         |
      | one of several roles named by header     | default-clinician | combined | "555254240100" | 910000000001 | 555254240100 |
      | another of several roles named by header | default-clinician | combined | "555254241101" | 910000000001 | 555254241101 |
      | the only role, no header                 | single-role       | combined | absent         | 787807429512 | 787807430100 |
      | selected_roleid, combined, no header     | selected-role     | combined | absent         | 656005750107 | 656014454103 |
      | selected_roleid, separate, no header     | selected-role     | separate | absent         | 656005750107 | 656014454103 |

  @SCRA-GTW-006 @mock-only
  Scenario Outline: A role that cannot be resolved is refused by the UserRoleService
    Given a patient "A" with an SCR
    And I hold a user-restricted token for persona "<persona>" by <auth> authentication
    And the request header "NHSD-Session-URID" is <urid>
    When I request the SCR id for patient "A"
    Then the response is the gateway's "INVALID_VALUE" OperationOutcome with status 400, code "400" and diagnostics "<diagnostics>"

    Examples:
      | case                                 | persona           | auth     | urid           | diagnostics                                                       |
      | several roles, no header             | multi-role        | combined | absent         | multiple roles found in user info, please check nhsd-session-urid |
      | several roles, no header (clinician) | default-clinician | combined | absent         | multiple roles found in user info, please check nhsd-session-urid |
      | header names a role the user lacks   | default-clinician | combined | "999999999999" | nhsd-session-urid is invalid                                      |
      | separate auth, no selected_roleid    | multi-role        | separate | absent         | selected_roleid is missing in your token                          |
      | separate auth with a header          | selected-role     | separate | "555254242102" | unable to retrieve user info                                      |

  # The backend resolves $setPermission's job role from the token user's userinfo roles (reference §4.4);
  # this persona's role is not one of the sandbox's canned roles, so only the token's own roles can resolve it.
  # The client names the role: the proxy does not (features/consent/set_permission.feature, SCRA-EDG-009).
  @SCRA-GTW-005 @mock-only
  Scenario: The job role of $setPermission comes from the token user's roles
    Given a patient "A" with no SCR
    And I hold a user-restricted token for persona "single-role" by combined authentication
    And the request header "NHSD-Session-URID" is "787807430100"
    When I set permission to view "Ask" for patient "A"
    Then the response status is 201
    And the mock's audit trail records the request as user "787807429512" in role "787807430100"
    When I request the SCR id for patient "A"
    Then the response is an empty searchset Bundle
