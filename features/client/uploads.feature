@client
Feature: GP Summaries uploaded by the system under test
  The supplier's system uploads a GP Summary that passes FHIR validation and the SCR rules, names the patient,
  replaces the latest SCR it read just before, and takes the service's 201 with an empty body as success. The
  harness hands the SUT a valid Bundle for the patient (the NHS upload example) in a file; the SUT gives it
  fresh identifiers and its relatesTo.

  @SCRC-UPL-001
  Scenario: The uploaded GP Summary is valid and names the patient
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Yes"
    When the SUT uploads a GP Summary for patient "A"
    Then the SUT's upload for patient "A" is a valid SCR upload naming the patient

  @SCRC-UPL-002
  Scenario: The upload replaces the latest SCR
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Yes"
    When the SUT uploads a GP Summary for patient "A"
    Then the SUT's upload for patient "A" replaces the SCR it read just before

  @SCRC-UPL-002
  Scenario: The upload replaces the SCR that is latest now, not one seen before
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Yes"
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Given patient "A" has a replacement SCR
    When the SUT uploads a GP Summary for patient "A"
    Then the SUT's upload for patient "A" replaces the SCR it read just before

  @SCRC-UPL-002
  Scenario: A first GP Summary replaces nothing
    Given a patient "A" with no SCR
    When the SUT uploads a GP Summary for patient "A"
    Then the SUT's upload for patient "A" replaces nothing

  @SCRC-UPL-003
  Scenario: The 201 with an empty body is taken as success
    Given a patient "A" with no SCR
    When the SUT uploads a GP Summary for patient "A"
    Then the SUT reported "uploaded"
    And the latest SCR of patient "A" is the one the SUT uploaded
