"""Message keys used in code, mapped to the English text that the catalogs translate."""

from __future__ import annotations


def N_(text: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return text


MESSAGES = {
    "invalid_request_title": N_("This sign-in link is not valid"),
    "repeated_client_parameters": N_(
        "The link names the service more than once. Go back to the service and try again."
    ),
    "unknown_client": N_(
        "The service that sent you here is not registered. Go back to the service and "
        "contact its help desk."
    ),
    "client_not_active": N_(
        "This service may not use sign-in at the moment. Contact its help desk."
    ),
    "redirect_uri_mismatch": N_(
        "The service sent an address we do not know for it, so we cannot send you back. "
        "Go back to the service and contact its help desk."
    ),
    "request_expired_title": N_("This sign-in has expired"),
    "request_expired": N_("Go back to the service and start signing in again."),
    "logout_error_title": N_("We could not sign you out from this link"),
    "logout_bad_hint": N_("The link is damaged. Use Sign out on your account page instead."),
    "logout_client_mismatch": N_("The link is inconsistent. Use Sign out on your account page."),
    "logout_redirect_mismatch": N_(
        "The service asked to send you to an address we do not know. Use Sign out on your "
        "account page."
    ),
    "repeated_parameters": N_("The link is damaged. Go back to the service and try again."),
    "csrf_failed_title": N_("This form has expired"),
    "csrf_failed": N_("Go back, reload the page and try again."),
    "not_found_title": N_("Page not found"),
    "not_found": N_("Check the address, or go to the home page."),
    "server_error_title": N_("Something went wrong"),
    "server_error": N_("Please try again in a few minutes."),
    "method_title": N_("This page cannot be used that way"),
    "method": N_("Go back and use the buttons on the page."),
    "login_failed": N_("The phone number or password is not correct."),
    "login_throttled": N_("Too many attempts. Wait 15 minutes, then try again."),
    "phone_invalid": N_("Enter a mobile number, for example 012 345 678."),
    "phone_taken": N_("This phone number cannot be used. If it is yours, sign in instead."),
    "password_too_short": N_("Use at least 8 characters."),
    "password_too_long": N_("Use at most 128 characters."),
    "password_too_common": N_("This password is too common. Choose another one."),
    "password_contains_account_info": N_("Do not use your phone number in your password."),
    "passwords_differ": N_("The two passwords are not the same."),
    "email_invalid": N_("Enter a valid email address, or leave it empty."),
    "name_invalid": N_("A name is too long or has characters we cannot use."),
}

SCOPE_TEXT = {
    "profile": N_("Your name in Khmer and Latin letters, and your language"),
    "email": N_("Your email address"),
    "phone": N_("Your mobile phone number"),
    "address": N_("Your address"),
    "offline_access": N_("Access to this information while you are not signed in"),
}

CLAIM_TEXT = {
    "name": N_("Your full name in Latin letters"),
    "given_name": N_("Your given name in Latin letters"),
    "family_name": N_("Your family name in Latin letters"),
    "name#km": N_("Your full name in Khmer"),
    "given_name#km": N_("Your given name in Khmer"),
    "family_name#km": N_("Your family name in Khmer"),
    "locale": N_("Your language"),
    "updated_at": N_("When your profile last changed"),
    "email": N_("Your email address"),
    "email_verified": N_("Whether your email address is confirmed"),
    "phone_number": N_("Your mobile phone number"),
    "phone_number_verified": N_("Whether your phone number is confirmed"),
    "address": N_("Your address"),
}


def item_text(key: str) -> str:
    """The English text of a consent item ("scope:email", "claim:name#km"), for translation."""
    kind, _, name = key.partition(":")
    table = SCOPE_TEXT if kind == "scope" else CLAIM_TEXT
    return table.get(name, name)
