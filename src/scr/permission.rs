//! Permission to view (consent) as held by the Spine ACS and reported in `DocumentReference.securityLabel`
//! (reference §4.4, §7).

use std::fmt;
use std::str::FromStr;

/// The patient's SCR permission-to-view preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum PermissionToView {
    /// Legacy; to be treated like `Ask`.
    Yes,
    /// The patient has dissented: ACS forbids access (403 PSIS-420 on reads and uploads).
    No,
    /// Permission must be asked at the point of care.
    Ask,
}

impl PermissionToView {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "Yes",
            Self::No => "No",
            Self::Ask => "Ask",
        }
    }

    /// The value the adaptor sends to Spine ACS (`Ask` is sent as `Clear`).
    pub fn spine_value(self) -> &'static str {
        match self {
            Self::Yes => "Yes",
            Self::No => "No",
            Self::Ask => "Clear",
        }
    }
}

impl fmt::Display for PermissionToView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PermissionToView {
    type Err = String;

    /// Case-insensitive, as the adaptor accepts it (reference §4.4).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "yes" => Ok(Self::Yes),
            "no" => Ok(Self::No),
            "ask" => Ok(Self::Ask),
            _ => Err(s.to_owned()),
        }
    }
}

/// A patient's consent state in the mock: `None` when ACS holds no View assertion (reported as `Ask`).
pub type ConsentState = Option<PermissionToView>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively_and_maps_ask_to_clear() {
        assert_eq!("aSk".parse::<PermissionToView>(), Ok(PermissionToView::Ask));
        assert_eq!(PermissionToView::Ask.spine_value(), "Clear");
        assert!("Maybe".parse::<PermissionToView>().is_err());
    }
}
