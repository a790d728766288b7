"""Minimal DNS wire-format helpers for the test servers and tools in this
folder (faultdns.py, blackhole.py, dnsq.py).  Standard library only.

Parsing never trusts the input: every read is bounds-checked, compression
pointers are followed at most 64 times, and any malformation raises
DNSParseError (never IndexError, struct.error, UnicodeError, ...).
"""

import ipaddress
import struct

TYPES = {
    "A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16,
    "AAAA": 28, "SRV": 33, "OPT": 41, "ANY": 255,
}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
RCODES = {
    "NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3, "NOTIMP": 4,
    "REFUSED": 5,
}
RCODE_NAMES = {v: k for k, v in RCODES.items()}
CLASS_IN = 1

# header flag bits
QR = 0x8000
AA = 0x0400
TC = 0x0200
RD = 0x0100
RA = 0x0080


class DNSParseError(Exception):
    pass


def type_code(t):
    """'MX' / 'mx' / 'TYPE15' / '15' -> 15."""
    if isinstance(t, int):
        return t
    u = t.upper()
    if u in TYPES:
        return TYPES[u]
    if u.startswith("TYPE") and u[4:].isdigit():
        return int(u[4:])
    if u.isdigit():
        return int(u)
    raise ValueError("unknown RR type %r" % t)


def type_name(code):
    return TYPE_NAMES.get(code, "TYPE%d" % code)


def rcode_name(code):
    return RCODE_NAMES.get(code, "RCODE%d" % code)


# --------------------------------------------------------------------------
# names

def encode_name(name):
    """'a.b.' or 'a.b' -> wire labels.  '.' or '' is the root."""
    if name in (".", ""):
        return b"\x00"
    if name.endswith("."):
        name = name[:-1]
    out = bytearray()
    for label in name.split("."):
        raw = label.encode("ascii")
        if not 1 <= len(raw) <= 63:
            raise ValueError("bad label in %r" % name)
        out.append(len(raw))
        out += raw
    out.append(0)
    if len(out) > 255:
        raise ValueError("name too long: %r" % name)
    return bytes(out)


def _label_text(raw):
    """Presentation form of one label: printable ASCII kept, '.' and '\\'
    escaped, anything else as \\DDD."""
    s = []
    for b in raw:
        c = chr(b)
        if c in ".\\":
            s.append("\\" + c)
        elif 0x21 <= b <= 0x7E:
            s.append(c)
        else:
            s.append("\\%03d" % b)
    return "".join(s)


def _txt_text(raw):
    s = []
    for b in raw:
        c = chr(b)
        if c in '"\\':
            s.append("\\" + c)
        elif 0x20 <= b <= 0x7E:
            s.append(c)
        else:
            s.append("\\%03d" % b)
    return "".join(s)


def read_name(buf, off):
    """Read a (possibly compressed) name at off.  Returns (labels, next_off)
    where labels is a list of raw bytes labels and next_off is the offset
    just past the name at its original position."""
    labels = []
    jumps = 0
    end = None
    total = 1
    while True:
        if off >= len(buf):
            raise DNSParseError("name runs past the end")
        n = buf[off]
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(buf):
                raise DNSParseError("truncated compression pointer")
            ptr = ((n & 0x3F) << 8) | buf[off + 1]
            if end is None:
                end = off + 2
            jumps += 1
            if jumps > 64 or ptr >= len(buf):
                raise DNSParseError("bad compression pointer")
            off = ptr
            continue
        if n & 0xC0:
            raise DNSParseError("unsupported label type 0x%02x" % n)
        off += 1
        if n == 0:
            break
        if off + n > len(buf):
            raise DNSParseError("label runs past the end")
        labels.append(bytes(buf[off:off + n]))
        total += n + 1
        if total > 255:
            raise DNSParseError("name longer than 255 octets")
        off += n
    return labels, (end if end is not None else off)


def labels_to_text(labels):
    if not labels:
        return "."
    return ".".join(_label_text(l) for l in labels) + "."


# --------------------------------------------------------------------------
# messages

def build_query(qid, name, qtype, rd=True, edns_size=None):
    flags = RD if rd else 0
    arcount = 1 if edns_size else 0
    msg = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, arcount)
    msg += encode_name(name) + struct.pack("!HH", type_code(qtype), CLASS_IN)
    if edns_size:
        msg += opt_rr(edns_size)
    return msg


def opt_rr(udp_size=1232):
    return b"\x00" + struct.pack("!HHIH", TYPES["OPT"], udp_size, 0, 0)


def rr(owner_wire, rtype, ttl, rdata, rclass=CLASS_IN):
    return owner_wire + struct.pack("!HHIH", rtype, rclass, ttl,
                                    len(rdata)) + rdata


def rdata_a(addr):
    return ipaddress.IPv4Address(addr).packed


def rdata_aaaa(addr):
    return ipaddress.IPv6Address(addr).packed


def rdata_mx(pref, host):
    return struct.pack("!H", pref) + encode_name(host)


def rdata_soa(mname, rname, serial, refresh, retry, expire, minimum):
    return (encode_name(mname) + encode_name(rname) +
            struct.pack("!IIIII", serial, refresh, retry, expire, minimum))


def parse_header(buf):
    if len(buf) < 12:
        raise DNSParseError("shorter than a header (%d bytes)" % len(buf))
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", bytes(buf[:12]))
    return {
        "id": qid, "flags": flags, "qr": bool(flags & QR),
        "opcode": (flags >> 11) & 0xF, "aa": bool(flags & AA),
        "tc": bool(flags & TC), "rd": bool(flags & RD), "ra": bool(flags & RA),
        "rcode": flags & 0xF, "qdcount": qd, "ancount": an, "nscount": ns,
        "arcount": ar,
    }


def parse_question(buf):
    """For servers: header + the first question.  Returns (header, qlabels,
    qtype, qclass, raw_question_bytes, offset_after_question)."""
    h = parse_header(buf)
    if h["qdcount"] < 1:
        raise DNSParseError("no question")
    labels, off = read_name(buf, 12)
    if off + 4 > len(buf):
        raise DNSParseError("question truncated")
    qtype, qclass = struct.unpack("!HH", bytes(buf[off:off + 4]))
    off += 4
    return h, labels, qtype, qclass, bytes(buf[12:off]), off


def _parse_rdata(buf, rtype, off, rdlen):
    end = off + rdlen
    data = bytes(buf[off:end])
    try:
        if rtype == TYPES["A"] and rdlen == 4:
            return str(ipaddress.IPv4Address(data))
        if rtype == TYPES["AAAA"] and rdlen == 16:
            return str(ipaddress.IPv6Address(data))
        if rtype in (TYPES["NS"], TYPES["CNAME"], TYPES["PTR"]):
            labels, _ = read_name(buf, off)
            return labels_to_text(labels)
        if rtype == TYPES["MX"] and rdlen >= 3:
            pref = struct.unpack("!H", data[:2])[0]
            labels, _ = read_name(buf, off + 2)
            return "%d %s" % (pref, labels_to_text(labels))
        if rtype == TYPES["SOA"]:
            m, o = read_name(buf, off)
            r, o = read_name(buf, o)
            if o + 20 > end:
                raise DNSParseError("SOA truncated")
            nums = struct.unpack("!IIIII", bytes(buf[o:o + 20]))
            return "%s %s %s" % (labels_to_text(m), labels_to_text(r),
                                 " ".join(str(n) for n in nums))
        if rtype == TYPES["TXT"]:
            parts, i = [], 0
            while i < len(data):
                n = data[i]
                parts.append('"%s"' % _txt_text(data[i + 1:i + 1 + n]))
                i += 1 + n
            return " ".join(parts)
    except DNSParseError:
        raise
    except Exception as e:  # pragma: no cover - defensive
        raise DNSParseError("bad rdata: %s" % e)
    return "\\# %d %s" % (rdlen, data.hex())


def parse_message(buf):
    """Full parse for clients.  Returns the header dict plus 'question',
    'answer', 'authority', 'additional' (lists of dicts)."""
    msg = parse_header(buf)
    off = 12
    qs = []
    for _ in range(msg["qdcount"]):
        labels, off = read_name(buf, off)
        if off + 4 > len(buf):
            raise DNSParseError("question truncated")
        qt, qc = struct.unpack("!HH", bytes(buf[off:off + 4]))
        off += 4
        qs.append({"name": labels_to_text(labels), "type": type_name(qt),
                   "class": qc})
    msg["question"] = qs
    for sect, count in (("answer", msg["ancount"]),
                        ("authority", msg["nscount"]),
                        ("additional", msg["arcount"])):
        rrs = []
        for _ in range(count):
            labels, off = read_name(buf, off)
            if off + 10 > len(buf):
                raise DNSParseError("RR header truncated in %s" % sect)
            rt, rc, ttl, rdlen = struct.unpack("!HHIH", bytes(buf[off:off + 10]))
            off += 10
            if off + rdlen > len(buf):
                raise DNSParseError("RDATA truncated in %s" % sect)
            if rt == TYPES["OPT"]:
                data = "udp=%d" % rc
            else:
                data = _parse_rdata(buf, rt, off, rdlen)
            off += rdlen
            rrs.append({"name": labels_to_text(labels), "type": type_name(rt),
                        "class": rc, "ttl": ttl, "data": data})
        msg[sect] = rrs
    return msg


def has_opt(buf, off_after_question, header):
    """True when the additional section of a query carries an OPT RR
    (best effort: False on any malformation)."""
    try:
        off = off_after_question
        for _ in range(header["ancount"] + header["nscount"]):
            _, off = read_name(buf, off)
            if off + 10 > len(buf):
                return False
            rdlen = struct.unpack("!H", bytes(buf[off + 8:off + 10]))[0]
            off += 10 + rdlen
        for _ in range(header["arcount"]):
            _, off = read_name(buf, off)
            if off + 10 > len(buf):
                return False
            rt = struct.unpack("!H", bytes(buf[off:off + 2]))[0]
            if rt == TYPES["OPT"]:
                return True
            rdlen = struct.unpack("!H", bytes(buf[off + 8:off + 10]))[0]
            off += 10 + rdlen
    except DNSParseError:
        return False
    return False
