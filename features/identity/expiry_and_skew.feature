Feature: Token lifetimes and clock skew
  Access tokens live 600 seconds (reported as expires_in "599"): the gateway accepts a token until then
  and refuses it afterwards with "Access Token expired". A client assertion's exp is checked without
  leeway for the past and may be at most 310 seconds (5 minutes plus 10 seconds of grace) ahead of the
  identity service's clock, so a client whose clock is more than 10 seconds fast, or more than 300
  seconds slow, is refused when it sets exp = now + 300 (reference §3.5, §10.1, §10.5, §10.6).

  @SCRA-CLK-001 @mock-only @serial
  Scenario: An access token is still accepted 599 seconds after it was issued
    Given a patient "A" with an SCR
    And I hold an application-restricted token
    When 599 seconds pass
    And I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"

  @SCRA-CLK-001 @mock-only @serial
  Scenario: An access token is refused 600 seconds after it was issued
    Given a patient "A" with an SCR
    And I hold an application-restricted token
    When 600 seconds pass
    And I request the SCR id for patient "A"
    Then the response is the gateway's access-denied OperationOutcome "Access Token expired"
    And the response Content-Type is "application/json"

  @SCRA-CLK-001 @mock-only @serial
  Scenario Outline: A user-restricted access token expires after 600 seconds too
    Given a patient "A" with an SCR
    And I hold a user-restricted token for persona "default-clinician" by <auth> authentication
    When 600 seconds pass
    And I request the SCR id for patient "A"
    Then the response is the gateway's access-denied OperationOutcome "Access Token expired"

    Examples:
      | auth     |
      | combined |
      | separate |

  # Exact second boundaries need the mock's virtual clock; real time moves between minting and checking.
  @SCRA-CLK-002 @mock-only
  Scenario Outline: A client assertion expiring at most 310 seconds ahead is accepted
    When I request a token with a client assertion expiring in <seconds> seconds
    Then the token response grants an access token expiring in "599"

    Examples:
      | case                      | seconds |
      | the recommended 5 minutes | 300     |
      | the 10 seconds of grace   | 310     |

  @SCRA-CLK-002 @mock-only
  Scenario Outline: A client assertion expiring more than 310 seconds ahead or in the past is refused
    When I request a token with a client assertion expiring in <seconds> seconds
    Then the token response is an error <status> "<error>" with the description "<description>"

    Examples:
      | row | case                  | seconds | status | error           | description                                                                 |
      | 14  | one second past grace | 311     | 400    | invalid_request | Invalid 'exp' claim in client_assertion JWT - more than 5 minutes in future |
      | 5   | expired a second ago  | -1      | 400    | invalid_request | Invalid 'exp' claim in client_assertion JWT - JWT has expired               |

  @SCRA-CLK-002 @mock-only
  Scenario Outline: A client clock within the tolerance still gets a token
    Given the client clock is <seconds> seconds <direction>
    When I request a token with a client assertion
    Then the token response grants an access token expiring in "599"

    Examples:
      | case                               | seconds | direction |
      | fast by the grace: exp 310 s ahead | 10      | fast      |
      | a minute slow: exp 240 s ahead     | 60      | slow      |

  @SCRA-CLK-002 @mock-only
  Scenario Outline: A client clock outside the tolerance is refused
    Given the client clock is <seconds> seconds <direction>
    When I request a token with a client assertion
    Then the token response is an error <status> "<error>" with the description "<description>"

    Examples:
      | row | case                            | seconds | direction | status | error           | description                                                                 |
      | 14  | 15 s fast: exp 315 s ahead      | 15      | fast      | 400    | invalid_request | Invalid 'exp' claim in client_assertion JWT - more than 5 minutes in future |
      | 5   | 301 s slow: exp 1 s in the past | 301     | slow      | 400    | invalid_request | Invalid 'exp' claim in client_assertion JWT - JWT has expired               |
