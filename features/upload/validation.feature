Feature: Validation of the uploaded GP Summary
  Before anything reaches Spine the adaptor parses the Bundle strictly as FHIR R4 and checks the
  Composition (exactly one; category, type, status, relatesTo, identifier, date, section) and the
  Patient (exactly one NHS number, referenced by the Composition subject). The first failing rule
  answers 400 with issue code "value" and its exact text; "X" in the reference texts is the value the
  change set (enum-typed members are reported by the Java enum name, e.g. PRELIMINARY) (reference §4.3).

  @SCRA-UPL-003
  Scenario Outline: A body that is not a strictly valid FHIR Bundle is rejected by the parser
    Given a patient "A" with no SCR
    When I upload an SCR for patient "A" with the change "<change>"
    Then the response status is <status>
    And the response is an OperationOutcome "value" with the text "<text>"

    Examples:
      | case                  | change                                       | status | text                                                                                  |
      | another resource type | set /resourceType = "Patient"                | 400    | Incorrect resource type found, expected "Bundle" but found "Patient"                  |
      | an empty string value | set /entry[Composition]/resource/status = "" | 400    | [element="status"] Invalid attribute value "": Attribute value must not be empty ("") |

  @SCRA-UPL-004
  Scenario Outline: The Composition count, category and type are checked
    Given a patient "A" with no SCR
    When I upload an SCR for patient "A" with the change "<change>"
    Then the response status is <status>
    And the response is an OperationOutcome "value" with the text "<text>"

    Examples:
      | case                   | change                                                                              | status | text                                                                  |
      | Composition missing    | remove /entry[Composition]                                                          | 400    | Composition missing from payload                                      |
      | two Compositions       | add /entry/- = {"resource":{"resourceType":"Composition"}}                          | 400    | There is more than 1 resource of type Composition                     |
      | category missing       | remove /entry[Composition]/resource/category                                        | 400    | Composition.category element is missing                               |
      | category wrong system  | set /entry[Composition]/resource/category/0/coding/0/system = "http://loinc.org"    | 400    | Composition.category.coding.system not supported: http://loinc.org    |
      | category wrong code    | set /entry[Composition]/resource/category/0/coding/0/code = "162991000000102"       | 400    | Composition.category.coding.code not supported: 162991000000102       |
      | category wrong display | set /entry[Composition]/resource/category/0/coding/0/display = "Care Documentation" | 400    | Composition.category.coding.display not supported: Care Documentation |
      | type missing           | remove /entry[Composition]/resource/type                                            | 400    | Composition.type element is missing                                   |
      | type wrong system      | set /entry[Composition]/resource/type/coding/0/system = "http://loinc.org"          | 400    | Composition.type.coding.system not supported: http://loinc.org        |
      | type wrong code        | set /entry[Composition]/resource/type/coding/0/code = "163171000000105"             | 400    | Composition.type.coding.code not supported: 163171000000105           |
      | type wrong display     | set /entry[Composition]/resource/type/coding/0/display = "GP Summary"               | 400    | Composition.type.coding.display not supported: GP Summary             |

  @SCRA-UPL-005
  Scenario Outline: The Composition status, relatesTo, identifier, date and section are checked
    Given a patient "A" with no SCR
    When I upload an SCR for patient "A" with the change "<change>"
    Then the response status is <status>
    And the response is an OperationOutcome "value" with the text "<text>"

    Examples:
      | case                           | change                                                                                                                                 | status | text                                                                           |
      | status not final               | set /entry[Composition]/resource/status = "preliminary"                                                                                | 400    | Invalid composition.status: PRELIMINARY                                        |
      | status amended                 | set /entry[Composition]/resource/status = "amended"                                                                                    | 400    | Invalid composition.status: AMENDED                                            |
      | status missing                 | remove /entry[Composition]/resource/status                                                                                             | 400    | Invalid composition.status: null                                               |
      | relatesTo code not replaces    | set /entry[Composition]/resource/relatesTo = [{"code":"appends","targetIdentifier":{"value":"{UUID}"}}]                                | 400    | Unsupported Composition.relatesTo.code element: APPENDS                        |
      | relatesTo without target value | set /entry[Composition]/resource/relatesTo = [{"code":"replaces","targetIdentifier":{"system":"https://tools.ietf.org/html/rfc4122"}}] | 400    | Composition.relatesTo.targetIdentifier.value element is missing                |
      | identifier with another system | set /entry[Composition]/resource/identifier/system = "https://fhir.nhs.uk/Id/nhsSCRUUID"                                               | 400    | Missing Composition.identifier for system: https://tools.ietf.org/html/rfc4122 |
      | identifier missing             | remove /entry[Composition]/resource/identifier                                                                                         | 400    | Missing Composition.identifier for system: https://tools.ietf.org/html/rfc4122 |
      | identifier without value       | remove /entry[Composition]/resource/identifier/value                                                                                   | 400    | Missing Composition.identifier.value element                                   |
      | date missing                   | remove /entry[Composition]/resource/date                                                                                               | 400    | Composition Date Element missing from payload                                  |
      | section missing                | remove /entry[Composition]/resource/section                                                                                            | 400    | Missing mandatory Composition.section                                          |

  @SCRA-UPL-006
  Scenario Outline: The Patient, its NHS number and the references are checked
    Given a patient "A" with no SCR
    When I upload an SCR for patient "A" with the change "<change>"
    Then the response status is <status>
    And the response is an OperationOutcome "value" with the text "<text>"

    Examples:
      | case                           | change                                                                                                       | status | text                                                                                                                      |
      | Patient missing                | remove /entry[Patient]                                                                                       | 400    | Patient missing from payload                                                                                              |
      | two NHS number identifiers     | add /entry[Patient]/resource/identifier/- = {"system":"https://fhir.nhs.uk/Id/nhs-number","value":"{nhs:A}"} | 400    | Multiple Patient resource 'https://fhir.nhs.uk/Id/nhs-number' identifiers                                                 |
      | NHS number without value       | remove /entry[Patient]/resource/identifier/0/value                                                           | 400    | patient.identifier[] for system https://fhir.nhs.uk/Id/nhs-number must not be empty                                       |
      | subject references another id  | set /entry[Composition]/resource/subject/reference = "Patient/{UUID}"                                        | 400    | Composition.subject reference is missing or invalid                                                                       |
      | subject missing                | remove /entry[Composition]/resource/subject                                                                  | 400    | Composition.subject reference is missing or invalid                                                                       |
      | author references Practitioner | set /entry[Composition]/resource/author/0/reference = "Practitioner/7EB18277-C51A-4AEA-9D93-0B12BB0E140D"    | 400    | Invalid resource reference. Practitioner/7EB18277-C51A-4AEA-9D93-0B12BB0E140D expected to be referencing PractitionerRole |

  @SCRA-UPL-011
  Scenario Outline: The Bundle's type, timestamp and identifier are checked before the Composition, and nothing is stored
    Given a patient "A" with no SCR
    When I upload an SCR for patient "A" with the change "<change>"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "<text>"
    When I request the SCR id for patient "A"
    Then the response is an empty searchset Bundle

    Examples:
      | case                                 | change                                                                                   | text                                                                                       |
      | type missing                         | remove /type                                                                             | Unsupported Bundle.type: null                                                              |
      | type collection                      | set /type = "collection"                                                                 | Unsupported Bundle.type: COLLECTION                                                        |
      | type transaction-response            | set /type = "transaction-response"                                                       | Unsupported Bundle.type: TRANSACTIONRESPONSE                                               |
      | type not a BundleType code           | set /type = "Document"                                                                   | [element="type"] Invalid attribute value "Document": Unknown BundleType code 'Document'    |
      | timestamp missing                    | remove /timestamp                                                                        | bundle.timestamp must not be empty                                                         |
      | identifier missing                   | remove /identifier                                                                       | bundle.identifier must not be empty                                                        |
      | identifier of another system         | set /identifier/system = "https://fhir.nhs.uk/Id/nhsSCRUUID"                             | bundle.identifier.system must be https://tools.ietf.org/html/rfc4122                       |
      | identifier without value             | remove /identifier/value                                                                 | bundle.identifier.value must not be empty                                                  |
      | type before timestamp and identifier | remove /identifier ; remove /timestamp ; set /type = "message"                           | Unsupported Bundle.type: MESSAGE                                                           |
      | timestamp before identifier          | remove /identifier ; remove /timestamp                                                   | bundle.timestamp must not be empty                                                         |
      | the Bundle before the Composition    | remove /identifier ; remove /entry[Composition]                                          | bundle.identifier must not be empty                                                        |
      | author before category               | remove /entry[Composition]/resource/category ; set /entry[Composition]/resource/author/0/reference = "Practitioner/1" | Invalid resource reference. Practitioner/1 expected to be referencing PractitionerRole |

  @SCRA-UPL-012
  Scenario: An authored Composition without meta.lastUpdated is refused before its own checks
    Given a patient "A" with no SCR
    When I upload an SCR for patient "A" with the change "remove /entry[Composition]/resource/meta ; remove /entry[Composition]/resource/category"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Mapping exception"

  @SCRA-UPL-013
  Scenario Outline: An element FHIR R4 does not define is rejected by the strict parser, the first in the sender's order
    Given a patient "A" with no SCR
    When I upload an SCR for patient "A" with the change "<change>"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "<text>"

    Examples:
      | case                                 | change                                                                                              | text                                                                                   |
      | on the Bundle                        | add /colour = "red"                                                                                 | Unknown element 'colour' found during parse                                            |
      | a misspelt element in a resource     | add /entry[Patient]/resource/birthdate = "1980-01-01"                                               | Unknown element 'birthdate' found during parse                                         |
      | in a backbone element                | add /entry[Composition]/resource/section/0/colour = "red"                                           | Unknown element 'colour' found during parse                                            |
      | before the Bundle's own checks       | remove /type ; add /entry[Composition]/resource/colour = "red"                                      | Unknown element 'colour' found during parse                                            |
      | a date the parser cannot read        | set /entry[Patient]/resource/birthDate = "01/01/1980"                                               | [element="birthDate"] Invalid attribute value "01/01/1980": Invalid date/time format: "01/01/1980" |

  @SCRA-UPL-013
  Scenario Outline: A body that does not start with "{" is refused with HAPI's text
    Given a patient "A" with no SCR
    When I send POST "<path>" with the body:
      """
      <body>
      """
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "<text>"

    Examples:
      | path         | body                  | text                                                                                                                                     |
      | /Bundle      | this is not JSON      | Failed to parse JSON encoded FHIR content: Content does not appear to be FHIR JSON, first non-whitespace character was: 't' (must be '{') |
      | /AuditEvent  | <AuditEvent/>         | Failed to parse JSON encoded FHIR content: Content does not appear to be FHIR JSON, first non-whitespace character was: '<' (must be '{') |
      | /Bundle      | ["resourceType"]      | Failed to parse JSON encoded FHIR content: Content does not appear to be FHIR JSON, first non-whitespace character was: '[' (must be '{') |
      | /Bundle      | {"type":"document"}   | Invalid JSON content detected, missing required element: 'resourceType'                                                                  |
