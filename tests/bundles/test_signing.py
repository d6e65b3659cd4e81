"""Ed25519 bundle signatures, the trust store and the effective status (docs/security.md).

Bundles are copies of the shipped demo-mobilenetv2 with their card edited through the torch-free
container API; every test has its own DYSMORPH_DESK_HOME (tests/conftest.py), so its own trust
store. Most checks read headers only (cheap); a few load a bundle to show the whole path works.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from dysmorph_desk.bundles import signing, trust
from dysmorph_desk.bundles.container import read_bundle, read_metadata, write_bundle
from dysmorph_desk.bundles.format import find_bundles, load_bundle, read_header, resolve_bundle
from dysmorph_desk.errors import BundleError, UsageError
from dysmorph_desk.utils import paths
from tests.cli_helpers import run

REPO = Path(__file__).resolve().parents[2]
DEMO_PRIVATE = REPO / "models" / "keys" / "demo-signing-key.pem"
DEMO_PUBLIC = REPO / "resources" / "keys" / "demo.pub"


@pytest.fixture(scope="module")
def shipped() -> Path:
    return resolve_bundle("demo-mobilenetv2").path


def _bundle(tmp_path: Path, shipped: Path, status: str, name: str = "b.ddbundle") -> Path:
    contents = read_bundle(shipped)
    contents.manifest["status"] = status
    contents.signature = ""
    path = tmp_path / name
    write_bundle(path, contents, force=True)
    return path


@pytest.fixture
def clinic(tmp_path) -> tuple[Path, Path]:
    return signing.new_keypair(tmp_path / "keys" / "clinic.pem", "Clinic A")


# --- keys and signatures --------------------------------------------------------------------------


def test_sign_verify_round_trip(clinic):
    priv_path, pub_path = clinic
    private = signing.load_private(priv_path)
    public = signing.load_public(pub_path)
    digest = "ab" * 32
    slot = signing.sign_digest(private, digest)
    algo, kid, sig = slot.split(":")
    assert algo == "ed25519" and kid == public.key_id and len(kid) == 16 and sig
    keys = {public.key_id: public.key()}
    assert signing.verify(slot, digest, keys) == signing.Verdict(True, kid, True)
    assert signing.verify(slot, digest, {}) == signing.Verdict(True, kid, False)  # untrusted
    assert signing.verify("", digest, keys) == signing.Verdict(False)
    with pytest.raises(BundleError, match="signature does not match"):
        signing.verify(slot, "cd" * 32, keys)
    for bad in ("ed25519:abc", "rsa:" + slot[8:], slot[:-4], slot + "x"):
        with pytest.raises(BundleError, match="malformed"):
            signing.verify(bad, digest, keys)


def test_key_files(clinic, tmp_path):
    priv_path, pub_path = clinic
    assert pub_path == priv_path.with_suffix(".pub")
    if os.name == "posix":
        assert stat.S_IMODE(priv_path.stat().st_mode) == 0o600
    line = pub_path.read_text(encoding="utf-8")
    assert line.startswith("ed25519 ") and line.endswith(" Clinic A\n") and line.count("\n") == 1
    assert priv_path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    with pytest.raises(UsageError, match="exists"):
        signing.new_keypair(priv_path, "again")
    signing.new_keypair(priv_path, "again", force=True)
    assert signing.load_public(pub_path).name == "again"
    with pytest.raises(UsageError, match="private key"):
        signing.load_public(priv_path)
    with pytest.raises(UsageError, match="not a PEM private key"):
        signing.load_private(pub_path)
    with pytest.raises(UsageError, match="not found"):
        signing.load_private(tmp_path / "missing.pem")
    (tmp_path / "bad.pub").write_text("ed25519 AAAA name\n")
    with pytest.raises(UsageError, match="32 bytes"):
        signing.load_public(tmp_path / "bad.pub")


def test_demo_private_key_matches_the_shipped_public_key():
    private = signing.load_private(DEMO_PRIVATE)
    assert (
        signing.NamedPublicKey.from_key(private.public_key()).raw
        == signing.load_public(DEMO_PUBLIC).raw
    )
    assert trust.demo_key().key_id == signing.load_public(DEMO_PUBLIC).key_id


def test_demo_private_key_is_not_package_data():
    """models/ ships as package data, but only *.ddbundle and *.md at its top level."""
    import tomllib

    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = data["tool"]["setuptools"]["package-data"]["dysmorph_desk.bundled_models"]
    assert sorted(patterns) == ["*.ddbundle", "*.ddgallery", "*.md"]


# --- effective status -----------------------------------------------------------------------------


def test_unsigned_validated_card_is_shown_as_research(tmp_path, shipped):
    info = read_header(_bundle(tmp_path, shipped, "validated"))
    assert info.card.status == "research"
    assert info.trust is not None and not info.trust.signed
    assert info.trust.claimed_status == "validated"
    assert info.trust.reason == "unsigned: shown as research at most"
    # a demonstration card stays a demonstration card
    assert read_header(_bundle(tmp_path, shipped, "demonstration", "d.ddbundle")).card.status == (
        "demonstration"
    )


def test_demo_key_vouches_for_demonstration_at_most(tmp_path, shipped):
    path = signing.sign_bundle(_bundle(tmp_path, shipped, "validated"), DEMO_PRIVATE)
    info = read_header(path)
    assert info.card.status == "demonstration"
    assert (
        info.trust is not None
        and info.trust.signed
        and info.trust.key_max_status == ("demonstration")
    )
    assert info.trust.reason == "signed by the demonstration key: demonstration at most"


def test_trusted_clinic_key_vouches_up_to_its_maximum(tmp_path, shipped, clinic):
    priv, pub = clinic
    path = signing.sign_bundle(_bundle(tmp_path, shipped, "validated"), priv)
    trust.trust_key(signing.load_public(pub), "validated")
    info = read_header(path)
    assert info.card.status == "validated"
    assert (
        info.trust is not None
        and info.trust.reason == "signed by Clinic A (trusted up to validated)"
    )
    assert info.trust.key_id == signing.load_public(pub).key_id
    trust.trust_key(signing.load_public(pub), "research", name="Clinic A (research only)")
    info = read_header(path)
    assert info.card.status == "research"
    assert info.trust is not None and "trusted up to research" in info.trust.reason
    # a card is never raised: a research card signed by a validated-level key stays research
    trust.trust_key(signing.load_public(pub), "validated")
    lower = signing.sign_bundle(_bundle(tmp_path, shipped, "research", "r.ddbundle"), priv)
    assert read_header(lower).card.status == "research"


def test_untrusted_key_is_shown_as_research(tmp_path, shipped, clinic):
    priv, pub = clinic
    path = signing.sign_bundle(_bundle(tmp_path, shipped, "validated"), priv)
    info = read_header(path)
    kid = signing.load_public(pub).key_id
    assert info.card.status == "research"
    assert info.trust is not None and info.trust.signed and info.trust.key_id == kid
    assert info.trust.reason == f"signed by untrusted key {kid}: shown as research at most"
    # untrusting a key puts its bundles back to research
    trust.trust_key(signing.load_public(pub), "validated")
    assert read_header(path).card.status == "validated"
    trust.untrust_key(kid[:6])
    assert read_header(path).card.status == "research"


def test_card_edited_after_signing_is_refused(tmp_path, shipped, clinic, capsys):
    priv, pub = clinic
    trust.trust_key(signing.load_public(pub), "validated")
    path = signing.sign_bundle(_bundle(tmp_path, shipped, "research"), priv)
    contents = read_bundle(path)
    old_signature = contents.signature
    contents.manifest["status"] = "validated"
    tampered = tmp_path / "tampered.ddbundle"
    write_bundle(tampered, contents)  # a valid digest over the edited card, the old signature
    assert read_metadata(tampered)["signature"] == old_signature
    with pytest.raises(BundleError, match=r"signature does not match.*modified after signing"):
        read_header(tampered)
    code, _out, err = run(capsys, "models", "--install", tampered)
    assert code == 4 and "signature does not match" in err and "Traceback" not in err


def test_malformed_signature_slot_is_refused(tmp_path, shipped):
    contents = read_bundle(shipped)
    contents.signature = "ed25519:not-a-signature"
    path = tmp_path / "m.ddbundle"
    write_bundle(path, contents)
    with pytest.raises(BundleError, match="malformed"):
        read_header(path)


def test_shipped_bundles_are_signed_with_the_demo_key_and_a_re_signed_copy_loads(tmp_path, shipped):
    for info in find_bundles():
        if info.source == "shipped":
            assert info.trust is not None and info.trust.signed, info.name
            assert info.trust.key_max_status == "demonstration"
    copy = tmp_path / "copy.ddbundle"
    shutil.copy(shipped, copy)
    before = read_header(copy).sha256
    signing.sign_bundle(copy, DEMO_PRIVATE)  # signing again replaces the slot
    bundle = load_bundle(copy)
    assert bundle.sha256 == before  # the slot is outside the digest
    assert bundle.card.status == "demonstration"
    assert bundle.info.trust is not None and bundle.info.trust.signed


def test_sign_refuses_a_damaged_bundle(tmp_path, shipped):
    raw = bytearray(shipped.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    damaged = tmp_path / "damaged.ddbundle"
    damaged.write_bytes(bytes(raw))
    with pytest.raises(BundleError, match=r"digest mismatch|unreadable"):
        signing.sign_bundle(damaged, DEMO_PRIVATE)
    assert read_metadata(damaged)["signature"] == read_metadata(shipped)["signature"]


def test_failed_validation_is_refused_for_screening(tmp_path, shipped):
    from dysmorph_desk.bundles.cards import STATUSES

    if "failed-validation" not in STATUSES:
        pytest.skip("cards.STATUSES has no failed-validation yet")
    path = _bundle(tmp_path, shipped, "failed-validation")
    assert read_header(path).card.status == "failed-validation"
    with pytest.raises(BundleError, match="failed validation"):
        load_bundle(path)
    assert load_bundle(path, allow_failed=True).card.status == "failed-validation"


def test_unreadable_trust_store_trusts_nothing_but_the_demo_key(tmp_path, shipped, clinic, capsys):
    priv, pub = clinic
    trust.trust_key(signing.load_public(pub), "validated")
    path = signing.sign_bundle(_bundle(tmp_path, shipped, "validated"), priv)
    paths.trust_store_file().write_text("{not json", encoding="utf-8")
    assert read_header(path).card.status == "research"  # the safe direction
    code, _out, err = run(capsys, "keys", "list")
    assert code == 2 and "trust store" in err
    code, _out, err = run(capsys, "keys", "trust", pub, "--max-status", "research")
    assert code == 2 and paths.trust_store_file().read_text(encoding="utf-8") == "{not json"


# --- CLI ------------------------------------------------------------------------------------------


def test_keys_cli(tmp_path, capsys):
    key = tmp_path / "k" / "lab.pem"
    code, out, err = run(capsys, "keys", "new", "--out", key, "--name", "Lab 7")
    assert code == 0, err
    pub = Path(out.strip())
    assert pub == key.with_suffix(".pub") and pub.is_file()
    kid = signing.load_public(pub).key_id
    assert kid in err
    code, out, err = run(capsys, "keys", "new", "--out", key)
    assert code == 2 and "exists" in err

    code, out, err = run(capsys, "keys", "list", "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert [k["key_id"] for k in listed] == [trust.demo_key().key_id]
    assert listed[0]["builtin"] and listed[0]["max_status"] == "demonstration"

    code, out, err = run(capsys, "keys", "trust", pub, "--max-status", "validated")
    assert code == 0, err
    assert kid in out
    code, out, err = run(capsys, "keys", "list", "--json")
    entry = next(k for k in json.loads(out) if k["key_id"] == kid)
    assert entry["name"] == "Lab 7" and entry["max_status"] == "validated" and entry["added"]
    assert entry["public_key"] == signing.load_public(pub).b64 and not entry["builtin"]
    stored = json.loads(paths.trust_store_file().read_text(encoding="utf-8"))
    assert [k["key_id"] for k in stored["keys"]] == [kid]
    code, out, err = run(capsys, "keys", "list")
    assert code == 0 and any(line.startswith(kid) for line in out.splitlines())

    for argv, why in (
        (("keys", "trust", DEMO_PUBLIC, "--max-status", "validated"), "demonstration key"),
        (("keys", "trust", key, "--max-status", "research"), "private key"),
        (("keys", "trust", pub, "--max-status", "bogus"), ""),
        (("keys", "untrust", trust.demo_key().key_id), "built in"),
        (("keys", "untrust", "ffff"), "no trusted key"),
    ):
        code, out, err = run(capsys, *argv)
        assert code == 2 and why in err and "Traceback" not in err, (argv, err)

    code, out, err = run(capsys, "keys", "untrust", kid)
    assert code == 0, err
    code, out, err = run(capsys, "keys", "list", "--json")
    assert [k["key_id"] for k in json.loads(out)] == [trust.demo_key().key_id]


def test_models_sign_in_place_and_with_out(tmp_path, shipped, clinic, capsys):
    priv, pub = clinic
    path = _bundle(tmp_path, shipped, "validated")
    digest = read_header(path).sha256

    code, out, err = run(capsys, "models", "--sign", path, "--key", priv)
    assert code == 0, err
    assert Path(out.strip()) == path and "untrusted key" in err
    assert read_metadata(path)["signature"].startswith("ed25519:" + signing.load_public(pub).key_id)
    assert read_header(path).sha256 == digest

    plain = _bundle(tmp_path, shipped, "validated", "plain.ddbundle")
    new = tmp_path / "out" / "signed.ddbundle"
    code, out, err = run(capsys, "models", "--sign", plain, "--key", DEMO_PRIVATE, "--out", new)
    assert code == 0, err
    assert Path(out.strip()) == new and read_metadata(plain)["signature"] == ""
    assert read_header(new).card.status == "demonstration"
    code, out, err = run(capsys, "models", "--sign", plain, "--key", DEMO_PRIVATE, "--out", new)
    assert code == 2 and "exists" in err
    code, out, err = run(capsys, "models", "--sign", plain, "--key", priv, "--out", new, "--force")
    assert code == 0, err
    assert read_header(new).card.status == "research"

    for argv, status in (
        (("models", "--sign", plain), 2),  # no --key
        (("models", "--key", priv), 2),  # no --sign
        (("models", "--sign", plain, "--key", pub), 2),  # a public key
        (("models", "--sign", tmp_path / "missing.ddbundle", "--key", priv), 4),
    ):
        code, out, err = run(capsys, *argv)
        assert code == status and "Traceback" not in err, (argv, err)


def test_models_lists_effective_status_and_reason(tmp_path, shipped, clinic, capsys):
    priv, pub = clinic
    folder = paths.user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    contents = read_bundle(shipped)
    contents.manifest.update(name="clinic-model", status="validated")
    contents.signature = ""
    write_bundle(folder / "clinic-model.ddbundle", contents)
    signing.sign_bundle(folder / "clinic-model.ddbundle", priv)

    code, out, err = run(capsys, "models", "--json")
    assert code == 0, err
    listed = {b["name"]: b for b in json.loads(out)}
    entry = listed["clinic-model"]
    assert entry["status"] == "research" and entry["card"]["status"] == "research"
    assert entry["trust"]["claimed_status"] == "validated" and entry["trust"]["signed"]
    assert "untrusted key" in entry["trust"]["reason"]
    assert listed["demo-mobilenetv2"]["trust"]["reason"] == (
        "signed by the demonstration key: demonstration at most"
    )

    trust.trust_key(signing.load_public(pub), "validated")
    code, out, err = run(capsys, "models")
    assert code == 0, err
    line = next(ln for ln in out.splitlines() if ln.startswith("clinic-model"))
    assert "validated model" in line and "signed by Clinic A (trusted up to validated)" in line


def test_train_sign_checks_the_key_first_and_signs_the_bundle(
    tmp_path, shipped, clinic, capsys, monkeypatch
):
    pytest.importorskip("torch")
    from dysmorph_desk.training import datasets
    from dysmorph_desk.training import run as training_run

    priv, pub = clinic
    data = tmp_path / "data"
    data.mkdir()
    base = ("train", "--data", data, "--out", tmp_path / "run", "--arch", "mobilenetv2")

    code, out, err = run(capsys, *base, "--sign", tmp_path / "missing.pem")
    assert code == 2 and "key file not found" in err
    code, out, err = run(capsys, *base, "--sign", priv, "--no-bundle")
    assert code == 2 and "--no-bundle" in err

    bundle = _bundle(tmp_path, shipped, "research", "trained.ddbundle")
    monkeypatch.setattr(datasets, "read_dataset", lambda *a, **k: [])
    monkeypatch.setattr(training_run, "run_training", lambda *a, **k: ({}, bundle))
    code, out, err = run(capsys, *base, "--sign", priv)
    assert code == 0, err
    assert Path(out.strip().splitlines()[-1]) == bundle
    trust.trust_key(signing.load_public(pub), "validated")
    info = read_header(bundle)
    assert info.trust is not None and info.trust.key_id == signing.load_public(pub).key_id
    assert info.card.status == "research"


def test_format_1_has_no_trust_verdict(tmp_path, shipped):
    import numpy as np
    from safetensors.numpy import save

    meta = read_metadata(shipped)
    old = {
        "format": "dysmorph-desk-bundle",
        "format_version": "1",
        "manifest": json.dumps({**json.loads(meta["manifest"]), "status": "validated"}),
        "sha256": "0" * 64,
    }
    path = tmp_path / "old.ddbundle"
    path.write_bytes(save({"w": np.zeros(2, np.float32)}, metadata=old))
    info = read_header(path)
    assert (
        info.trust is None and info.card.status == "validated"
    )  # as written: the v1 digest covers it


def test_bundles_layer_needs_no_cli_or_torch():
    """signing/trust are core: importable without torch or the CLI (lint-imports checks it too)."""
    import subprocess

    code = (
        "import sys\n"
        "import dysmorph_desk.bundles.trust, dysmorph_desk.bundles.signing\n"
        "assert 'torch' not in sys.modules and 'dysmorph_desk.cli' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
