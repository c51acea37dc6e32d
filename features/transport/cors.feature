Feature: CORS on the live proxy
  The live proxy answers a CORS preflight itself (`OptionsPreFlight` flow and `NoRoute` in
  proxies/live/apiproxy/proxies/default.xml): an OPTIONS with Origin and Access-Control-Request-Method gets 200,
  no body, the headers of its AssignMessage.AddCors, and never reaches the token check or the backend. No other
  live answer carries CORS headers. The sandbox proxy's header list is longer (features/sandbox/cors.feature).

  @SCRA-EDG-004
  Scenario Outline: A CORS preflight is answered by the proxy without a token
    Given I send no access token
    And the request header "Origin" is "https://gp-system.example.org"
    And the request header "Access-Control-Request-Method" is "<requested>"
    When I send "OPTIONS" to "<path>"
    Then the response status is 200
    And the response body is empty
    And the response header "Access-Control-Allow-Origin" is "https://gp-system.example.org"
    And the response header "Access-Control-Allow-Headers" is "origin, x-requested-with, accept, content-type, nhsd-session-urid"
    And the response header "Access-Control-Allow-Methods" is "GET, PUT, POST, DELETE"
    And the response header "Access-Control-Max-Age" is "3628800"
    And the response header "X-Request-ID" is absent

    Examples:
      | path               | requested |
      | /Bundle            | POST      |
      | /DocumentReference | GET       |
      | /$setPermission    | POST      |
      | /NotFound          | GET       |

  @SCRA-EDG-004
  Scenario: An OPTIONS that is not a preflight goes to the gateway, which wants a token
    Given I send no access token
    And the request header "Origin" is "https://gp-system.example.org"
    When I send "OPTIONS" to "/Bundle"
    Then the response is the gateway's access-denied OperationOutcome "Invalid access token"
    And the response header "Access-Control-Allow-Origin" is absent

  @SCRA-EDG-004
  Scenario: The live proxy adds no CORS headers to an ordinary answer
    Given a patient "A" with an SCR
    And the request header "Origin" is "https://gp-system.example.org"
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"
    And the response header "Access-Control-Allow-Origin" is absent
    And the response header "Access-Control-Allow-Headers" is absent
