//! What can be detected: [`Kind`], its [`Category`] (PII or secret), a
//! stable rule id per kind, and the [`Confidence`] of a match.

use serde::{Deserialize, Serialize};

/// What kind of sensitive value a match is.
///
/// The serde form (kebab-case, e.g. `aws-access-key-id`, `us-ssn`) is the
/// [`Kind::slug`]; it is stable and is what configuration files name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Kind {
    // Secrets. Keep them before `Email`: `category` relies on the order.
    /// AWS access key id (`AKIA`/`ASIA` + 16).
    AwsAccessKeyId,
    /// AWS secret access key: 40 characters, only near a key name.
    AwsSecretAccessKey,
    /// GitHub token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`).
    GithubToken,
    /// GitLab personal access token (`glpat-`).
    GitlabToken,
    /// Slack token (`xoxb-`, `xoxp-`, …).
    SlackToken,
    /// Slack incoming-webhook URL.
    SlackWebhook,
    /// Stripe live secret or restricted key.
    StripeKey,
    /// OpenAI API key (`sk-proj-…`, classic `sk-…T3BlbkFJ…`).
    OpenaiKey,
    /// Anthropic API key (`sk-ant-`).
    AnthropicKey,
    /// Hugging Face token (`hf_`).
    HuggingfaceToken,
    /// Google API key (`AIza` + 35).
    GoogleApiKey,
    /// npm token (`npm_` + 36).
    NpmToken,
    /// PEM private key block with key material.
    PrivateKey,
    /// JSON Web Token whose header decodes to a JSON object.
    Jwt,
    /// Azure storage account key (`AccountKey=` in a connection string, or
    /// next to an `AZURE_STORAGE_KEY` name).
    AzureStorageKey,
    /// The `private_key` of a GCP service-account JSON key file.
    GcpServiceAccountKey,
    /// Database or broker URL with an embedded password.
    DatabaseUrl,
    /// A high-entropy value assigned to a `password`/`secret`/`token`/`api_key` name.
    GenericSecret,
    // PII.
    /// Email address.
    Email,
    /// Payment card number (known IIN, brand length, Luhn).
    CreditCard,
    /// IBAN (per-country length, mod-97 check digits).
    Iban,
    /// Phone number (`+` country code, `(NNN) NNN-NNNN`, or a phone word nearby).
    Phone,
    /// IPv4 or IPv6 address.
    IpAddress,
    /// US Social Security number.
    UsSsn,
    /// UK National Insurance number.
    UkNino,
    /// Spanish DNI or NIE (check letter).
    EsDni,
    /// Italian codice fiscale (check character).
    ItCodiceFiscale,
    /// Dutch BSN (11-proof, only with a context word).
    NlBsn,
    /// Brazilian CPF (two check digits).
    BrCpf,
    /// Indian Aadhaar number (Verhoeff).
    InAadhaar,
    /// French social-security number, NIR (key = 97 − n mod 97).
    FrNir,
    /// German tax id, Steuer-ID (ISO 7064 MOD 11,10; only with a context word).
    DeSteuerId,
    /// Chinese resident identity card number (ISO 7064 MOD 11-2).
    CnResidentId,
}

/// Whether a kind is personal data or a credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Personal data (GDPR-style PII).
    Pii,
    /// Credentials and keys.
    Secret,
}

impl Category {
    /// Upper-case id used in rule names: `PII` or `SECRET`.
    #[must_use]
    pub const fn id(self) -> &'static str {
        match self {
            Category::Pii => "PII",
            Category::Secret => "SECRET",
        }
    }
}

/// How sure the detector is that a match is real.
///
/// `High`: a checksum or an unambiguous token structure validated.
/// `Medium`: format rules plus context, no checksum exists.
/// `Low`: heuristics (entropy, placeholder-like values, formats without
/// context).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Heuristic.
    Low,
    /// Format rules (and context where required), no checksum.
    Medium,
    /// Validated by a checksum or an unambiguous structure.
    High,
}

impl Kind {
    /// Every kind, secrets first, in declaration order.
    pub const ALL: [Kind; 33] = [
        Kind::AwsAccessKeyId,
        Kind::AwsSecretAccessKey,
        Kind::GithubToken,
        Kind::GitlabToken,
        Kind::SlackToken,
        Kind::SlackWebhook,
        Kind::StripeKey,
        Kind::OpenaiKey,
        Kind::AnthropicKey,
        Kind::HuggingfaceToken,
        Kind::GoogleApiKey,
        Kind::NpmToken,
        Kind::PrivateKey,
        Kind::Jwt,
        Kind::AzureStorageKey,
        Kind::GcpServiceAccountKey,
        Kind::DatabaseUrl,
        Kind::GenericSecret,
        Kind::Email,
        Kind::CreditCard,
        Kind::Iban,
        Kind::Phone,
        Kind::IpAddress,
        Kind::UsSsn,
        Kind::UkNino,
        Kind::EsDni,
        Kind::ItCodiceFiscale,
        Kind::NlBsn,
        Kind::BrCpf,
        Kind::InAadhaar,
        Kind::FrNir,
        Kind::DeSteuerId,
        Kind::CnResidentId,
    ];

    /// Human name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Kind::AwsAccessKeyId => "AWS access key id",
            Kind::AwsSecretAccessKey => "AWS secret access key",
            Kind::GithubToken => "GitHub token",
            Kind::GitlabToken => "GitLab token",
            Kind::SlackToken => "Slack token",
            Kind::SlackWebhook => "Slack webhook URL",
            Kind::StripeKey => "Stripe secret key",
            Kind::OpenaiKey => "OpenAI API key",
            Kind::AnthropicKey => "Anthropic API key",
            Kind::HuggingfaceToken => "Hugging Face token",
            Kind::GoogleApiKey => "Google API key",
            Kind::NpmToken => "npm token",
            Kind::PrivateKey => "private key",
            Kind::Jwt => "JSON Web Token",
            Kind::AzureStorageKey => "Azure storage account key",
            Kind::GcpServiceAccountKey => "GCP service-account private key",
            Kind::DatabaseUrl => "database URL with password",
            Kind::GenericSecret => "hard-coded secret",
            Kind::Email => "email address",
            Kind::CreditCard => "payment card number",
            Kind::Iban => "IBAN",
            Kind::Phone => "phone number",
            Kind::IpAddress => "IP address",
            Kind::UsSsn => "US Social Security number",
            Kind::UkNino => "UK National Insurance number",
            Kind::EsDni => "Spanish DNI/NIE",
            Kind::ItCodiceFiscale => "Italian codice fiscale",
            Kind::NlBsn => "Dutch BSN",
            Kind::BrCpf => "Brazilian CPF",
            Kind::InAadhaar => "Indian Aadhaar number",
            Kind::FrNir => "French social-security number (NIR)",
            Kind::DeSteuerId => "German tax id (Steuer-ID)",
            Kind::CnResidentId => "Chinese resident id number",
        }
    }

    /// Stable kebab-case identifier, the serde form (`github-token`, `us-ssn`).
    #[must_use]
    pub const fn slug(self) -> &'static str {
        match self {
            Kind::AwsAccessKeyId => "aws-access-key-id",
            Kind::AwsSecretAccessKey => "aws-secret-access-key",
            Kind::GithubToken => "github-token",
            Kind::GitlabToken => "gitlab-token",
            Kind::SlackToken => "slack-token",
            Kind::SlackWebhook => "slack-webhook",
            Kind::StripeKey => "stripe-key",
            Kind::OpenaiKey => "openai-key",
            Kind::AnthropicKey => "anthropic-key",
            Kind::HuggingfaceToken => "huggingface-token",
            Kind::GoogleApiKey => "google-api-key",
            Kind::NpmToken => "npm-token",
            Kind::PrivateKey => "private-key",
            Kind::Jwt => "jwt",
            Kind::AzureStorageKey => "azure-storage-key",
            Kind::GcpServiceAccountKey => "gcp-service-account-key",
            Kind::DatabaseUrl => "database-url",
            Kind::GenericSecret => "generic-secret",
            Kind::Email => "email",
            Kind::CreditCard => "credit-card",
            Kind::Iban => "iban",
            Kind::Phone => "phone",
            Kind::IpAddress => "ip-address",
            Kind::UsSsn => "us-ssn",
            Kind::UkNino => "uk-nino",
            Kind::EsDni => "es-dni",
            Kind::ItCodiceFiscale => "it-codice-fiscale",
            Kind::NlBsn => "nl-bsn",
            Kind::BrCpf => "br-cpf",
            Kind::InAadhaar => "in-aadhaar",
            Kind::FrNir => "fr-nir",
            Kind::DeSteuerId => "de-steuer-id",
            Kind::CnResidentId => "cn-resident-id",
        }
    }

    /// The kind whose [`slug`](Kind::slug) is `s`.
    #[must_use]
    pub fn from_slug(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.slug() == s)
    }

    /// Stable upper-case rule suffix. Callers prefix it with the category:
    /// the data guard emits `DATA-{category.id()}-{rule_id}`, e.g.
    /// `DATA-PII-EMAIL` or `DATA-SECRET-AWS-ACCESS-KEY`. All national ids
    /// share `NATIONAL-ID` (the [`slug`](Kind::slug) tells them apart).
    #[must_use]
    pub const fn rule_id(self) -> &'static str {
        match self {
            Kind::AwsAccessKeyId => "AWS-ACCESS-KEY",
            Kind::AwsSecretAccessKey => "AWS-SECRET-KEY",
            Kind::GithubToken => "GITHUB-TOKEN",
            Kind::GitlabToken => "GITLAB-TOKEN",
            Kind::SlackToken => "SLACK-TOKEN",
            Kind::SlackWebhook => "SLACK-WEBHOOK",
            Kind::StripeKey => "STRIPE-KEY",
            Kind::OpenaiKey => "OPENAI-KEY",
            Kind::AnthropicKey => "ANTHROPIC-KEY",
            Kind::HuggingfaceToken => "HUGGINGFACE-TOKEN",
            Kind::GoogleApiKey => "GOOGLE-API-KEY",
            Kind::NpmToken => "NPM-TOKEN",
            Kind::PrivateKey => "PRIVATE-KEY",
            Kind::Jwt => "JWT",
            Kind::AzureStorageKey => "AZURE-STORAGE-KEY",
            Kind::GcpServiceAccountKey => "GCP-SERVICE-ACCOUNT-KEY",
            Kind::DatabaseUrl => "DATABASE-URL",
            Kind::GenericSecret => "GENERIC-SECRET",
            Kind::Email => "EMAIL",
            Kind::CreditCard => "CREDIT-CARD",
            Kind::Iban => "IBAN",
            Kind::Phone => "PHONE",
            Kind::IpAddress => "IP-ADDRESS",
            Kind::UsSsn
            | Kind::UkNino
            | Kind::EsDni
            | Kind::ItCodiceFiscale
            | Kind::NlBsn
            | Kind::BrCpf
            | Kind::InAadhaar
            | Kind::FrNir
            | Kind::DeSteuerId
            | Kind::CnResidentId => "NATIONAL-ID",
        }
    }

    /// PII or secret.
    #[must_use]
    pub const fn category(self) -> Category {
        // Secrets are declared before `Email`, PII from it on.
        if (self as u8) < (Kind::Email as u8) {
            Category::Secret
        } else {
            Category::Pii
        }
    }

    /// Bit of this kind in a [`Config`](crate::Config) set.
    pub(crate) const fn bit(self) -> u64 {
        1 << (self as u8)
    }

    /// How specific the kind's evidence is; when two matches overlap the
    /// more specific one is kept (a GCP key over the PEM block inside it, a
    /// GitHub token over a generic `token = …` assignment, a database URL
    /// over the `pass@host` that looks like an email).
    pub(crate) const fn specificity(self) -> u8 {
        match self {
            Kind::GcpServiceAccountKey => 5,
            Kind::AwsAccessKeyId
            | Kind::GithubToken
            | Kind::GitlabToken
            | Kind::SlackToken
            | Kind::SlackWebhook
            | Kind::StripeKey
            | Kind::OpenaiKey
            | Kind::AnthropicKey
            | Kind::HuggingfaceToken
            | Kind::GoogleApiKey
            | Kind::NpmToken
            | Kind::PrivateKey
            | Kind::Jwt => 4,
            Kind::AwsSecretAccessKey | Kind::AzureStorageKey | Kind::DatabaseUrl => 3,
            Kind::GenericSecret => 2,
            Kind::Phone | Kind::IpAddress => 0,
            _ => 1,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
