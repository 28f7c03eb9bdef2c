"""Alerts: where they go (a small TOML file) and sending them, to a webhook and by email.

The file names the targets:

    [alerts.webhook]        # a JSON POST {"text": ...}, as Slack and Mattermost take it
    url = "https://hooks.example/T000/B000"
    timeout = 10            # seconds, optional

    [alerts.email]
    host = "smtp.example.org"
    port = 587              # optional (25)
    starttls = true         # optional (false)
    username = "..."        # optional, with password
    password = "..."
    from = "newsarchive@example.org"
    to = ["ops@example.org"]   # a list, or one address
    timeout = 10            # seconds, optional

Sending never raises for a target that cannot be reached or refuses the alert: each
failure comes back as one line, so that what a run stored is never lost to an alert.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import http.client
import json
import os
import smtplib
import ssl
import tomllib
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import urlsplit

CONFIG_ENV_VAR = "NEWSARCHIVE_CONFIG"
DEFAULT_TIMEOUT = 10.0
DEFAULT_SMTP_PORT = 25
TOP_LEVEL_KEYS = ("alerts",)
ALERTS_KEYS = ("webhook", "email")
WEBHOOK_KEYS = ("url", "timeout")
EMAIL_KEYS = ("host", "port", "starttls", "username", "password", "from", "to", "timeout")
SHOWN_VALUE_LENGTH = 80
SHOWN_BODY_LENGTH = 120


class ConfigError(ValueError):
    """The config file is missing or malformed; the message names the file and the problem
    in one line."""


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    url: str
    timeout: float = DEFAULT_TIMEOUT

    @property
    def label(self) -> str:
        """The target in error lines: the path of a webhook URL is its secret, so it is cut."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if parts.port is not None:
            netloc += f":{parts.port}"
        hidden = "/..." if parts.path.strip("/") or parts.query else ""
        return f"webhook {parts.scheme}://{netloc}{hidden}"


@dataclass(frozen=True, slots=True)
class EmailTarget:
    host: str
    sender: str
    recipients: tuple[str, ...]
    port: int = DEFAULT_SMTP_PORT
    starttls: bool = False
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT

    @property
    def label(self) -> str:
        return f"email via {self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class AlertConfig:
    """Where alerts go; with neither target, nowhere."""

    webhook: WebhookTarget | None = None
    email: EmailTarget | None = None
    path: Path | None = None

    @property
    def targets(self) -> tuple[WebhookTarget | EmailTarget, ...]:
        return tuple(target for target in (self.webhook, self.email) if target is not None)


def _show(value: object) -> str:
    """A value as the TOML file wrote it, on one line and not too long."""
    shown = json.dumps(value, ensure_ascii=False, default=str)
    if len(shown) > SHOWN_VALUE_LENGTH:
        shown = shown[: SHOWN_VALUE_LENGTH - 1] + "…"
    return shown


class _Reader:
    """Reads one table of the file; every problem is a ConfigError naming file and key."""

    def __init__(self, path: Path, prefix: str, table: object, known: tuple[str, ...]) -> None:
        self.path = path
        self.prefix = prefix
        if not isinstance(table, dict):
            raise self.error(f"{prefix} must be a table, not {_show(table)}")
        self.table = table
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"; did you mean {self.key(close[0])}?" if close else ""
                raise self.error(f"unknown key {self.key(key)}{hint}")

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {problem}")

    def wrong(self, name: str, expected: str) -> ConfigError:
        return self.error(f"{self.key(name)} must be {expected}, not {_show(self.table[name])}")

    def required(self, name: str) -> None:
        if name not in self.table:
            raise self.error(f"{self.key(name)} is required")

    def string(self, name: str) -> str | None:
        value = self.table.get(name)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.wrong(name, "a non-empty string")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.table.get(name, default)
        if not isinstance(value, bool):
            raise self.wrong(name, "true or false")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.table.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.wrong(name, "an integer")
        if not low <= value <= high:
            raise self.wrong(name, f"between {low} and {high}")
        return value

    def seconds(self, name: str) -> float:
        value = self.table.get(name, DEFAULT_TIMEOUT)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self.wrong(name, "a number of seconds")
        if not 0 < value < float("inf"):
            raise self.wrong(name, "a number of seconds above 0")
        return float(value)


def _is_address(value: object) -> bool:
    return isinstance(value, str) and "@" in value.strip("@") and value == value.strip()


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and port != 0


def _webhook(reader: _Reader) -> WebhookTarget:
    reader.required("url")
    url = reader.string("url")
    if not _is_http_url(url):
        raise reader.wrong("url", "an http(s) URL")
    return WebhookTarget(url=url, timeout=reader.seconds("timeout"))


def _email(reader: _Reader) -> EmailTarget:
    for name in ("host", "from", "to"):
        reader.required(name)
    sender = reader.string("from")
    if not _is_address(sender):
        raise reader.wrong("from", "an email address")
    recipients = reader.table["to"]
    if isinstance(recipients, str):
        recipients = [recipients]
    if not isinstance(recipients, list) or not all(map(_is_address, recipients)):
        raise reader.wrong("to", "an email address or a list of them")
    if not recipients:
        raise reader.error(f"{reader.key('to')} names no address")
    username = reader.string("username")
    password = reader.table.get("password")
    if password is not None and not isinstance(password, str):
        raise reader.wrong("password", "a string")
    if (username is None) != (password is None):
        given, missing = ("username", "password") if password is None else ("password", "username")
        raise reader.error(f"{reader.key(given)} is given without {reader.key(missing)}")
    return EmailTarget(
        host=reader.string("host"),
        sender=sender,
        recipients=tuple(recipients),
        port=reader.integer("port", DEFAULT_SMTP_PORT, 1, 65535),
        starttls=reader.boolean("starttls", False),
        username=username,
        password=password,
        timeout=reader.seconds("timeout"),
    )


def load_config(path: str | Path | None = None) -> AlertConfig:
    """The alert targets of the file at `path`, or of $NEWSARCHIVE_CONFIG; none without
    either. ConfigError, in one line, for a file that is missing or malformed."""
    if path is None:
        path = os.environ.get(CONFIG_ENV_VAR) or None
    if path is None:
        return AlertConfig()
    path = Path(path)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    try:
        document = tomllib.loads(content.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    _Reader(path, "", document, TOP_LEVEL_KEYS)
    alerts = _Reader(path, "alerts", document.get("alerts", {}), ALERTS_KEYS)
    webhook = alerts.table.get("webhook")
    email = alerts.table.get("email")
    return AlertConfig(
        webhook=_webhook(_Reader(path, "alerts.webhook", webhook, WEBHOOK_KEYS))
        if webhook is not None
        else None,
        email=_email(_Reader(path, "alerts.email", email, EMAIL_KEYS))
        if email is not None
        else None,
        path=path,
    )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirected POST would arrive as a GET without its text: a redirect is a failure."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _first_line(text: str, limit: int = SHOWN_BODY_LENGTH) -> str:
    lines = text.strip().splitlines()
    line = lines[0].strip() if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _reason(exc: BaseException, timeout: float) -> str:
    """What went wrong, in one line."""
    if isinstance(exc, urllib.error.HTTPError):
        try:
            body = _first_line(exc.read(4096).decode("utf-8", "replace"))
        except (OSError, http.client.HTTPException):
            body = ""
        return f"HTTP {exc.code}" + (f": {body}" if body else "")
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        return _reason(exc.reason, timeout)
    if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, OSError):
        # smtplib's word for a connection that broke or fell silent: what broke it tells more.
        return _reason(exc.__context__, timeout)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "recipients refused: " + ", ".join(
            f"{address} ({code} {_first_line(answer.decode('utf-8', 'replace'))})"
            for address, (code, answer) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        answer = f"{exc.smtp_code} {_first_line(exc.smtp_error.decode('utf-8', 'replace'))}"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return f"login refused: {answer}"
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return f"sender {exc.sender} refused: {answer}"
        return answer
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {exc.verify_message}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return _first_line(str(exc)) or type(exc).__name__


def _text(subject: str, lines: Sequence[str]) -> str:
    return "\n".join([subject, *lines])


def _post(target: WebhookTarget, subject: str, lines: Sequence[str]) -> None:
    request = urllib.request.Request(
        target.url,
        data=json.dumps({"text": _text(subject, lines)}, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "newsarchive"},
        method="POST",
    )
    with _OPENER.open(request, timeout=target.timeout) as response:
        response.read()


def _mail(target: EmailTarget, subject: str, lines: Sequence[str]) -> None:
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())
    message["From"] = target.sender
    message["To"] = ", ".join(target.recipients)
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    message["Message-ID"] = make_msgid(domain=target.sender.rpartition("@")[2])
    message.set_content("\n".join(lines) + "\n", cte="quoted-printable")
    with smtplib.SMTP(target.host, target.port, timeout=target.timeout) as smtp:
        if target.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if target.username is not None:
            smtp.login(target.username, target.password)
        if refused := smtp.send_message(message):
            raise smtplib.SMTPRecipientsRefused(refused)


def send_alert(config: AlertConfig, subject: str, lines: Sequence[str]) -> list[str]:
    """Send the alert to every target of `config`: the subject, then one line each.

    Returns one line per target that could not be reached or refused it (empty when all
    took it); never raises for a target.
    """
    errors = []
    for target in config.targets:
        send = _post if isinstance(target, WebhookTarget) else _mail
        try:
            send(target, subject, lines)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            errors.append(f"{target.label}: {_reason(exc, target.timeout)}")
    return errors
