//! Secret kinds: planted tokens in realistic context, and decoys.

use mlsecops_sensitive::{Confidence, Config, Detector, Kind};

use crate::{check, clean};

const GH: &str = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5";
const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
const AZURE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn pem(label: &str) -> String {
    format!(
        "-----BEGIN {label}-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\nMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n-----END {label}-----"
    )
}

#[test]
fn existing_token_kinds() {
    let cases: &[(&str, Kind, &str)] = &[
        (
            "key=AKIAIOSFODNN7EXAMPL2 ",
            Kind::AwsAccessKeyId,
            "AKIAIOSFODNN7EXAMPL2",
        ),
        (
            "id ASIAY34FZKBOKMUTVV7A,",
            Kind::AwsAccessKeyId,
            "ASIAY34FZKBOKMUTVV7A",
        ),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            Kind::AwsSecretAccessKey,
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        (&format!("token: {GH}"), Kind::GithubToken, GH),
        (
            "glpat-xY9sK2mP4qR7tV1wZ3bC in CI",
            Kind::GitlabToken,
            "glpat-xY9sK2mP4qR7tV1wZ3bC",
        ),
        (
            "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
            Kind::HuggingfaceToken,
            "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
        ),
        (
            "xoxb-12345678901-12345678901-AbCdEfGhIjKlMnOpQrStUvWx",
            Kind::SlackToken,
            "xoxb-12345678901-12345678901-AbCdEfGhIjKlMnOpQrStUvWx",
        ),
        (
            "POST https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/cCcCcCcCcCcCcCcCcCcCcCcC",
            Kind::SlackWebhook,
            "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/cCcCcCcCcCcCcCcCcCcCcCcC",
        ),
        (
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc9",
            Kind::StripeKey,
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc9",
        ),
        (
            "OPENAI_API_KEY=sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90",
            Kind::OpenaiKey,
            "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90",
        ),
        (
            "AIzaSyA-1234567890abcdefghijklmnopqrstu",
            Kind::GoogleApiKey,
            "AIzaSyA-1234567890abcdefghijklmnopqrstu",
        ),
        (
            "//registry.npmjs.org/:_authToken=npm_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",
            Kind::NpmToken,
            "npm_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",
        ),
        (&format!("Authorization: Bearer {JWT}"), Kind::Jwt, JWT),
    ];
    for (s, k, v) in cases {
        check(Config::secrets(), s, &[(*k, v)]);
    }
    let ant = format!("x-api-key: sk-ant-api03-{}", "Ab1_".repeat(22));
    check(Config::secrets(), &ant, &[(Kind::AnthropicKey, &ant[11..])]);
}

#[test]
fn private_keys() {
    for label in [
        "PRIVATE KEY",
        "RSA PRIVATE KEY",
        "OPENSSH PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
    ] {
        let p = pem(label);
        let text = format!("key file:\n{p}\nend");
        check(Config::secrets(), &text, &[(Kind::PrivateKey, &p)]);
    }
    // Truncated paste: no END line, the key material is still reported.
    let p = pem("PRIVATE KEY");
    let cut = &p[..p.find("-----END").unwrap() - 1];
    check(Config::secrets(), cut, &[(Kind::PrivateKey, cut)]);
}

#[test]
fn gcp_service_account_json() {
    let key = pem("PRIVATE KEY").replace('\n', "\\n");
    let json = format!(
        r#"{{"type": "service_account", "project_id": "demo", "private_key_id": "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", "private_key": "{key}\n", "client_email": "svc@demo.iam.gserviceaccount.com"}}"#
    );
    check(
        Config::secrets(),
        &json,
        &[(Kind::GcpServiceAccountKey, &key)],
    );
}

#[test]
fn azure_storage_keys() {
    let conn = format!(
        "DefaultEndpointsProtocol=https;AccountName=devstoreaccount1;AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net"
    );
    check(
        Config::secrets(),
        &conn,
        &[(Kind::AzureStorageKey, AZURE_KEY)],
    );
    check(
        Config::secrets(),
        &format!("export AZURE_STORAGE_KEY=\"{AZURE_KEY}\""),
        &[(Kind::AzureStorageKey, AZURE_KEY)],
    );
    // Too short, or no padding: not an account key.
    clean(
        Config::secrets(),
        &[
            "AccountKey=abc123==;",
            &format!("AccountKey={}", &AZURE_KEY[..80]),
        ],
    );
}

#[test]
fn database_urls() {
    let cases = [
        "DATABASE_URL=postgres://app:S3cr3t-P4ss@db.internal:5432/app",
        "url = \"postgresql+psycopg2://etl:hunter2hunter2@10.0.0.5/warehouse\"",
        "jdbc:mysql://root:Tr0ub4dor&3@mysql.example.com:3306/db",
        "MONGO=mongodb+srv://user:pa55w0rd@cluster0.abcde.mongodb.net/test",
        "redis://:r3d1sPassw0rd@cache:6379/0",
    ];
    let vals = [
        "postgres://app:S3cr3t-P4ss@db.internal:5432",
        "postgresql+psycopg2://etl:hunter2hunter2@10.0.0.5",
        "mysql://root:Tr0ub4dor&3@mysql.example.com:3306",
        "mongodb+srv://user:pa55w0rd@cluster0.abcde.mongodb.net",
        "redis://:r3d1sPassw0rd@cache:6379",
    ];
    for (s, v) in cases.iter().zip(vals) {
        check(Config::all(), s, &[(Kind::DatabaseUrl, v)]);
    }
    // The brief's shape: a documentation-style password is reported, at low confidence.
    let m = Detector::new().find(b"postgres://user:pass@host");
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].confidence, Confidence::Low);
    clean(
        Config::all().without(Kind::Email),
        &[
            "postgres://user@db.internal/app",      // no password
            "postgres://app:${DB_PASSWORD}@db/app", // template
            "postgres://app:<password>@db/app",     // placeholder
            "postgres://app:****@db/app",           // masked
            "https://user:pw@example.com/",         // not a database scheme
            "postgres://db.internal:5432/app",      // host and port only
        ],
    );
}

#[test]
fn generic_assignments() {
    let cases: &[(&str, &str)] = &[
        ("DB_PASSWORD=Zx8!qP2@wL9#vB4$", "Zx8!qP2@wL9#vB4$"),
        (
            r#"{"client_secret": "9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c"}"#,
            "9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c",
        ),
        (
            "api_key: 'Q2hhbmdlTWUhUGxlYXNlMTIz'",
            "Q2hhbmdlTWUhUGxlYXNlMTIz",
        ),
        (
            "const apiKey = \"ak_9Rt2Lm8Qz4Xw7Vb1Nc6Pd3\";",
            "ak_9Rt2Lm8Qz4Xw7Vb1Nc6Pd3",
        ),
        (
            "GET /v1/data?token=Xb7Qp9Lm2Rt5Wz8Kc3Vn&page=2",
            "Xb7Qp9Lm2Rt5Wz8Kc3Vn",
        ),
        // A git SHA is reported when the context says it is a token.
        (
            "auth_token = a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
            "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
        ),
    ];
    for (s, v) in cases {
        check(Config::secrets(), s, &[(Kind::GenericSecret, v)]);
    }
    clean(
        Config::secrets(),
        &[
            "password = changeme",
            "password = \"changeme-changeme\"",
            "PASSWORD=${DB_PASSWORD}",
            "api_key: <token>",
            "api_key: \"<your-api-key-goes-here>\"",
            "secret = \"xxxxxxxxxxxxxxxxxxxx\"",
            "token = os.environ.get(\"HF_TOKEN\")",
            "password = self.config.database_password",
            "password=short1A!",                         // < 16 characters
            "password = aaaaaaaaaaaaaaaaaaaaaaaa",       // no entropy
            "tokenizer = \"bert-base-multilingual-v2\"", // not the last component
            "max_tokens = 4096",
            "commit = a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", // a git SHA, no secret context
            "if password == \"Zx8!qP2@wL9#vB4$\":",              // a comparison
        ],
    );
}

#[test]
fn secret_decoys() {
    clean(
        Config::secrets(),
        &[
            "AKIA_NOT_A_KEY",
            "AKIAIOSFODNN7EXAMPL",   // 15 characters
            "AKIAIOSFODNN7EXAMPLE1", // 17 characters
            "XAKIAIOSFODNN7EXAMPLE", // no boundary
            "akiaiosfodnn7example",  // wrong case
            "ghp_short",
            "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z", // 34 characters
            "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5B", // 37 characters
            "hf_hub_download",
            "sk-this-is-not-a-key",
            "eyJust.some.text",
            "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----",
            "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
            "aws_secret_access_key = changeme",
            "id 550e8400-e29b-41d4-a716-446655440000 commit a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
            "order #1234567890123, sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ],
    );
}

#[test]
fn base64_image_is_not_a_secret() {
    // A PNG data URI: long base64 with no anchor at a token boundary.
    let body: String = (0..4000u32)
        .map(|i| {
            let c = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                [(i * 7919 % 64) as usize];
            c as char
        })
        .collect();
    let s = format!("<img src=\"data:image/png;base64,iVBORw0KGgo{body}==\">");
    clean(Config::all(), &[&s]);
}

#[test]
fn scanner_default_reports_no_pii() {
    let text = "contact jane@example.org, +1 415 555 0100, card 4111111111111111";
    assert!(Detector::new().find(text.as_bytes()).is_empty());
    assert_eq!(
        Detector::with_config(Config::all())
            .find(text.as_bytes())
            .len(),
        3
    );
}

#[test]
fn key_name_spellings() {
    let v = "Zx8!qP2@wL9#vB4$kM7";
    for key in [
        "password",
        "PASSWORD",
        "Password",
        "db_password",
        "dbPassword",
        "x-api-key",
        "API_KEY",
        "apiKey",
        "SECRET_KEY",
        "\"client_secret\"",
        "\\\"token\\\"",
    ] {
        let s = format!("{key} = '{v}'");
        check(Config::secrets(), &s, &[(Kind::GenericSecret, v)]);
    }
    for key in ["passwords", "tokenizer", "secretary", "keypassword2"] {
        clean(Config::secrets(), &[&format!("{key} = '{v}'")]);
    }
}

#[test]
fn a_generic_secret_next_to_an_aws_key_id_is_its_secret_key() {
    let d = Detector::with_config(Config::all());
    let text = r#"Using key "AKIAHVJMR3LGSRMMMYJZ" with secret_key = "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" on the job."#;
    let kinds: Vec<Kind> = d.find(text.as_bytes()).iter().map(|m| m.kind).collect();
    assert_eq!(kinds, [Kind::AwsAccessKeyId, Kind::AwsSecretAccessKey]);
    // Without the key id it stays a generic secret.
    let text = r#"secret_key = "Dq96wEg8JavjQl61VwAjdvomCNJgeetvz73r1Dyj""#;
    let kinds: Vec<Kind> = d.find(text.as_bytes()).iter().map(|m| m.kind).collect();
    assert_eq!(kinds, [Kind::GenericSecret]);
}

#[test]
fn constant_names_are_references_not_secrets() {
    let d = Detector::with_config(Config::all());
    for text in [
        r#"token = "HUGGINGFACE-TOKEN""#,
        "api_key: MY_SERVICE_API_KEY_NAME",
    ] {
        assert!(d.find(text.as_bytes()).is_empty(), "{text}");
    }
}
