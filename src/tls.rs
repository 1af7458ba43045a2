//! HTTPS with rustls (`[server.tls]`): the server certificate and the
//! client CAs are read again when their files change (no restart); with
//! `client_ca`, clients must present a certificate those CAs signed (mTLS).

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::UnixTime;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::config::TlsSettings;

fn load(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("server.tls.cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "server.tls.cert {}: no certificate",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("server.tls.key {}: {e}", key.display()))?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| {
        format!("server.tls: the key does not fit the certificate or is not supported: {e}")
    })
}

/// The server certificate in force, swapped when its files change.
#[derive(Debug)]
pub struct Certificates(crate::reload::Reloading<CertifiedKey>);

impl Certificates {
    /// Reads the files again if they changed; a pair that does not load
    /// keeps the previous certificate (logged). Returns whether it changed.
    pub fn reload_if_changed(&self) -> bool {
        self.0.reload_if_changed()
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current())
    }
}

/// A verifier of client certificates signed by the CAs of `client_ca`.
fn client_verifier(
    ca: &Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let fail = |e: &dyn std::fmt::Display| format!("server.tls.client_ca {}: {e}", ca.display());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).map_err(|e| fail(&e))? {
        roots.add(c.map_err(|e| fail(&e))?).map_err(|e| fail(&e))?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| fail(&e))
}

/// The client CAs in force, swapped when the file changes.
#[derive(Debug)]
pub struct ClientCas(crate::reload::Reloading<Arc<dyn ClientCertVerifier>>);

/// Every check goes to the verifier of the CAs in force. The handshake
/// names no acceptable CAs (the hints would have to outlive a swap):
/// clients then offer the certificate they have, and it is checked.
impl ClientCertVerifier for ClientCas {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0
            .current()
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.current().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.current().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.current().supported_verify_schemes()
    }
}

/// The files of `[server.tls]` that are read again when they change.
#[derive(Debug)]
pub struct Reloadable {
    certs: Arc<Certificates>,
    client_cas: Option<Arc<ClientCas>>,
}

impl Reloadable {
    /// Reads changed files again (the certificate and key, the client
    /// CAs); files that do not load keep what was in force (logged).
    pub fn reload_if_changed(&self) {
        self.certs.reload_if_changed();
        if let Some(cas) = &self.client_cas {
            cas.0.reload_if_changed();
        }
    }
}

/// The rustls configuration of `[server.tls]`, and what of it reloads,
/// when TLS is on.
pub fn server_config(tls: &TlsSettings) -> Result<Option<(ServerConfig, Arc<Reloadable>)>, String> {
    let Some((cert, key)) = tls.files() else {
        return Ok(None);
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = {
        let (cert, key, provider) = (cert.to_owned(), key.to_owned(), provider.clone());
        let files = vec![cert.clone(), key.clone()];
        Arc::new(Certificates(crate::reload::Reloading::new(
            "TLS certificate",
            files,
            move || load(&cert, &key, &provider),
        )?))
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("server.tls: {e}"))?;
    let builder = match tls.client_ca() {
        None => (builder.with_no_client_auth(), None),
        Some(ca) => {
            let (ca, p) = (ca.to_owned(), provider.clone());
            let cas = Arc::new(ClientCas(crate::reload::Reloading::new(
                "TLS client CA",
                vec![ca.clone()],
                move || client_verifier(&ca, &p),
            )?));
            (builder.with_client_cert_verifier(cas.clone()), Some(cas))
        }
    };
    let (builder, client_cas) = builder;
    let mut config = builder.with_cert_resolver(certs.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some((config, Arc::new(Reloadable { certs, client_cas }))))
}
