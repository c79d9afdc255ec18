from pathlib import Path

import pytest

from paperwire.config import Settings, load_settings, setting_names
from paperwire.errors import ConfigError


def test_defaults_put_everything_under_home() -> None:
    s = load_settings({})
    assert s.home == Path(".paperwire")
    assert s.resolved_database_url.startswith("sqlite:///")
    assert s.resolved_database_url.endswith("/.paperwire/paperwire.db")
    assert s.base_url == "http://127.0.0.1:8000"


def test_environment_overrides(tmp_path: Path) -> None:
    s = load_settings({
        "PAPERWIRE_HOME": str(tmp_path),
        "PAPERWIRE_DATABASE_URL": "postgresql+psycopg://u@h/db",
        "PAPERWIRE_BASE_URL": "https://papers.example.org/",
        "PAPERWIRE_LOG_LEVEL": "debug",
    })
    assert s.home == tmp_path
    assert s.resolved_database_url == "postgresql+psycopg://u@h/db"
    assert s.base_url == "https://papers.example.org"
    assert s.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("PAPERWIRE_DATABASE_URL", "mysql://x", "sqlite:///"),
        ("PAPERWIRE_BASE_URL", "papers.example.org", "http"),
        ("PAPERWIRE_LOG_LEVEL", "loud", "DEBUG"),
        ("PAPERWIRE_HOME", " ", "empty"),
    ],
)
def test_bad_values_fail_with_one_clear_line(name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({name: value})
    message = str(info.value)
    assert name in message and fragment in message and "\n" not in message


def test_toml_file_in_home_then_env_wins(tmp_path: Path) -> None:
    (tmp_path / "paperwire.toml").write_text(
        'base_url = "https://from-file.example"\nlog_level = "WARNING"\n'
    )
    s = load_settings({"PAPERWIRE_HOME": str(tmp_path), "PAPERWIRE_LOG_LEVEL": "ERROR"})
    assert s.base_url == "https://from-file.example"
    assert s.log_level == "ERROR"


def test_toml_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("base_url = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"PAPERWIRE_CONFIG": str(bad)})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('colour = "blue"\n')
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings({"PAPERWIRE_CONFIG": str(unknown)})
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({"PAPERWIRE_CONFIG": str(tmp_path / "missing.toml")})


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    missing = [name for name in setting_names() if name not in readme]
    assert not missing, f"settings missing from README.md: {missing}"


def test_settings_fields_all_have_docs() -> None:
    from dataclasses import fields

    assert all(f.metadata.get("doc") for f in fields(Settings))


def test_mail_and_trending_settings(tmp_path: Path) -> None:
    s = load_settings({"PAPERWIRE_FROM": "Lab papers <papers@lab.example.org>",
                       "PAPERWIRE_TRENDING_WEIGHTS": "hf_upvotes=1, save=0",
                       "PAPERWIRE_DIGEST_SEND_RATE": "2.5"})
    assert s.mail_from == "Lab papers <papers@lab.example.org>"
    assert s.trending_weights == {"hf_upvotes": 1.0, "save": 0.0}
    assert s.digest_send_rate == 2.5
    assert "PAPERWIRE_FROM" in setting_names() and "PAPERWIRE_MAIL_FROM" not in setting_names()
    for name, value, message in [
        ("PAPERWIRE_FROM", "not an address", "must be an address"),
        ("PAPERWIRE_FROM", "a@b.org\r\nBcc: x@y.org", "one line"),
        ("PAPERWIRE_TRENDING_WEIGHTS", "hf_upvotes=many", "must be a number"),
        ("PAPERWIRE_SECRET_KEY", "short", "at least 16"),
        ("PAPERWIRE_DIGEST_SEND_RATE", "-1", "messages per second"),
    ]:
        with pytest.raises(ConfigError, match=message) as info:
            load_settings({name: value})
        assert str(info.value).startswith(name + "=")
    # in a TOML file the key is the setting's name without the prefix: `from`
    (tmp_path / "paperwire.toml").write_text('from = "Digest <d@example.org>"\n')
    assert load_settings({"PAPERWIRE_HOME": str(tmp_path)}).mail_from == "Digest <d@example.org>"
