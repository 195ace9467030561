"""The local storage server follows the real one's rules: hashes, signatures, limits."""

from __future__ import annotations

import base64
import hashlib

import pytest
from session_python.crypto import SessionKeys

from sessiontestnet.storage import MAX_DATA_BYTES, MAX_TTL_MS, SwarmStore, message_hash

NOW = 1_700_000_000_000
ALICE = SessionKeys("11" * 32)
BOB = SessionKeys("22" * 32)


def sid(keys: SessionKeys) -> str:
    return keys.x25519.public_key.hex()


def signed(keys: SessionKeys, text: str) -> dict[str, str]:
    return {
        "pubkey_ed25519": keys.ed25519.public_key.hex(),
        "signature": base64.b64encode(keys.signing_key.sign(text.encode()).signature).decode(),
    }


def store(st: SwarmStore, *, to: SessionKeys, data: bytes, namespace: int = 0, ttl: int = 60_000, **extra):
    params = {"pubkey": sid(to), "ttl": ttl, "timestamp": NOW, "data": base64.b64encode(data).decode()}
    return st.call("store", {**params, "namespace": namespace, **extra}, now_ms=NOW)


def retrieve(st: SwarmStore, *, keys: SessionKeys, as_keys: SessionKeys | None = None, last_hash: str = "", ns=0):
    sign = f"retrieve{'' if ns == 0 else ns}{NOW}"
    params = {"pubkey": sid(keys), "namespace": ns, "timestamp": NOW, "last_hash": last_hash}
    return st.call("retrieve", {**params, **signed(as_keys or keys, sign)}, now_ms=NOW)


@pytest.mark.parametrize(
    ("namespace", "data", "expected_input"),
    [
        (0, b"hello", bytes.fromhex(sid(ALICE)) + b"hello"),
        (5, b"cfg", bytes.fromhex(sid(ALICE)) + b"5" + b"cfg"),
        (-10, b"x", bytes.fromhex(sid(ALICE)) + b"-10" + b"x"),
    ],
)
def test_the_hash_is_unpadded_base64_blake2b_over_recipient_namespace_and_data(namespace, data, expected_input):
    expected = base64.b64encode(hashlib.blake2b(expected_input, digest_size=32).digest()).decode().rstrip("=")
    got = message_hash(pubkey=bytes.fromhex(sid(ALICE)), namespace=namespace, data=data)
    assert got == expected
    assert len(got) == 43


def test_storing_the_same_data_twice_gives_one_message_with_one_hash():
    st = SwarmStore()
    first, second = store(st, to=ALICE, data=b"same"), store(st, to=ALICE, data=b"same")
    assert first == second
    assert first[0] == 200
    assert len(retrieve(st, keys=ALICE)[1]["messages"]) == 1


def test_retrieve_returns_only_messages_after_the_cursor_in_order():
    st = SwarmStore()
    hashes = [store(st, to=ALICE, data=f"m{i}".encode())[1]["hash"] for i in range(3)]
    code, body = retrieve(st, keys=ALICE, last_hash=hashes[0])
    assert code == 200
    assert [m["hash"] for m in body["messages"]] == hashes[1:]
    assert base64.b64decode(body["messages"][0]["data"]) == b"m1"
    assert retrieve(st, keys=ALICE, last_hash="unknown")[1]["messages"][0]["hash"] == hashes[0]


@pytest.mark.parametrize(
    ("case", "expected_code"),
    [("owner", 200), ("someone else signs", 401), ("wrong text signed", 401), ("clock skew", 406)],
)
def test_only_the_owner_may_retrieve_with_a_fresh_signature(case, expected_code):
    st = SwarmStore()
    store(st, to=ALICE, data=b"secret")
    if case == "owner":
        code, _ = retrieve(st, keys=ALICE)
    elif case == "someone else signs":
        code, _ = retrieve(st, keys=ALICE, as_keys=BOB)
    else:
        text = "retrieve" + ("1" if case == "wrong text signed" else "") + str(NOW)
        ts = NOW - 120_000 if case == "clock skew" else NOW
        params = {"pubkey": sid(ALICE), "namespace": 0, "timestamp": ts, **signed(ALICE, text)}
        code, _ = st.call("retrieve", params, now_ms=NOW)
    assert code == expected_code


@pytest.mark.parametrize(
    ("data", "ttl", "namespace", "signer", "expected_code"),
    [
        (b"x" * MAX_DATA_BYTES, 60_000, 0, None, 200),
        (b"x" * (MAX_DATA_BYTES + 1), 60_000, 0, None, 413),
        (b"x", MAX_TTL_MS + 1, 0, None, 400),
        (b"x", 0, 0, None, 400),
        (b"cfg", 60_000, 2, None, 401),
        (b"cfg", 60_000, 2, BOB, 401),
        (b"cfg", 60_000, 2, ALICE, 200),
    ],
)
def test_store_enforces_size_ttl_and_owner_only_namespaces(data, ttl, namespace, signer, expected_code):
    extra = signed(signer, f"store{namespace}{NOW}") if signer else {}
    code, _ = store(SwarmStore(), to=ALICE, data=data, ttl=ttl, namespace=namespace, **extra)
    assert code == expected_code


def test_expired_messages_are_not_retrieved():
    st = SwarmStore()
    params = {"pubkey": sid(ALICE), "ttl": 1000, "timestamp": NOW - 5000, "data": "eA==", "namespace": 0}
    assert st.call("store", params, now_ms=NOW)[0] == 406
    store(st, to=ALICE, data=b"short", ttl=1000)
    assert st.retrieve({"pubkey": sid(ALICE), "timestamp": NOW, **signed(ALICE, f"retrieve{NOW}")}, now_ms=NOW)
    code, body = st.call(
        "retrieve",
        {"pubkey": sid(ALICE), "timestamp": NOW + 2000, **signed(ALICE, f"retrieve{NOW + 2000}")},
        now_ms=NOW + 2000,
    )
    assert (code, body["messages"]) == (200, [])


def test_delete_needs_the_owners_signature_over_the_hashes():
    st = SwarmStore()
    digest = store(st, to=ALICE, data=b"bye")[1]["hash"]
    params = {"pubkey": sid(ALICE), "messages": [digest]}
    assert st.call("delete", {**params, **signed(BOB, "delete" + digest)}, now_ms=NOW)[0] == 401
    code, body = st.call("delete", {**params, **signed(ALICE, "delete" + digest)}, now_ms=NOW)
    assert code == 200
    assert next(iter(body["swarm"].values()))["deleted"] == [digest]
    assert retrieve(st, keys=ALICE)[1]["messages"] == []


def test_a_batch_answers_each_sub_request_with_code_and_body():
    st = SwarmStore(snodes=[{"ip": "127.0.0.1", "port": "1", "pubkey_ed25519": "aa", "pubkey_x25519": "bb"}])
    body = {
        "method": "batch",
        "params": {"requests": [{"method": "get_swarm", "params": {"pubkey": sid(BOB)}}, {"method": "nope"}]},
    }
    code, result = st.batch(body, now_ms=NOW)
    assert code == 200
    assert [r["code"] for r in result["results"]] == [200, 400]
    assert result["results"][0]["body"]["snodes"][0]["ip"] == "127.0.0.1"
