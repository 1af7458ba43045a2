//! HTTPS with rustls (`[server.tls]`): the server certificate is read again
//! when its files change (no restart); with `client_ca`, clients must
//! present a certificate that CA signed (mTLS).

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;

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

/// The rustls configuration of `[server.tls]`, and its certificates (to
/// reload), when TLS is on.
pub fn server_config(
    tls: &TlsSettings,
) -> Result<Option<(ServerConfig, Arc<Certificates>)>, String> {
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
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca)
                .map_err(|e| format!("server.tls.client_ca {}: {e}", ca.display()))?
            {
                let c = c.map_err(|e| format!("server.tls.client_ca {}: {e}", ca.display()))?;
                roots
                    .add(c)
                    .map_err(|e| format!("server.tls.client_ca {}: {e}", ca.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("server.tls.client_ca {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(certs.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some((config, certs)))
}
