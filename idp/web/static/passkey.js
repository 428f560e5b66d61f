/* Passkeys (WebAuthn): get options from the page or the server, ask the browser's
   authenticator, and post its answer in the page's form. Forms marked data-passkey stay
   hidden (inside [data-passkey-ui][hidden]) where JavaScript or WebAuthn is missing. */
(function () {
  "use strict";
  var PKC = window.PublicKeyCredential;
  var conditional = null;

  function toBuffer(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer), bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) { return Object.assign({}, d, {id: toBuffer(d.id)}); });
  }

  function creationOptions(json) {
    if (PKC.parseCreationOptionsFromJSON) { return PKC.parseCreationOptionsFromJSON(json); }
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      user: Object.assign({}, json.user, {id: toBuffer(json.user.id)}),
      excludeCredentials: descriptors(json.excludeCredentials)
    });
  }

  function requestOptions(json) {
    if (PKC.parseRequestOptionsFromJSON) { return PKC.parseRequestOptionsFromJSON(json); }
    return Object.assign({}, json, {
      challenge: toBuffer(json.challenge),
      allowCredentials: descriptors(json.allowCredentials)
    });
  }

  function credentialJSON(cred) {
    if (typeof cred.toJSON === "function") {
      try { return JSON.stringify(cred.toJSON()); } catch (ignored) { /* below */ }
    }
    var r = cred.response;
    var out = {
      id: cred.id, rawId: toText(cred.rawId), type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: {clientDataJSON: toText(r.clientDataJSON)}
    };
    if (cred.authenticatorAttachment) { out.authenticatorAttachment = cred.authenticatorAttachment; }
    if (r.attestationObject) {
      out.response.attestationObject = toText(r.attestationObject);
      if (r.getTransports) { out.response.transports = r.getTransports(); }
    } else {
      out.response.authenticatorData = toText(r.authenticatorData);
      out.response.signature = toText(r.signature);
      if (r.userHandle) { out.response.userHandle = toText(r.userHandle); }
    }
    return JSON.stringify(out);
  }

  function field(form, name) {
    return form.querySelector('input[name="' + name + '"]');
  }

  function say(form, key) {
    var status = document.querySelector("[data-passkey-status]");
    if (status) {
      status.textContent = form.getAttribute("data-msg-" + key) || form.getAttribute("data-msg-failed");
      status.hidden = false;
    }
  }

  function options(form, kind) {
    var inline = form.getAttribute("data-options");
    if (inline) { return Promise.resolve(JSON.parse(inline)); }
    return fetch("/passkeys/options", {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: JSON.stringify({
        csrf_token: field(form, "csrf_token").value,
        purpose: kind === "register" ? "register" : "login"
      })
    }).then(function (response) {
      if (!response.ok) {
        var err = new Error("options " + response.status);
        if (response.status === 429) { err.name = "TooManyRequests"; }
        throw err;
      }
      return response.json();
    });
  }

  function answer(form, c, cred) {
    field(form, "c").value = c;
    field(form, "credential").value = credentialJSON(cred);
    form.submit();
  }

  function ask(form, kind, quietly) {
    return options(form, kind).then(function (opts) {
      if (kind === "register" || kind === "signup") {
        return navigator.credentials.create({publicKey: creationOptions(opts.publicKey)})
          .then(function (cred) { answer(form, opts.c, cred); });
      }
      var request = {publicKey: requestOptions(opts.publicKey)};
      if (quietly) {
        conditional = new AbortController();
        request.mediation = "conditional";
        request.signal = conditional.signal;
      }
      return navigator.credentials.get(request).then(function (cred) {
        if (cred) { answer(form, opts.c, cred); }
      });
    });
  }

  function failed(form, err) {
    var name = err && err.name;
    if (name === "NotAllowedError" || name === "AbortError") { say(form, "cancelled"); }
    else if (name === "InvalidStateError") { say(form, "exists"); }
    else if (name === "TooManyRequests") { say(form, "throttled"); }
    else { say(form, "failed"); }
  }

  function setup(form) {
    var kind = form.getAttribute("data-passkey");
    if (!usable) {
      if (form.hasAttribute("data-required")) { say(form, "unavailable"); }
      return;
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (conditional) { conditional.abort(); conditional = null; }
      ask(form, kind, false).catch(function (err) { failed(form, err); });
    });
    if (kind === "login" && PKC.isConditionalMediationAvailable) {
      PKC.isConditionalMediationAvailable().then(function (available) {
        if (available && !conditional) {
          ask(form, kind, true).catch(function (err) {
            if (!(err && err.name === "AbortError")) { failed(form, err); }
          });
        }
      });
    }
  }

  var usable = Boolean(PKC && navigator.credentials && window.fetch);
  if (usable) {
    document.querySelectorAll("[data-passkey-ui]").forEach(function (el) { el.hidden = false; });
  }
  document.querySelectorAll("form[data-passkey]").forEach(setup);
}());
