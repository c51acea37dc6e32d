# Needs the mock's CIS2 issuer and personas: on INT, CIS2 sign-in and id_tokens come from the real CIS2.
@mock-only
Feature: User-restricted access by CIS2 separate authentication (token exchange)
  With separate authentication the application signs the user in to CIS2 itself and exchanges the CIS2
  id_token (the subject_token) for an access token: POST /oauth2/token with the token-exchange grant,
  subject_token_type id_token, the subject_token and the same signed client assertion as for client
  credentials. The client_assertion_type is checked first, then the grant_type, then every
  client-assertion rule, then the subject_token rules in table order, then the product scope must match
  the user's authentication assurance level. The answer carries a CIS2 refresh token (reference §10.2,
  §10.5, §11).

  @SCRA-IDN-008
  Scenario Outline: A CIS2 id_token is exchanged for an access token and a refresh token
    When I exchange an id_token for persona "<persona>"
    Then the token response grants an access token expiring in "599"
    And the token response grants a refresh token expiring in "43199" with refresh count "0"

    Examples:
      | persona       |
      | single-role   |
      | selected-role |
      | aal2          |

  @SCRA-IDN-009
  Scenario Outline: The token-exchange form is checked
    When I exchange an id_token for persona "single-role" with the form change "<change>"
    Then the token response is an error <status> "<error>" with the description "<description>"

    Examples:
      | case                               | change                                                               | status | error           | description                                                                                 |
      | subject_token_type missing         | remove subject_token_type                                            | 400    | invalid_request | missing or invalid subject_token_type - must be 'urn:ietf:params:oauth:token-type:id_token' |
      | subject_token_type an access token | set subject_token_type=urn:ietf:params:oauth:token-type:access_token | 400    | invalid_request | missing or invalid subject_token_type - must be 'urn:ietf:params:oauth:token-type:id_token' |
      | grant_type missing                 | remove grant_type                                                    | 400    | invalid_request | grant_type is invalid                                                                       |
      | grant_type not token-exchange      | set grant_type=invalid                                               | 400    | invalid_request | grant_type is invalid                                                                       |
      | subject_token missing              | remove subject_token                                                 | 400    | invalid_request | Missing subject_token                                                                       |
      | subject_token not a JWT            | set subject_token=not.a.jwt                                          | 400    | invalid_request | Malformed JWT in subject_token                                                              |

  # The client-assertion rules of client credentials (§10.1 rows 1-20) apply unchanged.
  @SCRA-IDN-009
  Scenario Outline: The client assertion is checked as for client credentials
    When I exchange an id_token for persona "single-role" with the form change "<change>"
    Then the token response is an error <status> "<error>" with the description "<description>"

    Examples:
      | row | case                          | change                         | status | error           | description                                                                                                 |
      | 1   | client_assertion_type missing | remove client_assertion_type   | 400    | invalid_request | Missing or invalid client_assertion_type - must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' |
      | 2   | client_assertion missing      | remove client_assertion        | 400    | invalid_request | Missing client_assertion                                                                                    |
      | 3   | client_assertion not a JWT    | set client_assertion=not.a.jwt | 400    | invalid_request | Malformed JWT in client_assertion                                                                           |

  @SCRA-IDN-010
  Scenario Outline: The subject_token's header and claims are checked
    When I exchange an id_token for persona "single-role" with the defect "<defect>"
    Then the token response is an error <status> "<error>" with the description "<description>"

    Examples:
      | case                    | defect                           | status | error           | description                                                        |
      | no kid                  | omit kid                         | 400    | invalid_request | Missing 'kid' header in subject_token JWT                          |
      | no typ                  | omit typ                         | 400    | invalid_request | Invalid 'typ' header in subject_token JWT - must be 'JWT'          |
      | typ not JWT             | typ JOSE                         | 400    | invalid_request | Invalid 'typ' header in subject_token JWT - must be 'JWT'          |
      | no alg                  | omit alg                         | 400    | invalid_request | Missing 'alg' header in subject_token JWT                          |
      | no exp                  | omit exp                         | 400    | invalid_request | Missing 'exp' claim in subject_token JWT                           |
      | exp a string            | exp "300"                        | 400    | invalid_request | Invalid 'exp' claim in subject_token JWT - must be an integer      |
      | exp in the past         | exp 1                            | 400    | invalid_request | Invalid 'exp' claim in subject_token JWT - JWT has expired         |
      | no iss                  | omit iss                         | 400    | invalid_request | Missing 'iss' claim in subject_token JWT                           |
      | no aud                  | omit aud                         | 401    | invalid_request | Missing 'aud' claim in subject_token JWT                           |
      | iss not CIS2            | iss https://example.org/not-cis2 | 400    | invalid_request | Missing or non-matching 'iss' claim in subject_token JWT           |
      | kid not in the IdP JWKS | kid unknown-kid                  | 401    | invalid_request | Invalid 'kid' header in subject_token JWT - no matching public key |

  @SCRA-IDN-011
  Scenario: A user authenticated at AAL1 matches no SCR product scope
    When I exchange an id_token for persona "aal1"
    Then the token response is an error 401 "unauthorized_client" with the description "you have tried to request authorization but your application is not configured to use this authorization grant type"

  @SCRA-IDN-010 @mock-only
  Scenario: A subject_token signed by a key the CIS2 issuer does not publish fails signature verification
    When I exchange an id_token for persona "single-role" signed by the unregistered key
    Then the token response is an error 401 "public_key error" with the description "JWT signature verification failed"
