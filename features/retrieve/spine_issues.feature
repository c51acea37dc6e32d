Feature: What the adaptor answers when Spine reports a detected issue
  Spine's HL7 answers carry justifyingDetectedIssueEvents. Only when the first is an error does the adaptor
  fail, and its PSIS code decides the answer: 400, 401, 410 and 430 → 400 "value"; 420 → 403 "forbidden";
  502 → 503 "transient"; any other → 500 "exception" (severity fatal). The text joins every issue as
  "Code: <code>, Display: <display>" with ";" (reference §5; SpineDetectedIssuesHandler). Spine's answer
  is arranged on the mock (/_admin/spine), so these scenarios are mock-only; the 500 runs without a
  gateway (@open-access), since behind the live proxy a backend 500 becomes the proxy's catch-all answer.

  @SCRA-RET-014 @mock-only
  Scenario Outline: The first PSIS code decides the status of a failed SCR id request
    Given a patient "A" with an SCR
    And Spine answers the next "get-scr-id" request for patient "A" with the detected issues [{"code":"<psis>","display":"<display>"},{"code":"35120","display":"[PSIS-35120] - Detail"}]
    When I request the SCR id for patient "A"
    Then the response status is <status>
    And the response is an OperationOutcome "<issue code>" with the text "Code: <psis>, Display: <display>;Code: 35120, Display: [PSIS-35120] - Detail"

    Examples:
      | psis | display                 | status | issue code |
      | 400  | Invalid Request         | 400    | value      |
      | 401  | Duplicate message id    | 400    | value      |
      | 410  | Logical inconsistency   | 400    | value      |
      | 430  | Invalid update          | 400    | value      |
      | 420  | Access control          | 403    | forbidden  |
      | 502  | Service not available   | 503    | transient  |

  @SCRA-RET-014 @mock-only @open-access
  Scenario Outline: Any other PSIS code fails the request with 500
    Given a patient "A" with an SCR
    And Spine answers the next "<operation>" request for patient "A" with the detected issues [{"code":"<psis>","display":"Unexpected"}]
    When I <request>
    Then the response status is 500
    And the response is an OperationOutcome "exception" with severity "fatal" and the text "Code: <psis>, Display: Unexpected"

    Examples:
      | operation  | psis | request                                   |
      | get-scr-id | 440  | request the SCR id for patient "A"        |
      | get-scr    | 500  | read the current SCR for patient "A"      |

  @SCRA-RET-014 @mock-only
  Scenario: A warning first is no error: the SCR id is returned
    Given a patient "A" with an SCR
    And Spine answers the next "get-scr-id" request for patient "A" with the detected issues [{"code":"210","display":"Case Instance not found","error":false},{"code":"400","display":"Invalid Request"}]
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"

  @SCRA-RET-014 @mock-only
  Scenario: A detected issue on the upload's consent check refuses the upload and stores nothing
    Given a patient "A" with no SCR
    And Spine answers the next "upload-scr" request for patient "A" with the detected issues [{"code":"430","display":"Invalid update"}]
    When I upload an SCR for patient "A"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Code: 430, Display: Invalid update"
    When I request the SCR id for patient "A"
    Then the response is an empty searchset Bundle

  @SCRA-RET-014 @mock-only
  Scenario: Spine unavailable on $setPermission answers 503 and the permission is not changed
    Given a patient "A" with an SCR
    And Spine answers the next "set-permission" request for patient "A" with the detected issues [{"code":"502","display":"Service not available"}]
    When I set permission to view "No" for patient "A"
    Then the response status is 503
    And the response is an OperationOutcome "transient" with the text "Code: 502, Display: Service not available"
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response shows permission to view "Ask"
