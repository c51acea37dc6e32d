//! A mutation corpus over the HL7 FHIR R4 examples (`fixtures/fhir-examples/`, CC0): the proof that
//! [`FhirValidator`] rejects what FHIR R4 forbids, **at the right place**, and accepts every example as it is.
//!
//! Each example is walked by a small navigator written here, independently of the validator: it follows the
//! vendored HL7 R4 JSON schema (`schemas/fhir/fhir.schema.json`) only as a map of element types — a property is
//! `{"$ref": "#/definitions/T"}`, an array of those, an inline `enum` (a code with a required value set), an
//! inline primitive (`pattern` + `type`, e.g. `Extension.valueBoolean`) or the `resourceType` `const`;
//! definitions with `properties` are complex types or backbones, those without are primitives, and
//! `ResourceList` is any resource (Bundle entries, `contained`, `Parameters.parameter.resource`). The walk
//! yields *sites*: every element (JSON Pointer, type, array or not, FHIR element path such as
//! `Bundle.entry.request`), every object, every resource.
//!
//! Every mutation kind below is a named function; it is applied at up to [`CAP`] sites per example, chosen
//! deterministically and spread over the document (the first root-level site, the first nested one, the first
//! inside a Bundle entry / contained resource, then evenly spaced), so the corpus has thousands of mutants with
//! no randomness:
//!
//! | kind | mutation | finding expected at |
//! |---|---|---|
//! | `object-to-string` | a single complex element (e.g. `meta`, `code`) becomes `"x"` | the element |
//! | `object-to-number` | … becomes `5` | the element |
//! | `single-to-array` | a single complex element is wrapped in `[ … ]` | the element |
//! | `array-to-single` | an array element is replaced by its first item | the element |
//! | `primitive-wrong-json-type` | a boolean as `"true"`, a string as `5`, a number as `"5"` | the element |
//! | `integer-fraction` | an `integer`/`positiveInt`/`unsignedInt` becomes `1.5` | the element |
//! | `integer-range` | a `positiveInt` becomes `0`, an `unsignedInt` `-1` | the element |
//! | `unknown-element` | a member `"scrAssureUnknown": 1` is added to an object | the object |
//! | `missing-required` | an element that R4 makes min 1 ([`REQUIRED`]) is removed; the first nested resource (Bundle entry, contained) loses its `resourceType` | the containing object |
//! | `choice-two-variants` | beside a present `value[x]` variant a second one of another type is added | the containing object |
//! | `enum-code` | a code with a required binding (schema `enum`) becomes `"scr-assure-bogus"` | the element |
//! | `required-binding-codeableconcept` | `Condition`/`AllergyIntolerance` `clinicalStatus`/`verificationStatus` (required bindings in R4) get the right system and code `"scr-assure-bogus"` (set, or added where absent) | the element |
//! | `bad-primitive-pattern` | an `id` with a space, a `date` `22/10/1980`, a `dateTime` with hours but no zone, an `instant` without seconds, a `uri` with a space, a `code` with a leading space | the element |
//! | `impossible-date` | a `date`/`dateTime` becomes `2021-02-30` | the element |
//! | `empty-array` | an array element becomes `[]` | the element |
//! | `empty-string` | a string-valued primitive becomes `""` | the element |
//! | `null-value` | a single element becomes `null` | the element |
//! | `unknown-resource-type` | a Bundle entry's / contained resource's `resourceType` becomes `"Nope"` | the resource |
//!
//! A mutant counts as rejected when `validate` returns at least one finding whose `path` is exactly the
//! expected JSON Pointer and which the unmutated example did not already have (same path and message), so a
//! defect already present in an example cannot pass for the validator catching the mutation. All failures are
//! collected and reported at once, with a per-kind summary (`kind: rejected n / m`).
//!
//! The tests:
//! - `every_mutant_is_rejected_at_the_right_place`: the target behaviour of the validator being rewritten
//!   (R4 StructureDefinition rules on top of the schema). Today's validator fails some kinds; that is the point.
//! - `every_unmutated_example_is_valid`: no false rejection (one example, whose `id` is 67 characters long, is
//!   not valid R4 and is left out, see [`NOT_R4`]).
//! - `the_mutant_corpus_is_big_enough`: every kind has at least 5 mutants, at least 300 in all;
//!   `the_navigator_knows_every_element`: the navigator's own checks.
//! - `the_vendored_schema_is_strict`: the bare vendored JSON schema (`jsonschema::draft6::new`) rejects the
//!   kinds a JSON schema can see ([`SCHEMA_KINDS`]), over the examples it accepts as they are; this fails
//!   until the strict schema lands.
//!
//! Deterministic, no network. Building and walking the corpus takes about a second; the rest is the
//! validator's: the first rejection of each resource type compiles that type's validator (about a quarter of a
//! second each in a debug build), so `every_mutant_is_rejected_at_the_right_place` checks on every core, each
//! thread taking whole examples.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use scr_assure::fhir::schema::FhirValidator;
use scr_assure::fhir::Finding;
use serde_json::{json, Map, Value};

/// Sites per example per kind.
const CAP: usize = 3;
const BOGUS: &str = "scr-assure-bogus";
const UNKNOWN_MEMBER: &str = "scrAssureUnknown";

/// Examples that are not valid FHIR R4 as published: the id has 67 characters, and R4's `id` is
/// `[A-Za-z0-9\-\.]{1,64}`. Neither a base for mutants nor expected to be accepted.
const NOT_R4: &[&str] = &["SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json"];

/// The kinds a JSON schema can see (checked against the bare vendored schema by `the_vendored_schema_is_strict`).
const SCHEMA_KINDS: &[&str] = &[
    "object-to-string",
    "object-to-number",
    "single-to-array",
    "array-to-single",
    "primitive-wrong-json-type",
    "integer-fraction",
    "integer-range",
    "unknown-element",
    "enum-code",
    "bad-primitive-pattern",
    "empty-array",
    "empty-string",
    "null-value",
];

/// R4 elements with min ≥ 1 (`(parent element path, member)`; `x[x]` is a choice), read from
/// `snapshot.element[].min` of `package/StructureDefinition-<Type>.json` in the HL7 package
/// `hl7.fhir.r4.examples-4.0.1.tgz` (kept by the validation bench at
/// `target/validation-bench/hl7.fhir.r4.examples-4.0.1.tgz`): every base resource type that occurs in
/// `fixtures/fhir-examples/` and every complex data type with such an element. Checked there, among others:
/// Observation.status/code, Bundle.type, Narrative.status/div, Condition.subject, Patient.link.other,
/// Extension.url, Composition.status/type/date/author/title (Composition.subject is 0..1 in R4),
/// AllergyIntolerance.patient, MedicationStatement.status/medication[x]/subject, Encounter.status/class,
/// OperationOutcome.issue and issue.severity/code, Bundle.entry.request.method/url; Coding, Reference,
/// Quantity, Identifier, Meta, HumanName and ContactPoint have no min-1 element.
#[rustfmt::skip]
const REQUIRED: &[(&str, &str)] = &[
    // StructureDefinition-Account.json
    ("Account", "status"), ("Account.coverage", "coverage"), ("Account.guarantor", "party"),
    // StructureDefinition-AdverseEvent.json
    ("AdverseEvent", "actuality"), ("AdverseEvent", "subject"), ("AdverseEvent.suspectEntity", "instance"),
    // StructureDefinition-AllergyIntolerance.json
    ("AllergyIntolerance", "patient"), ("AllergyIntolerance.reaction", "manifestation"),
    // StructureDefinition-Annotation.json
    ("Annotation", "text"),
    // StructureDefinition-AppointmentResponse.json
    ("AppointmentResponse", "appointment"), ("AppointmentResponse", "participantStatus"),
    // StructureDefinition-AuditEvent.json
    ("AuditEvent", "type"), ("AuditEvent", "recorded"), ("AuditEvent", "agent"), ("AuditEvent.agent", "requestor"),
    ("AuditEvent", "source"), ("AuditEvent.source", "observer"), ("AuditEvent.entity.detail", "type"),
    ("AuditEvent.entity.detail", "value[x]"),
    // StructureDefinition-Binary.json
    ("Binary", "contentType"),
    // StructureDefinition-BodyStructure.json
    ("BodyStructure", "patient"),
    // StructureDefinition-Bundle.json
    ("Bundle", "type"), ("Bundle.link", "relation"), ("Bundle.link", "url"), ("Bundle.entry.request", "method"),
    ("Bundle.entry.request", "url"), ("Bundle.entry.response", "status"),
    // StructureDefinition-CapabilityStatement.json
    ("CapabilityStatement", "status"), ("CapabilityStatement", "date"), ("CapabilityStatement", "kind"),
    ("CapabilityStatement.software", "name"), ("CapabilityStatement.implementation", "description"),
    ("CapabilityStatement", "fhirVersion"), ("CapabilityStatement", "format"), ("CapabilityStatement.rest", "mode"),
    ("CapabilityStatement.rest.resource", "type"), ("CapabilityStatement.rest.resource.interaction", "code"),
    ("CapabilityStatement.rest.resource.searchParam", "name"),
    ("CapabilityStatement.rest.resource.searchParam", "type"),
    ("CapabilityStatement.rest.resource.operation", "name"),
    ("CapabilityStatement.rest.resource.operation", "definition"), ("CapabilityStatement.rest.interaction", "code"),
    ("CapabilityStatement.messaging.endpoint", "protocol"), ("CapabilityStatement.messaging.endpoint", "address"),
    ("CapabilityStatement.messaging.supportedMessage", "mode"),
    ("CapabilityStatement.messaging.supportedMessage", "definition"), ("CapabilityStatement.document", "mode"),
    ("CapabilityStatement.document", "profile"),
    // StructureDefinition-ChargeItem.json
    ("ChargeItem", "status"), ("ChargeItem", "code"), ("ChargeItem", "subject"), ("ChargeItem.performer", "actor"),
    // StructureDefinition-Claim.json
    ("Claim", "status"), ("Claim", "type"), ("Claim", "use"), ("Claim", "patient"), ("Claim", "created"),
    ("Claim", "provider"), ("Claim", "priority"), ("Claim.payee", "type"), ("Claim.careTeam", "sequence"),
    ("Claim.careTeam", "provider"), ("Claim.supportingInfo", "sequence"), ("Claim.supportingInfo", "category"),
    ("Claim.diagnosis", "sequence"), ("Claim.diagnosis", "diagnosis[x]"), ("Claim.procedure", "sequence"),
    ("Claim.procedure", "procedure[x]"), ("Claim", "insurance"), ("Claim.insurance", "sequence"),
    ("Claim.insurance", "focal"), ("Claim.insurance", "coverage"), ("Claim.accident", "date"),
    ("Claim.item", "sequence"), ("Claim.item", "productOrService"), ("Claim.item.detail", "sequence"),
    ("Claim.item.detail", "productOrService"), ("Claim.item.detail.subDetail", "sequence"),
    ("Claim.item.detail.subDetail", "productOrService"),
    // StructureDefinition-ClinicalImpression.json
    ("ClinicalImpression", "status"), ("ClinicalImpression", "subject"), ("ClinicalImpression.investigation", "code"),
    // StructureDefinition-CodeSystem.json
    ("CodeSystem", "status"), ("CodeSystem", "content"), ("CodeSystem.filter", "code"),
    ("CodeSystem.filter", "operator"), ("CodeSystem.filter", "value"), ("CodeSystem.property", "code"),
    ("CodeSystem.property", "type"), ("CodeSystem.concept", "code"), ("CodeSystem.concept.designation", "value"),
    ("CodeSystem.concept.property", "code"), ("CodeSystem.concept.property", "value[x]"),
    // StructureDefinition-Communication.json
    ("Communication", "status"), ("Communication.payload", "content[x]"),
    // StructureDefinition-CompartmentDefinition.json
    ("CompartmentDefinition", "url"), ("CompartmentDefinition", "name"), ("CompartmentDefinition", "status"),
    ("CompartmentDefinition", "code"), ("CompartmentDefinition", "search"),
    ("CompartmentDefinition.resource", "code"),
    // StructureDefinition-Composition.json
    ("Composition", "status"), ("Composition", "type"), ("Composition", "date"), ("Composition", "author"),
    ("Composition", "title"), ("Composition.attester", "mode"), ("Composition.relatesTo", "code"),
    ("Composition.relatesTo", "target[x]"),
    // StructureDefinition-Condition.json
    ("Condition", "subject"),
    // StructureDefinition-Consent.json
    ("Consent", "status"), ("Consent", "scope"), ("Consent", "category"), ("Consent.verification", "verified"),
    ("Consent.provision.actor", "role"), ("Consent.provision.actor", "reference"),
    ("Consent.provision.data", "meaning"), ("Consent.provision.data", "reference"),
    // StructureDefinition-Contract.json
    ("Contract.contentDefinition", "type"), ("Contract.contentDefinition", "publicationStatus"),
    ("Contract.term.securityLabel", "classification"), ("Contract.term", "offer"),
    ("Contract.term.offer.party", "reference"), ("Contract.term.offer.party", "role"),
    ("Contract.term.offer.answer", "value[x]"), ("Contract.term.action", "type"),
    ("Contract.term.action.subject", "reference"), ("Contract.term.action", "intent"),
    ("Contract.term.action", "status"), ("Contract.signer", "type"), ("Contract.signer", "party"),
    ("Contract.signer", "signature"), ("Contract.friendly", "content[x]"), ("Contract.legal", "content[x]"),
    ("Contract.rule", "content[x]"),
    // StructureDefinition-Contributor.json
    ("Contributor", "type"), ("Contributor", "name"),
    // StructureDefinition-CoverageEligibilityRequest.json
    ("CoverageEligibilityRequest", "status"), ("CoverageEligibilityRequest", "purpose"),
    ("CoverageEligibilityRequest", "patient"), ("CoverageEligibilityRequest", "created"),
    ("CoverageEligibilityRequest", "insurer"), ("CoverageEligibilityRequest.supportingInfo", "sequence"),
    ("CoverageEligibilityRequest.supportingInfo", "information"),
    ("CoverageEligibilityRequest.insurance", "coverage"),
    // StructureDefinition-DataRequirement.json
    ("DataRequirement", "type"), ("DataRequirement.sort", "path"), ("DataRequirement.sort", "direction"),
    // StructureDefinition-DetectedIssue.json
    ("DetectedIssue", "status"), ("DetectedIssue.mitigation", "action"),
    // StructureDefinition-DeviceDefinition.json
    ("DeviceDefinition.udiDeviceIdentifier", "deviceIdentifier"), ("DeviceDefinition.udiDeviceIdentifier", "issuer"),
    ("DeviceDefinition.udiDeviceIdentifier", "jurisdiction"), ("DeviceDefinition.deviceName", "name"),
    ("DeviceDefinition.deviceName", "type"), ("DeviceDefinition.specialization", "systemType"),
    ("DeviceDefinition.capability", "type"), ("DeviceDefinition.property", "type"),
    ("DeviceDefinition.material", "substance"),
    // StructureDefinition-DeviceRequest.json
    ("DeviceRequest", "intent"), ("DeviceRequest", "code[x]"), ("DeviceRequest", "subject"),
    // StructureDefinition-DiagnosticReport.json
    ("DiagnosticReport", "status"), ("DiagnosticReport", "code"), ("DiagnosticReport.media", "link"),
    // StructureDefinition-DocumentReference.json
    ("DocumentReference", "status"), ("DocumentReference.relatesTo", "code"),
    ("DocumentReference.relatesTo", "target"), ("DocumentReference", "content"),
    ("DocumentReference.content", "attachment"),
    // StructureDefinition-EffectEvidenceSynthesis.json
    ("EffectEvidenceSynthesis", "status"), ("EffectEvidenceSynthesis", "population"),
    ("EffectEvidenceSynthesis", "exposure"), ("EffectEvidenceSynthesis", "exposureAlternative"),
    ("EffectEvidenceSynthesis", "outcome"), ("EffectEvidenceSynthesis.resultsByExposure", "riskEvidenceSynthesis"),
    // StructureDefinition-ElementDefinition.json
    ("ElementDefinition", "path"), ("ElementDefinition.slicing.discriminator", "type"),
    ("ElementDefinition.slicing.discriminator", "path"), ("ElementDefinition.slicing", "rules"),
    ("ElementDefinition.base", "path"), ("ElementDefinition.base", "min"), ("ElementDefinition.base", "max"),
    ("ElementDefinition.type", "code"), ("ElementDefinition.example", "label"),
    ("ElementDefinition.example", "value[x]"), ("ElementDefinition.constraint", "key"),
    ("ElementDefinition.constraint", "severity"), ("ElementDefinition.constraint", "human"),
    ("ElementDefinition.binding", "strength"), ("ElementDefinition.mapping", "identity"),
    ("ElementDefinition.mapping", "map"),
    // StructureDefinition-Encounter.json
    ("Encounter", "status"), ("Encounter.statusHistory", "status"), ("Encounter.statusHistory", "period"),
    ("Encounter", "class"), ("Encounter.classHistory", "class"), ("Encounter.classHistory", "period"),
    ("Encounter.diagnosis", "condition"), ("Encounter.location", "location"),
    // StructureDefinition-EpisodeOfCare.json
    ("EpisodeOfCare", "status"), ("EpisodeOfCare.statusHistory", "status"), ("EpisodeOfCare.statusHistory", "period"),
    ("EpisodeOfCare.diagnosis", "condition"), ("EpisodeOfCare", "patient"),
    // StructureDefinition-Evidence.json
    ("Evidence", "status"), ("Evidence", "exposureBackground"),
    // StructureDefinition-ExampleScenario.json
    ("ExampleScenario", "status"), ("ExampleScenario.actor", "actorId"), ("ExampleScenario.actor", "type"),
    ("ExampleScenario.instance", "resourceId"), ("ExampleScenario.instance", "resourceType"),
    ("ExampleScenario.instance.version", "versionId"), ("ExampleScenario.instance.version", "description"),
    ("ExampleScenario.instance.containedInstance", "resourceId"), ("ExampleScenario.process", "title"),
    ("ExampleScenario.process.step.operation", "number"), ("ExampleScenario.process.step.alternative", "title"),
    // StructureDefinition-Expression.json
    ("Expression", "language"),
    // StructureDefinition-Extension.json
    ("Extension", "url"),
    // StructureDefinition-FamilyMemberHistory.json
    ("FamilyMemberHistory", "status"), ("FamilyMemberHistory", "patient"), ("FamilyMemberHistory", "relationship"),
    ("FamilyMemberHistory.condition", "code"),
    // StructureDefinition-Flag.json
    ("Flag", "status"), ("Flag", "code"), ("Flag", "subject"),
    // StructureDefinition-GraphDefinition.json
    ("GraphDefinition", "name"), ("GraphDefinition", "status"), ("GraphDefinition", "start"),
    ("GraphDefinition.link.target", "type"), ("GraphDefinition.link.target.compartment", "use"),
    ("GraphDefinition.link.target.compartment", "code"), ("GraphDefinition.link.target.compartment", "rule"),
    // StructureDefinition-Group.json
    ("Group", "type"), ("Group", "actual"), ("Group.characteristic", "code"), ("Group.characteristic", "value[x]"),
    ("Group.characteristic", "exclude"), ("Group.member", "entity"),
    // StructureDefinition-GuidanceResponse.json
    ("GuidanceResponse", "module[x]"), ("GuidanceResponse", "status"),
    // StructureDefinition-ImagingStudy.json
    ("ImagingStudy", "status"), ("ImagingStudy", "subject"), ("ImagingStudy.series", "uid"),
    ("ImagingStudy.series", "modality"), ("ImagingStudy.series.performer", "actor"),
    ("ImagingStudy.series.instance", "uid"), ("ImagingStudy.series.instance", "sopClass"),
    // StructureDefinition-Immunization.json
    ("Immunization", "status"), ("Immunization", "vaccineCode"), ("Immunization", "patient"),
    ("Immunization", "occurrence[x]"), ("Immunization.performer", "actor"),
    ("Immunization.protocolApplied", "doseNumber[x]"),
    // StructureDefinition-ImmunizationRecommendation.json
    ("ImmunizationRecommendation", "patient"), ("ImmunizationRecommendation", "date"),
    ("ImmunizationRecommendation", "recommendation"), ("ImmunizationRecommendation.recommendation", "forecastStatus"),
    ("ImmunizationRecommendation.recommendation.dateCriterion", "code"),
    ("ImmunizationRecommendation.recommendation.dateCriterion", "value"),
    // StructureDefinition-InsurancePlan.json
    ("InsurancePlan.coverage", "type"), ("InsurancePlan.coverage", "benefit"),
    ("InsurancePlan.coverage.benefit", "type"), ("InsurancePlan.plan.specificCost", "category"),
    ("InsurancePlan.plan.specificCost.benefit", "type"), ("InsurancePlan.plan.specificCost.benefit.cost", "type"),
    // StructureDefinition-Library.json
    ("Library", "status"), ("Library", "type"),
    // StructureDefinition-List.json
    ("List", "status"), ("List", "mode"), ("List.entry", "item"),
    // StructureDefinition-MarketingStatus.json
    ("MarketingStatus", "country"), ("MarketingStatus", "status"), ("MarketingStatus", "dateRange"),
    // StructureDefinition-Measure.json
    ("Measure", "status"), ("Measure.group.population", "criteria"),
    ("Measure.group.stratifier.component", "criteria"), ("Measure.supplementalData", "criteria"),
    // StructureDefinition-Media.json
    ("Media", "status"), ("Media", "content"),
    // StructureDefinition-Medication.json
    ("Medication.ingredient", "item[x]"),
    // StructureDefinition-MedicationAdministration.json
    ("MedicationAdministration", "status"), ("MedicationAdministration", "medication[x]"),
    ("MedicationAdministration", "subject"), ("MedicationAdministration", "effective[x]"),
    ("MedicationAdministration.performer", "actor"),
    // StructureDefinition-MedicationDispense.json
    ("MedicationDispense", "status"), ("MedicationDispense", "medication[x]"),
    ("MedicationDispense.performer", "actor"), ("MedicationDispense.substitution", "wasSubstituted"),
    // StructureDefinition-MedicationRequest.json
    ("MedicationRequest", "status"), ("MedicationRequest", "intent"), ("MedicationRequest", "medication[x]"),
    ("MedicationRequest", "subject"), ("MedicationRequest.substitution", "allowed[x]"),
    // StructureDefinition-MedicationStatement.json
    ("MedicationStatement", "status"), ("MedicationStatement", "medication[x]"), ("MedicationStatement", "subject"),
    // StructureDefinition-MedicinalProduct.json
    ("MedicinalProduct", "name"), ("MedicinalProduct.name", "productName"),
    ("MedicinalProduct.name.namePart", "part"), ("MedicinalProduct.name.namePart", "type"),
    ("MedicinalProduct.name.countryLanguage", "country"), ("MedicinalProduct.name.countryLanguage", "language"),
    // StructureDefinition-MedicinalProductContraindication.json
    ("MedicinalProductContraindication.otherTherapy", "therapyRelationshipType"),
    ("MedicinalProductContraindication.otherTherapy", "medication[x]"),
    // StructureDefinition-MedicinalProductIngredient.json
    ("MedicinalProductIngredient", "role"), ("MedicinalProductIngredient.specifiedSubstance", "code"),
    ("MedicinalProductIngredient.specifiedSubstance", "group"),
    ("MedicinalProductIngredient.specifiedSubstance.strength", "presentation"),
    ("MedicinalProductIngredient.specifiedSubstance.strength.referenceStrength", "strength"),
    ("MedicinalProductIngredient.substance", "code"),
    // StructureDefinition-MedicinalProductManufactured.json
    ("MedicinalProductManufactured", "manufacturedDoseForm"), ("MedicinalProductManufactured", "quantity"),
    // StructureDefinition-MedicinalProductPharmaceutical.json
    ("MedicinalProductPharmaceutical", "administrableDoseForm"),
    ("MedicinalProductPharmaceutical.characteristics", "code"),
    ("MedicinalProductPharmaceutical", "routeOfAdministration"),
    ("MedicinalProductPharmaceutical.routeOfAdministration", "code"),
    ("MedicinalProductPharmaceutical.routeOfAdministration.targetSpecies", "code"),
    ("MedicinalProductPharmaceutical.routeOfAdministration.targetSpecies.withdrawalPeriod", "tissue"),
    ("MedicinalProductPharmaceutical.routeOfAdministration.targetSpecies.withdrawalPeriod", "value"),
    // StructureDefinition-MessageDefinition.json
    ("MessageDefinition", "status"), ("MessageDefinition", "date"), ("MessageDefinition", "event[x]"),
    ("MessageDefinition.focus", "code"), ("MessageDefinition.focus", "min"),
    ("MessageDefinition.allowedResponse", "message"),
    // StructureDefinition-MolecularSequence.json
    ("MolecularSequence", "coordinateSystem"), ("MolecularSequence.quality", "type"),
    ("MolecularSequence.repository", "type"),
    // StructureDefinition-Narrative.json
    ("Narrative", "status"), ("Narrative", "div"),
    // StructureDefinition-NutritionOrder.json
    ("NutritionOrder", "status"), ("NutritionOrder", "intent"), ("NutritionOrder", "patient"),
    ("NutritionOrder", "dateTime"),
    // StructureDefinition-Observation.json
    ("Observation", "status"), ("Observation", "code"), ("Observation.component", "code"),
    // StructureDefinition-OperationDefinition.json
    ("OperationDefinition", "name"), ("OperationDefinition", "status"), ("OperationDefinition", "kind"),
    ("OperationDefinition", "code"), ("OperationDefinition", "system"), ("OperationDefinition", "type"),
    ("OperationDefinition", "instance"), ("OperationDefinition.parameter", "name"),
    ("OperationDefinition.parameter", "use"), ("OperationDefinition.parameter", "min"),
    ("OperationDefinition.parameter", "max"), ("OperationDefinition.parameter.binding", "strength"),
    ("OperationDefinition.parameter.binding", "valueSet"), ("OperationDefinition.parameter.referencedFrom", "source"),
    // StructureDefinition-OperationOutcome.json
    ("OperationOutcome", "issue"), ("OperationOutcome.issue", "severity"), ("OperationOutcome.issue", "code"),
    // StructureDefinition-ParameterDefinition.json
    ("ParameterDefinition", "use"), ("ParameterDefinition", "type"),
    // StructureDefinition-Parameters.json
    ("Parameters.parameter", "name"),
    // StructureDefinition-Patient.json
    ("Patient.communication", "language"), ("Patient.link", "other"), ("Patient.link", "type"),
    // StructureDefinition-PaymentNotice.json
    ("PaymentNotice", "status"), ("PaymentNotice", "created"), ("PaymentNotice", "payment"),
    ("PaymentNotice", "recipient"), ("PaymentNotice", "amount"),
    // StructureDefinition-Person.json
    ("Person.link", "target"),
    // StructureDefinition-Practitioner.json
    ("Practitioner.qualification", "code"),
    // StructureDefinition-PractitionerRole.json
    ("PractitionerRole.notAvailable", "description"),
    // StructureDefinition-Procedure.json
    ("Procedure", "status"), ("Procedure", "subject"), ("Procedure.performer", "actor"),
    ("Procedure.focalDevice", "manipulated"),
    // StructureDefinition-ProductShelfLife.json
    ("ProductShelfLife", "type"), ("ProductShelfLife", "period"),
    // StructureDefinition-Provenance.json
    ("Provenance", "target"), ("Provenance", "recorded"), ("Provenance", "agent"), ("Provenance.agent", "who"),
    ("Provenance.entity", "role"), ("Provenance.entity", "what"),
    // StructureDefinition-Questionnaire.json
    ("Questionnaire", "status"), ("Questionnaire.item", "linkId"), ("Questionnaire.item", "type"),
    ("Questionnaire.item.enableWhen", "question"), ("Questionnaire.item.enableWhen", "operator"),
    ("Questionnaire.item.enableWhen", "answer[x]"), ("Questionnaire.item.answerOption", "value[x]"),
    ("Questionnaire.item.initial", "value[x]"),
    // StructureDefinition-RelatedArtifact.json
    ("RelatedArtifact", "type"),
    // StructureDefinition-RelatedPerson.json
    ("RelatedPerson", "patient"), ("RelatedPerson.communication", "language"),
    // StructureDefinition-ResearchDefinition.json
    ("ResearchDefinition", "status"), ("ResearchDefinition", "population"),
    // StructureDefinition-ResearchStudy.json
    ("ResearchStudy", "status"), ("ResearchStudy.arm", "name"),
    // StructureDefinition-RiskAssessment.json
    ("RiskAssessment", "status"), ("RiskAssessment", "subject"),
    // StructureDefinition-SampledData.json
    ("SampledData", "origin"), ("SampledData", "period"), ("SampledData", "dimensions"),
    // StructureDefinition-Schedule.json
    ("Schedule", "actor"),
    // StructureDefinition-SearchParameter.json
    ("SearchParameter", "url"), ("SearchParameter", "name"), ("SearchParameter", "status"),
    ("SearchParameter", "description"), ("SearchParameter", "code"), ("SearchParameter", "base"),
    ("SearchParameter", "type"), ("SearchParameter.component", "definition"),
    ("SearchParameter.component", "expression"),
    // StructureDefinition-ServiceRequest.json
    ("ServiceRequest", "status"), ("ServiceRequest", "intent"), ("ServiceRequest", "subject"),
    // StructureDefinition-Signature.json
    ("Signature", "type"), ("Signature", "when"), ("Signature", "who"),
    // StructureDefinition-StructureDefinition.json
    ("StructureDefinition", "url"), ("StructureDefinition", "name"), ("StructureDefinition", "status"),
    ("StructureDefinition.mapping", "identity"), ("StructureDefinition", "kind"), ("StructureDefinition", "abstract"),
    ("StructureDefinition.context", "type"), ("StructureDefinition.context", "expression"),
    ("StructureDefinition", "type"), ("StructureDefinition.snapshot", "element"),
    ("StructureDefinition.differential", "element"),
    // StructureDefinition-Subscription.json
    ("Subscription", "status"), ("Subscription", "reason"), ("Subscription", "criteria"), ("Subscription", "channel"),
    ("Subscription.channel", "type"),
    // StructureDefinition-SubstanceSpecification.json
    ("SubstanceSpecification.name", "name"),
    // StructureDefinition-SupplyRequest.json
    ("SupplyRequest", "item[x]"), ("SupplyRequest", "quantity"),
    // StructureDefinition-TerminologyCapabilities.json
    ("TerminologyCapabilities", "status"), ("TerminologyCapabilities", "date"), ("TerminologyCapabilities", "kind"),
    ("TerminologyCapabilities.software", "name"), ("TerminologyCapabilities.implementation", "description"),
    ("TerminologyCapabilities.codeSystem.version.filter", "code"),
    ("TerminologyCapabilities.codeSystem.version.filter", "op"),
    ("TerminologyCapabilities.expansion.parameter", "name"), ("TerminologyCapabilities.validateCode", "translations"),
    ("TerminologyCapabilities.translation", "needsMap"),
    // StructureDefinition-TestScript.json
    ("TestScript", "url"), ("TestScript", "name"), ("TestScript", "status"), ("TestScript.origin", "index"),
    ("TestScript.origin", "profile"), ("TestScript.destination", "index"), ("TestScript.destination", "profile"),
    ("TestScript.metadata.link", "url"), ("TestScript.metadata", "capability"),
    ("TestScript.metadata.capability", "required"), ("TestScript.metadata.capability", "validated"),
    ("TestScript.metadata.capability", "capabilities"), ("TestScript.fixture", "autocreate"),
    ("TestScript.fixture", "autodelete"), ("TestScript.variable", "name"), ("TestScript.setup", "action"),
    ("TestScript.setup.action.operation", "encodeRequestUrl"),
    ("TestScript.setup.action.operation.requestHeader", "field"),
    ("TestScript.setup.action.operation.requestHeader", "value"), ("TestScript.setup.action.assert", "warningOnly"),
    ("TestScript.test", "action"), ("TestScript.teardown", "action"), ("TestScript.teardown.action", "operation"),
    // StructureDefinition-TriggerDefinition.json
    ("TriggerDefinition", "type"),
    // StructureDefinition-UsageContext.json
    ("UsageContext", "code"), ("UsageContext", "value[x]"),
    // StructureDefinition-VerificationResult.json
    ("VerificationResult", "status"), ("VerificationResult.validator", "organization"),
];

// ---------------------------------------------------------------------------------------------------------
// Loading

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn schema_value() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| read_json(&root().join("schemas/fhir/fhir.schema.json")))
}

fn validator() -> &'static FhirValidator {
    FhirValidator::shared().expect("the vendored FHIR schema compiles")
}

/// The example files (`*.json` but `expected.json`), sorted by name.
fn example_files() -> Vec<PathBuf> {
    let dir = root().join("fixtures/fhir-examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.ends_with("expected.json"))
        .collect();
    files.sort();
    files
}

fn name_of(path: &Path) -> String {
    path.file_name().expect("a file name").to_string_lossy().into_owned()
}

// ---------------------------------------------------------------------------------------------------------
// The navigator: the schema as a map of element types

/// The type of an element, as the schema gives it.
#[derive(Clone, Debug, PartialEq)]
enum Ty {
    /// A definition with `properties`: a complex data type (`CodeableConcept`) or a backbone (`Bundle_Entry`).
    Complex(String),
    /// `ResourceList`: any resource.
    Resource,
    /// A primitive definition (`string`, `boolean`, `date`, `positiveInt`, `xhtml`, …).
    Primitive(String),
    /// An inline `enum`: a code with a required value set.
    Enum,
    /// The `resourceType` constant.
    Const,
}

struct Schema {
    defs: &'static Map<String, Value>,
}

impl Schema {
    fn get() -> &'static Schema {
        static S: OnceLock<Schema> = OnceLock::new();
        S.get_or_init(|| Schema { defs: schema_value()["definitions"].as_object().expect("definitions is an object") })
    }

    fn is_complex(&self, def: &str) -> bool {
        self.defs.get(def).is_some_and(|d| d.get("properties").is_some())
    }

    fn is_primitive(&self, def: &str) -> bool {
        def != "ResourceList" && self.defs.get(def).is_some_and(|d| d.get("properties").is_none())
    }

    fn is_resource(&self, def: &str) -> bool {
        self.defs.get(def).and_then(|d| d.pointer("/properties/resourceType/const")).is_some()
    }

    /// The JSON type of a primitive: `string`, `boolean` or `number` (`xhtml` is a string).
    fn json_kind(&self, prim: &str) -> &'static str {
        match self.defs.get(prim).and_then(|d| d.get("type")).and_then(Value::as_str) {
            Some("boolean") => "boolean",
            Some("number") => "number",
            _ => "string",
        }
    }

    /// The type named by a choice-style suffix (`DateTime` → `dateTime`, `Quantity` → `Quantity`).
    fn type_of_suffix(&self, suffix: &str) -> Option<String> {
        let mut chars = suffix.chars();
        let first = chars.next()?;
        if !first.is_ascii_uppercase() {
            return None;
        }
        let lowered = format!("{}{}", first.to_ascii_lowercase(), chars.as_str());
        if self.is_primitive(&lowered) {
            Some(lowered)
        } else if self.is_complex(suffix) {
            Some(suffix.to_string())
        } else {
            None
        }
    }

    /// `valueDateTime` → (`value`, `dateTime`): the first split at an upper-case letter whose rest names a type.
    fn split_typed_name(&self, name: &str) -> Option<(String, String)> {
        name.char_indices()
            .filter(|(i, c)| *i > 0 && c.is_ascii_uppercase())
            .find_map(|(i, _)| self.type_of_suffix(&name[i..]).map(|t| (name[..i].to_string(), t)))
    }

    fn ty_of(&self, member: &str, ps: &Value) -> Option<Ty> {
        if let Some(r) = ps.get("$ref").and_then(Value::as_str) {
            let t = r.strip_prefix("#/definitions/")?;
            return Some(if t == "ResourceList" {
                Ty::Resource
            } else if self.is_complex(t) {
                Ty::Complex(t.to_string())
            } else {
                Ty::Primitive(t.to_string())
            });
        }
        if ps.get("enum").is_some() {
            return Some(Ty::Enum);
        }
        if ps.get("const").is_some() {
            return Some(Ty::Const);
        }
        if ps.get("pattern").is_some() || ps.get("type").is_some() {
            // An inline primitive: its type is named by the member (`valueBoolean`, `defaultValueInteger`).
            if let Some((_, t)) = self.split_typed_name(member) {
                if self.is_primitive(&t) {
                    return Some(Ty::Primitive(t));
                }
            }
            let json_type = ps.get("type").and_then(Value::as_str).unwrap_or("string");
            return Some(Ty::Primitive(if json_type == "boolean" { "boolean" } else { "string" }.to_string()));
        }
        None
    }

    /// The type of `def.member` and whether it is an array.
    fn member(&self, def: &str, member: &str) -> Option<(Ty, bool)> {
        let ps = self.defs.get(def)?.get("properties")?.get(member)?;
        if ps.get("type").and_then(Value::as_str) == Some("array") {
            return Some((self.ty_of(member, ps.get("items")?)?, true));
        }
        Some((self.ty_of(member, ps)?, false))
    }

    /// The variants of the choice element `member` belongs to in `def` (`valueQuantity` → `[valueBoolean,
    /// valueQuantity, valueString, …]` with their types), if it is one: single members with the same stem, a
    /// type suffix and the same description (the schema repeats the choice element's description on each
    /// variant).
    fn choice_of(&self, def: &str, member: &str) -> Option<(String, Vec<(String, String)>)> {
        let props = self.defs.get(def)?.get("properties")?.as_object()?;
        let (stem, _) = self.split_typed_name(member)?;
        let description = props.get(member)?.get("description");
        let variants: Vec<(String, String)> = props
            .iter()
            // a choice element never repeats (R4: max 1), which also keeps out `reasonCode` + `reasonReference`
            .filter(|(k, v)| k.starts_with(&stem) && v.get("description") == description && v.get("items").is_none())
            .filter_map(|(k, _)| {
                let (s, t) = self.split_typed_name(k)?;
                (s == stem).then(|| (k.clone(), t))
            })
            .collect();
        (variants.len() >= 2).then_some((stem, variants))
    }
}

fn escape(member: &str) -> String {
    member.replace('~', "~0").replace('/', "~1")
}

/// An element of the example: a single element, an array element (`array && !item`) or one of its items.
#[derive(Clone, Debug)]
struct Site {
    ptr: String,
    /// The pointer of the object holding the member.
    parent: String,
    ty: Ty,
    array: bool,
    item: bool,
    /// Inside a resource nested in the example (a Bundle entry, a contained resource, …).
    in_nested: bool,
}

impl Site {
    /// One value: a single element or one item of an array (not the array itself).
    fn is_value(&self) -> bool {
        !self.array || self.item
    }
    fn is_single(&self) -> bool {
        !self.array && !self.item
    }
    fn primitive(&self) -> Option<&str> {
        match &self.ty {
            Ty::Primitive(p) => Some(p),
            _ => None,
        }
    }
}

/// An object of the example: a resource or a complex element.
#[derive(Clone, Debug)]
struct Obj {
    ptr: String,
    def: String,
    /// The FHIR element path of its definition (`Bundle.entry.request`, `Narrative`, `Observation`).
    elem: String,
    in_nested: bool,
}

/// A resource of the example (the root, a Bundle entry, a contained resource, …).
#[derive(Clone, Debug)]
struct Res {
    ptr: String,
    nested: bool,
}

#[derive(Default)]
struct Walk {
    sites: Vec<Site>,
    objects: Vec<Obj>,
    resources: Vec<Res>,
    /// Members the schema does not know (none in valid R4; a check on the navigator).
    unknown: Vec<String>,
}

impl Walk {
    fn of(doc: &Value) -> Walk {
        let mut w = Walk::default();
        let rt = doc["resourceType"].as_str().expect("an example has a resourceType");
        w.resources.push(Res { ptr: String::new(), nested: false });
        w.object(doc, rt, "", rt, false, &mut Vec::new());
        w
    }

    /// Walks an object of definition `def` whose FHIR element path is `elem`; `chain` holds the backbone
    /// definitions above it with their paths, so a recursive backbone (`Questionnaire.item.item`, a
    /// contentReference in R4) keeps the path of its definition.
    fn object(
        &mut self,
        v: &Value,
        def: &str,
        ptr: &str,
        elem: &str,
        in_nested: bool,
        chain: &mut Vec<(String, String)>,
    ) {
        let schema = Schema::get();
        let Some(map) = v.as_object() else { return };
        self.objects.push(Obj { ptr: ptr.to_string(), def: def.to_string(), elem: elem.to_string(), in_nested });
        chain.push((def.to_string(), elem.to_string()));
        for (k, val) in map {
            if k.starts_with('_') {
                continue; // the extensions of a primitive: not mutated here
            }
            let Some((ty, is_array)) = schema.member(def, k) else {
                self.unknown.push(format!("{ptr}/{k} ({def})"));
                continue;
            };
            let child = format!("{ptr}/{}", escape(k));
            let child_elem = format!("{elem}.{k}");
            let site = |p: String, item: bool| Site {
                ptr: p,
                parent: ptr.to_string(),
                ty: ty.clone(),
                array: is_array,
                item,
                in_nested,
            };
            if is_array {
                let Some(items) = val.as_array() else { continue };
                self.sites.push(site(child.clone(), false));
                for (i, it) in items.iter().enumerate() {
                    let p = format!("{child}/{i}");
                    self.sites.push(site(p.clone(), true));
                    self.descend(it, &ty, &p, &child_elem, in_nested, chain);
                }
            } else {
                self.sites.push(site(child.clone(), false));
                self.descend(val, &ty, &child, &child_elem, in_nested, chain);
            }
        }
        chain.pop();
    }

    fn descend(
        &mut self,
        v: &Value,
        ty: &Ty,
        ptr: &str,
        elem: &str,
        in_nested: bool,
        chain: &mut Vec<(String, String)>,
    ) {
        let schema = Schema::get();
        match ty {
            Ty::Resource => {
                let Some(rt) = v.get("resourceType").and_then(Value::as_str) else { return };
                if !schema.is_resource(rt) {
                    return;
                }
                self.resources.push(Res { ptr: ptr.to_string(), nested: true });
                self.object(v, rt, ptr, rt, true, &mut Vec::new());
            }
            Ty::Complex(t) => {
                let path = if t.contains('_') {
                    chain.iter().find(|(d, _)| d == t).map(|(_, e)| e.clone()).unwrap_or_else(|| elem.to_string())
                } else {
                    t.clone()
                };
                self.object(v, t, ptr, &path, in_nested, chain);
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Choosing sites

/// 0: a member of the example's root object; 1: deeper in the root resource; 2: inside a nested resource.
fn category(parent: &str, in_nested: bool) -> usize {
    if in_nested {
        2
    } else if parent.is_empty() {
        0
    } else {
        1
    }
}

/// Up to `cap` of `n` candidates (in document order) with these categories: the first of each category
/// (starting from category `rotate % 3`, so that when a kind has fewer sites than categories, the examples
/// take turns between the root, nested elements and nested resources), then evenly spaced ones; returned in
/// document order.
fn pick(categories: &[usize], cap: usize, rotate: usize) -> Vec<usize> {
    let n = categories.len();
    let mut chosen: Vec<usize> = Vec::new();
    for c in (0..3).map(|c| (c + rotate) % 3) {
        if chosen.len() < cap {
            if let Some(i) = categories.iter().position(|&k| k == c) {
                chosen.push(i);
            }
        }
    }
    let mut k = 0;
    while chosen.len() < cap.min(n) {
        let i = if cap > 1 { k * (n - 1) / (cap - 1) } else { 0 };
        let i = i.min(n - 1);
        if !chosen.contains(&i) {
            chosen.push(i);
        } else if k >= cap {
            // the evenly spaced positions are taken: the first ones not yet chosen
            let free = (0..n).find(|i| !chosen.contains(i)).expect("fewer chosen than candidates");
            chosen.push(free);
        }
        k += 1;
    }
    chosen.sort_unstable();
    chosen
}

// ---------------------------------------------------------------------------------------------------------
// Mutants

struct Example {
    name: String,
    /// Its place in the sorted list (to vary the sites picked, and to share the examples among threads).
    index: usize,
    doc: Value,
    walk: Walk,
}

struct Mutant {
    kind: &'static str,
    file: String,
    /// What was done where.
    site: String,
    doc: Value,
    /// The JSON Pointer a finding is expected at.
    expect: String,
}

fn with_value(doc: &Value, ptr: &str, new: Value) -> Value {
    let mut d = doc.clone();
    *d.pointer_mut(ptr).unwrap_or_else(|| panic!("no {ptr}")) = new;
    d
}

fn with_member(doc: &Value, obj: &str, member: &str, new: Value) -> Value {
    let mut d = doc.clone();
    let o = d.pointer_mut(obj).and_then(Value::as_object_mut).unwrap_or_else(|| panic!("no object at {obj}"));
    o.insert(member.to_string(), new);
    d
}

fn without_member(doc: &Value, obj: &str, member: &str) -> Value {
    let mut d = doc.clone();
    let o = d.pointer_mut(obj).and_then(Value::as_object_mut).unwrap_or_else(|| panic!("no object at {obj}"));
    o.remove(member);
    o.remove(&format!("_{member}"));
    d
}

fn show_ptr(p: &str) -> &str {
    if p.is_empty() {
        "(root)"
    } else {
        p
    }
}

/// Applies `change` at up to [`CAP`] of the example's sites that pass `applies`; the finding is expected at
/// the site itself.
fn at_sites(
    ex: &Example,
    kind: &'static str,
    applies: impl Fn(&Site, &Value) -> bool,
    change: impl Fn(&Site, &Value) -> Option<(Value, String)>,
) -> Vec<Mutant> {
    let candidates: Vec<&Site> = ex
        .walk
        .sites
        .iter()
        .filter(|s| {
            let v = ex.doc.pointer(&s.ptr).expect("a walked site exists");
            applies(s, v) && change(s, v).is_some()
        })
        .collect();
    let cats: Vec<usize> = candidates.iter().map(|s| category(&s.parent, s.in_nested)).collect();
    pick(&cats, CAP, ex.index + kind.len())
        .into_iter()
        .map(|i| {
            let s = candidates[i];
            let (new, what) = change(s, ex.doc.pointer(&s.ptr).expect("site")).expect("checked");
            Mutant {
                kind,
                file: ex.name.clone(),
                site: format!("{} {what}", show_ptr(&s.ptr)),
                doc: with_value(&ex.doc, &s.ptr, new),
                expect: s.ptr.clone(),
            }
        })
        .collect()
}

/// Picks up to [`CAP`] of `(object pointer, in_nested, mutant)` candidates.
fn pick_objects(ex: &Example, kind: &str, candidates: Vec<(String, bool, Mutant)>) -> Vec<Mutant> {
    let cats: Vec<usize> =
        candidates.iter().map(|(p, n, _)| category(if p.is_empty() { "" } else { "x" }, *n)).collect();
    let chosen = pick(&cats, CAP, ex.index + kind.len());
    candidates.into_iter().enumerate().filter(|(i, _)| chosen.contains(i)).map(|(_, (_, _, m))| m).collect()
}

fn complex_single(s: &Site) -> bool {
    s.is_single() && matches!(s.ty, Ty::Complex(_))
}

/// Kind 1: A single complex element becomes `"x"`.
fn object_to_string(ex: &Example) -> Vec<Mutant> {
    at_sites(
        ex,
        "object-to-string",
        |s, v| complex_single(s) && v.is_object(),
        |_, _| Some((json!("x"), "= \"x\"".into())),
    )
}

/// Kind 2: A single complex element becomes `5`.
fn object_to_number(ex: &Example) -> Vec<Mutant> {
    at_sites(ex, "object-to-number", |s, v| complex_single(s) && v.is_object(), |_, _| Some((json!(5), "= 5".into())))
}

/// Kind 3: A single complex element is wrapped in an array.
fn single_to_array(ex: &Example) -> Vec<Mutant> {
    at_sites(
        ex,
        "single-to-array",
        |s, v| complex_single(s) && v.is_object(),
        |_, v| Some((json!([v.clone()]), "wrapped in [ ]".into())),
    )
}

/// Kind 4: An array element is replaced by its first item.
fn array_to_single(ex: &Example) -> Vec<Mutant> {
    at_sites(
        ex,
        "array-to-single",
        |s, v| s.array && !s.item && v.as_array().is_some_and(|a| !a.is_empty()),
        |_, v| Some((v[0].clone(), "= its first item".into())),
    )
}

/// Kind 5: A primitive of the wrong JSON type: a boolean as a string, a string as a number, a number as a string.
fn primitive_wrong_json_type(ex: &Example) -> Vec<Mutant> {
    let schema = Schema::get();
    at_sites(
        ex,
        "primitive-wrong-json-type",
        |s, _| s.is_value() && matches!(s.ty, Ty::Primitive(_) | Ty::Enum),
        |s, v| {
            let kind = s.primitive().map_or("string", |p| schema.json_kind(p));
            match (kind, v) {
                ("boolean", Value::Bool(b)) => Some((json!(b.to_string()), format!("= \"{b}\""))),
                ("number", Value::Number(n)) => Some((json!(n.to_string()), format!("= \"{n}\""))),
                ("string", Value::String(_)) => Some((json!(5), "= 5".into())),
                _ => None,
            }
        },
    )
}

fn is_integer_type(p: &str) -> bool {
    matches!(p, "integer" | "positiveInt" | "unsignedInt")
}

/// Kind 6: An integer becomes `1.5`.
fn integer_fraction(ex: &Example) -> Vec<Mutant> {
    at_sites(
        ex,
        "integer-fraction",
        |s, v| s.is_value() && s.primitive().is_some_and(is_integer_type) && v.is_number(),
        |_, _| Some((json!(1.5), "= 1.5".into())),
    )
}

/// Kind 6': A `positiveInt` becomes `0`, an `unsignedInt` `-1`.
fn integer_range(ex: &Example) -> Vec<Mutant> {
    at_sites(
        ex,
        "integer-range",
        |s, v| s.is_value() && v.is_number(),
        |s, _| match s.primitive() {
            Some("positiveInt") => Some((json!(0), "positiveInt = 0".into())),
            Some("unsignedInt") => Some((json!(-1), "unsignedInt = -1".into())),
            _ => None,
        },
    )
}

/// Kind 7: An unknown member is added to an object (a resource or a complex element).
fn unknown_element(ex: &Example) -> Vec<Mutant> {
    let candidates = ex
        .walk
        .objects
        .iter()
        .map(|o| {
            let m = Mutant {
                kind: "unknown-element",
                file: ex.name.clone(),
                site: format!("{} ({}) + \"{UNKNOWN_MEMBER}\": 1", show_ptr(&o.ptr), o.def),
                doc: with_member(&ex.doc, &o.ptr, UNKNOWN_MEMBER, json!(1)),
                expect: o.ptr.clone(),
            };
            (o.ptr.clone(), o.in_nested, m)
        })
        .collect();
    pick_objects(ex, "unknown-element", candidates)
}

/// The member of `obj` (of definition `def`) that carries the element `member` of [`REQUIRED`] (`x[x]`: the
/// variant present).
fn present_member(obj: &Map<String, Value>, def: &str, member: &str) -> Option<String> {
    match member.strip_suffix("[x]") {
        None => obj.contains_key(member).then(|| member.to_string()),
        Some(stem) => obj
            .keys()
            .find(|k| {
                Schema::get().split_typed_name(k).is_some_and(|(s, _)| s == stem)
                    && Schema::get().member(def, k).is_some()
            })
            .cloned(),
    }
}

/// Kind 8: A required (min 1) element is removed, and a nested resource's `resourceType`.
fn missing_required(ex: &Example) -> Vec<Mutant> {
    let mut candidates = Vec::new();
    for o in &ex.walk.objects {
        let obj = ex.doc.pointer(&o.ptr).and_then(Value::as_object).expect("a walked object");
        for (_, member) in REQUIRED.iter().filter(|(parent, _)| *parent == o.elem) {
            if let Some(k) = present_member(obj, &o.def, member) {
                let m = Mutant {
                    kind: "missing-required",
                    file: ex.name.clone(),
                    site: format!("{} - {k} ({}.{member} is min 1)", show_ptr(&o.ptr), o.elem),
                    doc: without_member(&ex.doc, &o.ptr, &k),
                    expect: o.ptr.clone(),
                };
                candidates.push((o.ptr.clone(), o.in_nested, m));
            }
        }
    }
    let mut out = pick_objects(ex, "missing-required", candidates);
    // and one nested resource without its resourceType
    if let Some(r) = ex.walk.resources.iter().find(|r| r.nested) {
        out.push(Mutant {
            kind: "missing-required",
            file: ex.name.clone(),
            site: format!("{} - resourceType", r.ptr),
            doc: without_member(&ex.doc, &r.ptr, "resourceType"),
            expect: r.ptr.clone(),
        });
    }
    out
}

/// A valid value of a type, for the second variant of a choice.
fn sample(ty: &str) -> Option<Value> {
    Some(match ty {
        "string" | "markdown" => json!("scr-assure"),
        "boolean" => json!(true),
        "integer" | "positiveInt" | "unsignedInt" => json!(1),
        "decimal" => json!(1.5),
        "dateTime" | "date" => json!("2020-01-01"),
        "uri" | "url" | "canonical" => json!("http://example.org/scr-assure"),
        "code" => json!("scr-assure"),
        "Period" => json!({"start": "2020-01-01"}),
        "CodeableConcept" => json!({"text": "scr-assure"}),
        "Reference" => json!({"display": "scr-assure"}),
        "Quantity" | "Age" | "Duration" => json!({"value": 1}),
        "Identifier" => json!({"value": "scr-assure"}),
        _ => return None,
    })
}

/// The order in which a second variant's type is chosen.
const SECOND_VARIANT: &[&str] = &[
    "string",
    "boolean",
    "CodeableConcept",
    "Reference",
    "dateTime",
    "Period",
    "integer",
    "Quantity",
    "uri",
    "canonical",
    "date",
    "decimal",
    "Identifier",
    "Age",
    "Duration",
    "code",
    "markdown",
];

/// Kind 9: A choice element present as one variant gets a second variant of another type.
fn choice_two_variants(ex: &Example) -> Vec<Mutant> {
    let schema = Schema::get();
    let mut candidates = Vec::new();
    for o in &ex.walk.objects {
        let obj = ex.doc.pointer(&o.ptr).and_then(Value::as_object).expect("a walked object");
        for k in obj.keys().filter(|k| !k.starts_with('_')) {
            let Some((stem, variants)) = schema.choice_of(&o.def, k) else { continue };
            if variants.iter().filter(|(v, _)| obj.contains_key(v)).count() != 1 {
                continue;
            }
            let Some((second, ty)) = SECOND_VARIANT
                .iter()
                .find_map(|t| variants.iter().find(|(v, vt)| vt == t && v != k).map(|(v, vt)| (v.clone(), vt.clone())))
            else {
                continue;
            };
            let value = sample(&ty).expect("a sample for every SECOND_VARIANT type");
            let m = Mutant {
                kind: "choice-two-variants",
                file: ex.name.clone(),
                site: format!("{} + {second} beside {k} ({stem}[x])", show_ptr(&o.ptr)),
                doc: with_member(&ex.doc, &o.ptr, &second, value),
                expect: o.ptr.clone(),
            };
            candidates.push((o.ptr.clone(), o.in_nested, m));
        }
    }
    pick_objects(ex, "choice-two-variants", candidates)
}

/// Kind 10: A code with a required binding (an inline enum) becomes a code outside it.
fn enum_code(ex: &Example) -> Vec<Mutant> {
    at_sites(
        ex,
        "enum-code",
        |s, v| s.is_value() && s.ty == Ty::Enum && v.is_string(),
        |_, _| Some((json!(BOGUS), format!("= \"{BOGUS}\""))),
    )
}

/// The CodeableConcepts with a required binding in R4 and the code system of their value set
/// (`binding.strength` `required` in StructureDefinition-Condition.json / -AllergyIntolerance.json).
const REQUIRED_CC: &[(&str, &str, &str)] = &[
    ("Condition", "clinicalStatus", "http://terminology.hl7.org/CodeSystem/condition-clinical"),
    ("Condition", "verificationStatus", "http://terminology.hl7.org/CodeSystem/condition-ver-status"),
    ("AllergyIntolerance", "clinicalStatus", "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"),
    (
        "AllergyIntolerance",
        "verificationStatus",
        "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
    ),
];

/// Kind 11: A required-bound CodeableConcept with the right system and a code outside the value set (added where
/// the resource has none).
fn required_binding_codeableconcept(ex: &Example) -> Vec<Mutant> {
    let mut out = Vec::new();
    for o in &ex.walk.objects {
        for (rt, member, system) in REQUIRED_CC.iter().filter(|(rt, _, _)| *rt == o.def) {
            let cc = json!({"coding": [{"system": system, "code": BOGUS}]});
            out.push(Mutant {
                kind: "required-binding-codeableconcept",
                file: ex.name.clone(),
                site: format!("{}/{member} = {BOGUS} ({rt}.{member} is bound to {system})", o.ptr),
                doc: with_member(&ex.doc, &o.ptr, member, cc),
                expect: format!("{}/{member}", o.ptr),
            });
        }
    }
    out
}

/// Kind 12: A primitive that breaks its type's pattern.
fn bad_primitive_pattern(ex: &Example) -> Vec<Mutant> {
    at_sites(
        ex,
        "bad-primitive-pattern",
        |s, v| s.is_value() && v.is_string(),
        |s, _| {
            let bad = match s.primitive()? {
                "id" => "bad id",
                "date" => "22/10/1980",
                "dateTime" => "2020-10-22T10:30:00",
                "instant" => "2020-10-22T10:30Z",
                "uri" => "http://example.org/a b",
                "code" => " leading",
                _ => return None,
            };
            Some((json!(bad), format!("{} = {bad:?}", s.primitive()?)))
        },
    )
}

/// Kind 13: A `date`/`dateTime` that is no calendar date.
fn impossible_date(ex: &Example) -> Vec<Mutant> {
    at_sites(
        ex,
        "impossible-date",
        |s, v| s.is_value() && matches!(s.primitive(), Some("date" | "dateTime")) && v.is_string(),
        |_, _| Some((json!("2021-02-30"), "= \"2021-02-30\"".into())),
    )
}

/// Kind 14: An array element becomes `[]`.
fn empty_array(ex: &Example) -> Vec<Mutant> {
    at_sites(ex, "empty-array", |s, v| s.array && !s.item && v.is_array(), |_, _| Some((json!([]), "= []".into())))
}

/// Kind 14': A string-valued primitive (not `xhtml`) becomes `""`.
fn empty_string(ex: &Example) -> Vec<Mutant> {
    let schema = Schema::get();
    at_sites(
        ex,
        "empty-string",
        |s, v| {
            s.is_value()
                && v.is_string()
                && match &s.ty {
                    Ty::Enum => true,
                    Ty::Primitive(p) => p != "xhtml" && schema.json_kind(p) == "string",
                    _ => false,
                }
        },
        |_, _| Some((json!(""), "= \"\"".into())),
    )
}

/// Kind 15: A single element becomes `null`.
fn null_value(ex: &Example) -> Vec<Mutant> {
    at_sites(ex, "null-value", |s, _| s.is_single() && s.ty != Ty::Const, |_, _| Some((Value::Null, "= null".into())))
}

/// Kind 16: A nested resource's `resourceType` becomes `"Nope"`.
fn unknown_resource_type(ex: &Example) -> Vec<Mutant> {
    let candidates = ex
        .walk
        .resources
        .iter()
        .filter(|r| r.nested)
        .map(|r| {
            let m = Mutant {
                kind: "unknown-resource-type",
                file: ex.name.clone(),
                site: format!("{}/resourceType = \"Nope\"", r.ptr),
                doc: with_value(&ex.doc, &format!("{}/resourceType", r.ptr), json!("Nope")),
                expect: r.ptr.clone(),
            };
            (r.ptr.clone(), true, m)
        })
        .collect();
    pick_objects(ex, "unknown-resource-type", candidates)
}

type Kind = (&'static str, fn(&Example) -> Vec<Mutant>);

const KINDS: &[Kind] = &[
    ("object-to-string", object_to_string),
    ("object-to-number", object_to_number),
    ("single-to-array", single_to_array),
    ("array-to-single", array_to_single),
    ("primitive-wrong-json-type", primitive_wrong_json_type),
    ("integer-fraction", integer_fraction),
    ("integer-range", integer_range),
    ("unknown-element", unknown_element),
    ("missing-required", missing_required),
    ("choice-two-variants", choice_two_variants),
    ("enum-code", enum_code),
    ("required-binding-codeableconcept", required_binding_codeableconcept),
    ("bad-primitive-pattern", bad_primitive_pattern),
    ("impossible-date", impossible_date),
    ("empty-array", empty_array),
    ("empty-string", empty_string),
    ("null-value", null_value),
    ("unknown-resource-type", unknown_resource_type),
];

/// The examples that are bases for mutants (all but [`NOT_R4`]).
fn examples() -> &'static [Example] {
    static EX: OnceLock<Vec<Example>> = OnceLock::new();
    EX.get_or_init(|| {
        example_files()
            .iter()
            .map(|p| (name_of(p), read_json(p)))
            .filter(|(name, _)| !NOT_R4.contains(&name.as_str()))
            .enumerate()
            .map(|(index, (name, doc))| {
                let walk = Walk::of(&doc);
                Example { name, index, doc, walk }
            })
            .collect()
    })
}

fn corpus() -> Vec<Mutant> {
    let mut out = Vec::new();
    for ex in examples() {
        for (kind, f) in KINDS {
            let ms = f(ex);
            assert!(ms.iter().all(|m| m.kind == *kind), "{kind}: a mutant of another kind");
            assert!(ms.iter().all(|m| m.doc != ex.doc), "{kind}: a mutant equal to {}", ex.name);
            out.extend(ms);
        }
    }
    out
}

fn show(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return " none".into();
    }
    let mut s: String = findings.iter().take(4).map(|f| format!(" [{f}]")).collect();
    if findings.len() > 4 {
        s.push_str(&format!(" … ({} in all)", findings.len()));
    }
    s
}

fn summary(counts: &BTreeMap<&'static str, (usize, usize)>) -> String {
    KINDS
        .iter()
        .map(|(k, _)| {
            let (ok, all) = counts.get(k).copied().unwrap_or((0, 0));
            format!("  {k}: rejected {ok} / {all}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------------------------------------
// Tests

#[test]
fn every_mutant_is_rejected_at_the_right_place() {
    let started = std::time::Instant::now();
    let baseline: BTreeMap<&str, Vec<Finding>> =
        examples().iter().map(|ex| (ex.name.as_str(), validator().validate(&ex.doc))).collect();
    let mutants = corpus();
    // The verdicts, on every core; `None` when rejected at the right place, else the findings received. The
    // examples are shared out whole: the first rejection of each resource type compiles that type's validator
    // (about half a second in a debug build, most of this test's time), and two threads on one example would
    // both compile it.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 4);
    let verdicts: Vec<Option<Vec<Finding>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (mutants, baseline) = (&mutants, &baseline);
                let index: BTreeMap<&str, usize> = examples().iter().map(|ex| (ex.name.as_str(), ex.index)).collect();
                scope.spawn(move || {
                    mutants
                        .iter()
                        .enumerate()
                        .filter(|(_, m)| index[m.file.as_str()] % threads == t)
                        .map(|(i, m)| {
                            let findings = validator().validate(&m.doc);
                            let before = &baseline[m.file.as_str()];
                            let hit = findings.iter().any(|f| {
                                f.path == m.expect && !before.iter().any(|b| b.path == f.path && b.message == f.message)
                            });
                            (i, (!hit).then_some(findings))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<(usize, Option<Vec<Finding>>)> =
            workers.into_iter().flat_map(|w| w.join().expect("a checking thread")).collect();
        all.sort_by_key(|(i, _)| *i);
        all.into_iter().map(|(_, v)| v).collect()
    });
    let mut counts: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for (m, verdict) in mutants.iter().zip(&verdicts) {
        let entry = counts.entry(m.kind).or_default();
        entry.1 += 1;
        match verdict {
            None => entry.0 += 1,
            Some(findings) => failures.push(format!(
                "{}: {}: {}: expected a finding at {:?}, got{}",
                m.kind,
                m.file,
                m.site,
                m.expect,
                show(findings)
            )),
        }
    }
    let summary = summary(&counts);
    eprintln!("{} mutants checked in {:.1?} ({threads} threads)\n{summary}", mutants.len(), started.elapsed());
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("{f}");
        }
        panic!(
            "{} of {} mutants were not rejected at the right place (each listed above):\n{summary}",
            failures.len(),
            mutants.len()
        );
    }
}

#[test]
fn every_unmutated_example_is_valid() {
    let files = example_files();
    assert!(files.len() >= 90, "the corpus has {} files", files.len());
    let mut problems = Vec::new();
    for path in &files {
        let name = name_of(path);
        if NOT_R4.contains(&name.as_str()) {
            continue;
        }
        let findings = validator().validate(&read_json(path));
        if !findings.is_empty() {
            problems.push(format!("{name}: valid R4, rejected:{}", show(&findings)));
        }
    }
    assert!(problems.is_empty(), "{} examples falsely rejected:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn the_mutant_corpus_is_big_enough() {
    let mutants = corpus();
    let mut per_kind: BTreeMap<&str, usize> = KINDS.iter().map(|(k, _)| (*k, 0)).collect();
    for m in &mutants {
        *per_kind.get_mut(m.kind).expect("a listed kind") += 1;
    }
    let table: String = per_kind.iter().map(|(k, n)| format!("\n  {k}: {n}")).collect();
    eprintln!("{} mutants:{table}", mutants.len());
    assert!(KINDS.len() >= 12, "at least 12 kinds");
    assert!(per_kind.values().all(|&n| n >= 5), "every kind has at least 5 mutants:{table}");
    assert!(mutants.len() >= 300, "at least 300 mutants, {}:{table}", mutants.len());
    // the corpus is the same on every run
    let again = corpus();
    assert!(
        mutants.len() == again.len()
            && mutants.iter().zip(&again).all(|(a, b)| a.site == b.site && a.file == b.file && a.doc == b.doc),
        "the corpus is deterministic"
    );
    // the sites spread: some mutants are inside nested resources, some at the root
    assert!(mutants.iter().any(|m| m.expect.contains("/entry/") || m.expect.contains("/contained/")));
    assert!(mutants.iter().any(|m| m.expect.is_empty()));
}

#[test]
fn the_navigator_knows_every_element() {
    for ex in examples() {
        assert!(ex.walk.unknown.is_empty(), "{}: members the navigator does not know: {:?}", ex.name, ex.walk.unknown);
    }
    let by_name = |name: &str| examples().iter().find(|ex| ex.name == name).unwrap_or_else(|| panic!("{name}"));
    let elem_at = |ex: &Example, ptr: &str| {
        ex.walk.objects.iter().find(|o| o.ptr == ptr).map(|o| o.elem.clone()).unwrap_or_else(|| panic!("{ptr}"))
    };
    let tx = by_name("Bundle-bundle-transaction.json");
    assert_eq!(elem_at(tx, ""), "Bundle");
    assert_eq!(elem_at(tx, "/entry/0"), "Bundle.entry");
    assert_eq!(elem_at(tx, "/entry/0/request"), "Bundle.entry.request");
    assert_eq!(elem_at(tx, "/entry/0/resource"), "Patient");
    assert_eq!(elem_at(tx, "/entry/0/resource/text"), "Narrative");
    assert!(tx.walk.resources.iter().any(|r| r.nested && r.ptr == "/entry/0/resource"));
    let obs = by_name("Observation-eye-color.json");
    let site = |ex: &Example, ptr: &str| {
        ex.walk.sites.iter().find(|s| s.ptr == ptr).cloned().unwrap_or_else(|| panic!("{ptr}"))
    };
    assert_eq!(site(obs, "/status").ty, Ty::Enum);
    assert_eq!(site(obs, "/code").ty, Ty::Complex("CodeableConcept".into()));
    assert_eq!(site(obs, "/code/text").ty, Ty::Primitive("string".into()));
    assert_eq!(site(tx, "/entry/0/resource/name").ty, Ty::Complex("HumanName".into()));
    assert!(site(tx, "/entry/0/resource/name").array && site(tx, "/entry/0/resource/name/0").item);
    assert!(site(tx, "/entry/0/resource/name/0").in_nested);
    assert_eq!(site(obs, "/effectiveDateTime").ty, Ty::Primitive("dateTime".into()));
    assert_eq!(site(obs, "/resourceType").ty, Ty::Const);
    let schema = Schema::get();
    let (stem, variants) = schema.choice_of("Observation", "valueQuantity").expect("value[x] is a choice");
    assert_eq!(stem, "value");
    assert!(variants.contains(&("valueString".into(), "string".into())));
    assert!(variants.contains(&("valueCodeableConcept".into(), "CodeableConcept".into())));
    assert!(schema.choice_of("Observation", "status").is_none());
    assert!(schema.choice_of("SupplyRequest", "reasonCode").is_none(), "reasonCode/reasonReference are two elements");
    // recursive backbones keep their definition's path
    let q = by_name("Questionnaire-f201.json");
    let nested = q.walk.objects.iter().find(|o| o.ptr.matches("/item/").count() == 2).expect("a nested item");
    assert_eq!(nested.elem, "Questionnaire.item");
}

#[test]
fn the_vendored_schema_is_strict() {
    let bare = jsonschema::draft6::new(schema_value()).expect("the vendored schema compiles");
    let valid_bases: Vec<&str> =
        examples().iter().filter(|ex| bare.is_valid(&ex.doc)).map(|ex| ex.name.as_str()).collect();
    let mut counts: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for m in corpus().iter().filter(|m| SCHEMA_KINDS.contains(&m.kind) && valid_bases.contains(&m.file.as_str())) {
        let entry = counts.entry(m.kind).or_default();
        entry.1 += 1;
        if bare.is_valid(&m.doc) {
            failures.push(format!("{}: {}: {}: the vendored schema accepts it", m.kind, m.file, m.site));
        } else {
            entry.0 += 1;
        }
    }
    let summary = summary(&counts);
    eprintln!("the bare vendored schema over {} bases it accepts:\n{summary}", valid_bases.len());
    if !failures.is_empty() {
        for f in &failures {
            eprintln!("{f}");
        }
        panic!("the vendored schema accepts {} schema-level mutants (each listed above):\n{summary}", failures.len());
    }
}
