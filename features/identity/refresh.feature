# Needs the mock's CIS2 issuer and personas: on INT, CIS2 sign-in and id_tokens come from the real CIS2.
@mock-only
Feature: Refreshing a CIS2 user-restricted access token
  A CIS2 access token (separate or combined authentication) comes with a refresh token valid for 12 hours.
  POST /oauth2/token with grant_type=refresh_token answers a new access token and a new refresh token
  with the refresh count increased; the used refresh token is rotated out and cannot be used again
  (reference §10.4, §10.5).

  @SCRA-IDN-014
  Scenario Outline: A refresh token is rotated for a new access token and a new refresh token
    Given I hold a user-restricted token for persona "single-role" by <auth> authentication
    When I refresh the token
    Then the token response grants an access token expiring in "599"
    And the token response grants a refresh token expiring in "43199" with refresh count "1"
    When I refresh the token
    Then the token response grants an access token expiring in "599"
    And the token response grants a refresh token expiring in "43199" with refresh count "2"

    Examples:
      | auth     |
      | separate |
      | combined |

  @SCRA-IDN-015
  Scenario Outline: A refresh token that has been used is refused
    Given I hold a user-restricted token for persona "single-role" by <auth> authentication
    When I refresh the token
    Then the token response grants a refresh token expiring in "43199" with refresh count "1"
    When I refresh the token with the previous refresh token
    Then the token response is an error 401 "invalid_grant" with the description "refresh_token is invalid"

    Examples:
      | auth     |
      | separate |
      | combined |

  @SCRA-CLK-003 @mock-only @serial
  Scenario Outline: A refresh token is refused once its 12 hours have passed
    Given I hold a user-restricted token for persona "single-role" by <auth> authentication
    When 43200 seconds pass
    And I refresh the token
    Then the token response is an error 401 "invalid_grant" with the description "refresh token refresh period has expired"

    Examples:
      | auth     |
      | separate |
      | combined |

  @SCRA-IDN-015 @mock-only
  Scenario Outline: The refresh request is checked
    Given I hold a user-restricted token for persona "single-role" by combined authentication
    When I refresh the token with the form change "<change>"
    Then the token response is an error <status> "<error>" with the description "<description>"

    Examples:
      | case                  | change                           | status | error           | description                           |
      | refresh_token missing | remove refresh_token             | 400    | invalid_request | refresh_token is missing              |
      | refresh_token unknown | set refresh_token=not-a-token    | 401    | invalid_grant   | refresh_token is invalid              |
      | client_secret wrong   | set client_secret=not-the-secret | 401    | invalid_client  | client_id or client_secret is invalid |
