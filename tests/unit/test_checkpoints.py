"""Checkpoints in the C2SP tlog-checkpoint format, signed as C2SP signed notes with Ed25519."""

from __future__ import annotations

import pytest

from shared.checkpoints import Checkpoint, CheckpointError, NoteSigner, NoteVerifier, open_note
from shared.merkle import leaf_hash

# The example key and note of Go's golang.org/x/mod/sumdb/note documentation.
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"


def test_keys_and_signatures_are_those_of_the_go_note_package():
    signer = NoteSigner.from_text(GO_SIGNER)
    assert signer.verifier().vkey() == GO_VERIFIER
    assert signer.text() == GO_SIGNER
    assert signer.sign_text(GO_TEXT) == GO_NOTE
    assert NoteVerifier.from_vkey(GO_VERIFIER).key_hash == bytes.fromhex("c74f20a3")


def test_a_signed_checkpoint_opens_with_its_key_only():
    signer = NoteSigner.generate("carecoord-audit")
    checkpoint = Checkpoint("carecoord.local/intake", 12, leaf_hash(b"x"))
    note = signer.sign(checkpoint)
    body, _, signature = note.partition("\n\n")
    assert body.split("\n") == ["carecoord.local/intake", "12", checkpoint.body().split("\n")[2]]
    assert signature.startswith("\u2014 carecoord-audit ")
    assert open_note(note, signer.verifier(), origin="carecoord.local/intake") == checkpoint
    assert open_note(note, NoteVerifier.from_vkey(signer.verifier().vkey())) == checkpoint

    with pytest.raises(CheckpointError, match="no signature"):
        open_note(note, NoteSigner.generate("carecoord-audit").verifier())
    with pytest.raises(CheckpointError, match="does not verify"):
        open_note(note.replace("\n12\n", "\n13\n"), signer.verifier())
    with pytest.raises(CheckpointError, match="not 'elsewhere'"):
        open_note(note, signer.verifier(), origin="elsewhere")


def test_cosignatures_of_others_are_ignored_and_extensions_kept():
    signer, witness = NoteSigner.generate("log"), NoteSigner.generate("witness")
    checkpoint = Checkpoint("origin", 3, leaf_hash(b"y"), ("ext line",))
    note = signer.sign(checkpoint)
    cosigned = note + witness.sign_text(checkpoint.body()).split("\n\n")[1]
    assert open_note(cosigned, signer.verifier()) == checkpoint
    assert open_note(cosigned, witness.verifier()) == checkpoint


@pytest.mark.parametrize("body", ["origin\n012\nAAAA\n", "origin\n1\n", "origin\n1\nnot base64!\n", "\n1\nAA==\n"])
def test_malformed_bodies_are_refused(body):
    with pytest.raises(CheckpointError):
        Checkpoint.parse_body(body)
