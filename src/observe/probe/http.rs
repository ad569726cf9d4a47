//! HTTP and HTTPS probes composed by hand so every phase is timed: connect (tokio), TLS
//! (tokio-rustls with ring), then one HTTP/1.1 request (hyper's connection API). IO.
//!
//! Redirects are not followed: a 3xx is the response, judged against `expectStatus`.

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

/// An HTTP(S) probe compiled from the policy.
#[derive(Clone)]
pub struct HttpProbe {
    url: String,
    host: String,
    port: u16,
    path: String,
    method: Method,
    headers: HeaderMap,
    expect_status: Vec<u16>,
    body_regex: Option<regex::bytes::Regex>,
    max_body: u64,
    cert_expiry_warning: Option<Duration>,
    tls: Option<(TlsConnector, ServerName<'static>)>,
}

impl fmt::Debug for HttpProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpProbe")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl HttpProbe {
    /// Compiles `check`: parses the URL, compiles the regex, builds the TLS configuration.
    pub fn new(check: &HttpCheck) -> Result<Self, BuildError> {
        let bad = |reason: &str| BuildError::Url {
            url: check.url.clone(),
            reason: reason.into(),
        };
        let uri: Uri = check
            .url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("the scheme must be http or https")),
        };
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        let raw_host = authority.host();
        let host = raw_host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        // Host header: the authority without user info, as a browser would send it.
        let host_header = authority
            .as_str()
            .rsplit('@')
            .next()
            .unwrap_or(authority.as_str());
        let mut headers = HeaderMap::new();
        headers.insert(
            header::HOST,
            HeaderValue::from_str(host_header).map_err(|_| bad("host"))?,
        );
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
        let tls = if https {
            let name =
                ServerName::try_from(host.clone()).map_err(|_| bad("host is not a valid TLS server name"))?;
            Some((
                TlsConnector::from(Arc::new(client_config(check.tls_verify)?)),
                name,
            ))
        } else {
            None
        };
        Ok(Self {
            url: check.url.clone(),
            host,
            port,
            path: uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
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
            tls,
        })
    }

    /// The URL's host (without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The URL's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub(crate) async fn attempt(&self, addr: SocketAddr, p: &mut Progress) -> Result<(), Failed> {
        let stream = tcp::connect(addr, p).await?;
        match &self.tls {
            None => self.exchange(stream, p).await,
            Some((connector, name)) => {
                let r = connector.connect(name.clone(), stream).await;
                p.mark(Phase::Tls);
                let stream = r.map_err(|e| Failed::new(Failure::Tls, format!("TLS with {addr}: {e}")))?;
                let not_after = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|leaf| cert::not_after(leaf.as_ref()));
                p.set_cert_not_after(not_after);
                self.exchange(stream, p).await?;
                match (self.cert_expiry_warning, not_after) {
                    (Some(warn), Some(t)) if t - p.at < warn.as_secs_f64() => Err(Failed::new(
                        Failure::CertExpiring,
                        format!("certificate expires in {:.1} days", (t - p.at) / 86_400.0),
                    )),
                    (Some(_), None) => Err(Failed::new(
                        Failure::CertExpiring,
                        "certificate notAfter could not be read",
                    )),
                    _ => Ok(()),
                }
            }
        }
    }

    /// One request on a fresh connection: headers received end the TTFB phase, the body (read
    /// up to `maxBody`) the transfer phase.
    async fn exchange<IO>(&self, io: IO, p: &mut Progress) -> Result<(), Failed>
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
        *req.uri_mut() = self
            .path
            .parse()
            .map_err(|_| Failed::new(Failure::Protocol, "bad path"))?;
        *req.headers_mut() = self.headers.clone();
        let resp = sender.send_request(req).await;
        p.mark(Phase::Ttfb);
        let resp = resp.map_err(protocol)?;
        let status = resp.status().as_u16();
        p.set_status(status);
        let body = read_body(resp.into_body(), self.max_body, self.body_regex.is_some()).await;
        p.mark(Phase::Transfer);
        let body = body.map_err(protocol)?;
        if !self.expect_status.contains(&status) {
            return Err(Failed::new(
                Failure::Status,
                format!("status {status}, expected {:?}", self.expect_status),
            ));
        }
        if let Some(re) = &self.body_regex
            && !re.is_match(&body)
        {
            return Err(Failed::new(
                Failure::Body,
                format!(
                    "body ({} bytes read) does not match /{}/",
                    body.len(),
                    re.as_str()
                ),
            ));
        }
        Ok(())
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
