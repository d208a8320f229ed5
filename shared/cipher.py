"""Encryption at rest for event state, with key rotation.

eventsourcing encrypts each stored event's state (ids and topics stay plain) with the cipher named
by CIPHER_TOPIC. This one encrypts with the current key (CIPHER_KEY) and decrypts with it or with
any retired key (CIPHER_RETIRED_KEYS, comma-separated), so a key can be rotated without rewriting
history: deploy the new key with the old one retired; events written before stay readable.
"""

from __future__ import annotations

from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import Cipher
from eventsourcing.utils import Environment


class RotatingAESCipher(Cipher):
    RETIRED_KEYS = "CIPHER_RETIRED_KEYS"

    def __init__(self, environment: Environment) -> None:
        self._current = AESCipher(environment)
        retired = [key.strip() for key in (environment.get(self.RETIRED_KEYS) or "").split(",") if key.strip()]
        self._retired = [AESCipher(Environment(environment.name, {AESCipher.CIPHER_KEY: key})) for key in retired]

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._current.encrypt(plaintext)

    def decrypt(self, ciphertext: bytes) -> bytes:
        try:
            return self._current.decrypt(ciphertext)
        except ValueError:
            for cipher in self._retired:
                try:
                    return cipher.decrypt(ciphertext)
                except ValueError:
                    continue
            raise


def new_key() -> str:
    """A fresh 256-bit key, base64 encoded, for EVENT_CIPHER_KEY."""
    return AESCipher.create_key(32)
