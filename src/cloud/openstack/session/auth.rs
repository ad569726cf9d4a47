//! Authentication for [`Api`]: the HTTP client (timeouts, custom CA), the osauth session for
//! password or application-credential auth, and the new session built after a 401. osauth
//! itself renews a token that has less than 10 minutes left before each request.

use super::{
    super::{
        config::{Auth, CloudConfig, Secret},
        errors::{ApiError, ErrorClass},
    },
    Api, ApiOptions,
};
use osauth::{
    ErrorKind, InterfaceType, Session,
    common::IdOrName,
    identity::{ApplicationCredential, Password},
};

impl Api {
    /// The token in use (for the e2e test that revokes it). Wrapped: it never prints.
    pub async fn current_token(&self) -> Result<Secret, ApiError> {
        let probe = self.http.get(&self.config.auth_url);
        let req = self
            .session
            .auth_type()
            .authenticate(&self.http, probe)
            .await
            .map_err(|e| from_osauth(e, "identity", "POST auth/tokens"))?
            .build()
            .map_err(|e| ApiError::local(ErrorClass::Invalid, "identity", "token", e.to_string()))?;
        let token = req
            .headers()
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::local(ErrorClass::Invalid, "identity", "token", "no token header"))?;
        Ok(Secret::new(token))
    }

    /// Builds a new session (new token). Called once after a 401.
    pub async fn reauthenticate(&mut self) -> Result<(), ApiError> {
        self.session = build_session(&self.config, &self.http).await?;
        self.stats.reauthentications += 1;
        self.metrics.reauthenticated(&self.config.name);
        Ok(())
    }
}

/// Maps osauth's own failures (token requests, endpoint discovery, transport) to our classes.
pub fn from_osauth(e: osauth::Error, service: &'static str, what: &str) -> ApiError {
    let class = match e.kind() {
        ErrorKind::AuthenticationFailed => ErrorClass::Unauthorized,
        ErrorKind::AccessDenied => ErrorClass::Forbidden,
        ErrorKind::Conflict => ErrorClass::Conflict,
        ErrorKind::ProtocolError | ErrorKind::OperationTimedOut => ErrorClass::Transport,
        ErrorKind::InternalServerError => ErrorClass::Server,
        ErrorKind::ResourceNotFound => ErrorClass::NotFound,
        _ => ErrorClass::Invalid,
    };
    let (service, what) = if class == ErrorClass::Unauthorized {
        ("identity", "POST auth/tokens")
    } else {
        (service, what)
    };
    ApiError::local(class, service, what, e.to_string())
}

pub(super) fn http_client(config: &CloudConfig, options: &ApiOptions) -> Result<reqwest::Client, ApiError> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .timeout(options.request_timeout)
        .user_agent(concat!("sloop/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &config.cacert {
        let bad = |m: String| {
            ApiError::local(
                ErrorClass::Invalid,
                "identity",
                "cacert",
                format!("{}: {m}", path.display()),
            )
        };
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(e.to_string()))? {
            b = b.add_root_certificate(cert);
        }
    }
    if !config.verify {
        b = b.danger_accept_invalid_certs(true);
    }
    b.build()
        .map_err(|e| ApiError::local(ErrorClass::Invalid, "identity", "http client", e.to_string()))
}

pub(super) async fn build_session(config: &CloudConfig, http: &reqwest::Client) -> Result<Session, ApiError> {
    let invalid = |e: osauth::Error| from_osauth(e, "identity", "POST auth/tokens");
    let mut session = match &config.auth {
        Auth::Password {
            username,
            password,
            user_domain,
            project_name,
            project_id,
            project_domain,
        } => {
            let mut auth =
                Password::new(&config.auth_url, username, password.expose(), user_domain).map_err(invalid)?;
            let project = match (project_id, project_name) {
                (Some(id), _) => Some(IdOrName::Id(id.clone())),
                (None, Some(name)) => Some(IdOrName::Name(name.clone())),
                (None, None) => None,
            };
            if let Some(p) = project {
                auth.set_project_scope(p, IdOrName::Name(project_domain.clone()));
            }
            Session::new_with_client(http.clone(), auth)
                .await
                .map_err(invalid)?
        }
        Auth::ApplicationCredential {
            id,
            name,
            user_id,
            secret,
        } => {
            let auth = match (id, name, user_id) {
                (Some(id), _, _) => ApplicationCredential::new(&config.auth_url, id, secret.expose()),
                (None, Some(name), Some(user)) => {
                    ApplicationCredential::with_user_id(&config.auth_url, name, secret.expose(), user)
                }
                _ => {
                    return Err(ApiError::local(
                        ErrorClass::Invalid,
                        "identity",
                        "config",
                        format!(
                            "{}: cloud `{}` needs application_credential_id, or a name with user_id",
                            config.source, config.name
                        ),
                    ));
                }
            }
            .map_err(invalid)?;
            Session::new_with_client(http.clone(), auth)
                .await
                .map_err(invalid)?
        }
    };
    if let Some(region) = &config.region {
        session.set_region(region.clone());
    }
    if let Some(interface) = &config.interface {
        let it: InterfaceType = interface.parse().map_err(|e: osauth::Error| {
            ApiError::local(
                ErrorClass::Invalid,
                "identity",
                "config",
                format!("interface: {e}"),
            )
        })?;
        session.set_endpoint_interface(it);
    }
    Ok(session)
}
