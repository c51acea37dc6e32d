Feature: The SCR read journey
  A clinical system's whole read of a Summary Care Record: an access token from the identity service, the
  patient's latest SCR id from GET /DocumentReference, then the GP Summary document from GET /Bundle with
  that id (reference §10.1, §4.1, §4.2). The patient's SCR is uploaded first, as every scenario arranges its
  own data. benches/newman/ runs the same requests from a Postman collection with Newman, side by side.

  @SCRA-RET-006 @read-journey
  Scenario: The read journey: access token, SCR id, document
    Given I hold an application-restricted token
    And a patient "A" with an SCR
    When I request the SCR id for patient "A"
    Then the response status is 200
    And the response holds the SCR id of patient "A"
    When I read the current SCR for patient "A"
    Then the response status is 200
    And the response is the SCR document of patient "A"
    And the document holds what was uploaded for patient "A"
