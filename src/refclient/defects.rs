//! The deliberate defects of the reference client: each `--defect NAME` breaks exactly one graded behaviour,
//! so a client-conformance run can prove its grader catches that behaviour going wrong.

use std::collections::BTreeSet;
use std::fmt;

/// One deliberate defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Defect {
    NoAlert,
    WrongSubtype,
    AlertWhenPermitted,
    ReadsDespiteDissent,
    ReadsDespiteNo,
    SkipsSetPermission,
    MissingUrid,
    WrongAccept,
    ReusedRequestId,
    NewRequestIdOnResend,
    RetryStorm,
    IgnoresRetryAfter,
    TokenNeverRenewed,
    AuthLoop,
    RefreshTokenReused,
    AssertionExpTooFar,
    AssertionShortExp,
    ReusedJti,
    StaleRelatesTo,
    StaleScrId,
    InvalidBundle,
    ShowsPartialData,
    Empty201AsError,
    NoKeyRotation,
}

impl Defect {
    pub const ALL: [Defect; 24] = [
        Self::NoAlert,
        Self::WrongSubtype,
        Self::AlertWhenPermitted,
        Self::ReadsDespiteDissent,
        Self::ReadsDespiteNo,
        Self::SkipsSetPermission,
        Self::MissingUrid,
        Self::WrongAccept,
        Self::ReusedRequestId,
        Self::NewRequestIdOnResend,
        Self::RetryStorm,
        Self::IgnoresRetryAfter,
        Self::TokenNeverRenewed,
        Self::AuthLoop,
        Self::RefreshTokenReused,
        Self::AssertionExpTooFar,
        Self::AssertionShortExp,
        Self::ReusedJti,
        Self::StaleRelatesTo,
        Self::StaleScrId,
        Self::InvalidBundle,
        Self::ShowsPartialData,
        Self::Empty201AsError,
        Self::NoKeyRotation,
    ];

    /// The name `--defect` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::NoAlert => "no-alert",
            Self::WrongSubtype => "wrong-subtype",
            Self::AlertWhenPermitted => "alert-when-permitted",
            Self::ReadsDespiteDissent => "reads-despite-dissent",
            Self::ReadsDespiteNo => "reads-despite-no",
            Self::SkipsSetPermission => "skips-set-permission",
            Self::MissingUrid => "missing-urid",
            Self::WrongAccept => "wrong-accept",
            Self::ReusedRequestId => "reused-request-id",
            Self::NewRequestIdOnResend => "new-request-id-on-resend",
            Self::RetryStorm => "retry-storm",
            Self::IgnoresRetryAfter => "ignores-retry-after",
            Self::TokenNeverRenewed => "token-never-renewed",
            Self::AuthLoop => "auth-loop",
            Self::RefreshTokenReused => "refresh-token-reused",
            Self::AssertionExpTooFar => "assertion-exp-too-far",
            Self::AssertionShortExp => "assertion-short-exp",
            Self::ReusedJti => "reused-jti",
            Self::StaleRelatesTo => "stale-relates-to",
            Self::StaleScrId => "stale-scr-id",
            Self::InvalidBundle => "invalid-bundle",
            Self::ShowsPartialData => "shows-partial-data",
            Self::Empty201AsError => "empty-201-as-error",
            Self::NoKeyRotation => "no-key-rotation",
        }
    }

    /// One line saying what the defect changes (`reference-client --list-defects`).
    pub fn description(self) -> &'static str {
        match self {
            Self::NoAlert => "an override (emergency_access without permission) reads without POST /AuditEvent",
            Self::WrongSubtype => "the privacy alert carries the subtype of another reason",
            Self::AlertWhenPermitted => {
                "raises a privacy alert before reading an SCR the patient gave permission to view"
            }
            Self::ReadsDespiteDissent => {
                "after a 403 on /DocumentReference still GETs /Bundle (the id remembered in the session, or any id)"
            }
            Self::ReadsDespiteNo => "after the patient answers no, records No with $setPermission and still reads",
            Self::SkipsSetPermission => "when the patient answers yes, reads without POST /$setPermission",
            Self::MissingUrid => "sends no NHSD-Session-URID header",
            Self::WrongAccept => "sends Accept: application/json",
            Self::ReusedRequestId => "one X-Request-ID for every request of the action",
            Self::NewRequestIdOnResend => "a re-sent upload gets a fresh X-Request-ID",
            Self::RetryStorm => "on 5xx: 10 attempts, no delay",
            Self::IgnoresRetryAfter => "on 429: retries after 50 ms (not Retry-After), up to 3 attempts",
            Self::TokenNeverRenewed => "never renews its first access token; a 401 is reported as an error",
            Self::AuthLoop => "on 401: renews and retries without a bound (stopped at 10 attempts)",
            Self::RefreshTokenReused => "keeps presenting the first refresh token it got, never the rotated one",
            Self::AssertionExpTooFar => "client assertion exp = now + 305 s",
            Self::AssertionShortExp => "client assertion exp = now + 9 s",
            Self::ReusedJti => "the same jti in every client assertion of the session",
            Self::StaleRelatesTo => {
                "an upload's relatesTo names the SCR id remembered from an earlier action, not the one just read"
            }
            Self::StaleScrId => "a retrieve reads the SCR id remembered in the session, not the latest just read",
            Self::InvalidBundle => "uploads the Bundle with its Composition status removed",
            Self::ShowsPartialData => "on a 200 whose body is not the expected JSON, reports displayed",
            Self::Empty201AsError => "an upload answered 201 with an empty body is reported as an error",
            Self::NoKeyRotation => "rotate_key answers done but keeps signing with the old key",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }
}

impl fmt::Display for Defect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name `--defect` does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown defect \"{name}\"; known defects: {}", known_names())]
pub struct UnknownDefect {
    pub name: String,
}

/// Every defect name, comma-separated.
pub fn known_names() -> String {
    Defect::ALL.iter().map(|d| d.name()).collect::<Vec<_>>().join(", ")
}

/// The defects switched on for a run (none: the correct client).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defects(BTreeSet<Defect>);

impl Defects {
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses `--defect` values; the first unknown name is an error.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, UnknownDefect> {
        names
            .iter()
            .map(|n| Defect::parse(n.as_ref()).ok_or_else(|| UnknownDefect { name: n.as_ref().to_owned() }))
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    pub fn has(&self, defect: Defect) -> bool {
        self.0.contains(&defect)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Defect> + '_ {
        self.0.iter().copied()
    }
}

impl FromIterator<Defect> for Defects {
    fn from_iter<T: IntoIterator<Item = Defect>>(iter: T) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let names: BTreeSet<&str> = Defect::ALL.iter().map(|d| d.name()).collect();
        assert_eq!(names.len(), Defect::ALL.len());
        for d in Defect::ALL {
            assert_eq!(Defect::parse(d.name()), Some(d));
            assert!(!d.description().is_empty());
        }
    }

    #[test]
    fn unknown_names_are_refused_listing_the_known_ones() {
        let err = Defects::parse(&["no-alert", "frobnicate"]).expect_err("unknown");
        assert_eq!(err.name, "frobnicate");
        let text = err.to_string();
        assert!(text.contains("\"frobnicate\"") && text.contains("no-key-rotation") && text.contains("no-alert"));
        let ok = Defects::parse(&["no-alert", "reused-jti"]).expect("known");
        assert!(ok.has(Defect::NoAlert) && ok.has(Defect::ReusedJti) && !ok.has(Defect::AuthLoop));
        assert!(Defects::parse::<&str>(&[]).expect("none").is_empty());
    }
}
