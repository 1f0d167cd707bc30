//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys, and
//! transparency-log checkpoints (<https://c2sp.org/tlog-checkpoint>).
//!
//! A signed note is UTF-8 text ending in a newline, a blank line, then one or
//! more signature lines `— <key name> <base64(key id (4 bytes) || signature)>`.
//! The Ed25519 key id is the first 4 bytes of
//! SHA-256(key name || 0x0A || 0x01 || public key). Key strings are those of
//! Go's `golang.org/x/mod/sumdb/note`, so keys and notes interoperate with
//! the Go tooling and with any C2SP checkpoint witness.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};
use thiserror::Error;

use crate::merkle::Hash;

/// Algorithm byte of Ed25519 keys in signed notes.
const ALG_ED25519: u8 = 0x01;
/// Largest note (text and signatures) accepted by [`open`].
pub const MAX_NOTE_BYTES: usize = 64 * 1024;
/// Most signature lines accepted on one note (as Go's implementation).
pub const MAX_SIGNATURES: usize = 100;
/// The signature line prefix: EM DASH (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// Errors from key strings.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// The key string is not `name+hexid+base64key` (or the private form).
    #[error("malformed key string")]
    Malformed,
    /// The key name is empty or contains a space or `+`.
    #[error("invalid key name")]
    InvalidName,
    /// The algorithm byte is not Ed25519 (0x01).
    #[error("unsupported key algorithm {0:#04x}")]
    UnsupportedAlgorithm(u8),
    /// The key id in the string does not match the key.
    #[error("key id does not match the key")]
    IdMismatch,
    /// The public key bytes are not a valid Ed25519 point.
    #[error("invalid Ed25519 public key")]
    InvalidKey,
    /// The operating system's random number generator failed.
    #[error("random number generator failed: {0}")]
    Random(String),
}

/// Errors from signing or opening notes and parsing checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NoteError {
    /// The note does not follow the signed-note syntax, or exceeds a bound.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// No signature on the note is by a key we were given.
    #[error("note has no signature by a known key")]
    NoKnownSignature,
    /// Two of the given verifiers share a name and key id.
    #[error("ambiguous key {0}")]
    AmbiguousKey(String),
    /// A known key signed the note more than once.
    #[error("duplicate signature by key {0}")]
    DuplicateSignature(String),
    /// A signature by a known key does not verify.
    #[error("invalid signature for key {0}")]
    InvalidSignature(String),
    /// The checkpoint body does not follow tlog-checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
}

/// Whether `name` is a valid key name: non-empty, no Unicode space, no `+`.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// Key id of an Ed25519 key: first 4 bytes of SHA-256(name || "\n" || 0x01 || key).
#[must_use]
pub fn key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// Parses `name+hexid+base64(alg || key)` (the shared tail of both key forms).
fn parse_key_parts(s: &str) -> Result<(String, u32, [u8; 32]), KeyError> {
    let (name, rest) = s.split_once('+').ok_or(KeyError::Malformed)?;
    let (id_hex, key_b64) = rest.split_once('+').ok_or(KeyError::Malformed)?;
    if !is_valid_name(name) {
        return Err(KeyError::InvalidName);
    }
    if id_hex.len() != 8
        || !id_hex
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(KeyError::Malformed);
    }
    let id = u32::from_str_radix(id_hex, 16).map_err(|_| KeyError::Malformed)?;
    let key = B64.decode(key_b64).map_err(|_| KeyError::Malformed)?;
    let (&alg, material) = key.split_first().ok_or(KeyError::Malformed)?;
    if alg != ALG_ED25519 {
        return Err(KeyError::UnsupportedAlgorithm(alg));
    }
    let material: [u8; 32] = material.try_into().map_err(|_| KeyError::Malformed)?;
    Ok((name.to_owned(), id, material))
}

fn encode_key(name: &str, id: u32, material: &[u8; 32]) -> String {
    let mut key = Vec::with_capacity(33);
    key.push(ALG_ED25519);
    key.extend_from_slice(material);
    format!("{name}+{id:08x}+{}", B64.encode(key))
}

/// A note verifier: a key name, its key id and an Ed25519 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_key_string())
    }
}

impl Verifier {
    /// Parses a verifier key `<name>+<hex key id>+<base64(0x01 || pubkey)>`.
    pub fn from_key_string(s: &str) -> Result<Self, KeyError> {
        let (name, id, material) = parse_key_parts(s)?;
        if key_id(&name, &material) != id {
            return Err(KeyError::IdMismatch);
        }
        let key = VerifyingKey::from_bytes(&material).map_err(|_| KeyError::InvalidKey)?;
        Ok(Self { name, id, key })
    }

    /// The verifier key string.
    #[must_use]
    pub fn to_key_string(&self) -> String {
        encode_key(&self.name, self.id, self.key.as_bytes())
    }

    /// The key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key id.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify_strict(msg, &sig).is_ok()
    }
}

/// A note signer: a key name and an Ed25519 private key. Its `Debug` output
/// never shows the private key.
#[derive(Clone)]
pub struct Signer {
    name: String,
    id: u32,
    key: SigningKey,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .field("key_id", &format_args!("{:08x}", self.id))
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Parses a signer key `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`.
    pub fn from_key_string(s: &str) -> Result<Self, KeyError> {
        let rest = s.strip_prefix(PRIVATE_PREFIX).ok_or(KeyError::Malformed)?;
        let (name, id, seed) = parse_key_parts(rest)?;
        let key = SigningKey::from_bytes(&seed);
        if key_id(&name, key.verifying_key().as_bytes()) != id {
            return Err(KeyError::IdMismatch);
        }
        Ok(Self { name, id, key })
    }

    /// A new signer with a fresh key from the operating system's RNG.
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        if !is_valid_name(name) {
            return Err(KeyError::InvalidName);
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        let key = SigningKey::from_bytes(&seed);
        seed.fill(0);
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The private signer key string. Secret: store it like a password.
    #[must_use]
    pub fn to_private_key_string(&self) -> String {
        format!(
            "{PRIVATE_PREFIX}{}",
            encode_key(&self.name, self.id, self.key.as_bytes())
        )
    }

    /// The matching verifier.
    #[must_use]
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The key name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key id.
    #[must_use]
    pub fn key_id(&self) -> u32 {
        self.id
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Key name.
    pub name: String,
    /// Key id.
    pub key_id: u32,
    /// base64 of key id || signature, as on the line.
    pub base64: String,
}

/// An opened note: its text and its signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline.
    pub text: String,
    /// Signatures by known keys, all verified.
    pub sigs: Vec<Signature>,
    /// Signatures by keys we were not given (ignored, as the spec requires).
    pub unverified: Vec<Signature>,
}

/// Note text must be non-empty UTF-8 ending in a newline, with no control
/// characters other than newline.
fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("text must end with a newline"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed("control character in text"));
    }
    Ok(())
}

/// Signs `text` with each signer and returns the signed note.
pub fn sign(text: &str, signers: &[&Signer]) -> Result<String, NoteError> {
    check_text(text)?;
    if signers.is_empty() {
        return Err(NoteError::Malformed("no signers"));
    }
    let mut out = String::with_capacity(text.len() + 1 + signers.len() * 120);
    out.push_str(text);
    out.push('\n');
    for s in signers {
        let sig = s.key.sign(text.as_bytes());
        let mut blob = Vec::with_capacity(4 + 64);
        blob.extend_from_slice(&s.id.to_be_bytes());
        blob.extend_from_slice(&sig.to_bytes());
        out.push_str(SIG_PREFIX);
        out.push_str(&s.name);
        out.push(' ');
        out.push_str(&B64.encode(blob));
        out.push('\n');
    }
    Ok(out)
}

/// Parses a signed note and verifies it against `verifiers`.
///
/// Succeeds only when at least one signature is by a given key and every
/// signature by a given key verifies. Signatures by other keys are returned
/// unverified. Rejected: malformed syntax, notes over [`MAX_NOTE_BYTES`] or
/// with more than [`MAX_SIGNATURES`] lines, two verifiers with the same name
/// and id, and a known key signing twice (Go's implementation skips the
/// second; an audit ledger treats it as tampering).
pub fn open(msg: &[u8], verifiers: &[Verifier]) -> Result<Note, NoteError> {
    if msg.len() > MAX_NOTE_BYTES {
        return Err(NoteError::Malformed("note too large"));
    }
    let msg = std::str::from_utf8(msg).map_err(|_| NoteError::Malformed("not UTF-8"))?;
    let split = msg
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no signature block"))?;
    let (text, sigs) = (&msg[..=split], &msg[split + 2..]);
    check_text(text)?;
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(NoteError::Malformed(
            "signature block must end with a newline",
        ));
    }
    let lines: Vec<&str> = sigs[..sigs.len() - 1].split('\n').collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(NoteError::Malformed("too many signatures"));
    }
    let mut note = Note {
        text: text.to_owned(),
        sigs: Vec::new(),
        unverified: Vec::new(),
    };
    for line in lines {
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or(NoteError::Malformed("bad signature line"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(NoteError::Malformed("bad signature line"))?;
        if !is_valid_name(name) || b64.contains(' ') {
            return Err(NoteError::Malformed("bad signature line"));
        }
        let blob = B64
            .decode(b64)
            .map_err(|_| NoteError::Malformed("bad signature base64"))?;
        if blob.len() < 5 {
            return Err(NoteError::Malformed("signature too short"));
        }
        let id = u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]);
        let sig = Signature {
            name: name.to_owned(),
            key_id: id,
            base64: b64.to_owned(),
        };
        let label = format!("{name}+{id:08x}");
        let mut matching = verifiers.iter().filter(|v| v.name == name && v.id == id);
        let Some(v) = matching.next() else {
            if !note.unverified.contains(&sig) {
                note.unverified.push(sig);
            }
            continue;
        };
        if matching.next().is_some() {
            return Err(NoteError::AmbiguousKey(label));
        }
        if note.sigs.iter().any(|s| s.name == name && s.key_id == id) {
            return Err(NoteError::DuplicateSignature(label));
        }
        if !v.verify(text.as_bytes(), &blob[4..]) {
            return Err(NoteError::InvalidSignature(label));
        }
        note.sigs.push(sig);
    }
    if note.sigs.is_empty() {
        return Err(NoteError::NoKnownSignature);
    }
    Ok(note)
}

/// A transparency-log checkpoint (tlog-checkpoint): the body of a signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line (a schema-less URL naming the log).
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 tree head over those leaves.
    pub root: Hash,
    /// Extension lines, without their newlines.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note body: origin, decimal size and base64 root lines, then the
    /// extension lines, each ending in a newline.
    pub fn to_body(&self) -> Result<String, NoteError> {
        let ok_line = |l: &str| !l.is_empty() && !l.chars().any(char::is_control);
        if !ok_line(&self.origin) {
            return Err(NoteError::MalformedCheckpoint("bad origin"));
        }
        if !self.extensions.iter().all(|l| ok_line(l)) {
            return Err(NoteError::MalformedCheckpoint("bad extension line"));
        }
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            body.push_str(e);
            body.push('\n');
        }
        Ok(body)
    }

    /// Parses a checkpoint body (the text of an opened note).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(NoteError::MalformedCheckpoint(
                "body must end with a newline",
            ))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(NoteError::MalformedCheckpoint("empty origin"));
        }
        let size_line = lines
            .next()
            .ok_or(NoteError::MalformedCheckpoint("missing size"))?;
        let canonical = size_line == "0"
            || (!size_line.starts_with('0') && size_line.bytes().all(|b| b.is_ascii_digit()));
        if size_line.is_empty() || !canonical {
            return Err(NoteError::MalformedCheckpoint(
                "size is not a canonical decimal",
            ));
        }
        let size = size_line
            .parse::<u64>()
            .map_err(|_| NoteError::MalformedCheckpoint("size out of range"))?;
        let root_line = lines
            .next()
            .ok_or(NoteError::MalformedCheckpoint("missing root"))?;
        let root: Hash = B64
            .decode(root_line)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or(NoteError::MalformedCheckpoint(
                "root is not base64 of 32 bytes",
            ))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(NoteError::MalformedCheckpoint("empty extension line"));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Signs the checkpoint, returning the signed note.
    pub fn sign(&self, signers: &[&Signer]) -> Result<String, NoteError> {
        sign(&self.to_body()?, signers)
    }

    /// Opens a signed checkpoint note and parses its body.
    pub fn open(msg: &[u8], verifiers: &[Verifier]) -> Result<(Self, Note), NoteError> {
        let note = open(msg, verifiers)?;
        Ok((Self::parse(&note.text)?, note))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test vectors of golang.org/x/mod/sumdb/note (note_test.go).
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    #[test]
    fn go_verifier_and_signer_keys_parse() {
        let v = Verifier::from_key_string(PETER_VKEY).unwrap();
        assert_eq!(v.name(), "PeterNeumann");
        assert_eq!(v.key_id(), 0xc74f_20a3);
        assert_eq!(v.to_key_string(), PETER_VKEY);
        let s = Signer::from_key_string(PETER_SKEY).unwrap();
        assert_eq!(s.verifier(), v);
        assert_eq!(s.to_private_key_string(), PETER_SKEY);
        assert!(!format!("{s:?}").contains("AYEKFALV"));
    }

    #[test]
    fn mangled_keys_are_rejected() {
        for key in [PETER_VKEY, PETER_SKEY] {
            let parse = |k: &str| {
                if key == PETER_VKEY {
                    Verifier::from_key_string(k).is_ok()
                } else {
                    Signer::from_key_string(k).is_ok()
                }
            };
            let b = key.as_bytes();
            for i in 0..=b.len() {
                for j in i + 1..=b.len() {
                    if i != 0 || j != b.len() {
                        let sub = std::str::from_utf8(&b[i..j]).unwrap();
                        assert!(!parse(sub), "accepted substring {sub:?}");
                    }
                }
            }
            for i in 0..b.len() {
                let mut m = b.to_vec();
                m[i] += 1;
                if let Ok(s) = std::str::from_utf8(&m) {
                    assert!(!parse(s), "accepted mangled {s:?}");
                }
            }
        }
        // Wrong key length and unknown algorithm, each with an adjusted key id.
        assert!(
            Verifier::from_key_string(
                "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
            )
            .is_err()
        );
        assert!(
            Verifier::from_key_string(
                "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            )
            .is_err()
        );
    }

    #[test]
    fn signing_reproduces_go_output() {
        let s = Signer::from_key_string(PETER_SKEY).unwrap();
        let msg = sign(TEXT, &[&s]).unwrap();
        assert_eq!(msg, format!("{TEXT}\n{PETER_SIG}"));
        assert!(sign("abc", &[&s]).is_err());
        assert!(sign("a\x01b\n", &[&s]).is_err());
    }

    #[test]
    fn opens_go_published_notes() {
        let peter = Verifier::from_key_string(PETER_VKEY).unwrap();
        let enoch = Verifier::from_key_string(ENOCH_VKEY).unwrap();
        let msg = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");

        let n = open(msg.as_bytes(), std::slice::from_ref(&peter)).unwrap();
        assert_eq!(n.text, TEXT);
        assert_eq!(n.sigs.len(), 1);
        assert_eq!(n.sigs[0].key_id, 0xc74f_20a3);
        assert_eq!(n.unverified.len(), 1);
        assert_eq!(n.unverified[0].name, "EnochRoot");

        let n = open(msg.as_bytes(), &[peter.clone(), enoch.clone()]).unwrap();
        assert_eq!(n.sigs.len(), 2);
        assert!(n.unverified.is_empty());

        assert_eq!(open(msg.as_bytes(), &[]), Err(NoteError::NoKnownSignature));
        assert!(matches!(
            open(
                format!("{TEXT}\n{ENOCH_SIG}").as_bytes(),
                &[enoch.clone(), peter.clone(), enoch.clone()]
            ),
            Err(NoteError::AmbiguousKey(_))
        ));
        // An unused duplicated verifier is fine.
        assert!(
            open(
                format!("{TEXT}\n{PETER_SIG}").as_bytes(),
                &[enoch.clone(), peter.clone(), enoch]
            )
            .is_ok()
        );
        // A known key signing twice is rejected.
        assert!(matches!(
            open(
                format!("{TEXT}\n{PETER_SIG}{PETER_SIG}").as_bytes(),
                std::slice::from_ref(&peter)
            ),
            Err(NoteError::DuplicateSignature(_))
        ));
        // Too many signatures.
        let many = format!("{TEXT}\n{}", ENOCH_SIG.repeat(101));
        assert!(matches!(
            open(many.as_bytes(), std::slice::from_ref(&peter)),
            Err(NoteError::Malformed(_))
        ));
        // Invalid signature.
        let bad = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        assert!(matches!(
            open(bad.as_bytes(), std::slice::from_ref(&peter)),
            Err(NoteError::InvalidSignature(_))
        ));
        // Altered text.
        let altered = format!("{}\n{PETER_SIG}", TEXT.replace("answer", "Answer"));
        assert!(matches!(
            open(altered.as_bytes(), std::slice::from_ref(&peter)),
            Err(NoteError::InvalidSignature(_))
        ));
    }

    #[test]
    fn malformed_notes_are_rejected() {
        let peter = Verifier::from_key_string(PETER_VKEY).unwrap();
        let bad: Vec<Vec<u8>> = vec![
            TEXT.into(),
            format!("{TEXT}\n").into(),
            format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]).into(),
            format!("\x01{TEXT}\n{PETER_SIG}").into(),
            [b"\xff".as_slice(), format!("{TEXT}\n{PETER_SIG}").as_bytes()].concat(),
            format!("{TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=").into(),
            format!("{TEXT}\n{PETER_SIG}Unexpected line.\n").into(),
            format!("{TEXT}\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n").into(),
            vec![b'a'; MAX_NOTE_BYTES + 1],
        ];
        for msg in bad {
            assert!(
                matches!(
                    open(&msg, std::slice::from_ref(&peter)),
                    Err(NoteError::Malformed(_))
                ),
                "accepted {:?}",
                String::from_utf8_lossy(&msg)
            );
        }
    }

    #[test]
    fn generated_keys_round_trip() {
        let s = Signer::generate("example.com/log").unwrap();
        let s2 = Signer::from_key_string(&s.to_private_key_string()).unwrap();
        let v = Verifier::from_key_string(&s.verifier().to_key_string()).unwrap();
        assert_eq!(s2.verifier(), v);
        let msg = sign("hello\n", &[&s2]).unwrap();
        assert_eq!(open(msg.as_bytes(), &[v]).unwrap().text, "hello\n");
        assert!(Signer::generate("bad name").is_err());
        assert!(Signer::generate("a+b").is_err());
    }

    #[test]
    fn checkpoints_round_trip_and_reject_malformed() {
        let s = Signer::generate("example.com/log").unwrap();
        let cp = Checkpoint {
            origin: "example.com/log".into(),
            size: 42,
            root: [7u8; 32],
            extensions: vec!["ext line".into()],
        };
        let body = cp.to_body().unwrap();
        assert_eq!(
            body,
            "example.com/log\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\next line\n"
        );
        let note = cp.sign(&[&s]).unwrap();
        let (parsed, _) = Checkpoint::open(note.as_bytes(), &[s.verifier()]).unwrap();
        assert_eq!(parsed, cp);
        for bad in [
            "",
            "\n",
            "origin\n",
            "origin\n42\n",
            "origin\n042\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
            "origin\n+42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
            "origin\n18446744073709551616\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
            "origin\n42\nBwcH\n",
            "origin\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n",
            "origin\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
        ] {
            assert!(Checkpoint::parse(bad).is_err(), "accepted {bad:?}");
        }
        assert!(Checkpoint::parse("o\n0\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n").is_ok());
    }
}
