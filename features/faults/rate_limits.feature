Feature: The proxy's rate limits per app
  The live proxy counts each app's requests with a Quota (300 per calendar minute by default) and then a
  SpikeArrest (5 per second by default), which Apigee smooths to one request per 1000/N ms rather than a
  burst of N. A violation answers 429 with the proxy's catch-all OperationOutcome and, in the mock, a
  Retry-After header with the seconds until the app's next request can pass (derived) (reference §3.5;
  proxies/live/apiproxy/policies/SpikeArrest.xml, Quota.xml). The mock counts on the run's virtual clock, so
  these scenarios move it and run alone.

  @SCRA-FLT-001 @SCRA-FLT-002 @mock-only @serial
  Scenario: Five requests a second pass when smoothed to one per 200 ms; the sixth in the same slot is refused
    Given a patient "A" with an SCR
    And the mock limits each app to 5 requests per second
    When I request the SCR id for patient "A" 5 times, 200 milliseconds apart
    Then the last 5 responses have status 200
    When I request the SCR id for patient "A"
    Then the response is the proxy's UNKNOWN_ERROR OperationOutcome with status 429
    And the response header "Retry-After" is "1"
    When 1 second passes
    And I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"

  @SCRA-FLT-002 @mock-only @serial
  Scenario: Two requests at the same instant are a spike even under the per-second rate
    Given a patient "A" with an SCR
    And the mock limits each app to 5 requests per second
    When I request the SCR id for patient "A"
    And I request the SCR id for patient "A"
    Then the response status is 429
    When 199 milliseconds pass
    And I request the SCR id for patient "A"
    Then the response status is 429
    When 1 milliseconds pass
    And I request the SCR id for patient "A"
    Then the response status is 200

  @SCRA-FLT-001 @SCRA-FLT-003 @mock-only @serial
  Scenario: The quota counts requests per calendar minute and says when the next minute starts
    Given a patient "A" with an SCR
    And the mock limits each app to 100 requests per second and 3 per minute
    When the clock reaches the start of the next minute
    And I request the SCR id for patient "A" 3 times, 10 milliseconds apart
    Then the last 3 responses have status 200
    When 10 milliseconds pass
    And I request the SCR id for patient "A"
    Then the response is the proxy's UNKNOWN_ERROR OperationOutcome with status 429
    And the response header "Retry-After" is "60"
    When 59 seconds pass
    And I request the SCR id for patient "A"
    Then the response status is 429
    And the response header "Retry-After" is "1"
    When 1 second passes
    And I request the SCR id for patient "A"
    Then the response status is 200
