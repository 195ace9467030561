"""Two real session-python clients exchange encrypted messages through the local network."""

from __future__ import annotations

import pytest
import session_python.network as sp_network
from session_python import Poller, Session

from bridge.account import STORE_ATTEMPTS, OutFile, SessionAccount, SessionUnreachable
from bridge.messages import Incoming
from bridge.network import GuardedNetwork, network_build
from sessiontestnet.local import LocalNetwork, MemoryNetwork
from sessiontestnet.server import SessionTestnet

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def library_client(network, *, key_prefix: str | None = None) -> Session:
    """A plain session-python client; by default one whose key does not start with byte 05.

    session-python 1.0.5 strips a leading 0x05 twice when encrypting, so it cannot write to
    such an ID (nor store its own sync copy); the bridge encrypts without that bug.
    """
    while True:
        client = Session()
        client.network = network
        client.set_mnemonic(Session.generate_mnemonic(), "tester")
        first_key_byte = client.get_session_id()[2:4]
        if (first_key_byte == "05") == (key_prefix == "05"):
            return client


def test_unchanged_library_clients_exchange_a_message_in_memory():
    net = LocalNetwork()
    alice, bob = library_client(MemoryNetwork(net)), library_client(MemoryNetwork(net))
    sent = alice.send_message(bob.get_session_id(), "hello bob")
    received = Poller(bob, namespaces=[0]).poll()
    assert [(m["from"], m["body"], m["hash"]) for m in received] == [
        (alice.get_session_id(), "hello bob", sent["messageHash"])
    ]


@pytest.fixture
def testnet(monkeypatch):
    monkeypatch.setattr(sp_network, "SEEDS", list(sp_network.SEEDS))  # restored after the test
    server = SessionTestnet()
    server.start_background()
    yield server
    server.shutdown()
    server.server_close()


def test_unchanged_library_clients_exchange_a_message_over_http_and_https(testnet):
    alice = library_client(network_build(testnet.url))
    bob = library_client(network_build(testnet.url))
    alice.send_message(bob.get_session_id(), "über the wire ✓")
    received = Poller(bob, namespaces=[0]).poll()
    assert [m["body"] for m in received] == ["über the wire ✓"]
    # and the sender finds its own sync copy, marked with the sync target
    own = Poller(alice, namespaces=[0]).poll()
    assert [m["syncTarget"] for m in own] == [bob.get_session_id()]


def test_wrapped_accounts_send_a_file_and_a_reply_over_the_test_network(testnet):
    alice = SessionAccount(mnemonic=Session.generate_mnemonic(), network=network_build(testnet.url), display_name="A")
    bob = SessionAccount(mnemonic=Session.generate_mnemonic(), network=network_build(testnet.url))
    payload = bytes(range(256)) * 400
    result = alice.send(to=bob.session_id, text="a file", files=[OutFile("data.bin", "application/x-test", payload)])
    page = bob.retrieve(last_hash="")
    (msg,) = page.messages
    assert isinstance(msg, Incoming)
    assert (msg.hash, msg.text, msg.author_name, msg.sender) == (result.hash, "a file", "A", alice.session_id)
    assert bob.download(msg.attachments[0]) == payload
    assert bob.retrieve(last_hash=page.last_hash).messages == ()


def test_a_store_that_never_answers_200_ends_with_an_error_instead_of_spinning():
    net = LocalNetwork()
    net.faults.store_failures = 10_000
    guarded = GuardedNetwork(MemoryNetwork(net))
    library = library_client(guarded)
    with pytest.raises(Exception, match="store answered 500"):
        library.send_message(library_client(MemoryNetwork(net)).get_session_id(), "x")
    account = SessionAccount(mnemonic=Session.generate_mnemonic(), network=guarded)
    before = net.faults.requests
    with pytest.raises(SessionUnreachable):
        account.send(to=library.get_session_id(), text="y")
    assert net.faults.requests - before <= 2 * STORE_ATTEMPTS  # bounded retries, not a loop


def test_the_wrapper_reaches_the_one_id_in_256_the_library_cannot_encrypt_for():
    net = LocalNetwork()
    unlucky = library_client(MemoryNetwork(net), key_prefix="05")
    with pytest.raises(ValueError, match="32 bytes"):
        library_client(MemoryNetwork(net)).send_message(unlucky.get_session_id(), "x")
    sender = SessionAccount(mnemonic=Session.generate_mnemonic(), network=MemoryNetwork(net))
    sender.send(to=unlucky.get_session_id(), text="made it")
    assert [m["body"] for m in Poller(unlucky, namespaces=[0]).poll()] == ["made it"]
