#!/usr/bin/env python3
"""Write data/examples/list.csv: a few hundred realistic contact rows with
every kind of problem `mailvet clean` handles (typos, disposable and role
addresses, bad syntax, display names, IDN, confusables, duplicates and
case/dot variants, reserved domains, quoted fields with commas, quotes
and line breaks, and malformed CSV rows).  Deterministic: a fixed seed,
so the committed file can be checked by running this again.

usage: data/examples/make-list.py > data/examples/list.csv
"""
import random
import sys

rng = random.Random(20240601)
FIRST = ["James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Anna",
         "Lukas", "Sophie", "Pierre", "Camille", "Ivan", "Olga", "Wei",
         "Yuki", "Priya", "Carlos", "Lucia", "Ahmed", "Fatima", "Emma"]
LAST = ["Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Wilson",
        "Mueller", "Schmidt", "Dubois", "Laurent", "Ivanov", "Wang", "Tanaka",
        "Kumar", "Patel", "Silva", "O'Brien", "Smith, Jr."]
FREE = ["gmail.com", "gmail.com", "gmail.com", "yahoo.com", "hotmail.com",
        "outlook.com", "gmx.de", "web.de", "orange.fr", "icloud.com"]
CORP = ["acme-widgets.com", "globex.io", "initech.co.uk", "umbrella-labs.de",
        "stark-industries.com", "wayne-enterprises.com", "hooli.com",
        "piedpiper.net", "vandelay.org", "soylent.fr"]
COUNTRY = ["US", "US", "GB", "DE", "FR", "CA", "IN", "JP", "BR", "ES"]
PROBLEMS = [
    ("{f}.{l}@gmial.com", "typo"), ("{f}{l}@hotmial.com", "typo"),
    ("{f}@yahoo.con", "typo"), ("{f}.{l}@gmail.co", "typo"),
    ("{f}@mailinator.com", "disposable"), ("{f}{l}@yopmail.com",
                                            "disposable"),
    ("info@{c}", "role"), ("sales@{c}", "role"), ("noreply@{c}", "role"),
    ("{f}..{l}@gmail.com", "syntax"), ("{f}.{l}gmail.com", "syntax"),
    ("{f}@@{c}", "syntax"), ("{f} {l}@{c}", "syntax"),
    ("{F} {L} <{f}.{l}@{c}>", "display name"), ("{f}@{c}.", "syntax"),
    ("{f}@localhost", "reserved"), ("{f}@example.com", "reserved"),
    ("{f}@test.test", "reserved"), ("jörg@münchen.de", "idn"),
    ("{f}@bücher.de", "idn"), ("{f}@pаypal.com", "confusable"),
    ("{f}@ｇｍａｉｌ.com", "full-width"), ("{f}@company", "single label"),
    ("\"{f} {l}\"@{c}", "quoted local part"), ("", "empty"),
]


def row(email, first, last, note=""):
    def q(v):
        if any(c in v for c in ',"\r\n'):
            return '"' + v.replace('"', '""') + '"'
        return v
    date = "20%02d-%02d-%02d" % (rng.randrange(15, 25), rng.randrange(1, 13),
                                 rng.randrange(1, 29))
    return ",".join([q(email), q(first), q(last), rng.choice(COUNTRY), date,
                     q(note)])


def main():
    out = ["email,first_name,last_name,country,signup_date,note"]
    seen = []
    for i in range(300):
        f, l = rng.choice(FIRST), rng.choice(LAST)
        fl, ll = f.lower(), l.lower().replace("'", "").split(",")[0]
        k = rng.randrange(100)
        note = ""
        if k < 30:
            tmpl, note = rng.choice(PROBLEMS)
            email = tmpl.format(f=fl, l=ll, F=f, L=l.split(",")[0],
                                c=rng.choice(CORP))
        elif k < 36 and seen:
            email = rng.choice(seen)
            email = rng.choice([email, email.upper(), " " + email])
            note = "duplicate"
        else:
            dom = rng.choice(FREE if k < 70 else CORP)
            email = "%s.%s%s@%s" % (fl, ll, rng.choice(["", "", "1984", "7"]),
                                    dom)
            seen.append(email)
            if k % 7 == 0:
                note = "called twice, said \"later\"\nfollow up in May"
        out.append(row(email, f, l, note))
    # malformed CSV rows: an open quote, the wrong width
    out.insert(120, 'broken@acme-widgets.com,"Unclosed,Quote,US,2020-01-01,')
    out.insert(200, "extra@globex.io,Too,Many,US,2021-02-02,,surplus")
    sys.stdout.write("\r\n".join(out) + "\r\n")


main()
