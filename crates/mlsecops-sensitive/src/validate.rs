//! Pure validators: check digits and format rules of card numbers, IBANs and
//! national ids. Each takes the compact value (separators removed, ASCII)
//! and returns whether it is valid; none allocates or panics.
//!
//! They are public so data checks can validate a column value directly.

/// Numeric value of an ASCII digit, or `None`.
fn digit(b: u8) -> Option<u32> {
    b.is_ascii_digit().then(|| u32::from(b - b'0'))
}

/// All bytes are ASCII digits (and there is at least one).
fn all_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

/// All digits equal (`0000…`, `1111…`): a placeholder, never a real id.
fn repeated(s: &[u8]) -> bool {
    s.windows(2).all(|w| w[0] == w[1])
}

/// Parses up to 9 ASCII digits.
fn num(s: &[u8]) -> Option<u32> {
    if s.len() > 9 || !all_digits(s) {
        return None;
    }
    Some(s.iter().fold(0, |n, &b| n * 10 + u32::from(b - b'0')))
}

/// Luhn (mod 10) check over ASCII digits.
#[must_use]
pub fn luhn(digits: &[u8]) -> bool {
    if !all_digits(digits) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let d2 = d * 2;
                if d2 > 9 { d2 - 9 } else { d2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Card brand from the issuer identification number and length, or `None`
/// when no known scheme issues that prefix at that length.
#[must_use]
pub fn card_brand(digits: &[u8]) -> Option<&'static str> {
    if !all_digits(digits) {
        return None;
    }
    let len = digits.len();
    let p = |n: usize| num(&digits[..n.min(len)]).unwrap_or(0);
    let (p1, p2, p3, p4, p6) = (p(1), p(2), p(3), p(4), p(6));
    let brand = if p1 == 4 && matches!(len, 13 | 16 | 19) {
        "Visa"
    } else if ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16 {
        "Mastercard"
    } else if matches!(p2, 34 | 37) && len == 15 {
        "American Express"
    } else if (p4 == 6011
        || (644..=649).contains(&p3)
        || p2 == 65
        || (622_126..=622_925).contains(&p6))
        && (16..=19).contains(&len)
    {
        "Discover"
    } else if (3528..=3589).contains(&p4) && (16..=19).contains(&len) {
        "JCB"
    } else if ((300..=305).contains(&p3) || matches!(p2, 36 | 38 | 39)) && (14..=19).contains(&len)
    {
        "Diners Club"
    } else if p2 == 62 && (16..=19).contains(&len) {
        "UnionPay"
    } else if (2200..=2204).contains(&p4) && len == 16 {
        "Mir"
    } else if (matches!(p4, 5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761..=6763))
        && (13..=19).contains(&len)
    {
        "Maestro"
    } else {
        return None;
    };
    Some(brand)
}

/// A payment card number: 13–19 digits, a known IIN for that length, Luhn,
/// not one repeated digit.
#[must_use]
pub fn card(digits: &[u8]) -> bool {
    (13..=19).contains(&digits.len())
        && !repeated(digits)
        && card_brand(digits).is_some()
        && luhn(digits)
}

/// IBAN length per ISO 3166 country code (SWIFT IBAN registry).
#[must_use]
pub fn iban_length(country: [u8; 2]) -> Option<usize> {
    const TABLE: &[(&[u8; 2], u8)] = &[
        (b"AD", 24),
        (b"AE", 23),
        (b"AL", 28),
        (b"AT", 20),
        (b"AZ", 28),
        (b"BA", 20),
        (b"BE", 16),
        (b"BG", 22),
        (b"BH", 22),
        (b"BI", 27),
        (b"BR", 29),
        (b"BY", 28),
        (b"CH", 21),
        (b"CR", 22),
        (b"CY", 28),
        (b"CZ", 24),
        (b"DE", 22),
        (b"DJ", 27),
        (b"DK", 18),
        (b"DO", 28),
        (b"EE", 20),
        (b"EG", 29),
        (b"ES", 24),
        (b"FI", 18),
        (b"FK", 18),
        (b"FO", 18),
        (b"FR", 27),
        (b"GB", 22),
        (b"GE", 22),
        (b"GI", 23),
        (b"GL", 18),
        (b"GR", 27),
        (b"GT", 28),
        (b"HN", 28),
        (b"HR", 21),
        (b"HU", 28),
        (b"IE", 22),
        (b"IL", 23),
        (b"IQ", 23),
        (b"IS", 26),
        (b"IT", 27),
        (b"JO", 30),
        (b"KW", 30),
        (b"KZ", 20),
        (b"LB", 28),
        (b"LC", 32),
        (b"LI", 21),
        (b"LT", 20),
        (b"LU", 20),
        (b"LV", 21),
        (b"LY", 25),
        (b"MC", 27),
        (b"MD", 24),
        (b"ME", 22),
        (b"MK", 19),
        (b"MN", 20),
        (b"MR", 27),
        (b"MT", 31),
        (b"MU", 30),
        (b"NI", 28),
        (b"NL", 18),
        (b"NO", 15),
        (b"OM", 23),
        (b"PK", 24),
        (b"PL", 28),
        (b"PS", 29),
        (b"PT", 25),
        (b"QA", 29),
        (b"RO", 24),
        (b"RS", 22),
        (b"RU", 33),
        (b"SA", 24),
        (b"SC", 31),
        (b"SD", 18),
        (b"SE", 24),
        (b"SI", 19),
        (b"SK", 24),
        (b"SM", 27),
        (b"SO", 23),
        (b"ST", 25),
        (b"SV", 28),
        (b"TL", 23),
        (b"TN", 24),
        (b"TR", 26),
        (b"UA", 29),
        (b"VA", 22),
        (b"VG", 24),
        (b"XK", 20),
        (b"YE", 30),
    ];
    TABLE
        .iter()
        .find(|(c, _)| **c == country)
        .map(|&(_, n)| usize::from(n))
}

/// An IBAN in compact upper-case form: known country, its length, check
/// digits 02–98, and the mod-97 remainder of the rearranged number is 1.
#[must_use]
pub fn iban(s: &[u8]) -> bool {
    let [c0, c1, k0, k1, ..] = *s else {
        return false;
    };
    if iban_length([c0, c1]) != Some(s.len())
        || !k0.is_ascii_digit()
        || !k1.is_ascii_digit()
        || !s[4..]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return false;
    }
    let mut rem: u32 = 0;
    for &b in s[4..].iter().chain(&s[..4]) {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// US SSN `AAAGGSSSS` (9 digits): area not 000, 666 or 9xx; group not 00;
/// serial not 0000; and not a number that was published in advertising.
#[must_use]
pub fn us_ssn(d: &[u8]) -> bool {
    if d.len() != 9 || !all_digits(d) {
        return false;
    }
    let (Some(area), Some(group), Some(serial)) = (num(&d[..3]), num(&d[3..5]), num(&d[5..]))
    else {
        return false;
    };
    area != 0
        && area != 666
        && area < 900
        && group != 0
        && serial != 0
        && d != b"078051120"
        && d != b"219099999"
}

/// UK National Insurance number `AB123456C` (compact, upper case): prefix
/// letters allowed by HMRC (no D F I Q U V, second letter not O, not BG GB
/// KN NK NT TN ZZ), six digits, suffix A–D.
#[must_use]
pub fn uk_nino(s: &[u8]) -> bool {
    let [a, b, ref mid @ .., sfx] = *s else {
        return false;
    };
    let bad1 = b"DFIQUV";
    let bad2 = b"DFIOQUV";
    mid.len() == 6
        && all_digits(mid)
        && a.is_ascii_uppercase()
        && b.is_ascii_uppercase()
        && !bad1.contains(&a)
        && !bad2.contains(&b)
        && !matches!(
            &[a, b],
            b"BG" | b"GB" | b"KN" | b"NK" | b"NT" | b"TN" | b"ZZ"
        )
        && (b'A'..=b'D').contains(&sfx)
}

const DNI_LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";

/// Spanish DNI (`12345678Z`) or NIE (`X1234567L`, X/Y/Z → 0/1/2): the
/// letter is `TRWAGMYFPDXBNJZSQVHLCKE[n mod 23]`.
#[must_use]
pub fn es_dni(s: &[u8]) -> bool {
    let [ref body @ .., letter] = *s else {
        return false;
    };
    if body.len() != 8 {
        return false;
    }
    let lead = match body[0] {
        b'X' => 0,
        b'Y' => 1,
        b'Z' => 2,
        b'0'..=b'9' => u32::from(body[0] - b'0'),
        _ => return false,
    };
    let Some(rest) = num(&body[1..]) else {
        return false;
    };
    let n = lead * 10_000_000 + rest;
    n != 0 && DNI_LETTERS[(n % 23) as usize] == letter
}

/// Italian codice fiscale (16 characters, upper case), with omocodia
/// (digits replaced by `LMNPQRSTUV`): shape, month letter, day, check
/// character.
#[must_use]
pub fn it_codice_fiscale(s: &[u8]) -> bool {
    const ODD: [u8; 26] = [
        1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24,
        23,
    ];
    const OMOCODIA: &[u8; 10] = b"LMNPQRSTUV";
    if s.len() != 16 {
        return false;
    }
    let digit_pos = [6, 7, 9, 10, 12, 13, 14];
    for (i, &b) in s.iter().enumerate() {
        let ok = if digit_pos.contains(&i) {
            b.is_ascii_digit() || OMOCODIA.contains(&b)
        } else {
            b.is_ascii_uppercase()
        };
        if !ok {
            return false;
        }
    }
    if !b"ABCDEHLMPRST".contains(&s[8]) {
        return false;
    }
    let as_digit =
        |b: u8| digit(b).or_else(|| OMOCODIA.iter().position(|&o| o == b).map(|p| p as u32));
    let (Some(d1), Some(d2)) = (as_digit(s[9]), as_digit(s[10])) else {
        return false;
    };
    let day = d1 * 10 + d2;
    if !((1..=31).contains(&day) || (41..=71).contains(&day)) {
        return false;
    }
    let mut sum = 0u32;
    for (i, &b) in s[..15].iter().enumerate() {
        let idx = match b {
            b'0'..=b'9' => usize::from(b - b'0'),
            _ => usize::from(b - b'A'),
        };
        sum += if i % 2 == 0 {
            // Odd positions (1-based) use the table; digits map like A..J.
            u32::from(ODD[idx])
        } else {
            idx as u32
        };
    }
    s[15] == b'A' + (sum % 26) as u8
}

/// Dutch BSN: 9 digits passing the 11-proof (weights 9..2, last −1).
#[must_use]
pub fn nl_bsn(d: &[u8]) -> bool {
    if d.len() != 9 || !all_digits(d) || repeated(d) {
        return false;
    }
    let mut sum: i64 = 0;
    for (i, &b) in d.iter().enumerate() {
        let v = i64::from(b - b'0');
        sum += if i == 8 { -v } else { v * (9 - i as i64) };
    }
    sum % 11 == 0
}

/// Brazilian CPF: 11 digits, two mod-11 check digits, not one repeated digit.
#[must_use]
pub fn br_cpf(d: &[u8]) -> bool {
    if d.len() != 11 || !all_digits(d) || repeated(d) {
        return false;
    }
    let check = |n: usize| {
        let sum: u32 = d[..n]
            .iter()
            .enumerate()
            .map(|(i, &b)| u32::from(b - b'0') * (n as u32 + 1 - i as u32))
            .sum();
        let r = sum * 10 % 11;
        if r == 10 { 0 } else { r }
    };
    check(9) == u32::from(d[9] - b'0') && check(10) == u32::from(d[10] - b'0')
}

/// Verhoeff check over ASCII digits (the last digit is the check digit).
#[must_use]
pub fn verhoeff(digits: &[u8]) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    if !all_digits(digits) {
        return false;
    }
    let mut c = 0u8;
    for (i, &b) in digits.iter().rev().enumerate() {
        c = D[usize::from(c)][usize::from(P[i % 8][usize::from(b - b'0')])];
    }
    c == 0
}

/// Indian Aadhaar: 12 digits, first 2–9, Verhoeff.
#[must_use]
pub fn in_aadhaar(d: &[u8]) -> bool {
    d.len() == 12 && matches!(d[0], b'2'..=b'9') && !repeated(d) && verhoeff(d)
}

/// French NIR: 15 digits, sex 1/2 (or 7/8 for temporary numbers), month
/// 01–12 or 20–99 (unknown), key = 97 − (first 13 digits mod 97).
/// Corsican department codes (2A/2B) are not handled.
#[must_use]
pub fn fr_nir(d: &[u8]) -> bool {
    if d.len() != 15 || !all_digits(d) || !matches!(d[0], b'1' | b'2' | b'7' | b'8') {
        return false;
    }
    let Some(month) = num(&d[3..5]) else {
        return false;
    };
    if month == 0 || (13..20).contains(&month) {
        return false;
    }
    let n = d[..13]
        .iter()
        .fold(0u64, |n, &b| n * 10 + u64::from(b - b'0'));
    let Some(key) = num(&d[13..]) else {
        return false;
    };
    u64::from(key) == 97 - n % 97
}

/// German Steuer-ID: 11 digits, first not 0, in the first ten exactly one
/// digit occurs two or three times and the others at most once, and the
/// ISO 7064 MOD 11,10 check digit.
#[must_use]
pub fn de_steuer_id(d: &[u8]) -> bool {
    if d.len() != 11 || !all_digits(d) || d[0] == b'0' {
        return false;
    }
    let mut counts = [0u8; 10];
    for &b in &d[..10] {
        counts[usize::from(b - b'0')] += 1;
    }
    let multi: Vec<u8> = counts.iter().copied().filter(|&c| c > 1).collect();
    if !matches!(multi.as_slice(), [2 | 3]) {
        return false;
    }
    let mut product = 10u32;
    for &b in &d[..10] {
        let mut sum = (u32::from(b - b'0') + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = sum * 2 % 11;
    }
    let check = (11 - product) % 10;
    check == u32::from(d[10] - b'0')
}

/// Chinese resident id: 17 digits + check (digit or `X`), region code not
/// starting with 0 or 9, a plausible birth date (1900–2099), ISO 7064
/// MOD 11-2.
#[must_use]
pub fn cn_resident_id(s: &[u8]) -> bool {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    if s.len() != 18 || !all_digits(&s[..17]) || !(s[17].is_ascii_digit() || s[17] == b'X') {
        return false;
    }
    if matches!(s[0], b'0' | b'9') {
        return false;
    }
    let (Some(year), Some(month), Some(day)) = (num(&s[6..10]), num(&s[10..12]), num(&s[12..14]))
    else {
        return false;
    };
    if !(1900..=2099).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return false;
    }
    let sum: u32 = s[..17]
        .iter()
        .zip(W)
        .map(|(&b, w)| u32::from(b - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize] == s[17]
}

/// Shannon entropy of `s` in bits per byte.
#[must_use]
pub fn shannon_entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[usize::from(b)] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards() {
        for c in [
            "4111111111111111",
            "5555555555554444",
            "2223003122003222",
            "378282246310005",
            "6011111111111117",
            "3530111333300000",
            "30569309025904",
            "6200000000000005",
        ] {
            assert!(card(c.as_bytes()), "{c}");
        }
        for c in [
            "4111111111111112", // Luhn
            "1234567812345670", // Luhn ok, no IIN
            "0000000000000000",
            "41111111111111", // Visa at 14 digits
        ] {
            assert!(!card(c.as_bytes()), "{c}");
        }
        assert_eq!(card_brand(b"378282246310005"), Some("American Express"));
    }

    #[test]
    fn ibans() {
        assert!(iban(b"DE89370400440532013000"));
        assert!(iban(b"GB82WEST12345698765432"));
        assert!(iban(b"FR1420041010050500013M02606"));
        assert!(iban(b"NL91ABNA0417164300"));
        assert!(!iban(b"DE88370400440532013000"));
        assert!(!iban(b"DE8937040044053201300")); // short
        assert!(!iban(b"QQ89370400440532013000"));
    }

    #[test]
    fn national_ids() {
        assert!(us_ssn(b"536225487"));
        assert!(!us_ssn(b"000123456") && !us_ssn(b"666123456") && !us_ssn(b"900123456"));
        assert!(!us_ssn(b"536005487") && !us_ssn(b"536220000") && !us_ssn(b"078051120"));
        assert!(uk_nino(b"AB123456C"));
        assert!(!uk_nino(b"QQ123456C") && !uk_nino(b"GB123456A") && !uk_nino(b"AB123456E"));
        assert!(es_dni(b"12345678Z") && es_dni(b"X1234567L") && es_dni(b"Y1234567X"));
        assert!(!es_dni(b"12345678A") && !es_dni(b"X1234567A"));
        assert!(it_codice_fiscale(b"RSSMRA85T10A562S"));
        assert!(!it_codice_fiscale(b"RSSMRA85T10A562T"));
        assert!(nl_bsn(b"111222333") && nl_bsn(b"123456782"));
        assert!(!nl_bsn(b"123456789"));
        assert!(br_cpf(b"52998224725") && !br_cpf(b"52998224726") && !br_cpf(b"11111111111"));
        assert!(verhoeff(b"2363") && !verhoeff(b"2364"));
        assert!(in_aadhaar(b"234123412346") && !in_aadhaar(b"234123412345"));
        assert!(fr_nir(b"255081416802538") && !fr_nir(b"255081416802539"));
        assert!(de_steuer_id(b"86095742719") && !de_steuer_id(b"86095742718"));
        assert!(!de_steuer_id(b"12345678903")); // no repeated digit
        assert!(cn_resident_id(b"11010519491231002X"));
        assert!(!cn_resident_id(b"110105194912310021"));
        assert!(!cn_resident_id(b"11010519491331002X")); // month 13
    }

    #[test]
    fn entropy() {
        assert!(shannon_entropy(b"aaaaaaaa") < 0.01);
        assert!((shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
    }
}
