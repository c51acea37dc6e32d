Feature: Broken transport and broken answers
  What a client meets besides HTTP errors: a connection reset with no answer at all, an answer dribbled out
  slowly, a very large answer, a truncated JSON body and a body under the wrong Content-Type. The harness
  keeps a transport failure of a "try" request for a Then step and reports an answer that is not FHIR JSON
  with the reason (derived robustness requirements; reference §2, §3.3, §3.5).

  @SCRA-FLT-008 @mock-only
  Scenario: A connection reset is recorded as the request's failure and the service answers the next request
    Given a patient "A" with an SCR
    And the mock answers the next "get-scr-id" request for patient "A" with "connection-reset"
    When I try to request the SCR id for patient "A"
    Then the request fails with a connection reset
    When I request the SCR id for patient "A"
    Then the response holds the SCR id of patient "A"

  @SCRA-FLT-008 @mock-only
  Scenario: A request that is answered is not a transport failure
    Given a patient "A" with an SCR
    When I try to request the SCR id for patient "A"
    Then the response holds the SCR id of patient "A"

  @SCRA-FLT-009 @mock-only
  Scenario: A truncated JSON answer is reported as not valid JSON
    Given a patient "A" with an SCR
    And the mock answers the next "get-scr-id" request for patient "A" with "malformed-json"
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response Content-Type is "application/fhir+json"
    And the response is not FHIR JSON: "the response body is not valid JSON (EOF while parsing"

  @SCRA-FLT-009 @mock-only
  Scenario: An answer under the wrong Content-Type is reported with the type received
    Given a patient "A" with an SCR
    And the mock answers the next "get-scr-id" request for patient "A" with "wrong-content-type" and {"contentType": "text/plain"}
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response Content-Type is "text/plain"
    And the response is not FHIR JSON: "the response Content-Type is text/plain, not application/fhir+json"

  @SCRA-FLT-010 @mock-only
  Scenario: An answer dribbled out in chunks is read completely
    Given a patient "A" with an SCR
    And the mock answers the next "get-scr" request for patient "A" with "slow-body" and {"chunks": 4, "chunkDelayMs": 50}
    When I read the current SCR for patient "A"
    Then the response status is 200
    And the response header "Content-Length" is absent
    And the response is the SCR document of patient "A"

  @SCRA-FLT-010 @mock-only
  Scenario: A very large answer is received to its announced size
    Given a patient "A" with no SCR
    And the mock answers the next "get-scr-id" request for patient "A" with "oversized" and {"bytes": 1048576}
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response header "Content-Length" is "1048576"
    And the response is an empty searchset Bundle
