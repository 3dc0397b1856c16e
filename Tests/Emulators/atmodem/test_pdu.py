"""Unit tests of the SMS PDU codec (smspdu.py)."""

import datetime as dt
import random

import pytest

import smspdu as s

CET = dt.timezone(dt.timedelta(hours=1))


# ---------------------------------------------------------------- GSM 7-bit

def test_every_basic_character_round_trips():
    text = "".join(c for i, c in enumerate(s.GSM7_BASIC) if i != 0x1B)
    packed, n = s.gsm7_encode(text)
    assert n == 127
    assert s.gsm7_decode_septets(s.unpack_septets(packed, n)) == text


def test_extension_table_characters_take_two_septets():
    for ch in "\f^{}\\[~]|€":
        assert s.gsm7_septets(ch) == [0x1B, s._EXT_REV[ch]]
    text = "Price: 5€ [ok] {x} ~ | \\ ^"
    packed, n = s.gsm7_encode(text)
    assert n == len(text) + sum(text.count(c) for c in "€[]{}~|\\^")
    assert s.gsm7_decode_septets(s.unpack_septets(packed, n)) == text


def test_unknown_escape_sequence_decodes_to_the_basic_character():
    # 23.038 6.2.1.1: an unknown extension code shows the default character.
    assert s.gsm7_decode_septets([0x1B, 0x41]) == "A"


def test_not_encodable():
    assert s.gsm7_encodable("Ça coûte 5€, où ça?") is False   # û is not GSM-7
    assert s.gsm7_encodable("Ça coute 5€, où?") is True
    assert s.gsm7_encodable("ç") is False  # only the capital Ç exists
    with pytest.raises(s.PDUError):
        s.gsm7_septets("😀")


def test_known_septet_packing():
    # The classic example of 3GPP TS 23.038 / countless tutorials.
    assert s.gsm7_encode("hellohello")[0].hex().upper() == "E8329BFD4697D9EC37"
    assert s.gsm7_encode("Hello")[0].hex().upper() == "C8329BFD06"


# -------------------------------------------------------------- known PDUs

def test_known_sms_deliver():
    pdu = bytes.fromhex("07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37")
    d = s.decode_pdu(pdu)
    assert d["type"] == "DELIVER"
    assert d["smsc"] == "+27381000015"
    assert d["number"] == "27838890001"
    assert d["text"] == "hellohello"
    assert d["timestamp"] == "1999-03-29T15:16:59+02:00"


def test_known_sms_submit():
    pdu = bytes.fromhex("0011000B916407281553F80000AA0AE8329BFD4697D9EC37")
    d = s.decode_pdu(pdu)
    assert d["type"] == "SUBMIT"
    assert d["smsc"] == ""
    assert d["number"] == "+46708251358"
    assert d["toa"] == 0x91
    assert d["vpf"] == 2 and d["vp"] == 0xAA
    assert d["text"] == "hellohello"
    assert s.tpdu_offset(pdu) == 1


def test_submit_as_gammu_sends_it():
    # Captured from `gammu sendsms TEXT +33612345678 -text "Hello [world] {€}"`
    # against the emulator (SMSC given explicitly, VP relative, MR 0).
    pdu = s.encode_submit("+33612345678", "Hello [world] {€}", smsc="+33689004000")
    d = s.decode_pdu(pdu)
    assert (d["number"], d["text"], d["encoding"]) == ("+33612345678", "Hello [world] {€}", "gsm7")
    assert d["smsc"] == "+33689004000"


def test_alphanumeric_sender_round_trip():
    ts = dt.datetime(2026, 11, 25, 10, 0, tzinfo=CET)
    pdu = s.encode_deliver("Orange", "Bonjour", ts)
    d = s.decode_pdu(pdu)
    assert d["number"] == "Orange" and d["toa"] == 0xD0
    # 6 chars = 42 bits = 11 semi-octets, as 23.040 9.1.2.5 counts them.
    assert pdu[s.tpdu_offset(pdu) + 1] == 11


@pytest.mark.parametrize("number,toa,expect", [
    ("+33612345678", 0x91, "+33612345678"),
    ("0612345678", 0xA1, "0612345678"),
    ("36665", 0x81, "36665"),
])
def test_numeric_senders(number, toa, expect):
    ts = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    d = s.decode_pdu(s.encode_deliver(number, "x", ts))
    assert (d["number"], d["toa"]) == (expect, toa)


@pytest.mark.parametrize("hours,octet", [(1, 0x40), (2, 0x80), (5.75, 0x32),
                                         (-5, 0x0A), (-3.5, 0x49), (0, 0x00)])
def test_timestamp_time_zone_octet(hours, octet):
    ts = dt.datetime(2026, 11, 25, 10, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=hours)))
    enc = s.encode_timestamp(ts)
    assert enc[6] == octet
    assert s.decode_timestamp(enc) == ts


# -------------------------------------------------------- UCS-2 and 8-bit

def test_ucs2_round_trip_with_emoji():
    ts = dt.datetime(2026, 11, 25, 10, 0, tzinfo=CET)
    text = "Héllo wörld 😀 çà"
    d = s.decode_pdu(s.encode_deliver("+33612345678", text, ts, encoding=s.ENC_UCS2))
    assert d["encoding"] == "ucs2" and d["dcs"] == 0x08 and d["text"] == text


def test_8bit_user_data():
    ts = dt.datetime(2026, 11, 25, 10, 0, tzinfo=CET)
    d = s.decode_pdu(s.encode_deliver("+33612345678", None, ts, encoding=s.ENC_8BIT,
                                      data=b"\x00\x01\xfe\xff"))
    assert d["encoding"] == "8bit" and d["data_hex"] == "0001FEFF" and d["text"] is None


@pytest.mark.parametrize("dcs,alphabet", [(0x00, "gsm7"), (0x04, "8bit"), (0x08, "ucs2"),
                                          (0x11, "gsm7"), (0x18, "ucs2"), (0xF0, "gsm7"),
                                          (0xF4, "8bit"), (0xC0, "gsm7"), (0xE0, "ucs2")])
def test_dcs_groups(dcs, alphabet):
    assert s.dcs_alphabet(dcs)[0] == alphabet


# ------------------------------------------------------- concatenation

def test_split_limits():
    assert len(s.split_text("a" * 160, "gsm7", 0)) == 1
    parts = s.split_text("a" * 161, "gsm7", 6)
    assert [len(p) for p in parts] == [153, 8]
    assert [len(p) for p in s.split_text("a" * 310, "gsm7", 7)] == [152, 152, 6]
    assert [len(p) for p in s.split_text("é" * 71, "ucs2", 6)] == [67, 4]
    # An extension character never straddles two parts.
    parts = s.split_text("a" * 152 + "€", "gsm7", 6)
    assert parts == ["a" * 152, "€"]
    # Nor does a surrogate pair (emoji = 2 UTF-16 units).
    parts = s.split_text("a" * 66 + "😀", "ucs2", 6)
    assert parts == ["a" * 66, "😀"]


@pytest.mark.parametrize("ref_bits", [8, 16])
@pytest.mark.parametrize("text", ["x" * 200 + "€[]", "Ünïcödé 😀 " * 20])
def test_multipart_deliver_round_trip(ref_bits, text):
    ts = dt.datetime(2026, 11, 25, 10, 0, tzinfo=CET)
    pdus = s.encode_deliver_parts("+33612345678", text, ts, ref=0x1234 if ref_bits == 16 else 0x42,
                                  ref_bits=ref_bits)
    assert len(pdus) >= 2
    decoded = [s.decode_pdu(p) for p in pdus]
    for i, d in enumerate(decoded, 1):
        c = d["concat"]
        assert c["seq"] == i and c["total"] == len(pdus) and c["ref_bits"] == ref_bits
        assert c["ref"] == (0x1234 if ref_bits == 16 else 0x42)
        octets = (d["udl"] * 7 + 7) // 8 if d["encoding"] == "gsm7" else d["udl"]
        assert octets <= 140
    assert s.reassemble(list(reversed(decoded))) == text


def test_udh_fill_bits_known_pdu():
    # 8-bit concatenation UDH (6 octets) => 1 fill bit, text starts at
    # septet 7: the first text septet 'a' (0x61) << 1 = 0xC2.
    ts = dt.datetime(2026, 11, 25, 10, 0, tzinfo=CET)
    pdu = s.encode_deliver("+33612345678", "a", ts, udh=s.concat_udh(7, 2, 1))
    tp = pdu[s.tpdu_offset(pdu):]
    # UDL = 8 septets (7 for the header + fill bit, 1 for the text), UDH, text.
    assert tp[-8:].hex().upper() == "08050003070201C2"
    assert tp[0] & 0x40  # TP-UDHI


def test_forced_part_count():
    ts = dt.datetime(2026, 11, 25, 10, 0, tzinfo=CET)
    pdus = s.encode_deliver_parts("+33612345678", "ABCDEF", ts, parts=3)
    assert [s.decode_pdu(p)["text"] for p in pdus] == ["AB", "CD", "EF"]


def test_status_report_round_trip():
    ts = dt.datetime(2026, 11, 25, 10, 0, tzinfo=CET)
    d = s.decode_pdu(s.encode_status_report(42, "+33612345678", ts, ts, 0, smsc="+33689004000"))
    assert d["type"] == "STATUS-REPORT" and d["mr"] == 42 and d["number"] == "+33612345678"
    assert d["status"] == 0


# -------------------------------------------------------------- hostile

def test_decoder_only_raises_pdu_error_on_garbage():
    rng = random.Random(1234)
    good = s.encode_submit("+33612345678", "Hello world " * 10, udh=s.concat_udh(1, 2, 1))
    for _ in range(3000):
        kind = rng.random()
        if kind < 0.4:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 60)))
        elif kind < 0.7:
            data = good[:rng.randrange(len(good))]
        else:
            b = bytearray(good)
            for _ in range(rng.randrange(1, 5)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            data = bytes(b)
        try:
            s.decode_pdu(data)
        except s.PDUError:
            pass


def test_parse_hex_rejects_non_hex():
    for bad in ("0", "zz", "00 11", "0011\x00"):
        with pytest.raises(s.PDUError):
            s.parse_hex(bad)
