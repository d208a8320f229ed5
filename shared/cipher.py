"""Encryption at rest for event state, with key rotation.

eventsourcing encrypts each stored event's state (ids and topics stay plain) with the cipher named
by CIPHER_TOPIC. This one encrypts with the current key (CIPHER_KEY) and decrypts with it or with
any retired key (CIPHER_RETIRED_KEYS, comma-separated), so a key can be rotated without rewriting
history: deploy the new key with the old one retired; events written before stay readable.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import Cipher
from eventsourcing.utils import Environment


class RotatingAESCipher(Cipher):
    RETIRED_KEYS = "CIPHER_RETIRED_KEYS"

    def __init__(self, environment: Environment) -> None:
        self._current = AESCipher(environment)
        retired = [key.strip() for key in (environment.get(self.RETIRED_KEYS) or "").split(",") if key.strip()]
        self._retired = [AESCipher(Environment(environment.name, {AESCipher.CIPHER_KEY: key})) for key in retired]

        # One AES-GCM object per key, made once: eventsourcing's AESCipher makes one (the key
        # schedule) per event, which was most of a history's decryption time.
        self._aead = [AESGCM(cipher.key) for cipher in (self._current, *self._retired)]

    def encrypt(self, plaintext: bytes) -> bytes:
        """As eventsourcing's AESCipher: a random 96-bit nonce, then the tag, then the ciphertext."""
        nonce = AESCipher.random_bytes(12)
        sealed = self._aead[0].encrypt(nonce, plaintext, None)
        return nonce + sealed[-16:] + sealed[:-16]

    def decrypt(self, ciphertext: bytes) -> bytes:
        """With the current key, else each retired one; ValueError if none opens it (as AESCipher)."""
        if len(ciphertext) < 28:
            raise ValueError("Damaged cipher text: invalid nonce or tag length")
        nonce, sealed = ciphertext[:12], ciphertext[28:] + ciphertext[12:28]
        for aead in self._aead:
            try:
                return aead.decrypt(nonce, sealed, None)
            except InvalidTag:
                continue
        raise ValueError("Invalid cipher tag")


def new_key() -> str:
    """A fresh 256-bit key, base64 encoded, for EVENT_CIPHER_KEY."""
    return AESCipher.create_key(32)
