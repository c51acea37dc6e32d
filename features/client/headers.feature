@client
Feature: The headers the system under test sends
  Every request to the SCR API carries the user's role, a request id of its own, FHIR JSON media types, and no
  secret in its URL. Each scenario drives a mix of the SUT's requests — a read with the permission question,
  and an override with its privacy alert — and checks one header rule over all of them. The roles are the NHS
  sandbox user's (reference §6, §9), whom the client-lane clinician mirrors.

  Background:
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Ask"
    And a patient "B" with an SCR
    And patient "B" has permission to view "Ask"

  @SCRC-HDR-001
  Scenario: Every SCR request carries one of the user's roles
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    And the clinician overrides to open the SCR of patient "B" for "emergency" reasons
    Then every SCR request of the SUT carried NHSD-Session-URID "555254240100", "555254242102" or "555254241101"

  @SCRC-HDR-002
  Scenario: Every SCR request has an X-Request-ID of its own
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    And the clinician overrides to open the SCR of patient "B" for "emergency" reasons
    Then every SCR request of the SUT had an X-Request-ID of its own

  @SCRC-HDR-003
  Scenario: X-Correlation-IDs are UUIDs
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    And the clinician overrides to open the SCR of patient "B" for "emergency" reasons
    Then every X-Correlation-ID the SUT sent was a UUID

  @SCRC-HDR-004
  Scenario: The SUT asks for and sends FHIR JSON
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    And the clinician overrides to open the SCR of patient "B" for "emergency" reasons
    Then every SCR request of the SUT accepted "application/fhir+json" and every POST sent it

  @SCRC-HDR-005
  Scenario: No secret travels in a query string
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    And the clinician overrides to open the SCR of patient "B" for "emergency" reasons
    Then the SUT put no secret in a query string
