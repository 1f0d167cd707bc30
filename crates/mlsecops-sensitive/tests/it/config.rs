//! Configuration: enabling kinds, the confidence floor, rule ids.

use mlsecops_sensitive::{Category, Confidence, Config, Detector, Kind};

use crate::check;

#[test]
fn kinds_can_be_enabled_one_by_one() {
    let text =
        "mail jane@example.org from 192.168.1.20 with ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5";
    check(
        Config::none().with(Kind::Email),
        text,
        &[(Kind::Email, "jane@example.org")],
    );
    check(
        Config::none().with(Kind::IpAddress),
        text,
        &[(Kind::IpAddress, "192.168.1.20")],
    );
    check(
        Config::all().without_category(Category::Pii),
        text,
        &[(
            Kind::GithubToken,
            "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",
        )],
    );
    check(Config::none(), text, &[]);
}

#[test]
fn confidence_floor() {
    // A NINO without context is a low-confidence guess; a documentation
    // password in a database URL too.
    let text = "ref AB123456C, postgres://user:pass@host";
    assert_eq!(
        Detector::with_config(Config::all())
            .find(text.as_bytes())
            .len(),
        2
    );
    let strict = Config::all().min_confidence(Confidence::Medium);
    assert_eq!(strict.confidence_floor(), Confidence::Medium);
    assert!(
        Detector::with_config(strict)
            .find(text.as_bytes())
            .is_empty()
    );
}

#[test]
fn rule_ids_are_stable() {
    let ids: Vec<String> = Kind::ALL
        .iter()
        .map(|k| format!("DATA-{}-{}", k.category().id(), k.rule_id()))
        .collect();
    for want in [
        "DATA-SECRET-AWS-ACCESS-KEY",
        "DATA-SECRET-GENERIC-SECRET",
        "DATA-SECRET-DATABASE-URL",
        "DATA-PII-EMAIL",
        "DATA-PII-CREDIT-CARD",
        "DATA-PII-IBAN",
        "DATA-PII-PHONE",
        "DATA-PII-IP-ADDRESS",
        "DATA-PII-NATIONAL-ID",
    ] {
        assert!(ids.iter().any(|i| i == want), "{want}");
    }
    // The serde form is the slug.
    assert_eq!(serde_json::to_string(&Kind::UsSsn).unwrap(), "\"us-ssn\"");
    assert_eq!(
        serde_json::from_str::<Kind>("\"credit-card\"").unwrap(),
        Kind::CreditCard
    );
    assert_eq!(Kind::from_slug("fr-nir"), Some(Kind::FrNir));
    assert_eq!(Kind::EsDni.to_string(), "Spanish DNI/NIE");
}
