Feature: Errors of the proxy and the infrastructure in front of the SCR service
  The Apigee proxy answers errors it does not name with its catch-all OperationOutcome (code unknown,
  UNKNOWN_ERROR / Unknown Error, diagnostics with a Message ID) served as application/json: a backend 500 and
  a rate-limit violation (429) both end there. A 429 also carries Retry-After so a client can back off
  (derived). A 503 from the infrastructure is either a FHIR OperationOutcome "Code: 503, Display: Service Not
  Available" or an HTML page containing "503 Service Temporarily Unavailable" (reference §3.5). The faults are
  injected into the embedded mock for the scenario's own patient only.

  @SCRA-FLT-001 @mock-only
  Scenario: A 429 carries the proxy's OperationOutcome and a Retry-After, and the next request is served
    Given a patient "A" with an SCR
    And the mock answers the next "get-scr-id" request for patient "A" with "rate-limited" and {"retryAfter": 60}
    When I request the SCR id for patient "A"
    Then the response is the proxy's UNKNOWN_ERROR OperationOutcome with status 429
    And the response header "Retry-After" is "60"
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"

  @SCRA-FLT-004 @mock-only
  Scenario: A backend 500 reaches the client as the proxy's UNKNOWN_ERROR with a Message ID
    Given a patient "A" with an SCR
    And the mock answers the next "get-scr" request for patient "A" with "server-error"
    When I read the current SCR for patient "A"
    Then the response is the proxy's UNKNOWN_ERROR OperationOutcome with status 500
    When I read the current SCR for patient "A"
    Then the response is the SCR document of patient "A"

  @SCRA-FLT-005 @mock-only
  Scenario: A 503 as a FHIR OperationOutcome
    Given a patient "A" with no SCR
    And the mock answers the next "set-permission" request for patient "A" with "unavailable"
    When I set permission to view "Yes" for patient "A"
    Then the response status is 503
    And the response Content-Type is "application/fhir+json"
    And the response is an OperationOutcome "transient" with the text "Code: 503, Display: Service Not Available"

  @SCRA-FLT-005 @mock-only
  Scenario: A 503 as an HTML page, twice, then the service answers again
    Given a patient "A" with an SCR
    And the mock answers the next 2 "get-scr-id" requests for patient "A" with "unavailable-html"
    When I request the SCR id for patient "A"
    Then the response status is 503
    And the response Content-Type is "text/html"
    And the response body contains "503 Service Temporarily Unavailable"
    And the response is not FHIR JSON: "the response Content-Type is text/html, not application/fhir+json"
    When I request the SCR id for patient "A"
    Then the response status is 503
    When I request the SCR id for patient "A"
    Then the response holds the SCR id of patient "A"
