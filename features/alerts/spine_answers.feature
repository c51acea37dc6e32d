Feature: What the adaptor answers when Spine refuses a privacy alert
  The adaptor sends the alert to Spine's FHIR alert endpoint. When Spine does not answer 2xx, the adaptor
  reads Spine's OperationOutcome and answers with its first issue's details.coding display: 400 "value"
  for a Spine 4xx, 500 "exception" (severity fatal) for anything else (reference §4.5; AlertService).
  Spine's answer is arranged on the mock (/_admin/spine), so these scenarios are mock-only. Behind the live
  proxy a backend 500 becomes the proxy's catch-all answer, so the 500 runs without a gateway
  (@open-access).

  @SCRA-ALR-012 @mock-only
  Scenario Outline: A Spine 4xx on the alert answers 400 with Spine's display, and nothing is recorded
    Given a patient "A" with no SCR
    And Spine answers the next privacy alert for patient "A" with HTTP <spine status> and the display "Invalid value - XYZ in field 'NHS_NUMBER'"
    When I raise a privacy alert of type "2" and subtype "5" for patient "A"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Invalid value - XYZ in field 'NHS_NUMBER'"
    And the mock has recorded no privacy alert for patient "A"

    Examples:
      | spine status |
      | 400          |
      | 422          |

  @SCRA-ALR-012 @mock-only @open-access
  Scenario Outline: A Spine 5xx on the alert answers 500 with Spine's display
    Given a patient "A" with no SCR
    And Spine answers the next privacy alert for patient "A" with HTTP <spine status> and the display "Service Unavailable"
    When I raise a privacy alert of type "2" and subtype "5" for patient "A"
    Then the response status is 500
    And the response is an OperationOutcome "exception" with severity "fatal" and the text "Service Unavailable"

    Examples:
      | spine status |
      | 500          |
      | 503          |

  @SCRA-ALR-012 @mock-only
  Scenario: Spine's refusal is used once: the next alert is accepted and recorded
    Given a patient "A" with no SCR
    And Spine answers the next privacy alert for patient "A" with HTTP 422 and the display "Invalid value - XYZ in field 'NHS_NUMBER'"
    When I raise a privacy alert of type "2" and subtype "5" for patient "A"
    Then the response status is 400
    When I raise a privacy alert of type "2" and subtype "5" for patient "A"
    Then the response status is 201
    And the mock has recorded a privacy alert for patient "A" with type "2" and subtype "5"
