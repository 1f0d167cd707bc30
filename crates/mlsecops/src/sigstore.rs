//! The network side of keyless signing: identity tokens from the user or
//! the CI environment, and HTTPS to Fulcio and Rekor for
//! `mlsecops_sign::keyless` (which does everything else, without I/O).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use mlsecops_sign::bundle::{Bundle, Identity, TrustedRoot};
use mlsecops_sign::keyless::{
    self, IdentityToken, Instance, MAX_RESPONSE_BYTES, Transport, TransportError,
};

use crate::commands::sign::{SignArgs, read_text};

/// Per-request limit: Fulcio and Rekor answer in well under a second.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Blocking HTTPS over reqwest on a private current-thread runtime.
struct Http {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Http {
    fn new() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the HTTP runtime")?;
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("mlsecops/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        Ok(Self { runtime, client })
    }

    fn send(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>, TransportError> {
        self.runtime.block_on(async {
            let mut response = request
                .send()
                .await
                .map_err(|e| TransportError::Failed(error_chain(&e)))?;
            let status = response.status();
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| TransportError::Failed(error_chain(&e)))?
            {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(TransportError::Failed(format!(
                        "answer larger than {MAX_RESPONSE_BYTES} bytes"
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            if !status.is_success() {
                let text = String::from_utf8_lossy(&body);
                return Err(TransportError::Status {
                    status: status.as_u16(),
                    body: mlsecops_core::shorten(text.trim(), 300),
                });
            }
            Ok(body)
        })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl Transport for Http {
    fn post_json(
        &self,
        url: &str,
        body: &[u8],
        bearer: Option<&str>,
    ) -> Result<Vec<u8>, TransportError> {
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(body.to_vec());
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        self.send(request)
    }
}

/// The identity token: the file given, `$SIGSTORE_ID_TOKEN`, or GitHub
/// Actions' OIDC endpoint (audience `sigstore`).
fn identity_token(http: &Http, file: Option<&Path>) -> anyhow::Result<String> {
    if let Some(path) = file {
        return read_text(path, "identity token");
    }
    if let Ok(token) = std::env::var("SIGSTORE_ID_TOKEN")
        && !token.trim().is_empty()
    {
        return Ok(token);
    }
    if let (Ok(url), Ok(bearer)) = (
        std::env::var("ACTIONS_ID_TOKEN_REQUEST_URL"),
        std::env::var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        let mut url = url::Url::parse(&url).context("ACTIONS_ID_TOKEN_REQUEST_URL")?;
        url.query_pairs_mut().append_pair("audience", "sigstore");
        let answer = http
            .send(http.client.get(url).bearer_auth(bearer))
            .map_err(|e| anyhow::anyhow!("GitHub Actions OIDC token request: {e}"))?;
        let value: serde_json::Value = serde_json::from_slice(&answer)
            .context("GitHub Actions OIDC token answer is not JSON")?;
        return value
            .get("value")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .context("GitHub Actions OIDC token answer has no `value`");
    }
    bail!(
        "no identity token\n  hint: pass --identity-token-file, set SIGSTORE_ID_TOKEN, or run in \
         GitHub Actions with `permissions: id-token: write` (interactive browser sign-in is not \
         supported)"
    )
}

/// Signs `statement` keylessly as `args` says and, given a trusted root,
/// verifies the result before it is written.
pub fn sign(args: &SignArgs, statement: &[u8]) -> anyhow::Result<Bundle> {
    let http = Http::new()?;
    let raw = identity_token(&http, args.identity_token_file.as_deref())?;
    let token = IdentityToken::parse(&raw, keyless::unix_now())?;
    let mut instance = if args.staging {
        Instance::staging()
    } else {
        Instance::public_good()
    };
    if let Some(url) = &args.fulcio_url {
        instance.fulcio_url.clone_from(url);
    }
    if let Some(url) = &args.rekor_url {
        instance.rekor_url.clone_from(url);
    }
    tracing::info!(identity = %token.identity, issuer = %token.issuer, fulcio = %instance.fulcio_url, rekor = %instance.rekor_url, "keyless signing");
    let bundle = keyless::sign_statement(statement, &token, &instance, &http)?;
    if let Some(root) = &args.sigstore_trusted_root {
        let trusted = TrustedRoot::from_json(read_text(root, "trusted root")?.as_bytes())
            .with_context(|| format!("reading {}", root.display()))?;
        let (names, issuer) = certificate_identity(&bundle);
        let identity = Identity {
            identity: names,
            issuer,
        };
        bundle
            .verify_sigstore(&trusted, &identity)
            .with_context(|| {
                format!(
                    "the new signature does not verify against {}",
                    root.display()
                )
            })?;
    } else {
        eprintln!(
            "note: the log's answer was not verified (no --sigstore-trusted-root); `mlsecops verify` \
             checks it"
        );
    }
    Ok(bundle)
}

/// The signing certificate's first identity and its issuer ("" if none).
pub fn certificate_identity(bundle: &Bundle) -> (String, String) {
    keyless::certificate_identity(bundle)
        .map(|(names, issuer)| {
            (
                names.into_iter().next().unwrap_or_default(),
                issuer.unwrap_or_default(),
            )
        })
        .unwrap_or_default()
}
