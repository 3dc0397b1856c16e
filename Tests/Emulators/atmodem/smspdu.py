"""SMS PDU codec (3GPP TS 23.040 / 23.038), standard library only.

What it does, for the modem emulator and its tests:

* GSM 7-bit default alphabet and its extension table (escape 0x1B),
  septet packing with UDH fill bits, UCS-2 (UTF-16BE, surrogate pairs kept
  whole when splitting), 8-bit data.
* Addresses: international (TON 1, 0x91), national (TON 2, 0xA1), unknown
  (0x81) and alphanumeric (TON 5, 0xD0, GSM-7 packed).
* SMS-SUBMIT decoding (what the host sends with AT+CMGS / AT+CMGW), with
  every validity-period format and the UDH concatenation IEs (8-bit ref,
  IEI 0x00; 16-bit ref, IEI 0x08).
* SMS-DELIVER encoding (what the modem stores for an incoming message and
  returns with AT+CMGL / AT+CMGR), with SMSC time stamp and time zone, and
  automatic split into concatenated parts.
* SMS-DELIVER and SMS-STATUS-REPORT decoding, SMS-SUBMIT and
  SMS-STATUS-REPORT encoding (round trips in the tests, delivery reports).

PDUs handled here as `bytes` start with the SMSC address field (length
octet first), exactly like the hex strings exchanged in AT PDU mode;
`tpdu_offset()` gives where the TPDU starts (AT+CMGS=<length> counts only
the TPDU octets).
"""

from __future__ import annotations

import datetime as _dt
import re

# --------------------------------------------------------------------------
# GSM 03.38 alphabet
# --------------------------------------------------------------------------

# Default alphabet, index = septet value. 0x1B is the escape to the extension
# table (rendered here as '\x1b' and never produced by decoding).
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
assert len(GSM7_BASIC) == 128

# Extension table (after 0x1B). 0x0A is a page break (form feed).
GSM7_EXT = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

_BASIC_REV = {c: i for i, c in enumerate(GSM7_BASIC) if i != 0x1B}
_EXT_REV = {c: i for i, c in GSM7_EXT.items()}


class PDUError(ValueError):
    """Malformed PDU or unencodable content."""


def gsm7_encodable(text: str) -> bool:
    """True when every character exists in the default alphabet or its
    extension table."""
    return all(ch in _BASIC_REV or ch in _EXT_REV for ch in text)


def gsm7_septets(text: str) -> list[int]:
    """Text to septet values (extension characters take two septets)."""
    out: list[int] = []
    for ch in text:
        if ch in _BASIC_REV:
            out.append(_BASIC_REV[ch])
        elif ch in _EXT_REV:
            out.extend((0x1B, _EXT_REV[ch]))
        else:
            raise PDUError(f"character {ch!r} not in the GSM 7-bit alphabet")
    return out


def gsm7_decode_septets(septets: list[int]) -> str:
    """Septet values to text. An unknown escape sequence decodes to the
    basic character (23.038: 'display the default character'); a trailing
    lone escape is dropped."""
    out = []
    i = 0
    while i < len(septets):
        s = septets[i] & 0x7F
        if s == 0x1B:
            if i + 1 < len(septets):
                n = septets[i + 1] & 0x7F
                out.append(GSM7_EXT.get(n, GSM7_BASIC[n] if n != 0x1B else " "))
                i += 2
                continue
            i += 1
            continue
        out.append(GSM7_BASIC[s])
        i += 1
    return "".join(out)


def pack_septets(septets: list[int], fill_bits: int = 0) -> bytes:
    """Pack septets LSB first; `fill_bits` zero bits come first (they align
    the text after a UDH on a septet boundary)."""
    acc = 0
    nbits = fill_bits
    out = bytearray()
    for s in septets:
        acc |= (s & 0x7F) << nbits
        nbits += 7
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits > 0:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    """Inverse of pack_septets: read `count` septets after `fill_bits`.
    Missing high bits of the very last septet (a PDU one octet short, seen
    in the wild) read as zeros."""
    out = []
    bitpos = fill_bits
    for _ in range(count):
        byte, shift = divmod(bitpos, 8)
        if byte >= len(data):
            raise PDUError("user data shorter than its declared length")
        v = data[byte] >> shift
        if shift > 1 and byte + 1 < len(data):
            v |= data[byte + 1] << (8 - shift)
        out.append(v & 0x7F)
        bitpos += 7
    return out


def gsm7_encode(text: str, fill_bits: int = 0) -> tuple[bytes, int]:
    """Text to packed bytes; returns (bytes, number of septets)."""
    sep = gsm7_septets(text)
    return pack_septets(sep, fill_bits), len(sep)


# --------------------------------------------------------------------------
# Semi-octets, addresses, time stamps
# --------------------------------------------------------------------------

_BCD_DIGITS = "0123456789*#abc"


def _swap_bcd(digits: str) -> bytes:
    vals = []
    for d in digits:
        i = _BCD_DIGITS.find(d.lower())
        if i < 0:
            raise PDUError(f"bad digit {d!r} in number")
        vals.append(i)
    if len(vals) % 2:
        vals.append(0xF)
    return bytes(vals[i] | (vals[i + 1] << 4) for i in range(0, len(vals), 2))


def _unswap_bcd(data: bytes, ndigits: int | None = None) -> str:
    out = []
    for b in data:
        for nib in (b & 0xF, b >> 4):
            if nib == 0xF:
                continue
            out.append(_BCD_DIGITS[nib] if nib < 15 else "")
    s = "".join(out)
    return s[:ndigits] if ndigits is not None else s


TOA_UNKNOWN = 0x81
TOA_INTERNATIONAL = 0x91
TOA_NATIONAL = 0xA1
TOA_ALPHANUMERIC = 0xD0


def classify_number(number: str, toa: int | None = None) -> tuple[str, int]:
    """Pick the type of address for a sender/recipient string:
    '+33612...' -> international; digits -> national (0612...) or unknown;
    anything with letters -> alphanumeric. Returns (digits-or-name, toa)."""
    if toa is not None:
        return number.lstrip("+") if toa == TOA_INTERNATIONAL else number, toa
    if number.startswith("+") and number[1:].isdigit():
        return number[1:], TOA_INTERNATIONAL
    if re.fullmatch(r"[0-9*#]+", number):
        return number, TOA_NATIONAL if number.startswith("0") else TOA_UNKNOWN
    return number, TOA_ALPHANUMERIC


def encode_address(number: str, toa: int | None = None) -> bytes:
    """TP-OA / TP-DA field: length in semi-octets (useful digits), TOA,
    value."""
    value, toa = classify_number(number, toa)
    if (toa & 0x70) == 0x50:  # alphanumeric: GSM-7 packed, max 11 chars
        packed, nsep = gsm7_encode(value[:11])
        semi = (nsep * 7 + 3) // 4
        return bytes([semi, toa]) + packed
    return bytes([len(value), toa]) + _swap_bcd(value)


def decode_address(data: bytes, pos: int) -> tuple[str, int, int]:
    """Parse TP-OA/TP-DA at pos; returns (number, toa, new pos). International
    numbers get a leading '+'."""
    if pos + 2 > len(data):
        raise PDUError("address truncated")
    ndig = data[pos]
    toa = data[pos + 1]
    nbytes = (ndig + 1) // 2
    raw = data[pos + 2:pos + 2 + nbytes]
    if len(raw) < nbytes:
        raise PDUError("address truncated")
    if (toa & 0x70) == 0x50:
        nsep = ndig * 4 // 7
        text = gsm7_decode_septets(unpack_septets(raw, nsep))
        return text, toa, pos + 2 + nbytes
    digits = _unswap_bcd(raw, ndig)
    if (toa & 0x70) == 0x10 and digits:
        digits = "+" + digits
    return digits, toa, pos + 2 + nbytes


def encode_smsc(number: str | None) -> bytes:
    """SMSC address field as it prefixes a PDU in AT mode: length in octets
    (TOA included), TOA, BCD digits. Empty/None -> b'\\x00' (use default)."""
    if not number:
        return b"\x00"
    value, toa = classify_number(number)
    if toa == TOA_ALPHANUMERIC:
        raise PDUError("SMSC must be a number")
    body = bytes([toa]) + _swap_bcd(value)
    return bytes([len(body)]) + body


def decode_smsc(data: bytes) -> tuple[str, int]:
    """Returns (number or '', offset of the TPDU)."""
    if not data:
        raise PDUError("empty PDU")
    n = data[0]
    if n == 0:
        return "", 1
    if 1 + n > len(data):
        raise PDUError("SMSC field truncated")
    toa = data[1]
    digits = _unswap_bcd(data[2:1 + n])
    if (toa & 0x70) == 0x10 and digits:
        digits = "+" + digits
    return digits, 1 + n


def tpdu_offset(pdu: bytes) -> int:
    return decode_smsc(pdu)[1]


def _bcd_byte(v: int) -> int:
    return ((v % 10) << 4) | (v // 10)


def _unbcd_byte(b: int) -> int:
    lo, hi = b & 0xF, b >> 4
    return (lo if lo < 10 else 0) * 10 + (hi if hi < 10 else 0)


def encode_timestamp(ts: _dt.datetime) -> bytes:
    """TP-SCTS (7 octets). A naive datetime is taken as UTC+0."""
    off = ts.utcoffset() or _dt.timedelta(0)
    quarters = int(off.total_seconds()) // 900
    neg = quarters < 0
    q = abs(quarters)
    tz = _bcd_byte(q) | (0x08 if neg else 0)
    return bytes([
        _bcd_byte(ts.year % 100), _bcd_byte(ts.month), _bcd_byte(ts.day),
        _bcd_byte(ts.hour), _bcd_byte(ts.minute), _bcd_byte(ts.second), tz,
    ])


def decode_timestamp(data: bytes) -> _dt.datetime:
    if len(data) < 7:
        raise PDUError("time stamp truncated")
    y, mo, d, h, mi, s = (_unbcd_byte(b) for b in data[:6])
    tzb = data[6]
    q = _unbcd_byte(tzb & 0xF7)
    if tzb & 0x08:
        q = -q
    tz = _dt.timezone(_dt.timedelta(minutes=15 * q))
    try:
        return _dt.datetime(2000 + y if y < 70 else 1900 + y, mo, d, h, mi, s, tzinfo=tz)
    except ValueError as e:
        raise PDUError(f"bad time stamp: {e}") from None


# --------------------------------------------------------------------------
# Data coding scheme and user data header
# --------------------------------------------------------------------------

ENC_GSM7 = "gsm7"
ENC_8BIT = "8bit"
ENC_UCS2 = "ucs2"


def dcs_alphabet(dcs: int) -> tuple[str, bool]:
    """Return (alphabet, compressed) for a TP-DCS value (23.038 ch. 4)."""
    group = dcs >> 4
    if group <= 0x7:  # general data coding (00xx) and auto-deletion (01xx)
        comp = bool(dcs & 0x20)
        a = (dcs >> 2) & 3
        return ({0: ENC_GSM7, 1: ENC_8BIT, 2: ENC_UCS2}.get(a, ENC_GSM7), comp)
    if group in (0xC, 0xD):  # message waiting, discard/store, GSM7
        return ENC_GSM7, False
    if group == 0xE:  # message waiting, store, UCS2
        return ENC_UCS2, False
    if group == 0xF:  # data coding / message class
        return (ENC_8BIT if dcs & 0x04 else ENC_GSM7), False
    return ENC_GSM7, False  # reserved groups: treat as default alphabet


def dcs_for(encoding: str, msg_class: int | None = None) -> int:
    a = {ENC_GSM7: 0, ENC_8BIT: 1, ENC_UCS2: 2}[encoding]
    dcs = a << 2
    if msg_class is not None:
        dcs |= 0x10 | (msg_class & 3)
    return dcs


def parse_udh(udh: bytes) -> list[tuple[int, bytes]]:
    """UDH body (without its length octet) -> list of (IEI, data)."""
    ies = []
    i = 0
    while i + 2 <= len(udh):
        iei, ln = udh[i], udh[i + 1]
        ies.append((iei, bytes(udh[i + 2:i + 2 + ln])))
        i += 2 + ln
    return ies


def concat_info(ies: list[tuple[int, bytes]]) -> dict | None:
    """Concatenation IE (0x00 8-bit ref or 0x08 16-bit ref) as a dict."""
    for iei, data in ies:
        if iei == 0x00 and len(data) == 3:
            return {"ref": data[0], "ref_bits": 8, "total": data[1], "seq": data[2]}
        if iei == 0x08 and len(data) == 4:
            return {"ref": (data[0] << 8) | data[1], "ref_bits": 16,
                    "total": data[2], "seq": data[3]}
    return None


def concat_udh(ref: int, total: int, seq: int, ref_bits: int = 8) -> bytes:
    """Complete UDH (with its UDHL octet) for one concatenated part."""
    if ref_bits == 16:
        body = bytes([0x08, 4, (ref >> 8) & 0xFF, ref & 0xFF, total, seq])
    else:
        body = bytes([0x00, 3, ref & 0xFF, total, seq])
    return bytes([len(body)]) + body


def _decode_ud(data: bytes, pos: int, udl: int, udhi: bool, dcs: int) -> dict:
    """Decode TP-UDL/TP-UD starting at pos (pos points after UDL)."""
    alphabet, compressed = dcs_alphabet(dcs)
    ud = data[pos:]
    udh = b""
    ies: list[tuple[int, bytes]] = []
    if alphabet == ENC_GSM7 and not compressed:
        nbytes = (udl * 7 + 7) // 8
        if len(ud) < nbytes:
            raise PDUError("user data shorter than TP-UDL")
        ud = ud[:nbytes]
        skip_septets = 0
        fill = 0
        if udhi:
            if not ud:
                raise PDUError("UDHI set but no user data")
            udhl = ud[0]
            if 1 + udhl > len(ud):
                raise PDUError("UDH longer than user data")
            udh = ud[1:1 + udhl]
            hdr_bits = (1 + udhl) * 8
            skip_septets = (hdr_bits + 6) // 7
            fill = skip_septets * 7 - hdr_bits
            ud_text = ud[1 + udhl:]
        else:
            ud_text = ud
        nsep = udl - skip_septets
        if nsep < 0:
            raise PDUError("TP-UDL smaller than the UDH")
        text = gsm7_decode_septets(unpack_septets(ud_text, nsep, fill))
        raw = None
    else:
        if len(ud) < udl:
            raise PDUError("user data shorter than TP-UDL")
        ud = ud[:udl]
        body = ud
        if udhi:
            if not ud:
                raise PDUError("UDHI set but no user data")
            udhl = ud[0]
            if 1 + udhl > len(ud):
                raise PDUError("UDH longer than user data")
            udh = ud[1:1 + udhl]
            body = ud[1 + udhl:]
        raw = bytes(body)
        if alphabet == ENC_UCS2 and not compressed:
            if len(body) % 2:
                body = body[:-1]
            text = body.decode("utf-16-be", errors="replace")
        else:
            text = None
    if udh:
        ies = parse_udh(udh)
    return {
        "encoding": alphabet,
        "compressed": compressed,
        "text": text,
        "data_hex": raw.hex().upper() if raw is not None else None,
        "udh_hex": udh.hex().upper() if udh else None,
        "udh": [{"iei": iei, "data": d.hex().upper()} for iei, d in ies],
        "concat": concat_info(ies),
    }


def _encode_ud(text: str | None, encoding: str, udh: bytes = b"",
               data: bytes | None = None) -> tuple[int, bytes]:
    """Build (TP-UDL, TP-UD). `udh` includes its UDHL octet."""
    if encoding == ENC_GSM7:
        sep = gsm7_septets(text or "")
        if udh:
            hdr_bits = len(udh) * 8
            skip = (hdr_bits + 6) // 7
            fill = skip * 7 - hdr_bits
            return skip + len(sep), udh + pack_septets(sep, fill)
        return len(sep), pack_septets(sep)
    if encoding == ENC_UCS2:
        body = (text or "").encode("utf-16-be")
    else:
        body = data if data is not None else (text or "").encode("latin-1", "replace")
    ud = udh + body
    return len(ud), ud


# --------------------------------------------------------------------------
# Splitting text into parts
# --------------------------------------------------------------------------

def choose_encoding(text: str) -> str:
    return ENC_GSM7 if gsm7_encodable(text) else ENC_UCS2


def split_text(text: str, encoding: str, udh_len: int) -> list[str]:
    """Split text into parts fitting one SMS each once a UDH of `udh_len`
    octets (UDHL included; 0 = no UDH) is added. Escape sequences and
    surrogate pairs are never cut."""
    if encoding == ENC_GSM7:
        cap = 160 if udh_len == 0 else (1120 - udh_len * 8) // 7
        cost = lambda ch: 2 if ch in _EXT_REV else 1  # noqa: E731
    elif encoding == ENC_UCS2:
        cap = 140 if udh_len == 0 else 140 - udh_len
        cost = lambda ch: 4 if ord(ch) > 0xFFFF else 2  # noqa: E731
    else:
        cap = 140 if udh_len == 0 else 140 - udh_len
        cost = lambda ch: 1  # noqa: E731
    parts, cur, used = [], [], 0
    for ch in text:
        c = cost(ch)
        if used + c > cap:
            parts.append("".join(cur))
            cur, used = [], 0
        cur.append(ch)
        used += c
    parts.append("".join(cur))
    return parts


def fits_single(text: str, encoding: str) -> bool:
    return len(split_text(text, encoding, 0)) == 1


# --------------------------------------------------------------------------
# SMS-DELIVER
# --------------------------------------------------------------------------

def encode_deliver(sender: str, text: str | None, timestamp: _dt.datetime,
                   encoding: str = ENC_GSM7, smsc: str | None = None,
                   udh: bytes = b"", sender_toa: int | None = None,
                   pid: int = 0, msg_class: int | None = None,
                   more_messages: bool = False, status_report: bool = False,
                   data: bytes | None = None) -> bytes:
    """One SMS-DELIVER PDU (with SMSC prefix)."""
    fo = 0x00  # TP-MTI = 00 (SMS-DELIVER)
    if not more_messages:
        fo |= 0x04  # TP-MMS: 1 = no more messages waiting
    if status_report:
        fo |= 0x20  # TP-SRI
    if udh:
        fo |= 0x40  # TP-UDHI
    udl, ud = _encode_ud(text, encoding, udh, data)
    out = bytearray(encode_smsc(smsc))
    out.append(fo)
    out += encode_address(sender, sender_toa)
    out.append(pid)
    out.append(dcs_for(encoding, msg_class))
    out += encode_timestamp(timestamp)
    out.append(udl)
    out += ud
    return bytes(out)


def encode_deliver_parts(sender: str, text: str, timestamp: _dt.datetime,
                         encoding: str = "auto", smsc: str | None = None,
                         ref: int = 0, ref_bits: int = 8,
                         parts: str | int = "auto",
                         sender_toa: int | None = None) -> list[bytes]:
    """Split `text` into as many SMS-DELIVER PDUs as needed (concatenated
    with a UDH when more than one). `parts` = 'auto' or a forced count
    (>1 forces a UDH even for short text, split evenly)."""
    if encoding == "auto":
        encoding = choose_encoding(text)
    if parts == "auto" and fits_single(text, encoding):
        return [encode_deliver(sender, text, timestamp, encoding, smsc,
                               sender_toa=sender_toa)]
    udh_len = 6 if ref_bits == 8 else 7
    chunks = split_text(text, encoding, udh_len)
    if parts != "auto":
        n = int(parts)
        if n > len(chunks):
            # Force n parts: even split by characters (still within limits).
            step = max(1, -(-len(text) // n))
            chunks = [text[i:i + step] for i in range(0, len(text), step)]
            while len(chunks) < n:
                chunks.append("")
    total = len(chunks)
    if total > 255:
        raise PDUError("message too long (more than 255 parts)")
    return [encode_deliver(sender, chunk, timestamp, encoding, smsc,
                           udh=concat_udh(ref, total, i + 1, ref_bits),
                           sender_toa=sender_toa)
            for i, chunk in enumerate(chunks)]


# --------------------------------------------------------------------------
# SMS-SUBMIT
# --------------------------------------------------------------------------

def encode_submit(dest: str, text: str | None, encoding: str = ENC_GSM7,
                  mr: int = 0, smsc: str | None = None, udh: bytes = b"",
                  status_report: bool = False, vp_relative: int | None = 0xA7,
                  dest_toa: int | None = None, data: bytes | None = None) -> bytes:
    """One SMS-SUBMIT (mostly for tests: the host normally builds these)."""
    fo = 0x01
    if vp_relative is not None:
        fo |= 0x10  # TP-VPF = 10 (relative)
    if status_report:
        fo |= 0x20
    if udh:
        fo |= 0x40
    udl, ud = _encode_ud(text, encoding, udh, data)
    out = bytearray(encode_smsc(smsc))
    out += bytes([fo, mr & 0xFF])
    out += encode_address(dest, dest_toa)
    out += bytes([0, dcs_for(encoding)])
    if vp_relative is not None:
        out.append(vp_relative)
    out.append(udl)
    out += ud
    return bytes(out)


def decode_pdu(pdu: bytes, direction: str = "auto") -> dict:
    """Decode a PDU with SMSC prefix. `direction` = 'mo' (host->modem: MTI 01
    is SUBMIT), 'mt' (modem->host: MTI 00 DELIVER, 10 STATUS-REPORT) or
    'auto' (MTI 00 -> DELIVER, 01 -> SUBMIT, 10 -> STATUS-REPORT)."""
    smsc, pos = decode_smsc(pdu)
    if pos >= len(pdu):
        raise PDUError("no TPDU after the SMSC field")
    fo = pdu[pos]
    mti = fo & 0x03
    if mti == 0x01:
        return _decode_submit(pdu, pos, smsc)
    if mti == 0x00:
        return _decode_deliver(pdu, pos, smsc)
    if mti == 0x02:
        return _decode_status_report(pdu, pos, smsc)
    raise PDUError(f"unsupported TP-MTI {mti}")


def _need(pdu: bytes, pos: int, n: int) -> None:
    if pos + n > len(pdu):
        raise PDUError("PDU truncated")


def _decode_submit(pdu: bytes, pos: int, smsc: str) -> dict:
    fo = pdu[pos]
    _need(pdu, pos, 2)
    mr = pdu[pos + 1]
    dest, toa, p = decode_address(pdu, pos + 2)
    _need(pdu, p, 2)
    pid, dcs = pdu[p], pdu[p + 1]
    p += 2
    vpf = (fo >> 3) & 3
    vp = None
    if vpf == 2:
        _need(pdu, p, 1)
        vp = pdu[p]
        p += 1
    elif vpf in (1, 3):
        _need(pdu, p, 7)
        vp = pdu[p:p + 7].hex().upper()
        p += 7
    _need(pdu, p, 1)
    udl = pdu[p]
    p += 1
    ud = _decode_ud(pdu, p, udl, bool(fo & 0x40), dcs)
    return {
        "type": "SUBMIT", "smsc": smsc, "first_octet": fo,
        "reject_duplicates": bool(fo & 0x04), "status_report": bool(fo & 0x20),
        "reply_path": bool(fo & 0x80), "mr": mr,
        "number": dest, "toa": toa, "pid": pid, "dcs": dcs,
        "vpf": vpf, "vp": vp, "udl": udl, **ud,
    }


def _decode_deliver(pdu: bytes, pos: int, smsc: str) -> dict:
    fo = pdu[pos]
    sender, toa, p = decode_address(pdu, pos + 1)
    _need(pdu, p, 10)
    pid, dcs = pdu[p], pdu[p + 1]
    ts = decode_timestamp(pdu[p + 2:p + 9])
    udl = pdu[p + 9]
    ud = _decode_ud(pdu, p + 10, udl, bool(fo & 0x40), dcs)
    return {
        "type": "DELIVER", "smsc": smsc, "first_octet": fo,
        "more_messages": not bool(fo & 0x04), "status_report": bool(fo & 0x20),
        "number": sender, "toa": toa, "pid": pid, "dcs": dcs,
        "timestamp": ts.isoformat(), "udl": udl, **ud,
    }


def encode_status_report(mr: int, recipient: str, scts: _dt.datetime,
                         discharge: _dt.datetime, status: int = 0,
                         smsc: str | None = None) -> bytes:
    """SMS-STATUS-REPORT (TP-ST 0 = received by the SME)."""
    out = bytearray(encode_smsc(smsc))
    out += bytes([0x06, mr & 0xFF])  # MTI=10, MMS=1 (no more)
    out += encode_address(recipient)
    out += encode_timestamp(scts)
    out += encode_timestamp(discharge)
    out.append(status & 0xFF)
    return bytes(out)


def _decode_status_report(pdu: bytes, pos: int, smsc: str) -> dict:
    _need(pdu, pos, 2)
    mr = pdu[pos + 1]
    rcpt, toa, p = decode_address(pdu, pos + 2)
    _need(pdu, p, 15)
    return {
        "type": "STATUS-REPORT", "smsc": smsc, "mr": mr, "number": rcpt,
        "toa": toa, "timestamp": decode_timestamp(pdu[p:p + 7]).isoformat(),
        "discharge": decode_timestamp(pdu[p + 7:p + 14]).isoformat(),
        "status": pdu[p + 14],
    }


def parse_hex(s: str) -> bytes:
    s = s.strip()
    if len(s) % 2 or not re.fullmatch(r"[0-9A-Fa-f]*", s):
        raise PDUError("PDU is not an even-length hex string")
    return bytes.fromhex(s)


def reassemble(decoded_parts: list[dict]) -> str:
    """Join decoded parts (any order) by their concatenation sequence."""
    def key(d):
        c = d.get("concat")
        return c["seq"] if c else 0
    return "".join((d.get("text") or "") for d in sorted(decoded_parts, key=key))
