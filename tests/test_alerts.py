"""Alerts: the config file, and alerts received by a real webhook receiver and SMTP server on
127.0.0.1, or refused, or not answered, without an exception."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from archive.alerts import (
    CONFIG_ENV_VAR,
    AlertConfig,
    ConfigError,
    EmailTarget,
    WebhookTarget,
    load_config,
    send_alert,
)
from tests.conftest import Mailbox, WebhookReceiver

SUBJECT = "newsarchive: investkaluga is failing"
LINES = ["run 12 [failed]: pages fetched 40, errors 31", "последняя удачная выборка 2026-11-24"]
TEXT = SUBJECT + "\n" + "\n".join(LINES)
SHORT_TIMEOUT = 0.5


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port of 127.0.0.1 that refuses connections (bound, so no one else takes it)."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port of 127.0.0.1 that takes connections but never says a word."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(8)
        yield listening.getsockname()[1]


@dataclass(frozen=True)
class Certificates:
    authority: Path
    server_context: ssl.SSLContext


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    """A certificate authority of the test's own, and a server certificate for 127.0.0.1."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("newsarchive test authority")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    authority = tmp_path / "ca.pem"
    authority.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = tmp_path / "server.pem"
    chain.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + leaf.public_bytes(serialization.Encoding.PEM)
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return Certificates(authority, context)


def email_to(port: int, **options) -> EmailTarget:
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "sender": "newsarchive@example.org",
        "recipients": ("ops@example.org",),
        **options,
    }
    return EmailTarget(**settings)


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "newsarchive.toml"
    path.write_text(text, encoding="utf-8")
    return path


# The config file


def test_no_path_and_no_environment_variable_is_no_target(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(CONFIG_ENV_VAR, raising=False)
    config = load_config(None)
    assert config == AlertConfig()
    assert config.targets == ()
    assert send_alert(config, SUBJECT, LINES) == []


def test_file_with_both_targets(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        [alerts.webhook]
        url = "https://hooks.example/T000/B000"
        timeout = 3
        [alerts.email]
        host = "smtp.example.org"
        port = 587
        starttls = true
        username = "archiver"
        password = "s3cret"
        from = "newsarchive@example.org"
        to = ["ops@example.org", "editor@example.org"]
        """,
    )
    config = load_config(path)
    assert config.webhook == WebhookTarget("https://hooks.example/T000/B000", timeout=3.0)
    assert config.email == EmailTarget(
        host="smtp.example.org",
        sender="newsarchive@example.org",
        recipients=("ops@example.org", "editor@example.org"),
        port=587,
        starttls=True,
        username="archiver",
        password="s3cret",
    )
    assert config.targets == (config.webhook, config.email)
    assert config.path == path
    assert "s3cret" not in repr(config)


def test_defaults_and_one_recipient_as_a_string(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '[alerts.email]\nhost = "mx.example.org"\nfrom = "a@example.org"\nto = "b@example.org"\n',
    )
    config = load_config(str(path))
    assert config.webhook is None
    assert config.email == EmailTarget(
        host="mx.example.org",
        sender="a@example.org",
        recipients=("b@example.org",),
        port=25,
        starttls=False,
        username=None,
        password=None,
        timeout=10.0,
    )


def test_environment_variable_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, '[alerts.webhook]\nurl = "http://127.0.0.1:9/hook"\n')
    monkeypatch.setenv(CONFIG_ENV_VAR, str(path))
    assert load_config(None).webhook == WebhookTarget("http://127.0.0.1:9/hook")


def test_file_without_alerts_has_no_target(tmp_path: Path) -> None:
    assert load_config(write_config(tmp_path, "")).targets == ()
    assert load_config(write_config(tmp_path, "[alerts]\n")).targets == ()


EMAIL = '[alerts.email]\nhost = "smtp.example.org"\nfrom = "a@example.org"\nto = "b@example.org"\n'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[alerts\n", "not valid TOML: Expected ']' at the end of a table declaration"),
        ("[alert.webhook]\n", "unknown key alert; did you mean alerts?"),
        ("[alerts.slack]\n", "unknown key alerts.slack"),
        ("alerts = 5\n", "alerts must be a table, not 5"),
        ("[alerts]\nwebhook = 'x'\n", 'alerts.webhook must be a table, not "x"'),
        ("[alerts.webhook]\ntimeout = 5\n", "alerts.webhook.url is required"),
        ("[alerts.webhook]\nuri = 'https://h.example/'\n", "unknown key alerts.webhook.uri; "
         "did you mean alerts.webhook.url?"),
        ("[alerts.webhook]\nurl = 'ftp://h.example/x'\n",
         'alerts.webhook.url must be an http(s) URL, not "ftp://h.example/x"'),
        ("[alerts.webhook]\nurl = 'hooks.example/T000'\n",
         'alerts.webhook.url must be an http(s) URL, not "hooks.example/T000"'),
        ("[alerts.webhook]\nurl = 'https://h.example:99999/'\n",
         'alerts.webhook.url must be an http(s) URL, not "https://h.example:99999/"'),
        ("[alerts.webhook]\nurl = 42\n", "alerts.webhook.url must be a non-empty string, not 42"),
        ("[alerts.webhook]\nurl = 'https://h.example/'\ntimeout = 'soon'\n",
         'alerts.webhook.timeout must be a number of seconds, not "soon"'),
        ("[alerts.webhook]\nurl = 'https://h.example/'\ntimeout = 0\n",
         "alerts.webhook.timeout must be a number of seconds above 0, not 0"),
        ("[alerts.webhook]\nurl = 'https://h.example/'\ntimeout = inf\n",
         "alerts.webhook.timeout must be a number of seconds above 0, not Infinity"),
        (EMAIL + 'port = "abc"\n', 'alerts.email.port must be an integer, not "abc"'),
        (EMAIL + "port = 2.5\n", "alerts.email.port must be an integer, not 2.5"),
        (EMAIL + "port = true\n", "alerts.email.port must be an integer, not true"),
        (EMAIL + "port = 70000\n", "alerts.email.port must be between 1 and 65535, not 70000"),
        (EMAIL + "starttls = 'yes'\n", 'alerts.email.starttls must be true or false, not "yes"'),
        (EMAIL + "tls = true\n", "unknown key alerts.email.tls"),
        (EMAIL + "username = 'u'\n",
         "alerts.email.username is given without alerts.email.password"),
        (EMAIL + "password = 'p'\n",
         "alerts.email.password is given without alerts.email.username"),
        (EMAIL + "username = 'u'\npassword = 1234\n",
         "alerts.email.password must be a string, not 1234"),
        ('[alerts.email]\nfrom = "a@example.org"\nto = "b@example.org"\n',
         "alerts.email.host is required"),
        ('[alerts.email]\nhost = "smtp.example.org"\nto = "b@example.org"\n',
         "alerts.email.from is required"),
        ('[alerts.email]\nhost = "smtp.example.org"\nfrom = "a@example.org"\n',
         "alerts.email.to is required"),
        ('[alerts.email]\nhost = ""\nfrom = "a@example.org"\nto = "b@example.org"\n',
         'alerts.email.host must be a non-empty string, not ""'),
        ('[alerts.email]\nhost = "h"\nfrom = "newsarchive"\nto = "b@example.org"\n',
         'alerts.email.from must be an email address, not "newsarchive"'),
        ('[alerts.email]\nhost = "h"\nfrom = "a@example.org"\nto = ["b@example.org", 7]\n',
         'alerts.email.to must be an email address or a list of them, not ["b@example.org", 7]'),
        ('[alerts.email]\nhost = "h"\nfrom = "a@example.org"\nto = []\n',
         "alerts.email.to names no address"),
    ],
)  # fmt: skip
def test_malformed_file_is_one_line_naming_file_and_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: {problem}")
    assert "\n" not in message


def test_missing_unreadable_and_binary_files(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match=r"^\S+nowhere\.toml: no such file$"):
        load_config(missing)
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path)
    assert str(raised.value) == f"{tmp_path}: is a directory, not a config file"
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"[alerts]\n\xff\xfe")
    with pytest.raises(ConfigError) as raised:
        load_config(binary)
    assert str(raised.value) == f"{binary}: not UTF-8 text (byte 9)"


# Sending


def test_webhook_receives_subject_and_lines(receiver: WebhookReceiver) -> None:
    config = AlertConfig(webhook=WebhookTarget(receiver.url))
    assert send_alert(config, SUBJECT, LINES) == []
    assert receiver.posts == [
        {
            "path": "/hooks/T000/B000",
            "content_type": "application/json; charset=utf-8",
            "json": {"text": TEXT},
        }
    ]


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (500, b"", "HTTP 500"),
        (404, b"no_service\nmore detail", "HTTP 404: no_service"),
        (302, b"", "HTTP 302"),
    ],
)
def test_webhook_answering_other_than_2xx_is_one_error_line(
    receiver: WebhookReceiver, status: int, body: bytes, reason: str
) -> None:
    receiver.status, receiver.body = status, body
    receiver.headers = {"Location": receiver.url + "/moved"} if status == 302 else {}
    config = AlertConfig(webhook=WebhookTarget(receiver.url))
    port = receiver.url.split(":")[2].split("/")[0]
    assert send_alert(config, SUBJECT, LINES) == [f"webhook http://127.0.0.1:{port}/...: {reason}"]
    # The POST arrived once, and a redirect was not followed.
    assert [post["path"] for post in receiver.posts] == ["/hooks/T000/B000"]


def test_email_delivered_with_subject_lines_and_recipients(
    smtp_server: Callable[..., Mailbox],
) -> None:
    mailbox = smtp_server()
    target = email_to(mailbox.port, recipients=("ops@example.org", "editor@example.org"))
    assert send_alert(AlertConfig(email=target), SUBJECT, LINES) == []
    (received,) = mailbox.messages
    assert received["mail_from"] == "newsarchive@example.org"
    assert received["rcpt_tos"] == ["ops@example.org", "editor@example.org"]
    assert received["tls"] is False
    message = received["message"]
    assert message["Subject"] == SUBJECT
    assert message["From"] == "newsarchive@example.org"
    assert message["To"] == "ops@example.org, editor@example.org"
    assert message["Message-ID"].endswith("@example.org>")
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "\n".join(LINES) + "\n"
    assert mailbox.logins == []


def test_email_with_starttls_and_login(
    smtp_server: Callable[..., Mailbox],
    certificates: Certificates,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mailbox = smtp_server(
        tls_context=certificates.server_context,
        require_starttls=True,
        password="s3cret",
        auth_required=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.authority))
    target = email_to(mailbox.port, starttls=True, username="archiver", password="s3cret")
    assert send_alert(AlertConfig(email=target), SUBJECT, LINES) == []
    assert mailbox.logins == [("archiver", "s3cret")]
    (received,) = mailbox.messages
    assert received["tls"] is True
    assert received["message"]["Subject"] == SUBJECT
    assert received["message"].get_content() == "\n".join(LINES) + "\n"


def test_email_starttls_to_an_untrusted_certificate_is_refused(
    smtp_server: Callable[..., Mailbox], certificates: Certificates
) -> None:
    mailbox = smtp_server(tls_context=certificates.server_context, require_starttls=True)
    target = email_to(mailbox.port, starttls=True)
    (error,) = send_alert(AlertConfig(email=target), SUBJECT, LINES)
    assert error.startswith(f"email via 127.0.0.1:{mailbox.port}: TLS certificate not trusted: ")
    assert mailbox.messages == []


def test_email_starttls_not_offered(smtp_server: Callable[..., Mailbox]) -> None:
    mailbox = smtp_server()
    target = email_to(mailbox.port, starttls=True)
    assert send_alert(AlertConfig(email=target), SUBJECT, LINES) == [
        f"email via 127.0.0.1:{mailbox.port}: STARTTLS extension not supported by server."
    ]
    assert mailbox.messages == []


def test_email_login_refused(smtp_server: Callable[..., Mailbox]) -> None:
    mailbox = smtp_server(password="s3cret", auth_require_tls=False)
    target = email_to(mailbox.port, username="archiver", password="wrong")
    assert send_alert(AlertConfig(email=target), SUBJECT, LINES) == [
        f"email via 127.0.0.1:{mailbox.port}: "
        "login refused: 535 5.7.8 Authentication credentials invalid"
    ]
    assert set(mailbox.logins) == {("archiver", "wrong")}
    assert mailbox.messages == []


def test_email_recipient_refused(smtp_server: Callable[..., Mailbox]) -> None:
    mailbox = smtp_server()
    mailbox.refused = {"gone@example.org"}
    target = email_to(mailbox.port, recipients=("ops@example.org", "gone@example.org"))
    assert send_alert(AlertConfig(email=target), SUBJECT, LINES) == [
        f"email via 127.0.0.1:{mailbox.port}: "
        "recipients refused: gone@example.org (550 5.1.1 no such mailbox)"
    ]
    assert [message["rcpt_tos"] for message in mailbox.messages] == [["ops@example.org"]]


def test_closed_ports_are_error_lines_not_exceptions(closed_port: int) -> None:
    config = AlertConfig(
        webhook=WebhookTarget(f"http://127.0.0.1:{closed_port}/hooks/T000/B000"),
        email=email_to(closed_port),
    )
    assert send_alert(config, SUBJECT, LINES) == [
        f"webhook http://127.0.0.1:{closed_port}/...: connection refused",
        f"email via 127.0.0.1:{closed_port}: connection refused",
    ]


def test_silent_servers_time_out(silent_port: int) -> None:
    config = AlertConfig(
        webhook=WebhookTarget(f"http://127.0.0.1:{silent_port}/", timeout=SHORT_TIMEOUT),
        email=email_to(silent_port, timeout=SHORT_TIMEOUT),
    )
    assert send_alert(config, SUBJECT, LINES) == [
        f"webhook http://127.0.0.1:{silent_port}: no answer within 0.5 s",
        f"email via 127.0.0.1:{silent_port}: no answer within 0.5 s",
    ]


def test_a_failing_target_does_not_keep_the_alert_from_the_other(
    receiver: WebhookReceiver, closed_port: int
) -> None:
    config = AlertConfig(webhook=WebhookTarget(receiver.url), email=email_to(closed_port))
    assert send_alert(config, SUBJECT, []) == [
        f"email via 127.0.0.1:{closed_port}: connection refused"
    ]
    assert [post["json"] for post in receiver.posts] == [{"text": SUBJECT}]
