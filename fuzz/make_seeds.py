#!/usr/bin/env python3
"""Regenerate the seed corpus fuzz/corpus/syntax/.

One file per case, raw bytes, named by the SHA-1 of its content (as
libFuzzer names what it keeps, so equal inputs collapse into one file):
every row of the three syntax suites in tests/corpora/*.tsv (their
bytes come from `tests/corpora/check.py --hex`), plus the hand-made
seeds below for what those suites miss.  Existing files are kept, so
crash inputs added by hand stay.

  python3 fuzz/make_seeds.py
"""
import glob
import hashlib
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "corpus", "syntax")


def ace(ch, cap):
    """The longest A-label of 'ch' repeated that fits 'cap' octets."""
    best, k = None, 1
    while True:
        label = "xn--" + (ch * k).encode("punycode").decode("ascii")
        if len(label) > cap:
            return best
        best, k = label, k + 1


# Hand-made seeds: what the public suites lack (IDN, confusables, the
# trimming, hostile bytes, long inputs, provider rules, tables).
U = lambda s: s.encode("utf-8")
HAND = [
    U("j\u00f6rg@m\u00fcnchen.de"),                 # IDN, NFC local part
    U("x@xn--mnchen-3ya.de"),                       # A-label input
    U("x@xn--zz.com"),                              # bad Punycode
    U("x@XN--MNCHEN-3YA.DE"),                       # upper-case ACE
    U("x@p\u0430ypal.com"),                         # Cyrillic a
    U("x@\u0430\u0440\u0440\u04cf\u0435.com"),      # whole-script apple
    U("x@\uff47\uff4d\uff41\uff49\uff4c.com"),      # full-width gmail
    U("\uff58@gmail.com"),                          # full-width local
    U("\u7528\u6237@\u4f8b\u5b50.\u5e7f\u544a"),    # CJK both sides
    U("\u00df\u0390@stra\u00dfe.de"),               # case fold grows
    U("A\u030a@x.com"),                             # NFC composes
    U("\"john doe\"@example.org"),                  # quoted, reserved
    U("\"a\\\"b\\\\c\"@gmail.com"),                 # quoted pairs
    U("\"\"@x.com"),                                # empty quoted
    U("\"unterminated@x.com"),
    U("user@[192.0.2.1]"),
    U("user@[IPv6:2001:db8::1]"),
    U("user@[IPv6:::ffff:192.0.2.1]"),
    U("user@[IPv6:1:2:3:4:5:6:7:8]"),
    U("user@[IPv6:1:2:3:4:5:6:7::]"),
    U("user@[tag:general]"),
    U("Bob Smith <bob@gmail.com>"),                 # display name
    U("\"Bob\" <Bob.Smith+x@googlemail.com>"),
    b"bob@gmail.com\r\n",                           # CRLF, trimmed
    b"bob@gm\r\nail.com",                           # CRLF inside
    b" \tbob@gmail.com \t",
    b"\xc2\xa0\xef\xbb\xbfbob@gmail.com\xe2\x80\x8b",  # NBSP BOM ZWSP
    b"bob\x00@gmail.com",                           # NUL inside
    b"bob@gmail.com\x00",                           # NUL at the end
    b"x\x7f@gmail.com",                             # DEL
    b"x\xc2\x85@gmail.com",                         # C1 control (NEL)
    b"b\xc0\xafob@gmail.com",                       # overlong '/'
    b"x@\xe0\x80\xaf.com",                          # overlong, 3 bytes
    b"x@\xed\xa0\x80.com",                          # UTF-16 surrogate
    b"x@\xf4\x90\x80\x80.com",                      # past U+10FFFF
    b"x@caf\xc3",                                   # cut sequence
    U("Bob.Smith+news@googlemail.com"),             # provider rules
    U("b.o.b+tag@gmail.com"),
    U("x+y@outlook.com"),
    U("dave@gmial.com"),                            # typo
    U("dave@gmail.con"),                            # TLD typo
    U("dave@gmail"),                                # single label
    U("info+x@mailinator.com"),                     # role, disposable
    U("x@gmail.com."),                              # trailing dot
    U("x@a..com"),
    U("x@-a.com"),
    U("x@1.2.3.4"),
    U("x@a_b.com"),
    U("user(comment)@x.com"),
    U("a..b@x.com"),
    U("a@b@c.com"),
    U("x@localhost"),
    U("x@foo.onion"),
    U("x@foo.zzzzqq"),                              # unknown TLD
    U("a" * 64 + "@x.com"),                         # local at 64
    U("a" * 65 + "@x.com"),                         # local at 65
    U("x@" + "a" * 63 + ".com"),                    # label at 63
    U("x@" + "a" * 64 + ".com"),                    # label at 64
    U("x@" + ".".join(["b" * 62] * 4) + ".co"),     # domain near 253
    U("a" * 64 + "@" + ".".join(["b" * 58] * 4) + ".com"),  # whole 300
    U("\u00e4" * 32 + "@" + ".".join(["\u00fc" * 40] * 5) + ".de"),
    U("x@" + "\u00fc" * 70 + ".de"),                # U-label too long
    U("j\u00f6rg@m\u00fcnchen.de" * 100),           # over 1024 bytes
    U("x@" + ".".join([ace("\U00020000", 62)] * 3 +  # ASCII A-labels
                      [ace("\U00020000", 63)])),     # -> 900-byte U
    U("a" * 64 + "@" + ace("\u00e4", 63) + ".de"),
]


def tsv_rows():
    for tsv in sorted(glob.glob(os.path.join(ROOT, "tests", "corpora",
                                             "*.tsv"))):
        out = subprocess.run(
            [sys.executable, os.path.join(ROOT, "tests", "corpora",
                                          "check.py"), "--hex", tsv],
            check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            _mailbox, hexbytes = line.split("\t")
            yield bytes.fromhex(hexbytes)


def main():
    os.makedirs(OUT, exist_ok=True)
    new = total = 0
    seen = set()
    for data in list(tsv_rows()) + HAND:
        name = hashlib.sha1(data).hexdigest()
        if name in seen:
            continue
        seen.add(name)
        total += 1
        path = os.path.join(OUT, name)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            new += 1
    print("%s: %d seeds, %d new" % (os.path.relpath(OUT, ROOT), total, new))


if __name__ == "__main__":
    main()
