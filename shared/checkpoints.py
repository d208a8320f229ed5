"""Signed checkpoints of a log, in the C2SP `tlog-checkpoint` format inside a C2SP `signed-note`.

A checkpoint's body is three lines and optional extension lines:

    <origin>
    <tree size, decimal>
    <root hash, base64>

and the note adds a blank line and one line per signature, `— <key name> <base64(key hash || sig)>`,
where for Ed25519 the key hash is the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || public
key) and the signature is over the body text. Keys are written as the Go `note` package writes them
(`PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`, and `<name>+<hash>+<base64(0x01 || key)>` for
the verifier), so an outsider can check a checkpoint with any C2SP implementation.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from hashlib import sha256

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

ED25519 = b"\x01"
SIGNATURE_LINE_START = "\u2014 "  # an em dash and a space
PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"


class CheckpointError(ValueError):
    """A note or checkpoint that is malformed, or not signed by the key expected."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        if not self.origin or "\n" in self.origin:
            raise CheckpointError("the origin is one non-empty line")
        if len(self.root) != 32:
            raise CheckpointError("the root is a SHA-256 hash")
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "".join(f"{line}\n" for line in lines)

    @classmethod
    def parse_body(cls, body: str) -> Checkpoint:
        if not body.endswith("\n"):
            raise CheckpointError("a checkpoint body ends with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3 or not lines[0] or any(not line for line in lines[3:]):
            raise CheckpointError("a checkpoint body is origin, size and root hash lines")
        origin, size, root = lines[:3]
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise CheckpointError(f"the tree size {size!r} is not a decimal number")
        try:
            root_bytes = base64.b64decode(root, validate=True)
        except binascii.Error as error:
            raise CheckpointError("the root hash is not base64") from error
        if len(root_bytes) != 32:
            raise CheckpointError("the root hash is not 32 bytes")
        return cls(origin, int(size), root_bytes, tuple(lines[3:]))


def key_hash(name: str, public_key: bytes) -> bytes:
    return sha256(name.encode() + b"\n" + ED25519 + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c in name for c in " +\n\t") or not name.isprintable():
        raise CheckpointError(f"a key name has no spaces or '+': {name!r}")


@dataclass(frozen=True)
class NoteVerifier:
    name: str
    public_key: Ed25519PublicKey

    @property
    def public_bytes(self) -> bytes:
        return self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, self.public_bytes)

    def vkey(self) -> str:
        """The verifier key an outsider keeps: `<name>+<hash hex>+<base64(0x01 || key)>`."""
        return f"{self.name}+{self.key_hash.hex()}+{base64.b64encode(ED25519 + self.public_bytes).decode()}"

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        try:
            name, hash_hex, key = vkey.strip().split("+", 2)
            raw = base64.b64decode(key, validate=True)
        except (ValueError, binascii.Error) as error:
            raise CheckpointError("a verifier key is <name>+<hash>+<base64 key>") from error
        _check_name(name)
        if len(raw) != 33 or raw[:1] != ED25519:
            raise CheckpointError("only Ed25519 verifier keys are supported")
        verifier = cls(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
        if verifier.key_hash.hex() != hash_hex.lower():
            raise CheckpointError("the verifier key's hash does not match its name and key")
        return verifier


@dataclass(frozen=True)
class NoteSigner:
    name: str
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> NoteSigner:
        _check_name(name)
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_text(cls, text: str, name: str | None = None) -> NoteSigner:
        """`PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`, or a PEM (PKCS#8) Ed25519 key named `name`."""
        text = text.strip()
        if text.startswith("-----BEGIN"):
            key = load_pem_private_key(text.encode(), password=None)
            if not isinstance(key, Ed25519PrivateKey) or not name:
                raise CheckpointError("a PEM signing key must be Ed25519, with a key name given")
            _check_name(name)
            return cls(name, key)
        if not text.startswith(PRIVATE_KEY_PREFIX):
            raise CheckpointError(f"a signing key starts with {PRIVATE_KEY_PREFIX} or is a PEM")
        try:
            key_name, hash_hex, seed = text[len(PRIVATE_KEY_PREFIX):].split("+", 2)
            raw = base64.b64decode(seed, validate=True)
        except (ValueError, binascii.Error) as error:
            raise CheckpointError("a signing key is PRIVATE+KEY+<name>+<hash>+<base64 seed>") from error
        _check_name(key_name)
        if len(raw) != 33 or raw[:1] != ED25519:
            raise CheckpointError("only Ed25519 signing keys are supported")
        signer = cls(key_name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.verifier().key_hash.hex() != hash_hex.lower():
            raise CheckpointError("the signing key's hash does not match its name and key")
        return signer

    def text(self) -> str:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        seed = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        verifier = self.verifier()
        return f"{PRIVATE_KEY_PREFIX}{self.name}+{verifier.key_hash.hex()}+{base64.b64encode(ED25519 + seed).decode()}"

    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.private_key.public_key())

    def sign(self, checkpoint: Checkpoint) -> str:
        """The signed note of a checkpoint."""
        return self.sign_text(checkpoint.body())

    def sign_text(self, text: str) -> str:
        """A signed note: the text, a blank line, this key's signature line."""
        signature = self.verifier().key_hash + self.private_key.sign(text.encode())
        return f"{text}\n{SIGNATURE_LINE_START}{self.name} {base64.b64encode(signature).decode()}\n"


def open_note(note: str, verifier: NoteVerifier, origin: str | None = None) -> Checkpoint:
    """The checkpoint in a signed note, if `verifier`'s key signed it (other signatures, such as
    witnesses' cosignatures, may be present and are ignored); else CheckpointError."""
    body, separator, signatures = note.rpartition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise CheckpointError("a signed note is its text, a blank line and signature lines")
    body += "\n"
    verified = False
    for line in signatures[:-1].split("\n"):
        if not line.startswith(SIGNATURE_LINE_START):
            raise CheckpointError("a signature line starts with an em dash and a space")
        try:
            name, encoded = line[len(SIGNATURE_LINE_START):].split(" ")
            signature = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error) as error:
            raise CheckpointError("a signature line is '— <name> <base64 signature>'") from error
        if name != verifier.name or signature[:4] != verifier.key_hash or len(signature) != 68:
            continue
        try:
            verifier.public_key.verify(signature[4:], body.encode())
        except InvalidSignature as error:
            raise CheckpointError(f"the signature of {name} does not verify") from error
        verified = True
    if not verified:
        raise CheckpointError(f"the note has no signature by {verifier.name}")
    checkpoint = Checkpoint.parse_body(body)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"the checkpoint is of {checkpoint.origin!r}, not {origin!r}")
    return checkpoint
