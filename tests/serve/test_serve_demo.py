#!/usr/bin/env python3
"""The demo signup form of `mailvet serve` (GET /) in headless Chromium,
driven over the DevTools protocol (cdp.py): type an address, leave the
field, and check what the page shows for a typo (and accepting the
suggestion), a disposable domain, a good address, a bad one, and an
address made of markup.  The server runs --offline.

usage: test_serve_demo.py PATH/TO/mailvet
Exit 77 (skipped) when Chromium is not installed.
"""
import json
import os
import sys

from cdp import Browser
from mvserve import Checker, Server

MAILVET = sys.argv[1]
CHROMIUM = os.environ.get("MAILVET_CHROMIUM", "/usr/bin/chromium")
t = Checker()
expect = t.expect

# What the page shows: the result box, as plain values.
STATE = """(() => {
  const q = (id) => document.getElementById(id);
  return {state: q('result').dataset.state, hidden: q('result').hidden,
          verdict: q('result').dataset.verdict || '',
          verdictText: q('verdict').textContent,
          reasons: Array.from(q('reasons').children).map(li => li.textContent),
          codes: Array.from(q('reasons').children).map(li => li.dataset.reason),
          suggestionShown: !q('suggestion').hidden,
          suggestionText: q('suggestion').textContent.replace(/\\s+/g, ' ').trim(),
          value: q('email').value,
          markup: q('result').querySelectorAll('b, img, script').length};
})()"""


def leave_field(b, value):
    """Type 'value' into the e-mail field and leave it; the result."""
    b.eval("document.getElementById('result').dataset.state = 'stale'")
    b.eval("""(() => {
      const i = document.getElementById('email');
      i.focus();
      i.value = %s;
      i.dispatchEvent(new Event('input', {bubbles: true}));
      i.dispatchEvent(new FocusEvent('blur'));
    })()""" % json.dumps(value))
    b.wait("document.getElementById('result').dataset.state === 'done'")
    return b.eval(STATE)


def test_page(b):
    ready = b.wait("document.readyState === 'complete' && "
                   "!!document.getElementById('email')")
    expect(ready, "the demo page loaded")
    ext = b.eval("Array.from(document.querySelectorAll("
                 "'script[src], link[href], img[src], iframe')).length")
    expect(ext == 0, "no external assets (%r)" % ext)

    r = leave_field(b, "user@gmial.com")
    expect(r["state"] == "done" and not r["hidden"], "typo: a result shown")
    expect(r["suggestionShown"] and
           r["suggestionText"] == "Did you mean user@gmail.com?",
           "typo: did you mean user@gmail.com? (%r)" % r["suggestionText"])
    expect("it looks like a typo" in r["reasons"],
           "typo: the reason in words (%r)" % r["reasons"])
    expect(r["verdict"] == "risky" and "may not work" in r["verdictText"],
           "typo: risky (%r)" % r["verdictText"])
    # One click accepts the suggestion and checks it.
    b.eval("document.getElementById('result').dataset.state = 'stale';"
           "document.getElementById('suggestion-accept').click()")
    b.wait("document.getElementById('result').dataset.state === 'done'")
    r = b.eval(STATE)
    expect(r["value"] == "user@gmail.com", "accepting fills the field "
           "(%r)" % r["value"])
    # "user" is a role local part: risky still, but no typo any more.
    expect(r["verdict"] == "risky" and r["codes"] == ["role"] and
           not r["suggestionShown"],
           "accepted suggestion: checked again, no suggestion (%r)" % r)

    r = leave_field(b, "someone@mailinator.com")
    expect(r["verdict"] == "risky" and "disposable" in r["codes"] and
           "it is a disposable (throwaway) mail domain" in r["reasons"] and
           not r["suggestionShown"],
           "disposable: risky, said in words (%r)" % r)

    r = leave_field(b, "jane.doe@gmail.com")
    expect(r["verdict"] == "deliverable" and
           r["verdictText"] == "This address looks good." and
           r["reasons"] == [] and not r["suggestionShown"],
           "good address: looks good (%r)" % r)

    r = leave_field(b, "jane..doe@acme-widgets.com")
    expect(r["verdict"] == "undeliverable" and
           "two dots in a row are not allowed" in r["reasons"],
           "bad address: undeliverable, in words (%r)" % r)
    invalid = b.eval("document.getElementById('email')"
                     ".getAttribute('aria-invalid')")
    expect(invalid == "true", "bad address: field marked invalid")
    # Submitting with an undeliverable address is refused.
    b.eval("document.getElementById('signup-button').click()")
    out = b.wait("document.getElementById('outcome').textContent")
    expect(out == "Please fix the e-mail address first.",
           "submit refused (%r)" % out)

    r = leave_field(b, "<b>x</b><img src=x>@acme-widgets.com")
    expect(r["state"] == "done" and r["markup"] == 0,
           "an address of markup is shown as text (%r)" % r)

    r = leave_field(b, "user@gmail.com")
    b.eval("document.getElementById('outcome').textContent = '';"
           "document.getElementById('signup-button').click()")
    out = b.wait("document.getElementById('outcome').textContent")
    expect(out.startswith("Signed up as user@gmail.com"),
           "submit with a good address (%r)" % out)


def main():
    if not os.access(CHROMIUM, os.X_OK):
        print("SKIP: %s is not installed (Debian package chromium, "
              "scripts/setup)" % CHROMIUM)
        return 77
    s = Server(MAILVET, ["--offline", "--rate-limit", "0"])
    try:
        b = Browser(s.url + "/", chromium=CHROMIUM)
        try:
            test_page(b)
        finally:
            b.close()
    finally:
        rc = s.stop()
    expect(rc == 0, "server exit 0 (got %r)" % rc)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
