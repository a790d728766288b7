#!/usr/bin/env bash
# data/import.sh - regenerate mailvet's data tables from pinned npm packages.
#
#   data/import.sh          fetch the pinned packages (npm pack), rebuild
#                           disposable.txt, free.txt, role.txt and
#                           licenses/*.txt, validate everything, and refresh
#                           the generated block of SOURCES.md
#   data/import.sh --check  validate the files already in data/ (offline)
#
# Needs: bash, npm, node (>= 18), tar, sort, comm, grep, sed, awk, and the
# Public Suffix List at $PSL (Debian: apt-get install -y publicsuffix).
# typos.txt is hand-made: it is never rewritten, only validated.
#
# The result depends only on the pinned tarballs (checked against their
# sha512 integrity), the rules below and the PSL file, so running the
# script twice gives byte-identical files.  To update a list: bump its
# version and integrity in PACKAGES (npm view NAME@VER dist.integrity),
# set IMPORT_DATE, run the script, review `git diff data/`.
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
PSL=${PSL:-/usr/share/publicsuffix/public_suffix_list.dat}
IMPORT_DATE=2026-11-23

# name|version|SPDX licence expected in package.json|sha512 integrity|role
PACKAGES='
disposable-email-domains|1.0.62|MIT|sha512-LBQvhRw7mznQTPoyZbsmYeNOZt1pN5aCsx4BAU/3siVFuiM9f2oyKzUaB8v1jbxFjE3aYqYiMo63kAL4pHgfWQ==|disposable
mailchecker|6.0.21|MIT|sha512-Zd2Lgj4RMnC0IBbbSjnF76Wbd+kkgKMRONgV9yOMKJhj6hcKIAQtj9MrmiGnT2Db+Dy6MsMQoG2HEhPk2YPuGA==|disposable
disposable-email-domains-js|1.26.0|CC0-1.0|sha512-pSqALZAiuw6HDC1HqhhtvShRnniUNObQ6kzwa5N280XbyxxCPBZnQQ7fO6Uk/CNTi4cAaKE1UZl3Mc30Zfj4UA==|disposable
free-email-domains|1.2.26|MIT|sha512-HHk4Fp8ts63MDIpnd3LCbfUNAqj6Ea9kjXWUv15zbmEZRR7f7TtBLUvK56ZtyjR6voCdZ1xG1DNIme7yUl9vww==|free
free-email-domains|1.12.6|MIT|sha512-xMhrsOFOamJTx5URT+Zej83eVyoHLntZCNwXiZXkW6tYSF2Y6eVZLAOZ1u6jqFeLXRu3yJgzr3R29ChLIvt4LA==|free (curated array only)
role-based-email-addresses|3.1.0|MIT|sha512-3WfsnBtdfOqZNm7UcNhZdWz9LiG6XCeJsg/i2Bl8cW455Gk6L0lajFgOTLnDNHx6x07wvmxrNglP57+RQFOjXQ==|role
'
# Why free-email-domains is pinned twice: from 1.9.0 on, its domains.json
# also merges two *disposable* blocklists (castle, disposable-email-domains),
# so it is no longer a list of free-mail providers.  1.2.26 is the last
# release built from the HubSpot free-domain list alone; from 1.12.6 we take
# only the hand-curated DOMAINS array in scripts/postinstall.mjs (Japanese,
# Korean and Nordic ISPs, posteo.*, proton.me, tuta.io, ...).  The package's
# postinstall downloads data from the internet: it is never installed or run
# here, only unpacked.

# Domain syntax every domain list must match (lower-case ASCII, A-labels).
DOMAIN_RE='^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$'
# Role local parts: lower-case ASCII letters, digits, '.', '_', '-'.
ROLE_RE='^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$'

# ---------------------------------------------------------------------------
# Curated rules.  Entries are separated by blanks or newlines; '#' starts a
# comment.
# ---------------------------------------------------------------------------
strip_list() { sed -e 's/#.*//' | tr -s ' \t' '\n' | sed -e '/^$/d'; }

# KEEP_FREE: big, legitimate free-mail providers.  False positives hurt real
# users (a disposable verdict blocks a sign-up), so these are removed from
# disposable.txt even when an upstream blocklist names them, and they are
# always present in free.txt.  Every fix target in typos.txt must be here or
# in free.txt.
keep_free() { strip_list <<'EOF'
# Google
gmail.com googlemail.com
# Microsoft
outlook.com hotmail.com live.com msn.com windowslive.com
hotmail.co.uk hotmail.fr hotmail.de hotmail.it hotmail.es
live.co.uk live.fr outlook.fr outlook.de
# Yahoo
yahoo.com ymail.com rocketmail.com yahoo.co.uk yahoo.fr yahoo.de yahoo.it
yahoo.es yahoo.ca yahoo.com.au yahoo.com.br yahoo.co.in yahoo.co.jp
# AOL
aol.com aim.com
# Apple
icloud.com me.com mac.com
# Proton
protonmail.com protonmail.ch proton.me pm.me
# Tuta (Tutanota); keemail.me is one of its domains, listed by mailchecker
tutanota.com tutanota.de tuta.io tuta.com tutamail.com keemail.me
# GMX / WEB.DE (United Internet)
gmx.de gmx.net gmx.at gmx.ch gmx.com gmx.us gmx.co.uk gmx.fr gmx.es web.de
# mail.com (United Internet): its sign-up offers ~200 vanity domains.  The
# ones below are ordinary mail.com mailboxes; mailchecker lists many of them
# as disposable, which would flag every mail.com customer who picked one.
mail.com email.com usa.com post.com myself.com consultant.com writeme.com
dr.com techie.com engineer.com accountant.com cheerful.com iname.com
europe.com asia.com linuxmail.org alumni.com birdlover.com blader.com
collector.org contractor.net cutey.com discofan.com dutchmail.com
fastservice.com mexicomail.com mindless.com optician.com pacific-ocean.com
photographer.net presidency.com priest.com protestant.com
qualityservice.com salesperson.net snakebite.com uymail.com
# Mail.ru group, Yandex, Rambler
mail.ru inbox.ru list.ru bk.ru internet.ru
yandex.ru yandex.com yandex.ua yandex.by yandex.kz ya.ru rambler.ru
# China: Tencent, NetEase, Sina, Sohu, China Telecom (21cn), TOM, Alibaba,
# China Mobile (139)
qq.com foxmail.com 163.com 126.com yeah.net 188.com 139.com
sina.com sina.cn sohu.com 21cn.com tom.com aliyun.com
# Korea
naver.com daum.net hanmail.net
# Independent providers (hush.com is a Hushmail domain)
zoho.com zohomail.com fastmail.com fastmail.fm hushmail.com hush.com
posteo.de posteo.net vfemail.net safe-mail.net
# France
orange.fr wanadoo.fr free.fr laposte.net sfr.fr
# United Kingdom
btinternet.com virginmedia.com sky.com talktalk.net
# United States ISPs
comcast.net verizon.net att.net sbcglobal.net bellsouth.net cox.net
charter.net earthlink.net optonline.net
# Germany, Italy, Czechia, Poland, India
t-online.de freenet.de arcor.de
libero.it virgilio.it tiscali.it alice.it
seznam.cz centrum.cz wp.pl o2.pl onet.pl interia.pl
rediffmail.com sify.com
EOF
}

# NOT_DISPOSABLE: legitimate domains that are not free-mail providers (or
# whose free status we do not assert) but that an upstream blocklist names.
# They are removed from disposable.txt; they are not added to free.txt.
not_disposable() { strip_list <<'EOF'
# DuckDuckGo Email Protection: personal forwarding addresses that deliver to
# the user's real inbox, not throwaway mailboxes (mailchecker lists it).
duck.com
# National University of Singapore (mailchecker lists it).
nus.edu.sg
# Yandex's own infrastructure domain (mailchecker lists it).
yandex.net
# Sohu's paid VIP mailboxes (mailchecker lists it).
vip.sohu.com
# Hushmail domain (mailchecker lists it; hush.com is in KEEP_FREE).
hush.ai
EOF
}

# RFC 2142 ("Mailbox names for common services, roles and functions")
# defines these mailbox names; role.txt must contain every one of them even
# if the upstream package drops one.
rfc2142_roles() { strip_list <<'EOF'
# section 3: business-related mailbox names
info marketing sales support
# section 4: network operations mailbox names
abuse noc security
# section 5: support mailbox names for specific internet services
postmaster hostmaster usenet news webmaster www uucp ftp
EOF
}

# Further rules applied by the import (see build_lists below):
# * disposable.txt = union of the three disposable packages (for
#   disposable-email-domains also wildcard.json, whose entries mean "this
#   domain and every subdomain"), minus KEEP_FREE and NOT_DISPOSABLE, minus
#   entries that are themselves public suffixes (my.id, edu.pl, pp.ua,
#   ddns.net, ...): mailvet matches a listed domain *and its subdomains*, so
#   such an entry would flag every unrelated registrant under it.
# * free.txt = free-email-domains@1.2.26 + the curated array of 1.12.6 +
#   KEEP_FREE.  A domain that is also disposable (itself or a parent domain
#   in disposable.txt) is kept only in disposable.txt, unless it is in
#   KEEP_FREE, which never reaches disposable.txt.  Public suffixes and the
#   typo domains of typos.txt are removed too (a known misspelling of a big
#   provider is not a provider).
# * role.txt = role-based-email-addresses + RFC 2142 names.
# * Every domain is lower-cased and converted to A-labels (node
#   url.domainToASCII); entries that then fail DOMAIN_RE or the DNS length
#   limits (label <= 63, name <= 253 octets) are dropped.

# ---------------------------------------------------------------------------

die() { echo "import.sh: error: $*" >&2; exit 1; }

need_tools() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || die "'$t' not found in PATH"
    done
    [ -r "$PSL" ] || die "Public Suffix List not found at $PSL (apt-get install -y publicsuffix, or set PSL=)"
    node -e 'if (+process.versions.node.split(".")[0] < 18) process.exit(1)' ||
        die "node >= 18 is required"
}

psl_version() {
    local v
    v=$(dpkg-query -W -f='${Version}' publicsuffix 2>/dev/null || true)
    if [ -n "$v" ]; then echo "Debian package publicsuffix $v"; else echo "$PSL"; fi
}

# --------------------------------------------------------------------------
# Validation.  validate DIR checks DIR/{disposable,free,role,typos}.txt,
# and the hand-made unverifiable.txt when DIR has it.
# --------------------------------------------------------------------------
errors=0
fail() { echo "import.sh: FAIL: $*" >&2; errors=$((errors + 1)); }

# check_lines FILE REGEX: format rules shared by all one-column lists.
check_lines() {
    local f=$1 re=$2 name bad
    name=$(basename "$f")
    [ -s "$f" ] || { fail "$name: missing or empty"; return; }
    [ -z "$(tail -c 1 "$f")" ] || fail "$name: last line has no newline"
    if grep -q $'\r' "$f"; then fail "$name: contains CR characters"; fi
    if grep -n '^$' "$f" >/dev/null; then
        fail "$name: empty line(s) at $(grep -n '^$' "$f" | head -5 | cut -d: -f1 | tr '\n' ' ')"
    fi
    bad=$(grep -nvE "$re" "$f" | head -5 || true)
    [ -z "$bad" ] || fail "$name: entries not matching $re (first ones):"$'\n'"$bad"
    if grep -q '\.\.' "$f"; then fail "$name: entry with '..'"; fi
    sort -c -u "$f" 2>/dev/null || fail "$name: not sorted (LC_ALL=C) and unique: $(sort -c -u "$f" 2>&1 | head -1)"
}

validate() {
    local d=$1 both bad
    errors=0
    check_lines "$d/disposable.txt" "$DOMAIN_RE"
    check_lines "$d/free.txt" "$DOMAIN_RE"
    check_lines "$d/role.txt" "$ROLE_RE"
    if [ -e "$d/unverifiable.txt" ]; then
        check_lines "$d/unverifiable.txt" "$DOMAIN_RE"
    fi

    # typos.txt: "typo<TAB>fix", sorted and unique by the first column.
    local t="$d/typos.txt"
    if [ ! -s "$t" ]; then
        fail "typos.txt: missing or empty"
    else
        [ -z "$(tail -c 1 "$t")" ] || fail "typos.txt: last line has no newline"
        if grep -q $'\r' "$t"; then fail "typos.txt: contains CR characters"; fi
        bad=$(grep -nvE $'^[^\t]+\t[^\t]+$' "$t" | head -5 || true)
        [ -z "$bad" ] || fail "typos.txt: lines not of the form typo<TAB>fix:"$'\n'"$bad"
        sort -t "$(printf '\t')" -k1,1 -c -u "$t" 2>/dev/null ||
            fail "typos.txt: not sorted (LC_ALL=C) and unique by the first column: $(sort -t "$(printf '\t')" -k1,1 -c -u "$t" 2>&1 | head -1)"
    fi

    both=$(comm -12 "$d/disposable.txt" "$d/free.txt" 2>/dev/null | head -5 || true)
    [ -z "$both" ] || fail "domains in both disposable.txt and free.txt: $(tr '\n' ' ' <<<"$both")"

    # Rules that need the PSL or parent-domain matching: done in node.
    KEEP_FREE_FILE="$work/keep_free.txt" NOT_DISPOSABLE_FILE="$work/not_disposable.txt" \
    RFC2142_FILE="$work/rfc2142.txt" DIR="$d" PSL="$PSL" DOMAIN_RE="$DOMAIN_RE" \
        node - <<'EOF' || errors=$((errors + 1))
const fs = require('fs');
const env = process.env;
const read = f => fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
const psl = loadPsl(env.PSL);
const dom = new RegExp(env.DOMAIN_RE);
const tld = new RegExp('^(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$');
const disposable = new Set(read(env.DIR + '/disposable.txt'));
const free = new Set(read(env.DIR + '/free.txt'));
const role = new Set(read(env.DIR + '/role.txt'));
let bad = 0;
const fail = m => { console.error('import.sh: FAIL: ' + m); bad++; };
const show = a => a.slice(0, 10).join(' ') + (a.length > 10 ? ` ... (${a.length})` : '');
const disposableMatch = d => { // d or a parent domain is listed
  const l = d.split('.');
  for (let i = 0; i < l.length - 1; i++) if (disposable.has(l.slice(i).join('.'))) return l.slice(i).join('.');
  return null;
};
function loadPsl(file) {
  const rules = new Set(), wild = new Set(), exc = new Set();
  for (let l of fs.readFileSync(file, 'utf8').split('\n')) {
    l = l.trim().split(/\s/)[0];
    if (!l || l.startsWith('//')) continue;
    l = require('url').domainToASCII(l) || l;
    if (l.startsWith('*.')) wild.add(l.slice(2));
    else if (l.startsWith('!')) exc.add(l.slice(1));
    else rules.add(l);
  }
  return { has: d => rules.has(d) || (!exc.has(d) && d.includes('.') && wild.has(d.slice(d.indexOf('.') + 1))) };
}

let x;
x = [...disposable].filter(d => psl.has(d));
if (x.length) fail('disposable.txt lists public suffixes: ' + show(x));
x = [...free].filter(d => psl.has(d));
if (x.length) fail('free.txt lists public suffixes: ' + show(x));
x = [...free].filter(d => disposableMatch(d)).map(d => `${d}(${disposableMatch(d)})`);
if (x.length) fail('free.txt domains matched by disposable.txt (itself or parent): ' + show(x));
const keep = read(env.KEEP_FREE_FILE), notDisp = read(env.NOT_DISPOSABLE_FILE);
x = [...keep, ...notDisp].filter(d => !dom.test(d));
if (x.length) fail('KEEP_FREE/NOT_DISPOSABLE entries that are not domains: ' + show(x));
x = [...keep, ...notDisp].filter(d => disposableMatch(d));
if (x.length) fail('KEEP_FREE/NOT_DISPOSABLE domains matched by disposable.txt: ' + show(x));
x = keep.filter(d => !free.has(d));
if (x.length) fail('KEEP_FREE domains missing from free.txt: ' + show(x));
x = read(env.RFC2142_FILE).filter(r => !role.has(r));
if (x.length) fail('RFC 2142 names missing from role.txt: ' + show(x));

// typos.txt rules
const typos = read(env.DIR + '/typos.txt').map(l => l.split('\t'));
const typoKeys = new Set(typos.map(t => t[0]));
let nDomain = 0, nTld = 0;
for (const [typo, fix] of typos) {
  if (fix === undefined) continue; // format error already reported
  const where = `typos.txt: ${typo} -> ${fix}: `;
  if (typo === fix) { fail(where + 'typo equals fix'); continue; }
  if (typoKeys.has(fix)) fail(where + 'fix is itself listed as a typo (chain)');
  if (typo.startsWith('.') !== fix.startsWith('.')) { fail(where + 'mixes a TLD rule and a domain'); continue; }
  if (typo.startsWith('.')) { // top-level-domain slip
    nTld++;
    if (!tld.test(typo) || !tld.test(fix)) { fail(where + 'bad syntax'); continue; }
    const t = typo.slice(1), last = t.split('.').pop();
    if (psl.has(t) || psl.has(last)) fail(where + `"${psl.has(t) ? t : last}" is a real public suffix / TLD`);
    if (!psl.has(fix.slice(1))) fail(where + 'fix is not a public suffix');
  } else { // whole domain
    nDomain++;
    if (!dom.test(typo) || !dom.test(fix)) { fail(where + 'bad domain syntax'); continue; }
    if (free.has(typo)) fail(where + 'typo domain is listed in free.txt');
    if (psl.has(typo)) fail(where + 'typo domain is a public suffix');
    if (!free.has(fix)) fail(where + 'fix is not in free.txt');
    if (disposableMatch(fix)) fail(where + 'fix is matched by disposable.txt');
  }
}
if (nDomain === 0 || nTld === 0) fail('typos.txt: needs both whole-domain and TLD entries');
process.exit(bad ? 1 : 0);
EOF
    return 0
}

# --------------------------------------------------------------------------
# Import.
# --------------------------------------------------------------------------

# fetch NAME VERSION SPDX INTEGRITY: npm pack into $work/pkg/NAME@VERSION.
fetch() {
    local name=$1 ver=$2 spdx=$3 integrity=$4 dest="$work/pkg/$1@$2" tgz got lic
    mkdir -p "$dest"
    ( cd "$work" && npm pack --ignore-scripts --silent "$name@$ver" >"$work/npm.log" 2>&1 ) ||
        { cat "$work/npm.log" >&2; die "npm pack $name@$ver failed"; }
    tgz="$work/$name-$ver.tgz"
    [ -f "$tgz" ] || die "npm pack $name@$ver: $tgz not produced"
    got=$(node -e 'const c=require("crypto"),fs=require("fs");
        process.stdout.write("sha512-"+c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$tgz")
    [ "$got" = "$integrity" ] || die "$name@$ver: integrity mismatch (got $got)"
    tar -xzf "$tgz" -C "$dest" --no-same-owner
    lic=$(node -e 'process.stdout.write(String(require(process.argv[1]).license))' "$dest/package/package.json")
    [ "$lic" = "$spdx" ] || die "$name@$ver: package.json licence is '$lic', expected '$spdx' - review before importing"
    echo "  $name@$ver  $lic  ok" >&2
}

build_lists() {
    PKG="$work/pkg" OUT="$work/out" PSL="$PSL" DOMAIN_RE="$DOMAIN_RE" ROLE_RE="$ROLE_RE" \
    KEEP_FREE_FILE="$work/keep_free.txt" NOT_DISPOSABLE_FILE="$work/not_disposable.txt" \
    RFC2142_FILE="$work/rfc2142.txt" TYPOS_FILE="$HERE/typos.txt" \
        node - <<'EOF'
const fs = require('fs'), url = require('url'), path = require('path');
const env = process.env, P = env.PKG, OUT = env.OUT;
const read = f => fs.readFileSync(f, 'utf8');
const lines = f => read(f).split('\n').filter(Boolean);
const json = f => JSON.parse(read(path.join(P, f)));
const dom = new RegExp(env.DOMAIN_RE), roleRe = new RegExp(env.ROLE_RE);
const die = m => { console.error('import.sh: error: ' + m); process.exit(1); };
const sorted = s => [...s].sort(); // code-unit order == LC_ALL=C for ASCII
const report = {};

// --- PSL -----------------------------------------------------------------
const rules = new Set(), wild = new Set(), exc = new Set();
for (let l of read(env.PSL).split('\n')) {
  l = l.trim().split(/\s/)[0];
  if (!l || l.startsWith('//')) continue;
  l = url.domainToASCII(l) || l;
  if (l.startsWith('*.')) wild.add(l.slice(2));
  else if (l.startsWith('!')) exc.add(l.slice(1));
  else rules.add(l);
}
const isSuffix = d => rules.has(d) || (!exc.has(d) && d.includes('.') && wild.has(d.slice(d.indexOf('.') + 1)));

// --- normalisation ---------------------------------------------------------
function normalise(list, what) {
  const out = new Set(), converted = [], dropped = [];
  for (const raw of list) {
    if (typeof raw !== 'string') { dropped.push(String(raw)); continue; }
    let d = raw.trim().toLowerCase().replace(/\.$/, '');
    if (/[^\x00-\x7f]/.test(d)) {
      const a = url.domainToASCII(d);
      if (a) converted.push(`${raw} -> ${a}`);
      d = a;
    }
    const ok = d && dom.test(d) && d.length <= 253 && d.split('.').every(l => l.length <= 63);
    if (ok) out.add(d); else dropped.push(raw);
  }
  report[what] = { converted, dropped };
  return out;
}

// --- sources -----------------------------------------------------------------
const src = {};
// disposable-email-domains: index.json (exact) + wildcard.json (domain and subdomains)
src.ivolo = [...json('disposable-email-domains@1.0.62/package/index.json'),
             ...json('disposable-email-domains@1.0.62/package/wildcard.json')];
// mailchecker: the list is the literal `new Set([...])` in platform/node/index.js
{
  const js = read(path.join(P, 'mailchecker@6.0.21/package/platform/node/index.js'));
  const m = js.match(/var blacklist\s*=\s*new Set\((\[[^\]]*\])\)/);
  if (!m) die('mailchecker: blacklist literal not found (package layout changed?)');
  src.mailchecker = JSON.parse(m[1]);
}
// disposable-email-domains-js: the CC0 disposable-email-domains blocklist
src.cc0 = json('disposable-email-domains-js@1.26.0/package/dist/dict/disposable_email_blocklist.json');
// free-email-domains@1.2.26: domains.json
src.free = json('free-email-domains@1.2.26/package/domains.json');
// free-email-domains@1.12.6: only the curated DOMAINS array of postinstall.mjs
{
  const js = read(path.join(P, 'free-email-domains@1.12.6/package/scripts/postinstall.mjs'));
  const m = js.match(/const DOMAINS = \[([^\]]*)\]/);
  if (!m) die('free-email-domains@1.12.6: DOMAINS array not found');
  src.freeCurated = [...m[1].matchAll(/'([^']*)'/g)].map(x => x[1]);
  if (src.freeCurated.length < 100) die('free-email-domains@1.12.6: DOMAINS array suspiciously short');
}
// role-based-email-addresses: module.exports is an array of strings
src.role = require(path.join(P, 'role-based-email-addresses@3.1.0/package/src/index.js'));
for (const [k, v] of Object.entries(src))
  if (!Array.isArray(v) || v.length === 0) die(`source ${k} is empty or not an array`);

const keepFree = new Set(lines(env.KEEP_FREE_FILE));
const notDisposable = new Set(lines(env.NOT_DISPOSABLE_FILE));
const rfc2142 = lines(env.RFC2142_FILE);
const typoDomains = new Set(lines(env.TYPOS_FILE).map(l => l.split('\t')[0]).filter(t => !t.startsWith('.')));

// --- disposable ----------------------------------------------------------
const dispRaw = normalise([...src.ivolo, ...src.mailchecker, ...src.cc0], 'disposable');
const disposable = new Set();
const removedKeep = [], removedNot = [], removedSuffix = [];
for (const d of dispRaw) {
  if (keepFree.has(d)) removedKeep.push(d);
  else if (notDisposable.has(d)) removedNot.push(d);
  else if (isSuffix(d)) removedSuffix.push(d);
  else disposable.add(d);
}
const disposableMatch = d => {
  const l = d.split('.');
  for (let i = 0; i < l.length - 1; i++) if (disposable.has(l.slice(i).join('.'))) return true;
  return false;
};
// A KEEP_FREE/NOT_DISPOSABLE domain under a listed parent cannot be fixed
// by removing the child: a human has to decide.
for (const d of [...keepFree, ...notDisposable])
  if (disposableMatch(d)) die(`${d} is matched by a parent domain in the disposable list; review the rules`);

// --- free ------------------------------------------------------------------
const freeRaw = normalise([...src.free, ...src.freeCurated], 'free');
const free = new Set(), freeDisposable = [], freeTypo = [], freeSuffix = [];
for (const d of freeRaw) {
  if (keepFree.has(d)) free.add(d);
  else if (disposableMatch(d)) freeDisposable.push(d);
  else if (typoDomains.has(d)) freeTypo.push(d);
  else if (isSuffix(d)) freeSuffix.push(d);
  else free.add(d);
}
const freeAdded = sorted(keepFree).filter(d => !freeRaw.has(d));
for (const d of freeAdded) free.add(d);

// --- role ------------------------------------------------------------------
const role = new Set(), roleDropped = [];
for (const r of src.role) {
  const x = String(r).trim().toLowerCase();
  if (roleRe.test(x) && !x.includes('..')) role.add(x); else roleDropped.push(r);
}
const roleAdded = rfc2142.filter(r => !role.has(r));
for (const r of rfc2142) role.add(r);

// --- write -----------------------------------------------------------------
fs.mkdirSync(OUT, { recursive: true });
const write = (f, s) => fs.writeFileSync(path.join(OUT, f), sorted(s).join('\n') + '\n');
write('disposable.txt', disposable);
write('free.txt', free);
write('role.txt', role);

const uniq = a => new Set(a).size;
Object.assign(report, {
  sources: {
    'disposable-email-domains@1.0.62': uniq(src.ivolo),
    'mailchecker@6.0.21': uniq(src.mailchecker),
    'disposable-email-domains-js@1.26.0': uniq(src.cc0),
    'free-email-domains@1.2.26': uniq(src.free),
    'free-email-domains@1.12.6 (curated array)': uniq(src.freeCurated),
    'role-based-email-addresses@3.1.0': uniq(src.role),
  },
  disposableUnion: dispRaw.size,
  removedKeep: sorted(removedKeep), removedNot: sorted(removedNot), removedSuffix: sorted(removedSuffix),
  freeUnion: freeRaw.size,
  freeDisposable: sorted(freeDisposable), freeTypo: sorted(freeTypo), freeSuffix: sorted(freeSuffix),
  freeAdded, roleDropped, roleAdded,
  counts: { disposable: disposable.size, free: free.size, role: role.size },
});
fs.writeFileSync(path.join(OUT, 'report.json'), JSON.stringify(report, null, 1));
EOF
}

mit_text() { cat <<'EOF'
MIT License

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
EOF
}

# Licence texts, copied verbatim from the tarballs.
copy_licenses() {
    local L="$work/out/licenses" p="$work/pkg"
    mkdir -p "$L"
    {
        echo "disposable-email-domains@1.0.62 ships no LICENSE file; package.json, component.json"
        echo "and composer.json declare \"MIT\" and name no copyright holder (composer.json lists"
        echo "Ilya Volodarsky as maintainer).  The licence section of its Readme.md, verbatim:"
        echo
        sed -n '/^# License/,$p' "$p/disposable-email-domains@1.0.62/package/Readme.md"
        echo
        echo "----------------------------------------------------------------------"
        echo "For reference, the text of the licence the package declares (SPDX \"MIT\"):"
        echo
        mit_text
    } >"$L/disposable-email-domains.txt"
    grep -q 'WITHOUT WARRANTY' "$L/disposable-email-domains.txt" ||
        die "disposable-email-domains: licence section not found in Readme.md"
    cat "$p/mailchecker@6.0.21/package/LICENSE" >"$L/mailchecker.txt"
    cat "$p/disposable-email-domains-js@1.26.0/package/LICENSE" >"$L/disposable-email-domains-js.txt"
    cmp -s "$p/free-email-domains@1.2.26/package/LICENSE.md" "$p/free-email-domains@1.12.6/package/LICENSE.md" ||
        die "free-email-domains: LICENSE.md differs between 1.2.26 and 1.12.6; review"
    cat "$p/free-email-domains@1.2.26/package/LICENSE.md" >"$L/free-email-domains.txt"
    cat "$p/role-based-email-addresses@3.1.0/package/LICENSE" >"$L/role-based-email-addresses.txt"
}

# Rewrite the block between the markers in SOURCES.md from report.json.
update_sources() {
    local s="$HERE/SOURCES.md"
    { grep -q '^<!-- BEGIN GENERATED' "$s" && grep -q '^<!-- END GENERATED' "$s"; } ||
        die "SOURCES.md lacks the <!-- BEGIN GENERATED --> / <!-- END GENERATED --> markers"
    REPORT="$work/out/report.json" SOURCES="$s" DATA="$HERE" IMPORT_DATE="$IMPORT_DATE" \
    PSL_VERSION="$(psl_version)" PACKAGES="$PACKAGES" node - <<'EOF'
const fs = require('fs'), env = process.env;
const r = JSON.parse(fs.readFileSync(env.REPORT, 'utf8'));
const count = f => fs.readFileSync(`${env.DATA}/${f}`, 'utf8').split('\n').filter(Boolean).length;
const list = a => a.length ? a.map(x => '`' + x + '`').join(', ') : '(none)';
const o = [];
o.push('<!-- BEGIN GENERATED by data/import.sh; do not edit by hand -->');
o.push('');
o.push(`Imported ${env.IMPORT_DATE}; public suffix data: ${env.PSL_VERSION}.`);
o.push('');
o.push('| file | entries |', '| --- | ---: |');
for (const f of ['disposable.txt', 'free.txt', 'role.txt', 'typos.txt']) o.push(`| \`${f}\` | ${count(f)} |`);
o.push('');
o.push('| npm package | version | licence (SPDX) | integrity | used for | entries in package |',
       '| --- | --- | --- | --- | --- | ---: |');
const src = r.sources;
for (const line of env.PACKAGES.split('\n').filter(Boolean)) {
  const [name, ver, spdx, integ, use] = line.split('|');
  const key = Object.keys(src).find(k => k.startsWith(`${name}@${ver}`));
  o.push(`| \`${name}\` | ${ver} | ${spdx} | \`${integ.slice(0, 23)}…\` | ${use} | ${key ? src[key] : ''} |`);
}
o.push('');
o.push('What the import changed:');
o.push('');
o.push(`- disposable: union of the sources after normalisation ${r.disposableUnion}; ` +
       `written ${r.counts.disposable}.`);
o.push(`  - IDN entries converted to A-labels (${r.disposable.converted.length}): ${list(r.disposable.converted)}`);
o.push(`  - dropped as invalid (${r.disposable.dropped.length}): ${list(r.disposable.dropped)}`);
o.push(`  - removed, big legitimate free-mail providers (KEEP_FREE) (${r.removedKeep.length}): ${list(r.removedKeep)}`);
o.push(`  - removed, legitimate non-disposable domains (NOT_DISPOSABLE) (${r.removedNot.length}): ${list(r.removedNot)}`);
o.push(`  - removed, entries that are public suffixes (${r.removedSuffix.length}): ${list(r.removedSuffix)}`);
o.push(`- free: union of the sources after normalisation ${r.freeUnion}; written ${r.counts.free}.`);
o.push(`  - IDN entries converted (${r.free.converted.length}): ${list(r.free.converted)}`);
o.push(`  - dropped as invalid (${r.free.dropped.length}): ${list(r.free.dropped)}`);
o.push(`  - moved to disposable only (also listed as disposable, not in KEEP_FREE): ${r.freeDisposable.length} domains` +
       ` (${list(r.freeDisposable.slice(0, 25))}${r.freeDisposable.length > 25 ? ', …' : ''})`);
o.push(`  - removed, typo domains from typos.txt (${r.freeTypo.length}): ${list(r.freeTypo)}`);
o.push(`  - removed, public suffixes (${r.freeSuffix.length}): ${list(r.freeSuffix)}`);
o.push(`  - added from KEEP_FREE, not in the sources (${r.freeAdded.length}): ${list(r.freeAdded)}`);
o.push(`- role: written ${r.counts.role}; dropped as invalid (${r.roleDropped.length}): ${list(r.roleDropped)}; ` +
       `RFC 2142 names added (${r.roleAdded.length}): ${list(r.roleAdded)}`);
o.push('');
o.push('<!-- END GENERATED -->');
const text = fs.readFileSync(env.SOURCES, 'utf8');
const re = /^<!-- BEGIN GENERATED[^\n]*\n[\s\S]*?^<!-- END GENERATED -->\n?/m;
fs.writeFileSync(env.SOURCES, text.replace(re, o.join('\n') + '\n'));
EOF
}

main() {
    local mode=${1:-import}
    need_tools node sort comm grep sed awk tar
    work=$(mktemp -d "${TMPDIR:-/tmp}/mailvet-import.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    keep_free >"$work/keep_free.txt"
    not_disposable >"$work/not_disposable.txt"
    rfc2142_roles >"$work/rfc2142.txt"

    case $mode in
    --check)
        validate "$HERE"
        [ "$errors" -eq 0 ] || die "$errors check(s) failed in $HERE"
        echo "data/ OK: disposable $(wc -l <"$HERE/disposable.txt"), free $(wc -l <"$HERE/free.txt")," \
            "role $(wc -l <"$HERE/role.txt"), typos $(wc -l <"$HERE/typos.txt")"
        ;;
    import)
        need_tools npm
        echo "fetching pinned packages:" >&2
        local name ver spdx integ
        while IFS='|' read -r name ver spdx integ _; do
            [ -n "$name" ] || continue
            fetch "$name" "$ver" "$spdx" "$integ"
        done <<<"$PACKAGES"
        build_lists
        copy_licenses
        # Validate the new lists together with the hand-made typos.txt
        # before anything in data/ is replaced.
        cp "$HERE/typos.txt" "$work/out/typos.txt"
        validate "$work/out"
        [ "$errors" -eq 0 ] || die "$errors check(s) failed; data/ left unchanged"
        mkdir -p "$HERE/licenses"
        local f
        for f in disposable.txt free.txt role.txt; do cp "$work/out/$f" "$HERE/$f"; done
        cp "$work/out/licenses/"*.txt "$HERE/licenses/"
        chmod 644 "$HERE/licenses/"*.txt "$HERE/disposable.txt" "$HERE/free.txt" "$HERE/role.txt"
        update_sources
        echo "written: disposable.txt $(wc -l <"$HERE/disposable.txt"), free.txt $(wc -l <"$HERE/free.txt")," \
            "role.txt $(wc -l <"$HERE/role.txt"); typos.txt $(wc -l <"$HERE/typos.txt") (validated)"
        ;;
    -h | --help) sed -n '2,19p' "$0" ;;
    *) die "unknown argument '$mode' (try --help)" ;;
    esac
}

main "$@"
