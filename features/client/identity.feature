@client
Feature: How the system under test authenticates
  The supplier's system signs client assertions the NHS identity service accepts, renews an expired token once
  (never in a loop), uses each refresh token once, survives the identity service's clock being 10 seconds off,
  and follows a key rotation. The rules are the identity service's (reference §10.1–§10.5); the mock plays it.

  @SCRC-IDN-001
  Scenario: Every client assertion is one the identity service accepts
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Yes"
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Given the SUT's access tokens have been revoked with its refresh tokens
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Then every client assertion the SUT sent was one the identity service accepts

  @SCRC-IDN-002
  Scenario: An expired access token is renewed once and the SCR shown
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Yes"
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Given the SUT's access tokens have expired
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Then the SUT showed the latest SCR of patient "A"
    And at most 1 of the SUT's SCR requests was refused with 401, each followed by a new token

  @SCRC-IDN-003
  Scenario: When the service keeps refusing the token, the SUT stops after one renewal
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Yes"
    And the mock answers the next 4 "get-scr-id" requests for patient "A" with "unauthorized"
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Then the SUT reported "error"
    And at most 2 of the SUT's SCR requests were refused with 401, each followed by a new token
    And the SUT sent at most 2 "get-scr-id" requests for patient "A"

  @SCRC-IDN-004
  Scenario: Each refresh token is used once
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Yes"
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Given the SUT's access tokens have expired
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Given the SUT's access tokens have expired
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Then the SUT showed the latest SCR of patient "A"
    And the SUT renewed its access token with its refresh token
    And the SUT presented each refresh token at most once

  @SCRC-IDN-005 @serial
  Scenario Outline: The SUT works with the identity service's clock 10 seconds <direction>
    Given the identity service's clock is 10 seconds <direction>
    And a patient "A" with an SCR
    And patient "A" has permission to view "Yes"
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Then the SUT showed the latest SCR of patient "A"

    Examples:
      | direction |
      | ahead     |
      | behind    |

  @SCRC-IDN-006 @serial
  Scenario: The SUT follows a key rotation
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Yes"
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Given the SUT's registered keys are its current and its next key
    When the SUT rotates to its next key
    Given the SUT's registered keys are only its next key
    And the SUT's access tokens have been revoked with its refresh tokens
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Then the SUT showed the latest SCR of patient "A"
    And the SUT's latest client assertion named the kid of its next key
