Feature: Application-restricted access with signed-JWT client credentials
  An application obtains an application-restricted access token by POSTing to /oauth2/token a
  client_credentials form whose client_assertion is a JWT it signed with RS512 (header alg, typ, kid;
  claims iss = sub = its API key, a fresh jti, aud = the exact token URL, exp at most 5 minutes ahead).
  The identity service checks the form and the assertion in a fixed order and the first failing rule
  answers with its exact status, error and error_description (and a message_id). The jti is stored in
  the replay cache after the claim checks and before the app, key and signature checks, so a jti is
  burnt even when one of those later checks fails (reference §10, §10.1).

  @SCRA-IDN-001
  Scenario: A correctly signed client assertion is granted an application-restricted access token
    When I request a token with a client assertion
    Then the token response grants an access token expiring in "599"

  @SCRA-IDN-001 @mock-only
  Scenario: An app whose public key is registered by JWKS URL is granted an access token
    When I request a token with a client assertion for the app "scr-assure-jwks-by-url"
    Then the token response grants an access token expiring in "599"

  # Row 7: typ is compared case-insensitively.
  @SCRA-IDN-003
  Scenario: A lower-case typ header is accepted
    When I request a token with a client assertion with the defect "typ jwt"
    Then the token response grants an access token expiring in "599"

  @SCRA-IDN-002
  Scenario Outline: The client-credentials form is checked before the assertion
    When I request a token with the form change "<change>"
    Then the token response is an error <status> "<error>" with the description "<description>"

    Examples:
      | row | case                             | change                                                                             | status | error                  | description                                                                                                 |
      | 1   | client_assertion_type missing    | remove client_assertion_type                                                       | 400    | invalid_request        | Missing or invalid client_assertion_type - must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' |
      | 1   | client_assertion_type not bearer | set client_assertion_type=urn:ietf:params:oauth:client-assertion-type:saml2-bearer | 400    | invalid_request        | Missing or invalid client_assertion_type - must be 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' |
      | 2   | client_assertion missing         | remove client_assertion                                                            | 400    | invalid_request        | Missing client_assertion                                                                                    |
      | 3   | client_assertion not a JWT       | set client_assertion=not.a.jwt                                                     | 400    | invalid_request        | Malformed JWT in client_assertion                                                                           |
      | -   | grant_type missing               | remove grant_type                                                                  | 400    | invalid_request        | grant_type is missing                                                                                       |
      | -   | grant_type unknown               | set grant_type=password                                                            | 400    | unsupported_grant_type | grant_type is invalid                                                                                       |

  @SCRA-IDN-003
  Scenario Outline: The client assertion's header and claims are checked
    When I request a token with a client assertion with the defect "<defect>"
    Then the token response is an error <status> "<error>" with the description "<description>"

    Examples:
      | row | case                 | defect                                    | status | error           | description                                                                                |
      | 4   | alg RS256            | alg RS256                                 | 400    | invalid_request | Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm - must be 'RS512' |
      | 4   | alg RS384            | alg RS384                                 | 400    | invalid_request | Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm - must be 'RS512' |
      | 4   | alg PS512            | alg PS512                                 | 400    | invalid_request | Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm - must be 'RS512' |
      | 4   | alg HS256            | alg HS256                                 | 400    | invalid_request | Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm - must be 'RS512' |
      | 6   | no kid               | omit kid                                  | 400    | invalid_request | Missing 'kid' header in client_assertion JWT                                               |
      | 7   | no typ               | omit typ                                  | 400    | invalid_request | Invalid 'typ' header in client_assertion JWT - must be 'JWT'                               |
      | 7   | typ not JWT          | typ JOSE                                  | 400    | invalid_request | Invalid 'typ' header in client_assertion JWT - must be 'JWT'                               |
      | 8   | no exp               | omit exp                                  | 400    | invalid_request | Missing 'exp' claim in client_assertion JWT                                                |
      | 9   | exp a string         | exp as string                             | 400    | invalid_request | Invalid 'exp' claim in client_assertion JWT - must be an integer                           |
      | 10  | no iss               | omit iss                                  | 400    | invalid_request | Missing or non-matching 'iss'/'sub' claims in client_assertion JWT                         |
      | 10  | no sub               | omit sub                                  | 400    | invalid_request | Missing or non-matching 'iss'/'sub' claims in client_assertion JWT                         |
      | 10  | iss differs from sub | iss another-api-key                       | 400    | invalid_request | Missing or non-matching 'iss'/'sub' claims in client_assertion JWT                         |
      | 11  | no jti               | omit jti                                  | 400    | invalid_request | Missing 'jti' claim in client_assertion JWT                                                |
      | 12  | jti a number         | jti 42                                    | 400    | invalid_request | Invalid 'jti' claim in client_assertion JWT - must be a unique string value such as a GUID |
      | 15  | unknown API key      | iss unknown-api-key ; sub unknown-api-key | 401    | invalid_request | Invalid 'iss'/'sub' claims in client_assertion JWT                                         |
      | 18  | no aud               | omit aud                                  | 401    | invalid_request | Missing or invalid 'aud' claim in client_assertion JWT                                     |
      | 18  | aud another URL      | aud https://example.org/oauth2/token      | 401    | invalid_request | Missing or invalid 'aud' claim in client_assertion JWT                                     |
      | 19  | kid not in the JWKS  | kid unknown-kid                           | 401    | invalid_request | Invalid 'kid' header in client_assertion JWT - no matching public key                      |

  # Rows 5 and 14 with values clear of the boundaries; the boundaries are in expiry_and_skew.feature.
  @SCRA-IDN-003 @SCRA-CLK-002
  Scenario Outline: The client assertion's exp must not be past nor more than 5 minutes ahead
    When I request a token with a client assertion expiring in <seconds> seconds
    Then the token response is an error <status> "<error>" with the description "<description>"

    Examples:
      | row | case                      | seconds | status | error           | description                                                                 |
      | 5   | expired a minute ago      | -60     | 400    | invalid_request | Invalid 'exp' claim in client_assertion JWT - JWT has expired               |
      | 14  | ten minutes in the future | 600     | 400    | invalid_request | Invalid 'exp' claim in client_assertion JWT - more than 5 minutes in future |

  @SCRA-IDN-005 @mock-only
  Scenario Outline: The app must have a reachable public key and a level-3 product
    When I request a token with a client assertion for the app "<app>"
    Then the token response is an error <status> "<error>" with the description "<description>"

    Examples:
      | row | case                     | app                         | status | error               | description                                                                                                         |
      | 16  | no public key registered | scr-assure-no-key           | 403    | public_key error    | You need to register a public key to use this authentication method - please contact support to configure           |
      | 17  | JWKS URL unreachable     | scr-assure-unreachable-jwks | 403    | public_key error    | The JWKS endpoint, for your client_assertion can't be reached                                                       |
      | 21  | no level-3 product       | scr-assure-no-level3        | 401    | unauthorized_client | you have tried to request authorization but your application is not configured to use this authorization grant type |

  # Row 20.
  @SCRA-IDN-006
  Scenario: A client assertion signed by a key the app did not register fails signature verification
    When I request a token with a client assertion signed by the unregistered key
    Then the token response is an error 401 "public_key error" with the description "JWT signature verification failed"

  # Row 13.
  @SCRA-IDN-004
  Scenario: A jti can be used only once
    When I request a token with a client assertion
    Then the token response grants an access token expiring in "599"
    When I request a token with a client assertion reusing the previous jti
    Then the token response is an error 400 "invalid_request" with the description "Non-unique 'jti' claim in client_assertion JWT"

  @SCRA-IDN-004 @SCRA-IDN-007
  Scenario: The jti is burnt even when a check after the replay check fails
    When I request a token with a client assertion with the defect "kid unknown-kid"
    Then the token response is an error 401 "invalid_request" with the description "Invalid 'kid' header in client_assertion JWT - no matching public key"
    When I request a token with a client assertion reusing the previous jti
    Then the token response is an error 400 "invalid_request" with the description "Non-unique 'jti' claim in client_assertion JWT"

  # Derived from the table order: the jti is stored only after row 14, so an assertion refused by an
  # earlier row has not used its jti.
  @SCRA-IDN-004 @SCRA-IDN-007
  Scenario: A jti refused by a check before the replay check is not burnt
    When I request a token with a client assertion with the defect "alg RS256"
    Then the token response is an error 400 "invalid_request" with the description "Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm - must be 'RS512'"
    When I request a token with a client assertion reusing the previous jti
    Then the token response grants an access token expiring in "599"

  # aud (row 18) is checked after the claim checks: with a slow clock the assertion is also expired (row 5).
  @SCRA-IDN-007
  Scenario: An assertion with a wrong aud that is also expired reports the expiry
    Given the client clock is 301 seconds slow
    When I request a token with a client assertion with the defect "aud https://example.org/oauth2/token"
    Then the token response is an error 400 "invalid_request" with the description "Invalid 'exp' claim in client_assertion JWT - JWT has expired"

  @SCRA-IDN-007
  Scenario Outline: With several faults the first rule in table order is reported
    When I request a token with a client assertion with the defect "<defects>"
    Then the token response is an error <status> "<error>" with the description "<description>"

    Examples:
      | rows      | defects                                                                          | status | error           | description                                                                                |
      | 4 and 7   | alg RS256 ; omit typ                                                             | 400    | invalid_request | Invalid 'alg' header in client_assertion JWT - unsupported JWT algorithm - must be 'RS512' |
      | 6 and 11  | omit jti ; omit kid                                                              | 400    | invalid_request | Missing 'kid' header in client_assertion JWT                                               |
      | 8 and 10  | omit iss ; omit exp                                                              | 400    | invalid_request | Missing 'exp' claim in client_assertion JWT                                                |
      | 12 and 18 | jti 42 ; aud https://example.org/oauth2/token                                    | 400    | invalid_request | Invalid 'jti' claim in client_assertion JWT - must be a unique string value such as a GUID |
      | 15 and 18 | iss unknown-api-key ; sub unknown-api-key ; aud https://example.org/oauth2/token | 401    | invalid_request | Invalid 'iss'/'sub' claims in client_assertion JWT                                         |
      | 18 and 19 | aud https://example.org/oauth2/token ; kid unknown-kid                           | 401    | invalid_request | Missing or invalid 'aud' claim in client_assertion JWT                                     |

  # validate-client-assertion-claims.js tests `new Date() > new Date(jwtPayload.exp * 1000)` before the type checks,
  # and JavaScript turns a numeric string, null, false or "" into a number: such an exp has expired in 1970. Only a
  # string the expiry check cannot read, or a future time written as a string (the NHS test's
  # `{"exp": str(int(time()) + 300)}`), reaches the "must be an integer" check.
  @SCRA-EDG-007
  Scenario Outline: An exp that is not a number is read as JavaScript reads it, the expiry check first
    When I request a token with a client assertion with the defect "<defect>"
    Then the token response is an error 400 "invalid_request" with the description "<description>"

    Examples:
      | case                          | defect        | description                                                      |
      | a past time as a string       | exp "300"     | Invalid 'exp' claim in client_assertion JWT - JWT has expired    |
      | null                          | exp null      | Invalid 'exp' claim in client_assertion JWT - JWT has expired    |
      | an empty string               | exp ""        | Invalid 'exp' claim in client_assertion JWT - JWT has expired    |
      | false                         | exp false     | Invalid 'exp' claim in client_assertion JWT - JWT has expired    |
      | a future time as a string     | exp as string | Invalid 'exp' claim in client_assertion JWT - must be an integer |
      | a string that is not a number | exp "soon"    | Invalid 'exp' claim in client_assertion JWT - must be an integer |
      | an object                     | exp {}        | Invalid 'exp' claim in client_assertion JWT - must be an integer |
