Feature: The edges of the transport: empty tracing ids, Accept, housekeeping endpoints
  Differences once found between the embedded mock and the NHS code, each pinned here with the NHS file it
  comes from (catalogue SCRA-EDG-*). The servlet filters read an empty X-Request-ID or X-Correlation-ID as
  absent (`StringUtils.isEmpty`). Every SCR controller `produces` application/fhir+json only; Spring's answer to
  an Accept it cannot satisfy is not a 406 here: the adaptor's exception handler turns it into a 500
  `exception`, which the live proxy, passing only 1xx–4xx, 503 and 504, replaces with its catch-all
  UNKNOWN_ERROR. `/healthcheck` is the backend's GET-only actuator endpoint; `/_ping` and `/_status` are the
  proxy's own (GET or HEAD), `/_status` only with the platform's status API key.

  @SCRA-EDG-001
  Scenario Outline: An empty request or correlation id is treated as absent
    Given a patient "A" with no SCR
    And the request header "<header>" is ""
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response header "<header>" is a generated upper-case UUID

    Examples:
      | header           |
      | X-Request-ID     |
      | X-Correlation-ID |

  @SCRA-EDG-001
  Scenario: An upload with an empty X-Request-ID is processed and answered with a generated id
    Given a patient "A" with no SCR
    And the request header "X-Request-ID" is ""
    When I upload an SCR for patient "A"
    Then the response status is 201
    And the response header "X-Request-ID" is a generated upper-case UUID
    When I request the SCR id for patient "A"
    Then the response holds the SCR id of patient "A"

  @SCRA-EDG-002
  Scenario Outline: An Accept the backend can produce is served
    Given a patient "A" with an SCR
    And the request header "Accept" is "<accept>"
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"

    Examples:
      | case                       | accept                                          |
      | any                        | */*                                             |
      | any application type       | application/*                                   |
      | any JSON suffix            | application/*+json                              |
      | with a charset, upper case | APPLICATION/FHIR+JSON; charset=UTF-8            |
      | second choice              | application/json, application/fhir+json;q=0.5   |
      | empty (as absent)          |                                                 |

  @SCRA-EDG-002
  Scenario Outline: Behind the live proxy an Accept the backend cannot produce is the proxy's UNKNOWN_ERROR 500
    Given a patient "A" with an SCR
    And the request header "Accept" is "<accept>"
    When I <action> for patient "A"
    Then the response is the proxy's UNKNOWN_ERROR OperationOutcome with status 500

    Examples:
      | case             | accept                | action               |
      | plain JSON       | application/json      | request the SCR id   |
      | FHIR XML         | application/fhir+xml  | read the current SCR |
      | HTML             | text/html             | request the SCR id   |
      | not a media type | json                  | request the SCR id   |
      | on an upload     | application/json      | upload an SCR        |

  # Without the proxy the adaptor's own answer shows: OperationOutcomeExceptionHandler.handleExceptionInternal sends
  # Spring's HttpMediaTypeNotAcceptableException to handleAllExceptions (500 exception, the exception's message:
  # Spring 5.3 wording, derived).
  @SCRA-EDG-002 @open-access
  Scenario: Without the proxy an Accept the backend cannot produce is the adaptor's 500 exception
    Given a patient "A" with no SCR
    And the request header "Accept" is "application/json"
    When I request the SCR id for patient "A"
    Then the response status is 500
    And the response Content-Type is "application/fhir+json"
    And the response is an OperationOutcome "exception" with the text "Could not find acceptable representation"
    And the response header "X-Request-ID" echoes the request

  # Spring's 405 for the actuator, answered by OperationOutcomeExceptionHandler with its ALLOWED_METHODS entry
  # "/healthcheck" → GET. The wording "Request method '<m>' not supported" is Spring's (derived, as SCRA-TRN-005).
  @SCRA-EDG-003
  Scenario Outline: A method other than GET on /healthcheck answers 405 with Allow GET
    When I send "<method>" to "/healthcheck"
    Then the response status is 405
    And the response is an OperationOutcome "not-supported" with the text "Request method '<method>' not supported"
    And the response header "Allow" is "GET"

    Examples:
      | method |
      | POST   |
      | PUT    |
      | DELETE |

  @SCRA-EDG-003
  Scenario: /healthcheck passes the backend's id filters like every other path
    Given the request header "X-Correlation-ID" is "not-a-uuid"
    When I send GET "/healthcheck"
    Then the response status is 400
    And the response is an OperationOutcome "value" with the text "Invalid X-Correlation-ID. Should be a UUIDv4 matching "^[0-9a-fA-F]{8}+-[0-9a-fA-F]{4}+-[0-9a-fA-F]{4}+-[0-9a-fA-F]{4}+-[0-9a-fA-F]{12}+$""

  # The proxy serves _ping for GET or HEAD only; any other method goes on to the backend, which knows no _ping.
  @SCRA-EDG-003
  Scenario: POST /_ping is not the proxy's ping
    When I send "POST" to "/_ping"
    Then the response status is 404
    And the response is an OperationOutcome "not-found" with the text "/_ping not found"

  @SCRA-EDG-006
  Scenario Outline: /_status without the platform's status API key is refused with an empty 401
    Given the request header "apikey" is "<key>"
    When I send GET "/_status"
    Then the response status is 401
    And the response body is empty

    Examples:
      | case      | key               |
      | empty key |                   |
      | wrong key | not-the-status-key |

  @SCRA-EDG-006 @mock-only
  Scenario: /_status with the platform's status API key reports the backend's health, without an access token
    Given I send no access token
    And the request header "apikey" is "scr-assure-mock-status-key"
    When I send GET "/_status"
    Then the response status is 200
    And the response Content-Type is "application/json"
    And the response JSON at "/status" is "pass"
    And the response JSON at "/checks/healthcheckService:status/0/status" is "pass"
    And the response JSON at "/checks/healthcheckService:status/0/responseCode" is 200
