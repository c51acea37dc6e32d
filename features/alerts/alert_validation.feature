Feature: Validation of the privacy alert
  The adaptor parses the AuditEvent strictly and then checks, in this order: id, the notification
  message extension, type, subtype, the type/subtype combination, recorded, the single entity (the SCR
  that was viewed) and the three agents — patient (nhs-number), organisation (ods-organization-code)
  and user (sds-user-id, with a role) — each present exactly once with requestor false. The first
  failing rule answers 400 with issue code "value" and its exact text (reference §4.5). Each change
  below edits the valid alert (type 1, subtype 1).

  @SCRA-ALR-006
  Scenario Outline: The id, notification extension, recorded time and entity are mandatory
    Given a patient "A" with no SCR
    When I raise a privacy alert for patient "A" with the change "<change>"
    Then the response status is <status>
    And the response is an OperationOutcome "value" with the text "<text>"

    Examples:
      | case                            | change                                                                                                                               | status | text                                                                                                                            |
      | id missing                      | remove /id                                                                                                                           | 400    | 'id' element is missing'                                                                                                        |
      | extension missing               | remove /extension                                                                                                                    | 400    | Expecting exactly one 'extension' element with URL: 'https://fhir.nhs.uk/StructureDefinition/Extension-SCR-NotificationMessage' |
      | extension with another URL      | set /extension/0/url = "https://fhir.nhs.uk/StructureDefinition/Extension-SCR-Other"                                                 | 400    | Expecting exactly one 'extension' element with URL: 'https://fhir.nhs.uk/StructureDefinition/Extension-SCR-NotificationMessage' |
      | two extensions                  | add /extension/- = {"url":"https://fhir.nhs.uk/StructureDefinition/Extension-SCR-NotificationMessage","valueString":"Alert: second"} | 400    | Expecting exactly one 'extension' element with URL: 'https://fhir.nhs.uk/StructureDefinition/Extension-SCR-NotificationMessage' |
      | extension without valueString   | remove /extension/0/valueString                                                                                                      | 400    | 'valueString' for 'extension' 'https://fhir.nhs.uk/StructureDefinition/Extension-SCR-NotificationMessage' is missing            |
      | recorded missing                | remove /recorded                                                                                                                     | 400    | 'recorded' element missing                                                                                                      |
      | entity missing                  | remove /entity                                                                                                                       | 400    | Expecting exactly one 'entity' element                                                                                          |
      | two entities                    | add /entity/- = {"what":{"identifier":{"value":"{UUID}"}}}                                                                           | 400    | Expecting exactly one 'entity' element                                                                                          |
      | entity without identifier value | remove /entity/0/what/identifier/value                                                                                               | 400    | Invalid or missing value in field 'entity.what.identifier.value'                                                                |

  @SCRA-ALR-005
  Scenario Outline: The type and subtype codings are checked
    Given a patient "A" with no SCR
    When I raise a privacy alert for patient "A" with the change "<change>"
    Then the response status is <status>
    And the response is an OperationOutcome "value" with the text "<text>"

    Examples:
      | case                        | change                                                                                                                         | status | text                                                                                                                   |
      | type with another system    | set /type/system = "http://terminology.hl7.org/CodeSystem/audit-event-type"                                                    | 400    | 'Type' element for 'https://fhir.nhs.uk/CodeSystem/SCR-AlertType' system missing                                       |
      | type without system         | remove /type/system                                                                                                            | 400    | 'Type' element for 'https://fhir.nhs.uk/CodeSystem/SCR-AlertType' system missing                                       |
      | type without code           | remove /type/code                                                                                                              | 400    | Invalid or missing value in field 'type.code'. Supported values are: 1, 2                                              |
      | type without display        | remove /type/display                                                                                                           | 400    | Missing value 'type.display'                                                                                           |
      | subtype missing             | remove /subtype                                                                                                                | 400    | Expecting exactly one 'subtype' element                                                                                |
      | two subtypes                | add /subtype/- = {"system":"https://fhir.nhs.uk/CodeSystem/SCR-AlertReason","code":"2","display":"Access required by statute"} | 400    | Expecting exactly one 'subtype' element                                                                                |
      | subtype with another system | set /subtype/0/system = "https://fhir.nhs.uk/CodeSystem/SCR-AlertType"                                                         | 400    | Invalid or missing value in field 'subtype.system'. Supported value is: https://fhir.nhs.uk/CodeSystem/SCR-AlertReason |
      | subtype without code        | remove /subtype/0/code                                                                                                         | 400    | Invalid or missing value in field 'subtype.code'. Supported values are: 1, 2, 3, 4, 5, 6                               |
      | subtype without display     | remove /subtype/0/display                                                                                                      | 400    | Missing value 'subtype.display'                                                                                        |

  @SCRA-ALR-007
  Scenario Outline: Each agent must be present exactly once with requestor false
    Given a patient "A" with no SCR
    When I raise a privacy alert for patient "A" with the change "<change>"
    Then the response status is <status>
    And the response is an OperationOutcome "value" with the text "<text>"

    Examples:
      | case                                 | change                                                                                                                                                   | status | text                                                                                                                                  |
      | patient agent missing                | remove /agent[nhs-number]                                                                                                                                | 400    | Missing 'agent' entry with 'who.identifier.system' 'https://fhir.nhs.uk/Id/nhs-number' and non-empty 'value'                          |
      | patient agent without value          | remove /agent[nhs-number]/who/identifier/value                                                                                                           | 400    | Missing 'agent' entry with 'who.identifier.system' 'https://fhir.nhs.uk/Id/nhs-number' and non-empty 'value'                          |
      | patient agent twice                  | add /agent/- = {"who":{"identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"{nhs:A}"}},"requestor":false}                                 | 400    | Expecting exactly one 'agent' entry with 'who.identifier.system' 'https://fhir.nhs.uk/Id/nhs-number' and non-empty 'value'            |
      | patient agent without requestor      | remove /agent[nhs-number]/requestor                                                                                                                      | 400    | Missing or unsupported 'requestor' value for 'agent' with 'who.identifier.system' 'https://fhir.nhs.uk/Id/nhs-number'                 |
      | patient agent requestor true         | set /agent[nhs-number]/requestor = true                                                                                                                  | 400    | Missing or unsupported 'requestor' value for 'agent' with 'who.identifier.system' 'https://fhir.nhs.uk/Id/nhs-number'                 |
      | organisation agent missing           | remove /agent[ods-organization-code]                                                                                                                     | 400    | Missing 'agent' entry with 'who.identifier.system' 'https://fhir.nhs.uk/Id/ods-organization-code' and non-empty 'value'               |
      | organisation agent without value     | remove /agent[ods-organization-code]/who/identifier/value                                                                                                | 400    | Missing 'agent' entry with 'who.identifier.system' 'https://fhir.nhs.uk/Id/ods-organization-code' and non-empty 'value'               |
      | organisation agent twice             | add /agent/- = {"who":{"identifier":{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"RBA"}},"requestor":false}                          | 400    | Expecting exactly one 'agent' entry with 'who.identifier.system' 'https://fhir.nhs.uk/Id/ods-organization-code' and non-empty 'value' |
      | organisation agent without requestor | remove /agent[ods-organization-code]/requestor                                                                                                           | 400    | Missing or unsupported 'requestor' value for 'agent' with 'who.identifier.system' 'https://fhir.nhs.uk/Id/ods-organization-code'      |
      | organisation agent requestor true    | set /agent[ods-organization-code]/requestor = true                                                                                                       | 400    | Missing or unsupported 'requestor' value for 'agent' with 'who.identifier.system' 'https://fhir.nhs.uk/Id/ods-organization-code'      |
      | user agent missing                   | remove /agent[sds-user-id]                                                                                                                               | 400    | Missing 'agent' entry with 'who.identifier.system' 'https://fhir.nhs.uk/Id/sds-user-id' and non-empty 'value'                         |
      | user agent without value             | remove /agent[sds-user-id]/who/identifier/value                                                                                                          | 400    | Missing 'agent' entry with 'who.identifier.system' 'https://fhir.nhs.uk/Id/sds-user-id' and non-empty 'value'                         |
      | user agent twice                     | add /agent/- = {"who":{"identifier":{"system":"https://fhir.nhs.uk/Id/sds-user-id","value":"910000000001"}},"role":[{"text":"Nurse"}],"requestor":false} | 400    | Expecting exactly one 'agent' entry with 'who.identifier.system' 'https://fhir.nhs.uk/Id/sds-user-id' and non-empty 'value'           |
      | user agent without requestor         | remove /agent[sds-user-id]/requestor                                                                                                                     | 400    | Missing or unsupported 'requestor' value for 'agent' with 'who.identifier.system' 'https://fhir.nhs.uk/Id/sds-user-id'                |
      | user agent requestor true            | set /agent[sds-user-id]/requestor = true                                                                                                                 | 400    | Missing or unsupported 'requestor' value for 'agent' with 'who.identifier.system' 'https://fhir.nhs.uk/Id/sds-user-id'                |
      | user agent without role              | remove /agent[sds-user-id]/role                                                                                                                          | 400    | Expecting at least one 'role' for 'agent' entry with system https://fhir.nhs.uk/Id/sds-user-id                                        |
      | user agent with an empty role        | set /agent[sds-user-id]/role = [{}]                                                                                                                      | 400    | Expecting at least one non empty 'role' for 'agent' entry with system https://fhir.nhs.uk/Id/sds-user-id                              |

  @SCRA-ALR-007 @status-only
  Scenario: A user role given as a coding instead of text is accepted
    Given a patient "A" with no SCR
    When I raise a privacy alert for patient "A" with the change "set /agent[sds-user-id]/role = [{"coding":[{"system":"https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode","code":"R8000"}]}]"
    Then the response status is 201
    And the response body is empty

  @SCRA-ALR-008
  Scenario Outline: A body that is not a strictly valid AuditEvent is rejected by the parser
    Given a patient "A" with no SCR
    When I raise a privacy alert for patient "A" with the change "<change>"
    Then the response status is <status>
    And the response is an OperationOutcome "value" with the text "<text>"

    Examples:
      | case                  | change                        | status | text                                                                                       |
      | empty outcomeDesc     | set /outcomeDesc = ""         | 400    | [element="outcomeDesc"] Invalid attribute value "": Attribute value must not be empty ("") |
      | another resource type | set /resourceType = "Patient" | 400    | Incorrect resource type found, expected "AuditEvent" but found "Patient"                   |

  @SCRA-ALR-008 @status-only
  Scenario Outline: The optional free text and source may be left out
    Given a patient "A" with no SCR
    When I raise a privacy alert for patient "A" with the change "<change>"
    Then the response status is 201
    And the response body is empty

    Examples:
      | case               | change              |
      | no outcomeDesc     | remove /outcomeDesc |
      | no source observer | remove /source      |

  @SCRA-ALR-009
  Scenario Outline: With several faults the earliest rule decides the message
    Given a patient "A" with no SCR
    When I raise a privacy alert for patient "A" with the change "<change>"
    Then the response status is <status>
    And the response is an OperationOutcome "value" with the text "<text>"

    Examples:
      | case                              | change                                                            | status | text                                                                                                                            |
      | id before recorded                | remove /recorded ; remove /id                                     | 400    | 'id' element is missing'                                                                                                        |
      | extension before type             | remove /type/display ; remove /extension                          | 400    | Expecting exactly one 'extension' element with URL: 'https://fhir.nhs.uk/StructureDefinition/Extension-SCR-NotificationMessage' |
      | type before subtype               | remove /subtype ; remove /type/display                            | 400    | Missing value 'type.display'                                                                                                    |
      | combination before recorded       | set /subtype/0/code = "5" ; remove /recorded                      | 400    | Invalid combination of alert type '1' and alert subtype '5'.                                                                    |
      | recorded before entity            | remove /entity ; remove /recorded                                 | 400    | 'recorded' element missing                                                                                                      |
      | entity before agents              | remove /agent[nhs-number] ; remove /entity                        | 400    | Expecting exactly one 'entity' element                                                                                          |
      | patient agent before organisation | remove /agent[ods-organization-code] ; remove /agent[nhs-number]  | 400    | Missing 'agent' entry with 'who.identifier.system' 'https://fhir.nhs.uk/Id/nhs-number' and non-empty 'value'                    |
      | organisation agent before user    | remove /agent[sds-user-id] ; remove /agent[ods-organization-code] | 400    | Missing 'agent' entry with 'who.identifier.system' 'https://fhir.nhs.uk/Id/ods-organization-code' and non-empty 'value'         |

  @SCRA-ALR-011 @mock-only
  Scenario Outline: A recorded time the parser cannot read is rejected before the alert's own checks
    Given a patient "A" with no SCR
    When I raise a privacy alert for patient "A" with the change "<change>"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "<text>"
    And the mock has recorded no privacy alert for patient "A"

    Examples:
      | case                     | change                                          | text                                                                                                |
      | not a date               | set /recorded = "not-a-date"                    | [element="recorded"] Invalid attribute value "not-a-date": Invalid date/time format: "not-a-date"   |
      | before the id check      | remove /id ; set /recorded = "yesterday"        | [element="recorded"] Invalid attribute value "yesterday": Invalid date/time format: "yesterday"     |

  @SCRA-UPL-013
  Scenario: An alert with an element FHIR R4 does not define is rejected before the alert's own checks
    Given a patient "A" with no SCR
    When I raise a privacy alert for patient "A" with the change "remove /id ; add /agent/0/who/identifier/colour = "red""
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Unknown element 'colour' found during parse"
