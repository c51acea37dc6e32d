Feature: User-restricted access by CIS2 combined authentication (authorization code)
  With combined authentication the identity service signs the user in to CIS2 on the application's
  behalf: /oauth2/authorize redirects to CIS2, the callback returns a code to the application's
  redirect_uri, and POST /oauth2/token exchanges the code for an access token and a CIS2 refresh token.
  Only tokens of this flow may call /oauth2/userinfo, which lists the user's national RBAC roles
  (nhsid_nrbac_roles) (reference §10.3, §10.5, §11).

  # Not written for lack of a step (see the report): the /authorize errors, the /token errors of this
  # grant (client_id / client_secret / redirect_uri / code missing or invalid) and userinfo refused for an
  # application-restricted or separate-authentication token.

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

  @SCRA-IDN-013
  Scenario Outline: The userinfo of a combined-authentication token lists the user's roles
    Given I hold a user-restricted token for persona "<persona>" by combined authentication
    Then the userinfo response lists the roles of persona "<persona>"

    Examples:
      | persona           |
      | single-role       |
      | multi-role        |
      | selected-role     |
      | default-clinician |
