//! Where a cloud's credentials come from: `clouds.yaml` (the standard search path, plus
//! `OS_CLIENT_CONFIG_FILE`, which osauth ignores) or the `OS_*` environment variables.
//!
//! We parse clouds.yaml ourselves with serde-saphyr instead of through osauth (whose
//! `serde_yaml` carries an advisory and which cannot be pointed at a file). Secrets are wrapped
//! in [`Secret`] at parse time, so no `Debug` of a config can print them.

use serde::Deserialize;
use std::{
    collections::BTreeMap,
    fmt,
    path::{Path, PathBuf},
};

/// A password, application-credential secret or token. Prints as `***`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself, for the one place that sends it to Keystone.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Auth {
    /// Registers the secret with [`crate::redact`], so that a cloud that echoes it back in an
    /// error body never gets it stored or shown.
    fn register_secrets(&self) {
        match self {
            Auth::Password { password, .. } => crate::redact::register(password.expose()),
            Auth::ApplicationCredential { secret, .. } => crate::redact::register(secret.expose()),
        }
    }
}

/// How to authenticate.
#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    /// Keystone v3 password, scoped to a project.
    Password {
        /// User name.
        username: String,
        /// Password.
        password: Secret,
        /// Domain of the user.
        user_domain: String,
        /// Project name (scope).
        project_name: Option<String>,
        /// Project ID (scope; wins over the name).
        project_id: Option<String>,
        /// Domain of the project.
        project_domain: String,
    },
    /// Keystone v3 application credential (carries its own project scope).
    ApplicationCredential {
        /// Credential ID.
        id: Option<String>,
        /// Credential name (needs `user_id`).
        name: Option<String>,
        /// Owner, when the credential is given by name.
        user_id: Option<String>,
        /// Secret.
        secret: Secret,
    },
}

/// One cloud, ready to authenticate against.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudConfig {
    /// The cloud's name in clouds.yaml (or `env`).
    pub name: String,
    /// Keystone URL.
    pub auth_url: String,
    /// Credentials.
    pub auth: Auth,
    /// Region; the catalog's first when omitted.
    pub region: Option<String>,
    /// Endpoint interface: `public` (default), `internal` or `admin`.
    pub interface: Option<String>,
    /// A PEM bundle of extra CA certificates.
    pub cacert: Option<PathBuf>,
    /// False turns off TLS verification (clouds.yaml `verify: false`).
    pub verify: bool,
    /// Where it was read from, for error messages.
    pub source: String,
}

/// Why a cloud's configuration could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No clouds.yaml was found.
    #[error("no clouds.yaml found (looked in {0}) and OS_AUTH_URL is not set")]
    NotFound(String),
    /// The file could not be read or parsed.
    #[error("{file}: {reason}")]
    Invalid {
        /// The file.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// The cloud is not in the file.
    #[error("{file}: no cloud named `{name}` (clouds: {known})")]
    UnknownCloud {
        /// The file.
        file: String,
        /// Requested name.
        name: String,
        /// Names present.
        known: String,
    },
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    clouds: BTreeMap<String, RawCloud>,
}

#[derive(Deserialize)]
struct RawCloud {
    #[serde(default)]
    auth: RawAuth,
    #[serde(default)]
    auth_type: Option<String>,
    #[serde(default)]
    region_name: Option<String>,
    #[serde(default)]
    interface: Option<String>,
    #[serde(default)]
    cacert: Option<PathBuf>,
    #[serde(default)]
    verify: Option<bool>,
}

#[derive(Deserialize, Default)]
struct RawAuth {
    auth_url: Option<String>,
    username: Option<String>,
    password: Option<Secret>,
    user_domain_name: Option<String>,
    project_name: Option<String>,
    project_id: Option<String>,
    project_domain_name: Option<String>,
    application_credential_id: Option<String>,
    application_credential_name: Option<String>,
    application_credential_secret: Option<Secret>,
    user_id: Option<String>,
}

/// The clouds.yaml candidates in the order openstacksdk searches them.
pub fn search_path(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_owned()];
    }
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("OS_CLIENT_CONFIG_FILE") {
        out.push(PathBuf::from(p));
    }
    out.push(PathBuf::from("clouds.yaml"));
    if let Some(home) = std::env::var_os("HOME") {
        out.push(Path::new(&home).join(".config/openstack/clouds.yaml"));
    }
    out.push(PathBuf::from("/etc/openstack/clouds.yaml"));
    out
}

/// Loads cloud `name` (or `$OS_CLOUD`) from the first clouds.yaml on the search path, or from
/// `OS_*` variables when no file names it and `OS_AUTH_URL` is set.
pub fn load(name: Option<&str>, explicit: Option<&Path>) -> Result<CloudConfig, ConfigError> {
    let env_name = std::env::var("OS_CLOUD").ok().filter(|s| !s.is_empty());
    let name = name.map(str::to_owned).or(env_name);
    let candidates = search_path(explicit);
    if let Some(file) = candidates.iter().find(|p| p.is_file()) {
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError::Invalid {
            file: file.display().to_string(),
            reason: e.to_string(),
        })?;
        if let Some(name) = &name {
            return parse(&text, name, &file.display().to_string());
        }
    } else if explicit.is_some() {
        return Err(ConfigError::NotFound(display_list(&candidates)));
    }
    from_env(|k| std::env::var(k).ok()).ok_or_else(|| ConfigError::NotFound(display_list(&candidates)))
}

fn display_list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses cloud `name` out of clouds.yaml text.
pub fn parse(text: &str, name: &str, file: &str) -> Result<CloudConfig, ConfigError> {
    let raw: RawFile = serde_saphyr::from_str(text).map_err(|e| ConfigError::Invalid {
        file: file.into(),
        reason: e.to_string(),
    })?;
    let Some(cloud) = raw.clouds.get(name) else {
        return Err(ConfigError::UnknownCloud {
            file: file.into(),
            name: name.into(),
            known: raw.clouds.keys().cloned().collect::<Vec<_>>().join(", "),
        });
    };
    let invalid = |reason: String| ConfigError::Invalid {
        file: file.into(),
        reason: format!("clouds.{name}: {reason}"),
    };
    let a = &cloud.auth;
    let auth_url = a
        .auth_url
        .clone()
        .ok_or_else(|| invalid("auth.auth_url is missing".into()))?;
    let auth = match cloud.auth_type.as_deref().unwrap_or("password") {
        "password" | "v3password" => Auth::Password {
            username: a
                .username
                .clone()
                .ok_or_else(|| invalid("auth.username is missing".into()))?,
            password: a
                .password
                .clone()
                .ok_or_else(|| invalid("auth.password is missing".into()))?,
            user_domain: a.user_domain_name.clone().unwrap_or_else(|| "Default".into()),
            project_name: a.project_name.clone(),
            project_id: a.project_id.clone(),
            project_domain: a.project_domain_name.clone().unwrap_or_else(|| "Default".into()),
        },
        "v3applicationcredential" | "applicationcredential" => Auth::ApplicationCredential {
            id: a.application_credential_id.clone(),
            name: a.application_credential_name.clone(),
            user_id: a.user_id.clone(),
            secret: a
                .application_credential_secret
                .clone()
                .ok_or_else(|| invalid("auth.application_credential_secret is missing".into()))?,
        },
        other => {
            return Err(invalid(format!(
                "auth_type `{other}` is not supported (use password or v3applicationcredential)"
            )));
        }
    };
    auth.register_secrets();
    Ok(CloudConfig {
        name: name.into(),
        auth_url,
        auth,
        region: cloud.region_name.clone(),
        interface: cloud.interface.clone(),
        cacert: cloud.cacert.clone(),
        verify: cloud.verify.unwrap_or(true),
        source: file.into(),
    })
}

/// A cloud from `OS_*` variables (as `openrc` files set them), if `OS_AUTH_URL` is set.
pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Option<CloudConfig> {
    let auth_url = var("OS_AUTH_URL")?;
    let auth = if let Some(secret) = var("OS_APPLICATION_CREDENTIAL_SECRET") {
        Auth::ApplicationCredential {
            id: var("OS_APPLICATION_CREDENTIAL_ID"),
            name: var("OS_APPLICATION_CREDENTIAL_NAME"),
            user_id: var("OS_USER_ID"),
            secret: Secret::new(secret),
        }
    } else {
        Auth::Password {
            username: var("OS_USERNAME").unwrap_or_default(),
            password: Secret::new(var("OS_PASSWORD").unwrap_or_default()),
            user_domain: var("OS_USER_DOMAIN_NAME").unwrap_or_else(|| "Default".into()),
            project_name: var("OS_PROJECT_NAME"),
            project_id: var("OS_PROJECT_ID"),
            project_domain: var("OS_PROJECT_DOMAIN_NAME").unwrap_or_else(|| "Default".into()),
        }
    };
    auth.register_secrets();
    Some(CloudConfig {
        name: "env".into(),
        auth_url,
        auth,
        region: var("OS_REGION_NAME"),
        interface: var("OS_INTERFACE"),
        cacert: var("OS_CACERT").map(PathBuf::from),
        verify: true,
        source: "OS_* environment".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
clouds:
  pw:
    auth:
      auth_url: http://127.0.0.1:5000/v3
      username: demo
      password: hunter2
      project_name: demo
      user_domain_name: Default
    region_name: RegionOne
    interface: internal
    cacert: /etc/ssl/private-ca.pem
  ac:
    auth_type: v3applicationcredential
    auth: {auth_url: "http://k/v3", application_credential_id: abc, application_credential_secret: s3cr3t}
  odd:
    auth_type: v3oidcpassword
    auth: {auth_url: "http://k/v3"}
"#;

    #[test]
    fn password_cloud_parses_with_region_interface_and_ca() {
        let c = parse(FILE, "pw", "clouds.yaml").unwrap();
        assert_eq!(c.region.as_deref(), Some("RegionOne"));
        assert_eq!(c.interface.as_deref(), Some("internal"));
        assert_eq!(c.cacert, Some(PathBuf::from("/etc/ssl/private-ca.pem")));
        assert!(matches!(&c.auth, Auth::Password { username, .. } if username == "demo"));
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        for name in ["pw", "ac"] {
            let c = parse(FILE, name, "clouds.yaml").unwrap();
            let shown = format!("{c:?}");
            assert!(!shown.contains("hunter2") && !shown.contains("s3cr3t"), "{shown}");
            assert!(shown.contains("***"));
        }
    }

    #[test]
    fn unknown_cloud_names_the_file_and_the_known_clouds() {
        let e = parse(FILE, "nope", "/x/clouds.yaml").unwrap_err().to_string();
        assert!(
            e.contains("/x/clouds.yaml") && e.contains("nope") && e.contains("ac, odd, pw"),
            "{e}"
        );
    }

    #[test]
    fn unsupported_auth_type_is_a_clear_error() {
        let e = parse(FILE, "odd", "c.yaml").unwrap_err().to_string();
        assert!(e.contains("v3oidcpassword") && e.contains("clouds.odd"), "{e}");
    }

    #[test]
    fn environment_variables_make_a_cloud() {
        let vars = |k: &str| match k {
            "OS_AUTH_URL" => Some("http://k/v3".to_string()),
            "OS_APPLICATION_CREDENTIAL_ID" => Some("id1".into()),
            "OS_APPLICATION_CREDENTIAL_SECRET" => Some("topsecret".into()),
            "OS_REGION_NAME" => Some("R2".into()),
            _ => None,
        };
        let c = from_env(vars).unwrap();
        assert_eq!(c.region.as_deref(), Some("R2"));
        assert!(!format!("{c:?}").contains("topsecret"));
        assert!(from_env(|_| None).is_none());
    }
}
