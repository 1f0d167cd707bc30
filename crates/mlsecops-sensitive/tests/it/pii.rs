//! PII kinds: true positives in realistic context, and decoys.

use mlsecops_sensitive::{Confidence, Config, Detector, Kind};

use crate::{check, clean};

fn pii() -> Config {
    Config::pii()
}

#[test]
fn emails() {
    check(
        pii(),
        "Contact: Jane.Doe+ml@research.example.co.uk.",
        &[(Kind::Email, "Jane.Doe+ml@research.example.co.uk")],
    );
    check(
        pii(),
        "mailto:ops@corp.io?subject=x",
        &[(Kind::Email, "ops@corp.io")],
    );
    check(
        pii(),
        "<a.b_c-d@xn--bcher-kva.de>",
        &[(Kind::Email, "a.b_c-d@xn--bcher-kva.de")],
    );
    clean(
        pii(),
        &[
            "@decorator and @property",
            "npm i @scope/pkg@1.2.3",
            "icon@2x.png and logo@3x.webp",
            "user@localhost",
            "a@b.c",
            "git@github.com:org/repo.git",
            "..@example.com",
            "a..b@example.com",
        ],
    );
}

#[test]
fn cards() {
    for (s, v) in [
        ("Visa 4111 1111 1111 1111 exp 12/27", "4111 1111 1111 1111"),
        ("card=4111-1111-1111-1111;", "4111-1111-1111-1111"),
        ("mc 5555555555554444", "5555555555554444"),
        ("mc 2-series 2223 0031 2200 3222", "2223 0031 2200 3222"),
        ("amex 3782 822463 10005", "3782 822463 10005"),
        ("discover 6011111111111117", "6011111111111117"),
        ("jcb 3530111333300000", "3530111333300000"),
        ("diners 30569309025904", "30569309025904"),
        ("unionpay 6200000000000005", "6200000000000005"),
    ] {
        check(pii(), s, &[(Kind::CreditCard, v)]);
    }
    // Card numbers among other numbers split at spaces.
    check(
        pii(),
        "qty 12 4111 1111 1111 1111 2024",
        &[(Kind::CreditCard, "4111 1111 1111 1111")],
    );
    clean(
        pii(),
        &[
            "4111 1111 1111 1112",          // Luhn
            "1234 5678 1234 5670",          // Luhn-valid, no issuer
            "0000 0000 0000 0000",          // repeated
            "order 4111111111111111111111", // long digit run
            "41111111111111",               // Visa at 14 digits
            "ref-4111111111111111",         // part of a reference
            "v4111111111111111",
            "4111.1111.1111.1111", // dotted: not a card format
        ],
    );
}

#[test]
fn ibans() {
    check(
        pii(),
        "IBAN: DE89 3704 0044 0532 0130 00.",
        &[(Kind::Iban, "DE89 3704 0044 0532 0130 00")],
    );
    check(
        pii(),
        "pay to GB82WEST12345698765432 today",
        &[(Kind::Iban, "GB82WEST12345698765432")],
    );
    check(
        pii(),
        "FR14 2004 1010 0505 0001 3M02 606",
        &[(Kind::Iban, "FR14 2004 1010 0505 0001 3M02 606")],
    );
    clean(
        pii(),
        &[
            "DE88 3704 0044 0532 0130 00",  // bad check digits
            "DE89 3704 0044 0532 0130 001", // too long
            "DE89370400440532013",          // too short
            "XX89370400440532013000",       // unknown country
        ],
    );
}

#[test]
fn phones() {
    for (s, v) in [
        ("call me at +1 (415) 555-0132 tomorrow", "+1 (415) 555-0132"),
        ("+44 20 7946 0958", "+44 20 7946 0958"),
        ("WhatsApp +4915112345678", "+4915112345678"),
        ("office (212) 555-0199", "(212) 555-0199"),
        ("Phone: 030 1234 5678", "030 1234 5678"),
        ("tel. 06 12 34 56 78", "06 12 34 56 78"),
        ("Mobile 0612345678", "0612345678"),
        ("1 (800) 555-0199", "1 (800) 555-0199"),
    ] {
        check(pii(), s, &[(Kind::Phone, v)]);
    }
    clean(
        pii(),
        &[
            "released 2024-05-12 and 12/05/2024",
            "555-123-4567", // no +, no shape, no context
            "version 10.4.2 build 20240512",
            "between 1200 and 3400 samples",
            "hotel room 0612345678", // `tel` inside `hotel` is not a phone word
            "+0 123 456 789",        // country code cannot start with 0
            "+1 23",                 // too short
            "phone 12345678901234567890", // long digit run
            "phone: 2024-05-12",
        ],
    );
}

#[test]
fn ip_addresses() {
    check(
        pii(),
        "client 192.168.1.20 connected",
        &[(Kind::IpAddress, "192.168.1.20")],
    );
    check(
        pii(),
        "GET http://10.0.0.1:8080/x",
        &[(Kind::IpAddress, "10.0.0.1")],
    );
    check(
        pii(),
        "route 172.16.0.0/12",
        &[(Kind::IpAddress, "172.16.0.0")],
    );
    check(
        pii(),
        "from 2001:db8:85a3::8a2e:370:7334 via fe80::1",
        &[
            (Kind::IpAddress, "2001:db8:85a3::8a2e:370:7334"),
            (Kind::IpAddress, "fe80::1"),
        ],
    );
    check(
        pii(),
        "2001:0db8:0000:0000:0000:ff00:0042:8329",
        &[(Kind::IpAddress, "2001:0db8:0000:0000:0000:ff00:0042:8329")],
    );
    clean(
        pii(),
        &[
            "999.1.1.1",
            "1.2.3.256",
            "01.2.3.4",
            "version 1.2.3.4",
            "v1.2.3.4",
            "torch==1.2.3.4",
            "release: 4.1.0.2",
            "1.2.3.4.5",
            "0.0.0.0 and 255.255.255.0",
            "at 12:30:45",
            "std::vector and a::b",
            "MAC 00:1A:2B:3C:4D:5E",
            "1.2.3.4.tar.gz",
        ],
    );
    // IPs can be switched off (e.g. for logs where they are expected).
    clean(
        Config::pii().without(Kind::IpAddress),
        &["client 192.168.1.20"],
    );
}

#[test]
fn us_ssn() {
    check(pii(), "SSN 536-22-5487", &[(Kind::UsSsn, "536-22-5487")]);
    check(
        pii(),
        "applicant 536-22-5487 approved",
        &[(Kind::UsSsn, "536-22-5487")],
    );
    check(
        pii(),
        "social security number: 536225487",
        &[(Kind::UsSsn, "536225487")],
    );
    check(pii(), "ssn: 536 22 5487", &[(Kind::UsSsn, "536 22 5487")]);
    clean(
        pii(),
        &[
            "000-12-3456",
            "666-12-3456",
            "912-12-3456",
            "536-00-5487",
            "536-22-0000",
            "078-05-1120",
            "536225487",
            "536 22 5487",
            "ID-536-22-5487-X",
        ],
    );
}

#[test]
fn uk_nino() {
    check(
        pii(),
        "National Insurance number AB 12 34 56 C.",
        &[(Kind::UkNino, "AB 12 34 56 C")],
    );
    check(pii(), "NINO: AB123456C", &[(Kind::UkNino, "AB123456C")]);
    let m = Detector::with_config(pii()).find(b"ref AB123456C");
    assert_eq!(m[0].confidence, Confidence::Low);
    clean(
        pii(),
        &[
            "QQ123456C",
            "GB123456A",
            "AB123456E",
            "DA123456A",
            "BO 12 34 56 A",
        ],
    );
}

#[test]
fn es_dni_nie() {
    check(pii(), "DNI 12345678Z", &[(Kind::EsDni, "12345678Z")]);
    check(pii(), "dni: 12345678-Z,", &[(Kind::EsDni, "12345678-Z")]);
    check(pii(), "NIE X1234567L", &[(Kind::EsDni, "X1234567L")]);
    clean(
        pii(),
        &["12345678A", "X1234567A", "12345678ZZ", "A12345678Z"],
    );
}

#[test]
fn it_codice_fiscale() {
    check(
        pii(),
        "CF: RSSMRA85T10A562S",
        &[(Kind::ItCodiceFiscale, "RSSMRA85T10A562S")],
    );
    clean(pii(), &["RSSMRA85T10A562T", "RSSMRA85Z10A562S"]);
}

#[test]
fn nl_bsn() {
    check(pii(), "BSN: 111222333", &[(Kind::NlBsn, "111222333")]);
    check(
        pii(),
        "burgerservicenummer 1234.56.782",
        &[(Kind::NlBsn, "1234.56.782")],
    );
    clean(pii(), &["BSN: 123456789", "invoice 111222333"]);
}

#[test]
fn br_cpf() {
    check(
        pii(),
        "CPF 529.982.247-25",
        &[(Kind::BrCpf, "529.982.247-25")],
    );
    check(pii(), "cpf: 52998224725", &[(Kind::BrCpf, "52998224725")]);
    clean(pii(), &["529.982.247-26", "111.111.111-11", "52998224725"]);
}

#[test]
fn in_aadhaar() {
    check(
        pii(),
        "Aadhaar: 2341 2341 2346",
        &[(Kind::InAadhaar, "2341 2341 2346")],
    );
    check(
        pii(),
        "aadhaar no 234123412346",
        &[(Kind::InAadhaar, "234123412346")],
    );
    check(
        pii(),
        "id 2341-2341-2346",
        &[(Kind::InAadhaar, "2341-2341-2346")],
    );
    clean(pii(), &["2341 2341 2345", "1341 2341 2346", "234123412346"]);
}

#[test]
fn fr_nir() {
    check(
        pii(),
        "NIR 2 55 08 14 168 025 38",
        &[(Kind::FrNir, "2 55 08 14 168 025 38")],
    );
    check(
        pii(),
        "numéro de sécurité sociale: 255081416802538",
        &[(Kind::FrNir, "255081416802538")],
    );
    clean(pii(), &["2 55 08 14 168 025 39", "255081416802538"]);
}

#[test]
fn de_steuer_id() {
    check(
        pii(),
        "Steuer-ID: 86095742719",
        &[(Kind::DeSteuerId, "86095742719")],
    );
    check(
        pii(),
        "steuerliche Identifikationsnummer 86 095 742 719",
        &[(Kind::DeSteuerId, "86 095 742 719")],
    );
    clean(pii(), &["Steuer-ID: 86095742718", "86095742719"]);
}

#[test]
fn cn_resident_id() {
    check(
        pii(),
        "身份证号码 11010519491231002X",
        &[(Kind::CnResidentId, "11010519491231002X")],
    );
    check(pii(), "id 110105194912310029?", &[]);
    clean(
        pii(),
        &[
            "11010519491231002Y",
            "11010519491331002X",
            "110105194912310021",
        ],
    );
}

#[test]
fn common_decoys() {
    clean(
        Config::all(),
        &[
            "Released on 2024-05-12T10:30:00Z, v1.2.3.4, see RFC 7231.",
            "order #123456789, invoice 2024-000123, ticket JIRA-4521",
            "uuid 550e8400-e29b-41d4-a716-446655440000",
            "commit a94a8fe5ccb19ba61c4c0873d391e987982fbbd3 merged",
            "pi is 3.14159265358979323846 and e is 2.718281828",
            "coordinates 48.8566, 2.3522; population 2,161,000",
            "timestamp 1715510400 and 1715510400123",
            "batch_size: 32, lr: 3e-4, epochs: 10, seed: 1234567890",
            "The quick brown fox jumps over the lazy dog.",
        ],
    );
}

#[test]
fn non_ascii_context() {
    check(
        pii(),
        "Téléphone : +33 6 12 34 56 78 — courriel: élodie.martin@exemple.fr",
        &[
            (Kind::Phone, "+33 6 12 34 56 78"),
            (Kind::Email, "élodie.martin@exemple.fr"),
        ],
    );
}
