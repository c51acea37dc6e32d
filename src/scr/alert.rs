//! Privacy alerts (reference §4.5, §7): the alert types and reasons of `POST /AuditEvent`, which pairs are
//! permitted (the MSCA-SCR-103/104/105 matrix), and the alert as the mock records it.

use std::fmt;

/// `AuditEvent.type.code` in `https://fhir.nhs.uk/CodeSystem/SCR-AlertType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertType {
    /// 1 "Create LR (Self Claimed)": the user self-claimed a legitimate relationship.
    CreateLrSelfClaimed,
    /// 2 "Access Alert": access without permission to view (emergency, legal).
    AccessAlert,
}

impl AlertType {
    pub const ALL: [Self; 2] = [Self::CreateLrSelfClaimed, Self::AccessAlert];

    pub fn code(self) -> &'static str {
        match self {
            Self::CreateLrSelfClaimed => "1",
            Self::AccessAlert => "2",
        }
    }

    pub fn display(self) -> &'static str {
        match self {
            Self::CreateLrSelfClaimed => "Create LR (Self Claimed)",
            Self::AccessAlert => "Access Alert",
        }
    }

    /// The type with this code (`"1"`, `"2"`), if any.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }
}

impl fmt::Display for AlertType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// `AuditEvent.subtype[0].code` in `https://fhir.nhs.uk/CodeSystem/SCR-AlertReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertReason {
    /// 1 "Access made in the public interest"
    PublicInterest,
    /// 2 "Access required by statute"
    Statute,
    /// 3 "Access required by Court Order"
    CourtOrder,
    /// 4 "Self-Claim Emergency Access"
    SelfClaimEmergency,
    /// 5 "Access made in an emergency"
    Emergency,
    /// 6 "Other"
    Other,
}

impl AlertReason {
    pub const ALL: [Self; 6] =
        [Self::PublicInterest, Self::Statute, Self::CourtOrder, Self::SelfClaimEmergency, Self::Emergency, Self::Other];

    pub fn code(self) -> &'static str {
        match self {
            Self::PublicInterest => "1",
            Self::Statute => "2",
            Self::CourtOrder => "3",
            Self::SelfClaimEmergency => "4",
            Self::Emergency => "5",
            Self::Other => "6",
        }
    }

    pub fn display(self) -> &'static str {
        match self {
            Self::PublicInterest => "Access made in the public interest",
            Self::Statute => "Access required by statute",
            Self::CourtOrder => "Access required by Court Order",
            Self::SelfClaimEmergency => "Self-Claim Emergency Access",
            Self::Emergency => "Access made in an emergency",
            Self::Other => "Other",
        }
    }

    /// The reason with this code (`"1"`..`"6"`), if any.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The legal reasons (1, 2, 3) of an MSCA-SCR-105 access alert.
    pub fn is_legal(self) -> bool {
        matches!(self, Self::PublicInterest | Self::Statute | Self::CourtOrder)
    }
}

impl fmt::Display for AlertReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Whether the backend accepts this type/reason pair (reference §4.5 matrix): type 1 with any reason but 5;
/// type 2 with 1, 2, 3 or 5.
pub fn is_permitted(alert_type: AlertType, reason: AlertReason) -> bool {
    match alert_type {
        AlertType::CreateLrSelfClaimed => reason != AlertReason::Emergency,
        AlertType::AccessAlert => reason.is_legal() || reason == AlertReason::Emergency,
    }
}

/// The SCAL requirement a permitted pair satisfies (reference §4.5): MSCA-SCR-103 for a self-claimed
/// legitimate relationship, MSCA-SCR-104 for an emergency access alert, MSCA-SCR-105 for a legal one.
pub fn official_requirement(alert_type: AlertType, reason: AlertReason) -> Option<&'static str> {
    if !is_permitted(alert_type, reason) {
        return None;
    }
    Some(match alert_type {
        AlertType::CreateLrSelfClaimed => "MSCA-SCR-103",
        AlertType::AccessAlert if reason == AlertReason::Emergency => "MSCA-SCR-104",
        AlertType::AccessAlert => "MSCA-SCR-105",
    })
}

/// A privacy alert as accepted by `POST /AuditEvent` (and recorded by the mock).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct PrivacyAlert {
    /// The patient (agent with system nhs-number).
    pub nhs_number: String,
    /// `type.code`, `"1"` or `"2"`.
    pub alert_type: String,
    /// `subtype[0].code`, `"1"`..`"6"`.
    pub alert_subtype: String,
    /// The notification extension's `valueString`.
    pub notification: String,
    /// `recorded` as sent.
    pub recorded: String,
    /// `entity[0].what.identifier.value` (the SCR accessed).
    pub what: String,
    /// The organisation (agent with system ods-organization-code).
    pub ods_code: String,
    /// The user (agent with system sds-user-id).
    pub sds_user_id: String,
    /// The user's role: the first role's text, or the first coding code.
    pub role: String,
    /// `outcomeDesc` free text, if sent.
    pub outcome_desc: Option<String>,
    /// `source.observer.identifier.value` (the sender's ASID), if sent.
    pub observer_asid: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permitted_matrix_of_the_reference() {
        let permitted: Vec<(&str, &str)> = AlertType::ALL
            .into_iter()
            .flat_map(|t| AlertReason::ALL.into_iter().map(move |r| (t, r)))
            .filter(|(t, r)| is_permitted(*t, *r))
            .map(|(t, r)| (t.code(), r.code()))
            .collect();
        assert_eq!(
            permitted,
            [
                ("1", "1"),
                ("1", "2"),
                ("1", "3"),
                ("1", "4"),
                ("1", "6"),
                ("2", "1"),
                ("2", "2"),
                ("2", "3"),
                ("2", "5")
            ]
        );
    }

    #[test]
    fn official_requirements() {
        use AlertReason::*;
        use AlertType::*;
        for r in [PublicInterest, Statute, CourtOrder, SelfClaimEmergency, Other] {
            assert_eq!(official_requirement(CreateLrSelfClaimed, r), Some("MSCA-SCR-103"));
        }
        assert_eq!(official_requirement(CreateLrSelfClaimed, Emergency), None);
        assert_eq!(official_requirement(AccessAlert, Emergency), Some("MSCA-SCR-104"));
        for r in [PublicInterest, Statute, CourtOrder] {
            assert_eq!(official_requirement(AccessAlert, r), Some("MSCA-SCR-105"));
        }
        assert_eq!(official_requirement(AccessAlert, SelfClaimEmergency), None);
        assert_eq!(official_requirement(AccessAlert, Other), None);
    }

    #[test]
    fn codes_and_displays_round_trip() {
        assert_eq!(AlertType::from_code("2").map(AlertType::display), Some("Access Alert"));
        assert_eq!(AlertType::from_code("1").map(AlertType::display), Some("Create LR (Self Claimed)"));
        assert_eq!(AlertType::from_code("3"), None);
        let displays: Vec<_> = AlertReason::ALL.iter().map(|r| (r.code(), r.display())).collect();
        assert_eq!(
            displays,
            [
                ("1", "Access made in the public interest"),
                ("2", "Access required by statute"),
                ("3", "Access required by Court Order"),
                ("4", "Self-Claim Emergency Access"),
                ("5", "Access made in an emergency"),
                ("6", "Other")
            ]
        );
        assert_eq!(AlertReason::from_code("0"), None);
        assert_eq!(AlertReason::from_code(" 1"), None);
        assert_eq!(AlertReason::Other.to_string(), "6");
    }
}
