//! The operations the mock serves, by one name each: what fault injection targets, what rate limits count and
//! what the audit trail records. The names are the ones scenarios and the `/_admin` routes use.

use std::fmt;
use std::str::FromStr;

use axum::http::Method;

/// One operation of the mock, recognised from the method and the path (below the origin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    /// `GET /DocumentReference`: the latest SCR id and the permission to view.
    GetScrId,
    /// `GET /Bundle`: the SCR document.
    GetScr,
    /// `POST /Bundle`: upload a GP Summary.
    UploadScr,
    /// `POST /$setPermission`: record the permission to view.
    SetPermission,
    /// `POST /AuditEvent`: raise a privacy alert.
    SendAlert,
    /// `POST /oauth2/token`: the identity service's token endpoint.
    Token,
}

impl Operation {
    pub const ALL: [Operation; 6] =
        [Self::GetScrId, Self::GetScr, Self::UploadScr, Self::SetPermission, Self::SendAlert, Self::Token];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::GetScrId => "get-scr-id",
            Self::GetScr => "get-scr",
            Self::UploadScr => "upload-scr",
            Self::SetPermission => "set-permission",
            Self::SendAlert => "send-alert",
            Self::Token => "token",
        }
    }

    /// The operation a request is for: `suffix` is the path below the SCR base path, or `/oauth2/token`
    /// for the token endpoint. HEAD counts as GET. `None` for anything else (ping, admin, unknown paths).
    pub fn recognise(method: &Method, suffix: &str) -> Option<Self> {
        let get = method == Method::GET || method == Method::HEAD;
        let post = method == Method::POST;
        match suffix.trim_end_matches('/') {
            "/DocumentReference" if get => Some(Self::GetScrId),
            "/Bundle" if get => Some(Self::GetScr),
            "/Bundle" if post => Some(Self::UploadScr),
            "/$setPermission" if post => Some(Self::SetPermission),
            "/AuditEvent" if post => Some(Self::SendAlert),
            "/oauth2/token" if post => Some(Self::Token),
            _ => None,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown operation '{0}': expected one of get-scr-id, get-scr, upload-scr, set-permission, send-alert, token")]
pub struct UnknownOperation(pub String);

impl FromStr for Operation {
    type Err = UnknownOperation;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|o| o.as_str() == s.trim()).ok_or_else(|| UnknownOperation(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_requests_are_recognised() {
        for op in Operation::ALL {
            assert_eq!(op.as_str().parse::<Operation>().ok(), Some(op));
        }
        assert!("read".parse::<Operation>().is_err());
        assert_eq!(Operation::recognise(&Method::GET, "/Bundle"), Some(Operation::GetScr));
        assert_eq!(Operation::recognise(&Method::POST, "/Bundle/"), Some(Operation::UploadScr));
        assert_eq!(Operation::recognise(&Method::HEAD, "/DocumentReference"), Some(Operation::GetScrId));
        assert_eq!(Operation::recognise(&Method::PUT, "/Bundle"), None);
        assert_eq!(Operation::recognise(&Method::POST, "/oauth2/token"), Some(Operation::Token));
        assert_eq!(Operation::recognise(&Method::GET, "/_ping"), None);
    }
}
