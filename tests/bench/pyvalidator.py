#!/usr/bin/python3
"""Reference: python-email-validator (Debian python3-email-validator),
syntax only, over one address per line on stdin; prints
"valid N invalid M".  Run with /usr/bin/python3 (the Debian module is not
on a pyenv interpreter's path)."""
import sys

from email_validator import EmailNotValidError, validate_email


def main():
    valid = invalid = 0
    stdin = open(sys.stdin.fileno(), encoding="utf-8", errors="surrogateescape",
                 newline="\n")
    for line in stdin:
        try:
            validate_email(line.rstrip("\r\n"), check_deliverability=False)
            valid += 1
        except (EmailNotValidError, UnicodeError):
            invalid += 1
    print(f"valid {valid} invalid {invalid}")


if __name__ == "__main__":
    main()
