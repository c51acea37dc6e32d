//! The production guard: scr-assure sends test traffic — made-up patients, deliberately broken requests,
//! consent changes and privacy alerts — so it must never talk to the live NHS API by accident. A URL whose host
//! is the production API host (`api.service.nhs.uk`, reference §1) is refused unless the user says
//! `--allow-production`. The sandbox (`sandbox.api.service.nhs.uk`), INT (`int.api.service.nhs.uk`) and the
//! other NHS environments are separate hosts and pass.
//!
//! URLs are judged by a real URL parser (the one reqwest sends with), so what is checked is the host the request
//! would go to: case, a trailing dot, an explicit default port and userinfo tricks
//! (`https://int.api.service.nhs.uk@api.service.nhs.uk/`) do not hide it.

use reqwest::Url;

use super::site::{JwksSource, Site};

/// The host of the live NHS API Platform (reference §1: production base URL and token URL).
pub const PRODUCTION_HOST: &str = "api.service.nhs.uk";

/// The command-line switch that lifts the guard.
pub const OVERRIDE_FLAG: &str = "--allow-production";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error(
        "refusing {setting} '{url}': its host is the production NHS API ({PRODUCTION_HOST}). scr-assure sends test \
         traffic — made-up patients, deliberately invalid requests, privacy alerts — and may change patients' \
         consent (permission to view), which must not happen to live records. Use the sandbox or INT; if you \
         really mean to run against production (for example a supervised smoke test), add {OVERRIDE_FLAG}"
    )]
    Production { setting: String, url: String },
    #[error("{setting} '{url}' is not a URL: {message}")]
    NotAUrl { setting: String, url: String, message: String },
}

/// Whether a parsed URL would send its requests to the production API host.
pub fn is_production(url: &Url) -> bool {
    url.host_str().is_some_and(|host| host.trim_end_matches('.').eq_ignore_ascii_case(PRODUCTION_HOST))
}

/// Checks one configured URL; `setting` names where it came from (e.g. `--base-url`, `site.toml [endpoints]
/// token_url`) so the refusal can say which to change.
pub fn check_url(setting: &str, url: &str, allow_production: bool) -> Result<(), GuardError> {
    let parsed = Url::parse(url.trim()).map_err(|e| GuardError::NotAUrl {
        setting: setting.to_owned(),
        url: url.to_owned(),
        message: e.to_string(),
    })?;
    if is_production(&parsed) && !allow_production {
        return Err(GuardError::Production { setting: setting.to_owned(), url: url.to_owned() });
    }
    Ok(())
}

/// Checks every URL a site file names: the SCR base URL, the token URL, the JWKS URL and the redirect URI.
pub fn check_site(site: &Site, allow_production: bool) -> Result<(), GuardError> {
    let file = site.path.display();
    let mut urls = vec![
        (format!("{file} [endpoints] scr_base_url"), site.scr_base_url.as_str()),
        (format!("{file} [endpoints] token_url"), site.token_url.as_str()),
    ];
    if let Some(JwksSource::Url(u)) = &site.jwks {
        urls.push((format!("{file} [app] jwks_url"), u.as_str()));
    }
    if let Some(u) = &site.redirect_uri {
        urls.push((format!("{file} [app] redirect_uri"), u.as_str()));
    }
    urls.into_iter().try_for_each(|(setting, url)| check_url(&setting, url, allow_production))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> bool {
        matches!(check_url("--base-url", url, false), Err(GuardError::Production { .. }))
    }

    #[test]
    fn the_production_host_is_refused_in_every_spelling() {
        for url in [
            "https://api.service.nhs.uk/summary-care-record/FHIR/R4",
            "https://api.service.nhs.uk/oauth2/token",
            "https://API.Service.NHS.uk/summary-care-record/FHIR/R4",
            "https://api.service.nhs.uk./summary-care-record/FHIR/R4",
            "https://api.service.nhs.uk:443/summary-care-record/FHIR/R4",
            "https://api.service.nhs.uk:8443/x",
            "http://api.service.nhs.uk/x",
            "https://int.api.service.nhs.uk@api.service.nhs.uk/summary-care-record/FHIR/R4",
            "https://user:pw@api.service.nhs.uk/",
            "https://api%2Eservice.nhs.uk/x",
            "  https://api.service.nhs.uk/x",
        ] {
            assert!(refused(url), "{url} must be refused");
        }
    }

    #[test]
    fn other_nhs_environments_and_lookalikes_pass() {
        for url in [
            "https://sandbox.api.service.nhs.uk/summary-care-record/FHIR/R4",
            "https://int.api.service.nhs.uk/summary-care-record/FHIR/R4",
            "https://int.api.service.nhs.uk/oauth2-mock/token",
            "https://internal-dev.api.service.nhs.uk/summary-care-record/FHIR/R4",
            "https://api.service.nhs.uk.example.org/x",
            "https://example.org/api.service.nhs.uk/x",
            "https://api.service.nhs.uk@int.api.service.nhs.uk/x",
            "http://127.0.0.1:8080/summary-care-record/FHIR/R4",
        ] {
            assert_eq!(check_url("--base-url", url, false), Ok(()), "{url} must pass");
        }
    }

    #[test]
    fn the_override_lets_production_through() {
        assert_eq!(check_url("--base-url", "https://api.service.nhs.uk/summary-care-record/FHIR/R4", true), Ok(()));
    }

    #[test]
    fn the_refusal_names_the_setting_the_url_why_and_the_override() {
        let e = check_url("--base-url", "https://api.service.nhs.uk/x", false).err().map(|e| e.to_string());
        let e = e.unwrap_or_default();
        for part in ["--base-url", "'https://api.service.nhs.uk/x'", "production", "consent", "--allow-production"] {
            assert!(e.contains(part), "{part} missing from: {e}");
        }
    }

    #[test]
    fn an_unparsable_url_is_refused_as_such() {
        let e = check_url("--base-url", "api.service.nhs.uk/x", true);
        assert!(matches!(e, Err(GuardError::NotAUrl { .. })), "{e:?}");
    }

    #[test]
    fn every_url_of_a_site_is_checked() {
        let good = r#"
ods_code = "A12345"
asid = "200000001162"
session_urid = "555254242102"
[endpoints]
token_url = "https://int.api.service.nhs.uk/oauth2/token"
scr_base_url = "https://int.api.service.nhs.uk/summary-care-record/FHIR/R4"
[app]
api_key_env = "K"
kid = "k1"
private_key_file = "k.pem"
jwks_url = "https://example.org/jwks.json"
"#;
        let parse = |text: &str| {
            Site::parse(std::path::Path::new("site.toml"), text).unwrap_or_else(|e| panic!("the site parses: {e}"))
        };
        assert_eq!(check_site(&parse(good), false), Ok(()));
        for (from, to, setting) in [
            ("https://int.api.service.nhs.uk/oauth2/token", "https://api.service.nhs.uk/oauth2/token", "token_url"),
            (
                "https://int.api.service.nhs.uk/summary-care-record",
                "https://api.service.nhs.uk/summary-care-record",
                "scr_base_url",
            ),
            ("https://example.org/jwks.json", "https://api.service.nhs.uk/jwks.json", "jwks_url"),
        ] {
            let site = parse(&good.replace(from, to));
            let e = check_site(&site, false).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("site.toml [") && e.contains(setting), "{setting}: {e}");
            assert_eq!(check_site(&site, true), Ok(()));
        }
    }
}
