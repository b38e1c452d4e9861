//! Secrets at rest: what Mercador stores (admin passwords of vregions, partner
//! credentials, tokens) is sealed with ChaCha20-Poly1305 under a key from the
//! service's configuration, and opened only when used.
//!
//! A sealed value is text, `v1:<base64(nonce || ciphertext || tag)>`, safe to
//! keep in any database column. The key id is bound to the ciphertext as
//! associated data, so a value sealed under one key never opens under
//! another, and a tampered value is refused.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};

const PREFIX: &str = "v1:";

/// Why a secret could not be sealed or opened. Never contains the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// The configured key is unusable.
    #[error(
        "the secrets key is invalid: {0}; generate one with `head -c 32 /dev/urandom | base64` and set it in the configuration"
    )]
    InvalidKey(String),
    /// The stored value is not a sealed secret, was sealed under another key,
    /// or was altered.
    #[error(
        "a stored secret cannot be opened ({0}): it was sealed with another key or altered; restore the key it was sealed with"
    )]
    CannotOpen(&'static str),
    /// The system random generator failed.
    #[error("the system random number generator failed")]
    Random,
}

/// The key that seals stored secrets. `Debug` shows only its id.
pub struct SecretsKey {
    key: LessSafeKey,
    id: String,
    random: SystemRandom,
}

impl SecretsKey {
    /// A key from its base64 text (32 bytes once decoded) and an id naming it
    /// (e.g. `2026-11`; bound to every value it seals).
    pub fn from_base64(id: &str, key: &SecretString) -> Result<Self, SecretsError> {
        let bytes =
            B64.decode(key.expose_secret().trim()).map_err(|_| SecretsError::InvalidKey("it is not base64".into()))?;
        if bytes.len() != 32 {
            return Err(SecretsError::InvalidKey(format!("it decodes to {} bytes, not 32", bytes.len())));
        }
        if id.is_empty() || id.len() > 64 {
            return Err(SecretsError::InvalidKey("its id must be 1 to 64 characters".into()));
        }
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, &bytes)
            .map_err(|_| SecretsError::InvalidKey("ChaCha20-Poly1305 refused it".into()))?;
        Ok(Self { key: LessSafeKey::new(unbound), id: id.to_owned(), random: SystemRandom::new() })
    }

    /// The key id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals a secret.
    pub fn seal(&self, secret: &SecretString) -> Result<String, SecretsError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).map_err(|_| SecretsError::Random)?;
        let mut buffer = secret.expose_secret().as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(self.id.as_bytes()), &mut buffer)
            .map_err(|_| SecretsError::Random)?;
        let mut out = nonce.to_vec();
        out.append(&mut buffer);
        Ok(format!("{PREFIX}{}", B64.encode(out)))
    }

    /// Opens a sealed secret.
    pub fn open(&self, sealed: &str) -> Result<SecretString, SecretsError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(SecretsError::CannotOpen("unknown format"))?;
        let mut bytes = B64.decode(body).map_err(|_| SecretsError::CannotOpen("not base64"))?;
        if bytes.len() < NONCE_LEN + CHACHA20_POLY1305.tag_len() {
            return Err(SecretsError::CannotOpen("too short"));
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&bytes[..NONCE_LEN]);
        let plain = self
            .key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(self.id.as_bytes()), &mut bytes[NONCE_LEN..])
            .map_err(|_| SecretsError::CannotOpen("authentication failed"))?;
        let text = String::from_utf8(plain.to_vec()).map_err(|_| SecretsError::CannotOpen("not UTF-8"))?;
        Ok(SecretString::from(text))
    }
}

impl fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsKey").field("id", &self.id).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, byte: u8) -> SecretsKey {
        SecretsKey::from_base64(id, &SecretString::from(B64.encode([byte; 32]))).unwrap()
    }

    #[test]
    fn seal_and_open() {
        let k = key("k1", 7);
        let sealed = k.seal(&SecretString::from("vregion-admin-password")).unwrap();
        assert!(sealed.starts_with("v1:") && !sealed.contains("vregion-admin-password"));
        assert_eq!(k.open(&sealed).unwrap().expose_secret(), "vregion-admin-password");
        // A fresh nonce each time.
        assert_ne!(sealed, k.seal(&SecretString::from("vregion-admin-password")).unwrap());
        assert!(!format!("{k:?}").contains("7"), "the key never prints");
    }

    #[test]
    fn wrong_key_tampering_and_garbage_are_refused() {
        let sealed = key("k1", 7).seal(&SecretString::from("s")).unwrap();
        assert_eq!(key("k1", 8).open(&sealed).unwrap_err(), SecretsError::CannotOpen("authentication failed"));
        assert_eq!(key("k2", 7).open(&sealed).unwrap_err(), SecretsError::CannotOpen("authentication failed"));
        let mut bytes = B64.decode(&sealed[3..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("v1:{}", B64.encode(bytes));
        assert!(key("k1", 7).open(&tampered).is_err());
        assert_eq!(key("k1", 7).open("plain").unwrap_err(), SecretsError::CannotOpen("unknown format"));
        assert_eq!(key("k1", 7).open("v1:AAAA").unwrap_err(), SecretsError::CannotOpen("too short"));
    }

    #[test]
    fn bad_keys_say_how_to_make_one() {
        let e = SecretsKey::from_base64("k", &SecretString::from("c2hvcnQ=")).unwrap_err();
        assert!(e.to_string().contains("5 bytes, not 32") && e.to_string().contains("/dev/urandom"), "{e}");
        assert!(SecretsKey::from_base64("k", &SecretString::from("%%%")).is_err());
    }
}
