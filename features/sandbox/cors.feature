Feature: Sandbox: CORS and the transport's edges
  The sandbox proxy adds its AssignMessage.AddCors to every answer of the target, errors included (PreFlow response
  and DefaultFaultRule of proxies/sandbox/apiproxy/targets/sandbox.xml), and answers a CORS preflight itself. Its
  header list is longer than the live proxy's (authorization, x-correlation-id, x-request-id; PATCH). Without an
  Origin in the request the mock leaves Access-Control-Allow-Origin out (whether Apigee sends it empty is
  unconfirmed). The sandbox runs the same Java adaptor, so the transport rules hold there too, without the live
  proxy's catch-all.

  @sandbox @SCRA-EDG-005
  Scenario: A sandbox preflight is answered with the sandbox's header list
    Given the request header "Origin" is "https://gp-system.example.org"
    And the request header "Access-Control-Request-Method" is "POST"
    When I send "OPTIONS" to "/$setPermission"
    Then the response status is 200
    And the response body is empty
    And the response header "Access-Control-Allow-Origin" is "https://gp-system.example.org"
    And the response header "Access-Control-Allow-Headers" is "origin, x-requested-with, accept, content-type, nhsd-session-urid, authorization, x-correlation-id, x-request-id"
    And the response header "Access-Control-Allow-Methods" is "GET, PUT, POST, PATCH, DELETE"
    And the response header "Access-Control-Max-Age" is "3628800"

  @sandbox @SCRA-EDG-005
  Scenario Outline: Every sandbox answer carries the CORS headers, errors included
    Given the request header "Origin" is "https://gp-system.example.org"
    When I send GET "<path>"
    Then the response status is <status>
    And the response header "Access-Control-Allow-Origin" is "https://gp-system.example.org"
    And the response header "Access-Control-Allow-Headers" is "origin, x-requested-with, accept, content-type, nhsd-session-urid, authorization, x-correlation-id, x-request-id"
    And the response header "Access-Control-Allow-Methods" is "GET, PUT, POST, PATCH, DELETE"
    And the response header "Access-Control-Max-Age" is "3628800"

    Examples:
      | case              | path                                                                  | status |
      | the SCR id        | /DocumentReference?patient=https://fhir.nhs.uk/Id/nhs-number\|9000000009 | 200    |
      | a malformed query | /DocumentReference?patient=INVALID                                    | 400    |
      | an unknown path   | /NotFound                                                             | 404    |

  @sandbox @SCRA-EDG-001
  Scenario: An empty X-Request-ID is treated as absent by the sandbox
    Given the sandbox patient "A" is "9000000009"
    And the request header "X-Request-ID" is ""
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response header "X-Request-ID" is a generated upper-case UUID

  @sandbox @SCRA-EDG-002
  Scenario: The sandbox answers an Accept it cannot produce with the adaptor's 500 exception
    Given the sandbox patient "A" is "9000000009"
    And the request header "Accept" is "application/json"
    And the request header "Origin" is "https://gp-system.example.org"
    When I request the SCR id for patient "A"
    Then the response status is 500
    And the response is an OperationOutcome "exception" with the text "Could not find acceptable representation"
    And the response header "Access-Control-Allow-Origin" is "https://gp-system.example.org"

  @sandbox @SCRA-EDG-003
  Scenario: POST /healthcheck on the sandbox answers 405 with Allow GET
    When I send "POST" to "/healthcheck"
    Then the response status is 405
    And the response is an OperationOutcome "not-supported" with the text "Request method 'POST' not supported"
    And the response header "Allow" is "GET"

  @sandbox @SCRA-EDG-006
  Scenario: The sandbox's /_status without the status API key is refused with an empty 401
    When I send GET "/_status"
    Then the response status is 401
    And the response body is empty
