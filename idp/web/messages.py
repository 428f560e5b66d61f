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
    "verified_claims": N_(
        "Your identity as checked by an officer: your names, date of birth, sex and address, "
        "and how and when they were checked"
    ),
}


def item_text(key: str) -> str:
    """The English text of a consent item ("scope:email", "claim:name#km"), for translation."""
    kind, _, name = key.partition(":")
    table = SCOPE_TEXT if kind == "scope" else CLAIM_TEXT
    return table.get(name, name)


# the agency portal and the admin page
MESSAGES |= {
    "forbidden_title": N_("You cannot open this page"),
    "not_agency_member": N_(
        "This page is for the staff of agencies. Ask an administrator to add your account to "
        "your agency."
    ),
    "not_staff": N_("This page is for staff members with the right role."),
    "no_secret_title": N_("There is no secret to replace"),
    "no_secret": N_("This service signs in without a shared secret."),
    "agency_name_invalid": N_("Enter the agency's name, at most 200 characters."),
    "agency_sector_invalid": N_("Enter a host name such as moh.gov.kh, or leave it empty."),
    "agency_contacts_invalid": N_("Enter up to 10 email addresses, one per line."),
    "member_unknown": N_("Nobody has an account with this phone number. Ask them to sign up."),
}


# codes sent by SMS: sign-up, sign-in, recovery
MESSAGES |= {
    "code_title_signup": N_("Confirm your number"),
    "code_title_login": N_("Sign in with a code"),
    "code_title_mfa": N_("Enter the code"),
    "code_title_recovery": N_("Reset your password"),
    "code_title_phone": N_("Confirm your new number"),
    "code_page_expired_title": N_("This code page has expired"),
    "code_page_expired": N_(
        "Codes work only in the browser that asked for them, for a short time. Start again."
    ),
    "code_format": N_("Enter the 6 digits of the code."),
    "code_wrong": N_("This code is not correct. Check the SMS and try again."),
    "code_dead": N_("This code can no longer be used. Ask for a new code."),
    "code_expired": N_("This code has expired. Ask for a new code."),
    "sms_country": N_(
        "We cannot send SMS to numbers in this country. Use a Cambodian mobile number."
    ),
    "sms_not_mobile": N_("This number cannot receive SMS. Enter a mobile number."),
    "sms_cooldown": N_("We just sent an SMS to this number. Wait a minute, then try again."),
    "sms_number_limit": N_("Too many SMS were sent to this number. Try again later."),
    "sms_ip_limit": N_("Too many SMS were asked for from your network. Try again in an hour."),
    "sms_unavailable": N_("We cannot send SMS at the moment. Try again later."),
    "password_changed": N_("Your password has been changed. Sign in with the new password."),
    "registered": N_(
        "This number already has an account. Sign in, or use \u201cForgot your password?\u201d."
    ),
    "phone_same": N_("This is already your number. Enter the new one."),
    "phone_sign_in_again": N_(
        "For your safety, sign in again before you change your number, then come back here."
    ),
    "phone_changed": N_("Done: your account now uses the new number."),
    "sms_on": N_("Done: we will ask for a code after your password."),
    "sms_off": N_("Done: your password alone signs you in."),
    "sms_on_needs_verified": N_("Your phone number is not confirmed, so codes cannot be sent."),
    "sms_off_needs_code": N_(
        "To turn this off, sign out and sign in again with your password and a code."
    ),
}


# identity proofing, locked accounts and the staff pages (idp/web/identity.py, idp/admin/)
MESSAGES |= {
    "account_locked_title": N_("This account is locked"),
    "account_locked": N_(
        "An administrator locked this account. Contact the help desk, or visit an office "
        "with your national ID card."
    ),
    "nid_invalid": N_("Enter the number of your national ID card: 9 to 12 digits."),
    "evidence_names_invalid": N_(
        "Enter your given and family names in Khmer and in Latin letters, as on your card."
    ),
    "birthdate_invalid": N_("Enter your date of birth as on your card, for example 1990-04-17."),
    "sex_invalid": N_("Choose your sex as on your card."),
    "address_invalid": N_("Enter your province, district and commune."),
    "photo_missing": N_("Add a photo of your national ID card."),
    "photo_type": N_("The photo must be a JPEG or PNG image."),
    "photo_too_large": N_("The photo is too large. Use a smaller image."),
    "case_open": N_("Your identity check is already waiting for an officer."),
    "case_not_open": N_("This case has already been decided."),
    "own_case": N_("You cannot decide a case about your own account."),
    "second_officer": N_("A second officer must approve this case."),
    "duplicate_nid": N_(
        "Another account holds a verified identity with this national ID number. Reject "
        "the case, or recover that account for this person."
    ),
    "reason_required": N_("Give the reason the citizen will read, at most 500 characters."),
    "citizen_unknown": N_("No account matches."),
    "role_invalid": N_("Choose roles from the list."),
    "own_roles": N_("Ask another administrator to change your own roles."),
}


# passkeys (idp/web/passkeys.py, passkey_account.py, passkey_signup.py, admin/access.py)
MESSAGES |= {
    "passkey_expired_title": N_("This passkey page has expired"),
    "passkey_expired": N_(
        "Passkey requests work only in the browser that asked for them, for 5 minutes. "
        "Start signing in again."
    ),
    "passkey_signup_expired": N_(
        "Passkey requests work only in the browser that asked for them, for 5 minutes. "
        "Create your account again."
    ),
    "passkey_failed": N_(
        "We could not check this passkey. Try again, or sign in with your password or a code "
        "sent by SMS."
    ),
    "passkey_unknown": N_(
        "This passkey is not registered with us. Sign in with your password or a code sent "
        "by SMS, then add the passkey on your account page."
    ),
    "passkey_taken": N_("This passkey is already registered."),
    "passkey_needed": N_(
        "This service asks you to sign in with a passkey, and your account has none. Sign in "
        "another way, add a passkey on your account page, then return to the service."
    ),
    "passkey_name_invalid": N_("Give the passkey a name of at most 64 characters."),
    "passkey_not_found": N_("This passkey is not on your account."),
    "passkey_last": N_(
        "This is the only way into your account: add another passkey before removing it."
    ),
    "passkey_added": N_("Done: you can now sign in with this passkey."),
    "passkey_removed": N_("Done: the passkey was removed."),
    "passkey_after_password_on": N_("Done: we will ask for a passkey after your password."),
    "passkey_after_password_off": N_("Done: your password alone signs you in."),
    "passkey_none_yet": N_("Add a passkey first."),
    "passkey_needs_passkey": N_("To change this, sign out and sign in again with your passkey."),
    "staff_needs_passkey": N_(
        "Staff pages need a sign-in with a passkey. Sign in again with your passkey."
    ),
}

# the citizen's activity page and the staff audit log
MESSAGES |= {
    "bad_page_title": N_("This page does not exist"),
    "bad_page_number": N_("The page number is not valid. Go back to the first page."),
    "bad_audit_filter": N_(
        "A filter is not valid: dates are YYYY-MM-DD, and the other fields are at most 64 "
        "characters."
    ),
}
