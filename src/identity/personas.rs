//! CIS2 personas (reference §1, §11): test users with their roles and assurance level, as data
//! (`fixtures/identity/personas.toml`), and the userinfo JSON CIS2 would give for them.

use std::path::Path;

use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum PersonaError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is not a valid personas file: {reason}")]
    Parse { path: String, reason: String },
    #[error("{path}: persona \"{persona}\": {reason}")]
    Invalid { path: String, persona: String, reason: String },
}

/// One national RBAC role of a user.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// Digits, e.g. `555254242102`: what `NHSD-Session-URID` carries.
    pub person_roleid: String,
    /// `S8000:G8000:R8000`
    pub role_code: String,
    pub role_name: String,
    pub org_code: String,
    #[serde(default)]
    pub org_name: Option<String>,
    #[serde(default)]
    pub person_orgid: Option<String>,
    #[serde(default)]
    pub activity_codes: Vec<String>,
    #[serde(default)]
    pub activities: Vec<String>,
}

/// A CIS2 user the mock can sign in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persona {
    pub id: String,
    /// The CIS2 user id (`sub`, `NHSD-Identity-UUID`).
    pub user_id: String,
    pub name: String,
    /// Authentication assurance level: 1, 2 or 3.
    pub aal: u8,
    pub roles: Vec<Role>,
    /// The role picked at login, returned in the ID token (only when the persona has one).
    #[serde(default)]
    pub selected_roleid: Option<String>,
}

impl Persona {
    /// `AAL3_ANY` / `AAL2_ANY` / `AAL1_ANY`.
    pub fn acr(&self) -> String {
        format!("AAL{}_ANY", self.aal)
    }

    fn validate(&self) -> Result<(), String> {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(&self.user_id) {
            return Err(format!("user_id \"{}\" must be digits", self.user_id));
        }
        if !(1..=3).contains(&self.aal) {
            return Err(format!("aal {} must be 1, 2 or 3", self.aal));
        }
        for r in &self.roles {
            if !digits(&r.person_roleid) {
                return Err(format!("person_roleid \"{}\" must be digits", r.person_roleid));
            }
            let parts: Vec<&str> = r.role_code.split(':').collect();
            let ok =
                parts.len() == 3 && parts.iter().zip(['S', 'G', 'R']).all(|(p, c)| p.starts_with(c) && digits(&p[1..]));
            if !ok {
                return Err(format!("role_code \"{}\" must look like S8000:G8000:R8000", r.role_code));
            }
        }
        if let Some(sel) = &self.selected_roleid {
            if !self.roles.iter().any(|r| &r.person_roleid == sel) {
                return Err(format!("selected_roleid \"{sel}\" is not one of its roles"));
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonasFile {
    persona: Vec<Persona>,
}

/// The personas of one file, in file order.
#[derive(Debug, Clone, Default)]
pub struct Personas {
    list: Vec<Persona>,
}

impl Personas {
    pub fn load(path: impl AsRef<Path>) -> Result<Self, PersonaError> {
        let path = path.as_ref();
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PersonaError::Read { path: p.clone(), source })?;
        Self::parse(&text, &p)
    }

    /// Parses TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, PersonaError> {
        let file: PersonasFile =
            toml::from_str(text).map_err(|e| PersonaError::Parse { path: origin.to_owned(), reason: e.to_string() })?;
        for (i, p) in file.persona.iter().enumerate() {
            let invalid =
                |reason: String| PersonaError::Invalid { path: origin.to_owned(), persona: p.id.clone(), reason };
            p.validate().map_err(invalid)?;
            if file.persona[..i].iter().any(|q| q.id == p.id) {
                return Err(invalid("the id is used twice".into()));
            }
        }
        Ok(Self { list: file.persona })
    }

    pub fn get(&self, id: &str) -> Option<&Persona> {
        self.list.iter().find(|p| p.id == id)
    }

    pub fn all(&self) -> &[Persona] {
        &self.list
    }
}

/// The CIS2 userinfo of a persona (reference §11), with `nhsid_nrbac_roles`.
pub fn userinfo(persona: &Persona) -> Value {
    let roles: Vec<Value> = persona
        .roles
        .iter()
        .map(|r| {
            json!({
                "person_orgid": r.person_orgid.clone().unwrap_or_default(),
                "person_roleid": r.person_roleid,
                "org_code": r.org_code,
                "role_name": r.role_name,
                "role_code": r.role_code,
                "activities": r.activities,
                "activity_codes": r.activity_codes,
            })
        })
        .collect();
    let mut orgs: Vec<Value> = vec![];
    for r in &persona.roles {
        if !orgs.iter().any(|o| o["org_code"] == r.org_code.as_str()) {
            orgs.push(json!({ "org_code": r.org_code, "org_name": r.org_name.clone().unwrap_or_default() }));
        }
    }
    json!({
        "sub": persona.user_id,
        "nhsid_useruid": persona.user_id,
        "uid": persona.user_id,
        "name": persona.name,
        "display_name": persona.name,
        "idassurancelevel": "3",
        "nhsid_user_orgs": orgs,
        "nhsid_nrbac_roles": roles,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::identity::keys::tests::fixture;

    pub fn fixture_personas() -> Personas {
        Personas::load(fixture("personas.toml")).expect("fixture personas")
    }

    #[test]
    fn fixture_has_the_reference_users() {
        let p = fixture_personas();
        for (id, user, aal) in [
            ("single-role", "787807429512", 3),
            ("multi-role", "656005750104", 3),
            ("selected-role", "656005750107", 3),
            ("aal2", "656005750109", 2),
            ("aal1", "656005750110", 1),
            ("default-clinician", "910000000001", 3),
        ] {
            let persona = p.get(id).unwrap_or_else(|| panic!("persona {id}"));
            assert_eq!((persona.user_id.as_str(), persona.aal), (user, aal));
        }
        assert_eq!(p.get("single-role").map(|x| x.roles.len()), Some(1));
        assert!(p.get("multi-role").is_some_and(|x| x.roles.len() > 1 && x.selected_roleid.is_none()));
        assert!(p.get("selected-role").is_some_and(|x| x.selected_roleid.is_some()));
    }

    #[test]
    fn userinfo_lists_roles() {
        let p = fixture_personas();
        let info = userinfo(p.get("default-clinician").expect("persona"));
        assert_eq!(info["sub"], "910000000001");
        let ids: Vec<&str> = info["nhsid_nrbac_roles"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["person_roleid"].as_str())
            .collect();
        assert_eq!(ids, vec!["555254240100", "555254242102", "555254241101"]);
        assert_eq!(info["nhsid_nrbac_roles"][1]["role_code"], "S8000:G8000:R8000");
    }

    #[test]
    fn invalid_personas_are_refused_with_reasons() {
        let base = |role: &str, extra: &str| {
            format!(
                "[[persona]]\nid='x'\nuser_id='1'\nname='n'\naal=3\n{extra}\n[[persona.roles]]\nperson_roleid='{role}'\nrole_code='S1:G2:R3'\nrole_name='r'\norg_code='O'\n"
            )
        };
        let err = |t: String| Personas::parse(&t, "t.toml").expect_err("invalid").to_string();
        assert!(err(base("12a", "")).contains("must be digits"));
        assert!(err(base("12", "selected_roleid='99'")).contains("not one of its roles"));
        assert!(err(base("12", "").replace("S1:G2:R3", "R8000")).contains("S8000:G8000:R8000"));
        assert!(Personas::parse(&base("12", "selected_roleid='12'"), "t").is_ok());
    }
}
