Feature: Safe re-sends of an upload after a gateway timeout
  POST /Bundle answers 504 transient "Request processing timed out. Spine POST + polling GET has timed out"
  when Spine's answer does not come in time; "This does not imply the request has failed or been rejected.
  Re-send the request using the same X-Request-ID value" (reference §3.4, §3.5; spec POST /Bundle 504). The
  mock remembers completed uploads by X-Request-ID and body, so a re-send is answered 201 without storing the
  document twice, whether or not Spine had stored it before the timeout (derived).

  @SCRA-FLT-006 @mock-only
  Scenario: An upload that timed out after Spine stored it is re-sent with the same X-Request-ID and held once
    Given a patient "A" with no SCR
    And the mock answers the next "upload-scr" request for patient "A" with "gateway-timeout" and {"processed": true, "delayMs": 100}
    When I upload an SCR for patient "A"
    Then the response status is 504
    And the response is an OperationOutcome "transient" with the text "Request processing timed out. Spine POST + polling GET has timed out"
    And the response header "X-Request-ID" echoes the request
    And the mock holds 1 SCR for patient "A"
    When I re-send the upload for patient "A" with the same X-Request-ID
    Then the response status is 201
    And the response body is empty
    And the mock holds 1 SCR for patient "A"
    When I request the SCR id for patient "A"
    Then the response holds the SCR id of patient "A"
    When I re-send the upload for patient "A" with a new X-Request-ID
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text:
      """
      Spine processing finished with errors:
      - 400: Invalid Request
      - 30134: [PSIS-30134] - Duplicate event with eventId {scr:A} and nhsNumber {nhs:A}.
      """
    And the mock holds 1 SCR for patient "A"

  @SCRA-FLT-007 @mock-only
  Scenario: An upload that timed out before Spine stored it is stored once by its re-sends
    Given a patient "A" with no SCR
    And the mock answers the next "upload-scr" request for patient "A" with "gateway-timeout" and {"delayMs": 100}
    When I upload an SCR for patient "A"
    Then the response status is 504
    And the response is an OperationOutcome "transient" with the text "Request processing timed out. Spine POST + polling GET has timed out"
    And the mock holds 0 SCRs for patient "A"
    When I request the SCR id for patient "A"
    Then the response is an empty searchset Bundle
    When I re-send the upload for patient "A" with the same X-Request-ID
    Then the response status is 201
    When I re-send the upload for patient "A" with the same X-Request-ID
    Then the response status is 201
    And the mock holds 1 SCR for patient "A"
    When I request the SCR id for patient "A"
    Then the response holds the SCR id of patient "A"
