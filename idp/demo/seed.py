"""Demo data: one citizen and one agency client, created once."""

from __future__ import annotations

from sqlalchemy.orm import Session

from idp.accounts import service as accounts
from idp.agencies.models import Client
from idp.agencies.service import create_client
from idp.authn.password import PasswordHasher
from idp.settings import Settings

DEMO_CLIENT_ID = "demo-agency"
DEMO_PHONE = "+85512345678"
DEMO_PASSWORD = "kampot pepper river"  # printed at start-up; the demo database only


def seed(session: Session, settings: Settings, hasher: PasswordHasher) -> None:
    if accounts.find_by_phone(session, DEMO_PHONE) is None:
        accounts.create_citizen(
            session,
            hasher=hasher,
            phone_number=DEMO_PHONE,
            password=DEMO_PASSWORD,
            email="sokha.chan@example.com",
            given_name="Sokha",
            family_name="Chan",
            given_name_km="សុខា",
            family_name_km="ចាន់",
            phone_number_verified=True,
        )
    if session.get(Client, DEMO_CLIENT_ID) is None:
        client, _ = create_client(
            session,
            client_id=DEMO_CLIENT_ID,
            client_name="Demo Agency",
            redirect_uris=[settings.endpoint("/demo/callback")],
            post_logout_redirect_uris=[settings.endpoint("/demo")],
            token_endpoint_auth_method="none",
        )
        client.metadata_ = {
            "purpose": {
                "en": "To show how an agency service signs citizens in.",
                "km": "ដើម្បីបង្ហាញពីរបៀបដែលសេវាកម្មរបស់ស្ថាប័នភ្ជាប់ពលរដ្ឋចូល។",
            }
        }
