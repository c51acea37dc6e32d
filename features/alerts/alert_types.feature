Feature: Privacy alerts for access without permission
  A clinician who views an SCR without the patient's permission — by self-claiming a legitimate
  relationship, in an emergency, or for a legal reason — makes the clinical system raise a privacy
  alert with POST /AuditEvent. Only the permitted pairs of alert type (SCR-AlertType) and reason
  subtype (SCR-AlertReason) are accepted, with 201 and an empty body: these are the publicly known
  SCAL requirements MSCA-SCR-103, -104 and -105. The pairs 1/5, 2/4 and 2/6 are refused, as are
  unknown types and subtypes (reference §4.5, §7, §12).

  @SCRA-ALR-001 @status-only
  Scenario Outline: A self-claimed legitimate relationship alert is accepted for each permitted reason
    Given a patient "A" with an SCR
    When I raise a privacy alert of type "1" and subtype "<subtype>" for patient "A"
    Then the response status is 201
    And the response body is empty

    Examples:
      | subtype | reason                             |
      | 1       | Access made in the public interest |
      | 2       | Access required by statute         |
      | 3       | Access required by Court Order     |
      | 4       | Self-Claim Emergency Access        |
      | 6       | Other                              |

  @SCRA-ALR-002 @status-only
  Scenario: An emergency access alert is accepted
    Given a patient "A" with an SCR
    And patient "A" has permission to view "Ask"
    When I raise a privacy alert of type "2" and subtype "5" for patient "A"
    Then the response status is 201
    And the response body is empty

  @SCRA-ALR-003 @status-only
  Scenario Outline: A legal-reason access alert is accepted for each legal reason
    Given a patient "A" with an SCR
    When I raise a privacy alert of type "2" and subtype "<subtype>" for patient "A"
    Then the response status is 201
    And the response body is empty

    Examples:
      | subtype | reason                             |
      | 1       | Access made in the public interest |
      | 2       | Access required by statute         |
      | 3       | Access required by Court Order     |

  @SCRA-ALR-004
  Scenario Outline: A forbidden combination of alert type and reason is refused
    Given a patient "A" with no SCR
    When I raise a privacy alert of type "<type>" and subtype "<subtype>" for patient "A"
    Then the response status is <status>
    And the response is an OperationOutcome "value" with the text "<text>"

    Examples:
      | type | subtype | status | text                                                         |
      | 1    | 5       | 400    | Invalid combination of alert type '1' and alert subtype '5'. |
      | 2    | 4       | 400    | Invalid combination of alert type '2' and alert subtype '4'. |
      | 2    | 6       | 400    | Invalid combination of alert type '2' and alert subtype '6'. |

  @SCRA-ALR-005
  Scenario Outline: An unknown alert type or reason is refused
    Given a patient "A" with no SCR
    When I raise a privacy alert of type "<type>" and subtype "<subtype>" for patient "A"
    Then the response status is <status>
    And the response is an OperationOutcome "value" with the text "<text>"

    Examples:
      | type | subtype | status | text                                                                                     |
      | 3    | 1       | 400    | Invalid or missing value in field 'type.code'. Supported values are: 1, 2                |
      | 0    | 1       | 400    | Invalid or missing value in field 'type.code'. Supported values are: 1, 2                |
      | 1    | 7       | 400    | Invalid or missing value in field 'subtype.code'. Supported values are: 1, 2, 3, 4, 5, 6 |
      | 2    | 0       | 400    | Invalid or missing value in field 'subtype.code'. Supported values are: 1, 2, 3, 4, 5, 6 |

  @mock-only @SCRA-ALR-010
  Scenario: An emergency access alert is recorded with who, what and why
    Given a patient "A" with an SCR
    When I raise a privacy alert of type "2" and subtype "5" for patient "A"
    Then the response status is 201
    And the mock has recorded a privacy alert for patient "A" with type "2" and subtype "5"

  @mock-only @SCRA-ALR-010
  Scenario Outline: Every permitted alert is recorded with its type and reason
    Given a patient "A" with an SCR
    When I raise a privacy alert of type "<type>" and subtype "<subtype>" for patient "A"
    Then the response status is 201
    And the mock has recorded a privacy alert for patient "A" with type "<type>" and subtype "<subtype>"

    Examples:
      | type | subtype |
      | 1    | 1       |
      | 1    | 2       |
      | 1    | 3       |
      | 1    | 4       |
      | 1    | 6       |
      | 2    | 1       |
      | 2    | 2       |
      | 2    | 3       |
      | 2    | 5       |

  # The gateway passes the token's user and the app's ASID to the backend; without source.observer the
  # adaptor names the caller's ASID as the observer (reference §3.2, §4.5).
  @mock-only @SCRA-ALR-010 @SCRA-GTW-005
  Scenario: An alert is recorded with the token's user and, without an observer, the app's ASID
    Given a patient "A" with an SCR
    When I raise a privacy alert for patient "A" with the change "remove /source"
    Then the response status is 201
    And the mock has recorded the alert of patient "A" as sent by user "910000000001" observed by ASID "200000001162"

  @mock-only @SCRA-ALR-010
  Scenario: A refused alert is not recorded
    Given a patient "A" with an SCR
    When I raise a privacy alert of type "2" and subtype "4" for patient "A"
    Then the response status is 400
    And the mock has recorded no privacy alert for patient "A"
