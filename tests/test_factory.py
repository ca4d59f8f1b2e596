"""The application factory and configuration."""

import pytest

from config import ProductionConfig
from schoolhealth import create_app


def test_default_config_is_not_testing(monkeypatch):
    monkeypatch.delenv("SCHOOLHEALTH_CONFIG", raising=False)
    assert not create_app().testing


def test_testing_config(app):
    assert app.testing


def test_production_refuses_development_secret(monkeypatch):
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", "dev-only-not-secret")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")


def test_production_accepts_real_secret(monkeypatch):
    monkeypatch.setattr(ProductionConfig, "SECRET_KEY", "x" * 64)
    app = create_app("production")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


def test_unknown_config_name():
    with pytest.raises(RuntimeError, match="Unknown configuration"):
        create_app("nonsense")
