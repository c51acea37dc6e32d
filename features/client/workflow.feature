@client
Feature: The clinical workflow of the system under test
  The supplier's system opens a patient's Summary Care Record the way the NHS expects: it reads the SCR id and
  the permission to view first, honours dissent, asks when it must, records the answer, and shows the latest
  document. The harness arranges each patient on the client lane as another system would (uploads and
  $setPermission over HTTP), drives the SUT, and grades what it sent and what it showed.

  @SCRC-WFL-001
  Scenario: The SUT reads the id and permission first, then shows the latest SCR
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Yes"
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Then the SUT showed the latest SCR of patient "A"
    And the SUT read the SCR id and permission of patient "A" before the document

  @SCRC-WFL-002
  Scenario: A patient without an SCR is reported as having none
    Given a patient "A" with no SCR
    And patient "A" has permission to view "Yes"
    When the SUT opens the SCR of patient "A"
    Then the SUT reported "no-scr"
    And the SUT did not read the SCR of patient "A"

  @SCRC-WFL-003
  Scenario: A dissenting patient's SCR is never read
    Given a patient "A" with an SCR
    And patient "A" has permission to view "No"
    When the SUT opens the SCR of patient "A"
    Then the SUT reported "no-consent"
    And the SUT did not read the SCR of patient "A"

  @SCRC-WFL-003
  Scenario: An override does not read a dissenting patient's SCR
    Given a patient "A" with an SCR
    And patient "A" has permission to view "No"
    When the clinician overrides to open the SCR of patient "A" for "emergency" reasons
    Then the SUT reported "no-consent"
    And the SUT did not read the SCR of patient "A"

  @SCRC-WFL-004
  Scenario: Permission Ask makes the SUT ask before reading
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Ask"
    When the SUT opens the SCR of patient "A"
    Then the SUT reported "consent-required"
    And the SUT did not read the SCR of patient "A"
    And the SUT did not change the permission to view of patient "A"

  @SCRC-WFL-004
  Scenario: A legacy permission Yes is treated as Ask
    # Spec PartPermissionCode.yaml: "'Yes' is a legacy functionality and not used, but if it is encountered it
    # must be treated the same as 'Ask'."
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Yes"
    When the SUT opens the SCR of patient "A"
    Then the SUT reported "consent-required"
    And the SUT did not read the SCR of patient "A"

  @SCRC-WFL-004
  Scenario: No recorded permission makes the SUT ask before reading
    Given a patient "A" with an SCR
    When the SUT opens the SCR of patient "A"
    Then the SUT reported "consent-required"
    And the SUT did not read the SCR of patient "A"

  @SCRC-WFL-005
  Scenario: A yes is recorded before the SCR is read
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Ask"
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Then the SUT recorded the answer "Yes" for patient "A" before any read
    And the SUT showed the latest SCR of patient "A"

  @SCRC-WFL-006
  Scenario: A no is recorded and the SCR is not read
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Ask"
    When the SUT opens the SCR of patient "A" and the patient answers "no"
    Then the SUT recorded the answer "No" for patient "A" before any read
    And the SUT reported "no-consent"
    And the SUT did not read the SCR of patient "A"

  @SCRC-WFL-007
  Scenario: After the SCR is replaced, the SUT shows the new one
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Yes"
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Then the SUT showed the latest SCR of patient "A"
    Given patient "A" has a replacement SCR
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Then the SUT showed the latest SCR of patient "A"
