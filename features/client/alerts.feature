@client
Feature: Privacy alerts raised by the system under test
  When a clinician opens an SCR without the patient's permission, the supplier's system must raise exactly one
  privacy alert with the type/subtype pair the NHS permits for the reason (MSCA-SCR-103/104/105), for the right
  patient and user, before reading. The pairs below are pinned from the SCR API specification's POST /AuditEvent
  table (reference §4.5): self-claimed legitimate relationship = type 1 with subtype 1, 2, 3, 4 or 6; legal
  reasons = type 2 with subtype 1, 2 or 3; emergency = type 2 with subtype 5. When the patient gives permission
  to view, no alert is due.

  @SCRC-ALR-002
  Scenario: An emergency override raises the emergency access alert
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Ask"
    When the clinician overrides to open the SCR of patient "A" for "emergency" reasons
    Then the SUT raised exactly one privacy alert for patient "A" of type "2" with subtype "5"
    And the SUT showed the latest SCR of patient "A"

  @SCRC-ALR-003
  Scenario: A legal-reason override raises the legal access alert
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Ask"
    When the clinician overrides to open the SCR of patient "A" for "legal" reasons
    Then the SUT raised exactly one privacy alert for patient "A" of type "2" with subtype "1", "2" or "3"
    And the SUT showed the latest SCR of patient "A"

  @SCRC-ALR-001
  Scenario: A self-claimed legitimate relationship raises the self-claimed alert
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Ask"
    When the clinician overrides to open the SCR of patient "A" for "self-claimed" reasons
    Then the SUT raised exactly one privacy alert for patient "A" of type "1" with subtype "1", "2", "3", "4" or "6"
    And the SUT showed the latest SCR of patient "A"

  @SCRC-ALR-004
  Scenario: When the patient gives permission to view, no alert is raised
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Ask"
    When the SUT opens the SCR of patient "A" and the patient answers "yes"
    Then the SUT raised no privacy alert for patient "A"
