"""Settings, read once from ``PAPERWIRE_*`` environment variables and an optional TOML file.

Precedence: environment variable > TOML file > default. The TOML file is the one named by
``PAPERWIRE_CONFIG``, else ``$PAPERWIRE_HOME/paperwire.toml`` when it exists. Keys in the file
are the setting names in lower case without the prefix (``database_url = "..."``).
A bad value raises :class:`ConfigError` with one clear line.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from paperwire.errors import ConfigError
from paperwire.smtp_url import parse_smtp_url

PREFIX = "PAPERWIRE_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _path(value: str) -> Path:
    if not value.strip():
        raise ValueError("must not be empty")
    return Path(value).expanduser()


def _db_url(value: str) -> str:
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if not (scheme.startswith("sqlite") or scheme.startswith("postgresql")):
        raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


def _categories(value: str) -> tuple[str, ...]:
    cats = tuple(c.strip() for c in value.replace(" ", ",").split(",") if c.strip())
    from paperwire.models import is_arxiv_category

    bad = [c for c in cats if not is_arxiv_category(c)]
    if bad:
        raise ValueError(f"{bad[0]!r} is not an arXiv category (like cs.CL or math.AG)")
    return cats


def _seconds(value: str) -> float:
    seconds = float(value)
    if not 0 <= seconds <= 3600:
        raise ValueError("must be a number of seconds from 0 to 3600")
    return seconds


def _page_size(value: str) -> int:
    size = int(value)
    if not 1 <= size <= 2000:
        raise ValueError("must be a whole number from 1 to 2000 (arXiv's limit)")
    return size


def _days(value: str) -> int:
    days = int(value)
    if not 0 <= days <= 60:
        raise ValueError("must be a whole number of days from 0 to 60")
    return days


def _schedule(value: str) -> str:
    from paperwire.schedule import parse_schedule  # local: keeps config free of croniter

    parse_schedule(value)
    return value


def parse_weights(text: str) -> dict[str, float]:
    """``"hf_upvotes=1, save=2"`` → ``{"hf_upvotes": 1.0, "save": 2.0}``; ValueError if bad."""
    weights: dict[str, float] = {}
    for item in text.replace(";", ",").split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.replace("_", "").isalnum():
            raise ValueError(f"{item.strip()!r} is not source=weight")
        try:
            weight = float(value)
        except ValueError:
            raise ValueError(f"weight of {name} must be a number, not {value.strip()!r}") from None
        if not 0 <= weight <= 1000:
            raise ValueError(f"weight of {name} must be from 0 to 1000")
        weights[name] = weight
    return weights


def _weights(value: str) -> dict[str, float]:
    return parse_weights(value)


def _smtp_url(value: str) -> str:
    if value.strip():
        parse_smtp_url(value.strip())
    return value.strip()


def _address(value: str) -> str:
    from email.headerregistry import Address
    from email.utils import parseaddr

    if any(c in value for c in "\r\n\0"):
        raise ValueError("must be one line")
    name, addr = parseaddr(value)
    if "@" not in addr or " " in addr:
        raise ValueError("must be an address like 'Paperwire <digest@example.org>'")
    local, _, domain = addr.rpartition("@")
    return str(Address(display_name=name, username=local, domain=domain))


def _secret(value: str) -> str:
    if value and len(value) < 16:
        raise ValueError("must be at least 16 characters (or empty to generate one)")
    return value


def _rate(value: str) -> float:
    rate = float(value)
    if not 0 <= rate <= 10000:
        raise ValueError("must be messages per second from 0 (no limit) to 10000")
    return rate


def _per_hour(value: str) -> int:
    count = int(value)
    if not 1 <= count <= 100000:
        raise ValueError("must be a whole number of requests from 1 to 100000")
    return count


SIGNUP_MODES = ("open", "closed")


def _signup(value: str) -> str:
    mode = value.strip().lower()
    if mode not in SIGNUP_MODES:
        raise ValueError("must be open (any address may make an account by signing in) or "
                         "closed (only accounts an operator added)")
    return mode


def _bool(value: str) -> bool:
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


EMBED_DEVICES = ("cpu", "cuda")


def _embed_device(value: str) -> str:
    device = value.strip().lower()
    if device not in EMBED_DEVICES:
        raise ValueError(f"must be one of {', '.join(EMBED_DEVICES)}")
    return device


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return level


@dataclass(frozen=True)
class Settings:
    """All settings. Each field's metadata names its parser and documents it."""

    home: Path = field(
        default=Path(".paperwire"),
        metadata={"parse": _path, "doc": "folder holding all local state"},
    )
    database_url: str = field(
        default="",
        metadata={"parse": _db_url, "doc": "SQLAlchemy URL; default SQLite file under HOME"},
    )
    models_dir: Path | None = field(
        default=None,
        metadata={"parse": _path, "doc": "cache of built model files; default HOME/models"},
    )
    base_url: str = field(
        default="http://127.0.0.1:8000",
        metadata={"parse": _http_url, "doc": "public URL of the web app, used in links; "
                  "unset, serve and demo use the address they listen on (see served_at)"},
    )
    arxiv_api_url: str = field(
        default="https://export.arxiv.org/api/query",
        metadata={"parse": _http_url, "doc": "arXiv API (Atom) endpoint"},
    )
    arxiv_oai_url: str = field(
        default="https://oaipmh.arxiv.org/oai",
        metadata={"parse": _http_url, "doc": "arXiv OAI-PMH endpoint"},
    )
    arxiv_rss_url: str = field(
        default="https://rss.arxiv.org/rss",
        metadata={"parse": _http_url, "doc": "arXiv listing RSS base; categories are appended"},
    )
    hf_api_url: str = field(
        default="https://huggingface.co/api/daily_papers",
        metadata={"parse": _http_url, "doc": "Hugging Face daily papers API"},
    )
    arxiv_categories: tuple[str, ...] = field(
        default=("cs.CL", "cs.LG", "cs.AI", "cs.CV", "cs.IR"),
        metadata={"parse": _categories, "doc": "categories the scheduled arXiv ingest follows"},
    )
    arxiv_delay_seconds: float = field(
        default=3.0,
        metadata={"parse": _seconds, "doc": "minimum seconds between arXiv requests"},
    )
    index_interval_seconds: float = field(
        default=10.0,
        metadata={"parse": _seconds, "doc": "seconds between the index writer's passes"},
    )
    arxiv_page_size: int = field(
        default=100,
        metadata={"parse": _page_size, "doc": "results per arXiv API request"},
    )
    ingest_lookback_days: int = field(
        default=3,
        metadata={"parse": _days, "doc": "days re-read before the last ingest, for late papers"},
    )
    ingest_schedule: str = field(
        default="arxiv=0 */6 * * *; hf=30 */2 * * *; digest=*/10 * * * *",
        metadata={"parse": _schedule, "doc": "cron schedule per job for worker and serve"},
    )
    trending_weights: dict[str, float] = field(
        default_factory=lambda: {"hf_upvotes": 1.0, "upvote": 1.0, "save": 2.0,
                                 "digest_click": 0.5},
        metadata={"parse": _weights, "doc": "weight of each trending signal source"},
    )
    smtp_url: str = field(
        default="",
        metadata={"parse": _smtp_url,
                  "doc": "smtp://user:pass@host:587?starttls=1 or smtps://…; empty: local outbox"},
    )
    mail_from: str = field(
        default="Paperwire <digest@paperwire.localhost>",
        metadata={"parse": _address, "key": "from", "doc": "From address of every mail sent"},
    )
    secret_key: str = field(
        default="",
        metadata={"parse": _secret, "doc": "signs links in mails; empty: generated in HOME"},
    )
    digest_send_rate: float = field(
        default=10.0,
        metadata={"parse": _rate, "doc": "most digest mails sent per second (0: no limit)"},
    )
    unconfirmed_days: int = field(
        default=7,
        metadata={"parse": _days, "doc": "days before an unconfirmed subscription is purged"},
    )
    subscribe_client_limit: int = field(
        default=10,
        metadata={"parse": _per_hour,
                  "doc": "subscription requests one client (IP address) may make an hour"},
    )
    signup: str = field(
        default="open",
        metadata={"parse": _signup,
                  "doc": "open: a sign-in link to a new address makes its account on first "
                         "use; closed: only accounts added by `paperwire user add` sign in"},
    )
    signin_client_limit: int = field(
        default=10,
        metadata={"parse": _per_hour,
                  "doc": "sign-in link requests one client (IP address) may make an hour"},
    )
    vote_limit: int = field(
        default=60,
        metadata={"parse": _per_hour,
                  "doc": "upvote and save changes one account may make an hour"},
    )
    dev_outbox: bool = field(
        default=False,
        metadata={"parse": _bool,
                  "doc": "show the local outbox at /dev/outbox in serve (the demo on loopback "
                         "always does)"},
    )
    semantic: bool = field(
        default=True,
        metadata={"parse": _bool,
                  "doc": "off: search is lexical (BM25) only and the index writer embeds "
                         "nothing (a corpus too large to embed on the machine at hand)"},
    )
    embed_device: str = field(
        default="cpu",
        metadata={"parse": _embed_device,
                  "doc": "cpu, or cuda: the index writer embeds papers on an NVIDIA GPU "
                         "(ONNX Runtime's CUDA provider, onnxruntime-gpu) in large batches; "
                         "queries stay on the CPU"},
    )
    log_level: str = field(
        default="INFO", metadata={"parse": _log_level, "doc": "DEBUG, INFO, WARNING or ERROR"}
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'paperwire.db').resolve()}"

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or self.home / "models"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"


def setting_key(f: Any) -> str:
    """A setting's key in the TOML file (its environment variable is PAPERWIRE_ + KEY)."""
    return str(f.metadata.get("key", f.name))


def setting_names() -> list[str]:
    """The environment variable of every setting, plus PAPERWIRE_CONFIG."""
    return [PREFIX + setting_key(f).upper() for f in fields(Settings)] + [PREFIX + "CONFIG"]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    by_key = {setting_key(f): f.name for f in fields(Settings)}
    unknown = sorted(set(data) - set(by_key))
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting {unknown[0]!r}")
    return {by_key[k]: v for k, v in data.items()}


def _given(env: Mapping[str, str]) -> dict[str, Any]:
    """The settings given explicitly, by field name: the TOML file's, then the environment's."""
    raw: dict[str, Any] = {}
    home_env = env.get(PREFIX + "HOME")
    config_path = env.get(PREFIX + "CONFIG")
    if config_path:
        raw.update(_read_toml(Path(config_path).expanduser()))
    else:
        candidate = Path(home_env or ".paperwire") / "paperwire.toml"
        if candidate.is_file():
            raw.update(_read_toml(candidate))
    for f in fields(Settings):
        name = PREFIX + setting_key(f).upper()
        if name in env:
            raw[f.name] = env[name]
    return raw


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ``environ`` (default ``os.environ``)."""
    env = dict(os.environ if environ is None else environ)
    raw = _given(env)
    unknown = sorted(
        k for k in env
        if k.startswith(PREFIX) and k not in setting_names() and not k.startswith(PREFIX + "TEST_")
    )
    for name in unknown:
        logging.getLogger(__name__).warning("ignoring unknown setting %s", name)
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name not in raw:
            continue
        parse: Callable[[str], Any] = f.metadata["parse"]
        try:
            values[f.name] = parse(str(raw[f.name]))
        except ValueError as exc:
            name = PREFIX + setting_key(f).upper()
            raise ConfigError(f"{name}={raw[f.name]!r}: {exc}") from exc
    return Settings(**values)


def served_url(host: str, port: int) -> str:
    """The URL of a server bound to ``host``:``port``; for a wildcard address (all
    interfaces) the loopback one, the only address known to reach it."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def served_at(settings: Settings, host: str, port: int,
              environ: Mapping[str, str] | None = None) -> Settings:
    """``settings`` for a server bound to ``host``:``port``: unless PAPERWIRE_BASE_URL (or
    ``base_url`` in the file) is set, every absolute link (mails, feeds, the API) follows
    the address actually served rather than the default's port 8000."""
    if "base_url" in _given(dict(os.environ if environ is None else environ)):
        return settings
    if host in ("", "0.0.0.0", "::"):
        logging.getLogger(__name__).warning(
            "serving on all interfaces: links use %s; set PAPERWIRE_BASE_URL to the public "
            "address", served_url(host, port))
    return replace(settings, base_url=served_url(host, port))
