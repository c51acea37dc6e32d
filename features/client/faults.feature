@client
Feature: How the system under test survives the service's faults
  The proxy rate-limits (429 with Retry-After), the service is sometimes unavailable (503) or times out (504),
  and error pages are HTML. The supplier's system waits as asked, retries a bounded number of times with
  back-off, re-sends an upload with the same X-Request-ID, and shows an error rather than garbage. Faults are
  armed on the client lane's mock for the scenario's own patient.

  @SCRC-FLT-001
  Scenario: A 429 is retried after the Retry-After
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Yes"
    And the mock answers the next "get-scr-id" request for patient "A" with "rate-limited" and {"retryAfter": 1}
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Then the SUT showed the latest SCR of patient "A"
    And the SUT waited as Retry-After asked before retrying "get-scr-id" for patient "A"
    And the SUT sent at most 3 "get-scr-id" requests for patient "A"

  @SCRC-FLT-002
  Scenario: A passing outage is retried with back-off
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Yes"
    And the mock answers the next 2 "get-scr-id" requests for patient "A" with "unavailable"
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Then the SUT showed the latest SCR of patient "A"
    And the SUT backed off at least 100 milliseconds between retries of "get-scr-id" for patient "A"

  @SCRC-FLT-002
  Scenario: A lasting outage is retried a bounded number of times, then reported
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Yes"
    And the mock answers the next 20 "get-scr-id" requests for patient "A" with "unavailable"
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Then the SUT reported "error"
    And the SUT sent at most 3 "get-scr-id" requests for patient "A"
    And the SUT backed off at least 100 milliseconds between retries of "get-scr-id" for patient "A"

  @SCRC-FLT-003
  Scenario: An upload that timed out is re-sent with the same X-Request-ID
    Given a patient "A" with no SCR
    And the mock answers the next "upload-scr" request for patient "A" with "gateway-timeout" and {"delayMs": 50}
    When the SUT uploads a GP Summary for patient "A"
    Then the SUT re-sent the upload for patient "A" with the same X-Request-ID
    And the SUT sent at most 3 "upload-scr" requests for patient "A"

  @SCRC-FLT-004
  Scenario Outline: A <fault> answer is reported as an error, not shown
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Yes"
    And the mock answers the next <count> "get-scr" requests for patient "A" with "<fault>"
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Then the SUT reported "error"

    Examples:
      | fault              | count |
      | malformed-json     | 20    |
      | wrong-content-type | 20    |
      | unavailable-html   | 20    |
