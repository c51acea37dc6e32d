# Needs the mock's CIS2 issuer and personas: on INT, CIS2 sign-in and id_tokens come from the real CIS2.
@mock-only
Feature: User-restricted access by CIS2 combined authentication (authorization code)
  With combined authentication the identity service signs the user in to CIS2 on the application's
  behalf: /oauth2/authorize redirects to CIS2, the callback returns a code to the application's
  redirect_uri, and POST /oauth2/token exchanges the code for an access token and a CIS2 refresh token.
  Only tokens of this flow may call /oauth2/userinfo, which lists the user's national RBAC roles
  (nhsid_nrbac_roles) (reference §10.3, §10.5, §11).


  @SCRA-IDN-012
  Scenario Outline: Signing in by the authorization code flow grants an access token and a refresh token
    When I sign in as persona "<persona>" by the authorization code flow
    Then the token response grants an access token expiring in "599"
    And the token response grants a refresh token expiring in "43199" with refresh count "0"

    Examples:
      | persona           |
      | single-role       |
      | multi-role        |
      | default-clinician |
      | aal2              |

  # The roles are written here, not read from the persona file the mock serves: default-clinician's are the
  # NHS sandbox user's (fixtures/nhs/sandbox/userInfo.json), the others those of fixtures/identity/personas.toml.
  @SCRA-IDN-013
  Scenario Outline: The userinfo of a combined-authentication token lists the user's roles
    Given I hold a user-restricted token for persona "<persona>" by combined authentication
    Then the userinfo response lists the roles "<roles>"

    Examples:
      | persona           | roles                                    |
      | single-role       | 787807430100                             |
      | multi-role        | 656014452101, 656014453102               |
      | selected-role     | 656014454103, 656014455104               |
      | default-clinician | 555254240100, 555254242102, 555254241101 |

  @SCRA-IDN-012 @mock-only
  Scenario Outline: The authorize request is checked before the user signs in
    When I start the authorization code flow with the change "<change>"
    Then the token response is an error <status> "<error>" with the description "<description>"

    Examples:
      | case                       | change                                 | status | error                     | description              |
      | client_id missing          | remove client_id                       | 401    | invalid_request           | client_id is missing     |
      | client_id unknown          | set client_id=not-a-registered-key     | 401    | invalid_request           | client_id is invalid     |
      | redirect_uri missing       | remove redirect_uri                    | 400    | invalid_request           | redirect_uri is missing  |
      | redirect_uri not the app's | set redirect_uri=https://example.org/x | 400    | invalid_request           | redirect_uri is invalid  |
      | state missing              | remove state                           | 302    | invalid_request           | state is missing         |
      | response_type missing      | remove response_type                   | 302    | invalid_request           | response_type is missing |
      | response_type not code     | set response_type=token                | 302    | unsupported_response_type | response_type is invalid |

  @SCRA-IDN-012 @mock-only
  Scenario Outline: The code grant's token request is checked
    When I sign in as persona "single-role" by the authorization code flow with the form change "<change>"
    Then the token response is an error <status> "<error>" with the description "<description>"

    Examples:
      | case                  | change                           | status | error           | description                           |
      | client_id missing     | remove client_id                 | 401    | invalid_request | client_id is missing                  |
      | client_secret missing | remove client_secret             | 401    | invalid_request | client_secret is missing              |
      | client_secret wrong   | set client_secret=not-the-secret | 401    | invalid_client  | client_id or client_secret is invalid |
      | redirect_uri missing  | remove redirect_uri              | 400    | invalid_request | redirect_uri is missing               |
      | code missing          | remove code                      | 400    | invalid_request | authorization_code is missing         |
      | code unknown          | set code=not-a-code              | 400    | invalid_grant   | authorization_code is invalid         |

  @SCRA-IDN-013 @mock-only
  Scenario Outline: Only combined-authentication tokens may call userinfo
    Given <holding>
    When I request the userinfo
    Then the token response is an error 400 "invalid_request" with the description "The Userinfo endpoint is only supported for Combined Auth integrations. Currently this is only for NHS CIS2 authentications - for more guidance see https://digital.nhs.uk/developer/guides-and-documentation/security-and-authorisation/user-restricted-restful-apis-nhs-cis2-combined-authentication-and-authorisation"

    Examples:
      | token                   | holding                                                                             |
      | application-restricted  | I hold an application-restricted token                                              |
      | separate authentication | I hold a user-restricted token for persona "single-role" by separate authentication |

  # Flow.GetUserInfo starts with OAuthV2.VerifyAccessToken; for no (or an empty) token and for one it does not know
  # it faults, no named FaultRule of the identity proxy matches those faults, and the DefaultFaultRule answers with
  # AssignMessage.CatchallErrorMessage (the text below is that policy's payload). The status is the fault's own 401
  # (derived: the policy sets none). The plain {"fault": …} bodies of reference §10.6 are the Canary API's.
  @SCRA-EDG-008 @mock-only
  Scenario Outline: userinfo with <case> is the identity proxy's catch-all error
    Given I send the access token "<token>"
    When I request the userinfo
    Then the token response is an error 401 "unknown_error" with the description "An unknown error occurred processing this request. Contact us for assistance diagnosing this issue: https://digital.nhs.uk/developer/help-and-support quoting Message ID"

    Examples:
      | case                 | token          |
      | an empty token       |                |
      | a token it never saw | not-a-token-42 |
