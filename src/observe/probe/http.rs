//! HTTP and HTTPS probes composed by hand so every phase is timed: connect (tokio), TLS
//! (tokio-rustls with ring), then one HTTP/1.1 request (hyper's connection API). IO.
//!
//! Redirects are followed only with `followRedirects`; otherwise a 3xx is the response, judged
//! against `expectStatus`.

use super::{BuildError, Failed, Failure, Phase, Progress, cert, tcp};
use crate::policy::{HttpCheck, HttpMethod};
use http_body_util::{BodyExt, Empty};
use hyper::{
    Method, Request, Uri,
    body::{Bytes, Incoming},
    header::{self, HeaderMap, HeaderName, HeaderValue},
};
use hyper_util::rt::TokioIo;
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::{CryptoProvider, WebPkiSupportedAlgorithms},
    pki_types::{CertificateDer, ServerName, UnixTime},
};
use std::{fmt, net::SocketAddr, sync::Arc, time::Duration};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;

/// How many redirects a probe with `followRedirects` follows before judging the last response.
pub const MAX_REDIRECTS: usize = 5;

/// Where one request goes: scheme, authority and path of a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    https: bool,
    /// Host without brackets.
    host: String,
    port: u16,
    /// The Host header: the URL's authority without user info.
    authority: String,
    /// Path and query.
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| e.to_string())?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("the scheme must be http or https".into()),
        };
        let authority = uri.authority().ok_or("no host")?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let full = authority.as_str();
        Ok(Self {
            https,
            host,
            port,
            authority: full.rsplit('@').next().unwrap_or(full).to_owned(),
            path: uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        })
    }

    /// The target a `Location` header points to, relative to this one.
    fn join(&self, location: &str) -> Result<Self, String> {
        if location.starts_with("http://") || location.starts_with("https://") {
            return Self::parse(location);
        }
        if let Some(rest) = location.strip_prefix("//") {
            return Self::parse(&format!("{}://{rest}", if self.https { "https" } else { "http" }));
        }
        let path = if location.starts_with('/') {
            location.to_owned()
        } else {
            let base = self.path.split('?').next().unwrap_or("/");
            format!("{}{location}", &base[..=base.rfind('/').unwrap_or(0)])
        };
        Ok(Self { path, ..self.clone() })
    }

    fn same_origin(&self, other: &Self) -> bool {
        self.https == other.https && self.host == other.host && self.port == other.port
    }
}

/// What one request returned.
struct Response {
    status: u16,
    location: Option<String>,
    body: Vec<u8>,
}

/// An HTTP(S) probe compiled from the policy.
#[derive(Clone)]
pub struct HttpProbe {
    url: String,
    target: Target,
    method: Method,
    headers: HeaderMap,
    expect_status: Vec<u16>,
    body_regex: Option<regex::bytes::Regex>,
    max_body: u64,
    cert_expiry_warning: Option<Duration>,
    follow_redirects: bool,
    tls: TlsConnector,
}

impl fmt::Debug for HttpProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpProbe")
            .field("method", &self.method)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl HttpProbe {
    /// Compiles `check`: parses the URL, compiles the regex, builds the TLS configuration.
    pub fn new(check: &HttpCheck) -> Result<Self, BuildError> {
        let bad = |reason: String| BuildError::Url {
            url: check.url.clone(),
            reason,
        };
        let target = Target::parse(&check.url).map_err(bad)?;
        if target.https && ServerName::try_from(target.host.clone()).is_err() {
            return Err(bad("host is not a valid TLS server name".into()));
        }
        HeaderValue::from_str(&target.authority).map_err(|_| bad("invalid host".into()))?;
        let mut headers = HeaderMap::new();
        headers.insert(header::USER_AGENT, HeaderValue::from_static("sloop-probe/0.1"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        for (k, v) in &check.headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| BuildError::Header(k.clone()))?;
            let value = HeaderValue::from_str(v).map_err(|_| BuildError::Header(k.clone()))?;
            headers.insert(name, value);
        }
        let body_regex = match &check.body_regex {
            Some(r) => Some(regex::bytes::Regex::new(r).map_err(|e| BuildError::Regex(e.to_string()))?),
            None => None,
        };
        Ok(Self {
            url: check.url.clone(),
            target,
            method: match check.method {
                HttpMethod::Get => Method::GET,
                HttpMethod::Head => Method::HEAD,
                HttpMethod::Post => Method::POST,
                HttpMethod::Options => Method::OPTIONS,
            },
            headers,
            expect_status: check.expect_status.clone(),
            body_regex,
            max_body: check.max_body.bytes(),
            cert_expiry_warning: check
                .cert_expiry_warning
                .map(|d| Duration::from_secs_f64(d.secs().max(0.0))),
            follow_redirects: check.follow_redirects,
            tls: TlsConnector::from(shared_client_config(check.tls_verify)?),
        })
    }

    /// The URL's host (without brackets).
    pub fn host(&self) -> &str {
        &self.target.host
    }

    /// The URL's port.
    pub fn port(&self) -> u16 {
        self.target.port
    }

    /// Requests the URL from `addr` and judges the response. With `followRedirects`, a 3xx
    /// with a `Location` is followed (up to [`MAX_REDIRECTS`]): the same address for the same
    /// origin, otherwise the new host resolved in the same family; the phases of every hop add
    /// up, and the last response is judged.
    pub(crate) async fn attempt(&self, addr: SocketAddr, p: &mut Progress) -> Result<(), Failed> {
        let mut target = self.target.clone();
        let mut addr = addr;
        let mut hops = 0;
        let resp = loop {
            let resp = self.fetch(&target, addr, p).await?;
            let redirect = (300..400).contains(&resp.status) && resp.status != 304;
            match resp.location.as_deref() {
                Some(location) if self.follow_redirects && redirect && hops < MAX_REDIRECTS => {
                    let next = target.join(location).map_err(|e| {
                        Failed::new(Failure::Protocol, format!("redirect to `{location}`: {e}"))
                    })?;
                    if !next.same_origin(&target) {
                        let r = super::resolve(&next.host, next.port, super::family_of(addr.ip())).await;
                        p.mark(Phase::Dns);
                        addr = r?[0];
                    }
                    target = next;
                    hops += 1;
                }
                _ => break resp,
            }
        };
        let status = resp.status;
        if !self.expect_status.contains(&status) {
            return Err(Failed::new(
                Failure::Status,
                format!("status {status}, expected {:?}", self.expect_status),
            ));
        }
        if let Some(re) = &self.body_regex
            && !re.is_match(&resp.body)
        {
            return Err(Failed::new(
                Failure::Body,
                format!(
                    "body ({} bytes read) does not match /{}/",
                    resp.body.len(),
                    re.as_str()
                ),
            ));
        }
        match (self.cert_expiry_warning, target.https, p.cert_not_after) {
            (Some(warn), true, Some(t)) if t - p.at < warn.as_secs_f64() => Err(Failed::new(
                Failure::CertExpiring,
                format!("certificate expires in {:.1} days", (t - p.at) / 86_400.0),
            )),
            (Some(_), true, None) => Err(Failed::new(
                Failure::CertExpiring,
                "certificate notAfter could not be read",
            )),
            _ => Ok(()),
        }
    }

    /// One request to `target` on a fresh connection to `addr`.
    async fn fetch(&self, target: &Target, addr: SocketAddr, p: &mut Progress) -> Result<Response, Failed> {
        let stream = tcp::connect(addr, p).await?;
        if !target.https {
            return self.exchange(target, stream, p).await;
        }
        let name = ServerName::try_from(target.host.clone()).map_err(|_| {
            Failed::new(
                Failure::Tls,
                format!("`{}` is not a TLS server name", target.host),
            )
        })?;
        let r = self.tls.connect(name, stream).await;
        p.mark(Phase::Tls);
        let stream = r.map_err(|e| Failed::new(Failure::Tls, format!("TLS with {addr}: {e}")))?;
        let not_after = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|leaf| cert::not_after(leaf.as_ref()));
        p.set_cert_not_after(not_after);
        self.exchange(target, stream, p).await
    }

    /// One request on a fresh connection: headers received end the TTFB phase, the body (read
    /// up to `maxBody`) the transfer phase.
    async fn exchange<IO>(&self, target: &Target, io: IO, p: &mut Progress) -> Result<Response, Failed>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let protocol = |e: hyper::Error| Failed::new(Failure::Protocol, e.to_string());
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(protocol)?;
        let _driver = AbortOnDrop(tokio::spawn(async move {
            let _ = conn.await;
        }));
        let mut req = Request::new(Empty::<Bytes>::new());
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = target
            .path
            .parse()
            .map_err(|_| Failed::new(Failure::Protocol, "bad path"))?;
        *req.headers_mut() = self.headers.clone();
        let host = HeaderValue::from_str(&target.authority)
            .map_err(|_| Failed::new(Failure::Protocol, "bad host"))?;
        req.headers_mut().insert(header::HOST, host);
        let resp = sender.send_request(req).await;
        p.mark(Phase::Ttfb);
        let resp = resp.map_err(protocol)?;
        let status = resp.status().as_u16();
        p.set_status(status);
        let location = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = read_body(resp.into_body(), self.max_body, self.body_regex.is_some()).await;
        p.mark(Phase::Transfer);
        Ok(Response {
            status,
            location,
            body: body.map_err(protocol)?,
        })
    }
}

/// Reads at most `max` bytes of the body (keeping them only when `keep`), then stops.
async fn read_body(mut body: Incoming, max: u64, keep: bool) -> Result<Vec<u8>, hyper::Error> {
    let mut kept = Vec::new();
    let mut read = 0u64;
    while read < max {
        let Some(frame) = body.frame().await else { break };
        if let Some(data) = frame?.data_ref() {
            let take = (max - read).min(data.len() as u64) as usize;
            read += take as u64;
            if keep {
                kept.extend_from_slice(&data[..take]);
            }
        }
    }
    Ok(kept)
}

/// Stops the connection task when the probe ends or is cancelled by its timeout.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

// === TLS ===

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration for `verify`, built once per process and shared by every probe:
/// a configuration (roots, session cache) per probe cost tens of kilobytes each, which adds up
/// to megabytes with a thousand targets.
fn shared_client_config(verify: bool) -> Result<Arc<ClientConfig>, BuildError> {
    static VERIFYING: std::sync::OnceLock<Arc<ClientConfig>> = std::sync::OnceLock::new();
    static NOT_VERIFYING: std::sync::OnceLock<Arc<ClientConfig>> = std::sync::OnceLock::new();
    let cell = if verify { &VERIFYING } else { &NOT_VERIFYING };
    if let Some(c) = cell.get() {
        return Ok(c.clone());
    }
    let config = Arc::new(client_config(verify)?);
    Ok(cell.get_or_init(|| config).clone())
}

/// A client configuration: webpki roots, or (tlsVerify: false) no chain or name verification.
fn client_config(verify: bool) -> Result<ClientConfig, BuildError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| BuildError::Tls(e.to_string()))?;
    let mut config = if verify {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoChainVerification(
                provider.signature_verification_algorithms,
            )))
            .with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// `tlsVerify: false`: accepts any certificate chain and name, but still checks the handshake
/// signature, so the peer holds the key of the certificate it presents.
#[derive(Debug)]
struct NoChainVerification(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoChainVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_current_url_like_a_browser() {
        let base = Target::parse("https://[2001:db8::1]:8443/a/b?x=1").unwrap();
        assert_eq!(
            (base.host.as_str(), base.port, base.authority.as_str()),
            ("2001:db8::1", 8443, "[2001:db8::1]:8443")
        );
        let cases = [
            ("/c", "https", "[2001:db8::1]:8443", "/c"),
            ("c?y", "https", "[2001:db8::1]:8443", "/a/c?y"),
            ("//other.example/d", "https", "other.example", "/d"),
            ("http://other.example:81/", "http", "other.example:81", "/"),
        ];
        for (location, scheme, authority, path) in cases {
            let t = base.join(location).unwrap();
            assert_eq!(
                (t.https, t.authority.as_str(), t.path.as_str()),
                (scheme == "https", authority, path),
                "{location}"
            );
        }
        assert!(base.join("/c").unwrap().same_origin(&base));
        assert!(!base.join("//other.example/d").unwrap().same_origin(&base));
        assert!(Target::parse("ftp://x/").is_err());
    }

    #[test]
    fn the_host_header_drops_user_info_and_keeps_a_non_default_port() {
        assert_eq!(
            Target::parse("http://user:pw@wahlen.example.de:8080/")
                .unwrap()
                .authority,
            "wahlen.example.de:8080"
        );
        let t = Target::parse("https://wahlen.example.de").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.port, t.path.as_str()),
            ("wahlen.example.de", 443, "/")
        );
    }
}
