"""The emulator at the AT level (no gammu): command semantics, persistence
across processes, notifications, faults, and hostile input."""

import datetime as dt
import os
import random
import re
import subprocess
import termios
import time
import tty

import pytest

import atmodem
import modemstate
import smspdu
from conftest import (ATMODEM, PY, StdioModem, ctl_offline, ctl_socket,
                      read_state)


# ------------------------------------------------------------ basics ------

def test_echo_and_result_codes(modem):
    assert modem.cmd("AT") == "AT\r\r\nOK\r\n"
    assert modem.cmd("ATE0") == "ATE0\r\r\nOK\r\n"
    assert modem.cmd("AT+CGMM") == "\r\nE1750\r\n\r\nOK\r\n"
    assert modem.cmd("ATE1") == "\r\nOK\r\n"
    assert modem.cmd("at+cgmi") == "at+cgmi\r\r\nhuawei\r\n\r\nOK\r\n"


def test_unknown_command_error_and_logged(modem, state):
    assert modem.cmd("AT+FOOBAR=1").endswith("\r\nERROR\r\n")
    modem.cmd("AT+CMEE=1")
    # Unknown stays a plain ERROR (like the real key); known ones use CME.
    assert modem.cmd("AT+XYZZY?").endswith("\r\nERROR\r\n")
    assert "AT+FOOBAR=1" in read_state(state)["unsupported"]


def test_cmee_formats(modem):
    modem.cmd("AT+CMEE=0")
    assert modem.cmd("AT+CPIN=\"1234\"").endswith("\r\nERROR\r\n")
    modem.cmd("AT+CMEE=1")
    assert modem.cmd("AT+CPIN=\"1234\"").endswith("+CME ERROR: 3\r\n")
    modem.cmd("AT+CMEE=2")
    assert modem.cmd("AT+CPIN=\"1234\"").endswith("+CME ERROR: operation not allowed\r\n")


def test_identity_and_network(modem):
    r = modem.cmd("ATI")
    assert "Manufacturer: huawei" in r and "Model: E1750" in r and "IMEI: " in r
    assert "+CSQ: 18,99" in modem.cmd("AT+CSQ")
    assert "+CREG: 0,1" in modem.cmd("AT+CREG?")
    modem.cmd("AT+CREG=2")
    assert '+CREG: 2,1,"1A2B","00C3D4E5"' in modem.cmd("AT+CREG?")
    assert '+COPS: 0,0,"Orange F",2' in modem.cmd("AT+COPS?")
    modem.cmd("AT+COPS=3,2")
    assert '+COPS: 0,2,"20801",2' in modem.cmd("AT+COPS?")
    assert "+CCID: 89330123456789012345" in modem.cmd("AT+CCID")
    assert "^ICCID: 98331032547698103254" in modem.cmd("AT^ICCID?")
    assert "208011234567890" in modem.cmd("AT+CIMI")
    assert "^SYSINFO:2,3,0,5,1,,4" in modem.cmd("AT^SYSINFO")


def test_concatenated_commands(modem):
    r = modem.cmd("AT+CGMI;+CGMM;E1")
    assert "huawei\r\nE1750" in r.replace("\r\n\r\n", "\r\n") and r.endswith("OK\r\n")


# -------------------------------------------------------------- SIM -------

def test_pin_unlock_and_huawei_attempt_counters(locked_state):
    m = StdioModem(locked_state)
    try:
        m.cmd("AT+CMEE=1")
        assert "+CPIN: SIM PIN" in m.cmd("AT+CPIN?")
        assert "^CPIN: SIM PIN,3,10,3,10,3" in m.cmd("AT^CPIN?")
        assert "+CPINR: SIM PIN,3,3" in m.cmd('AT+CPINR="SIM PIN"')
        assert m.cmd("AT+CIMI").endswith("+CME ERROR: 11\r\n")
        assert m.cmd("AT+CMGL=4").endswith("+CMS ERROR: 311\r\n")
        assert m.cmd('AT+CPIN="1234"').endswith("\r\nOK\r\n")
        assert "+CPIN: READY" in m.cmd("AT+CPIN?")
        assert "^CPIN: READY,,10,3,10,3" in m.cmd("AT^CPIN?")
    finally:
        m.close()


def test_wrong_pin_persists_across_processes_until_puk(locked_state):
    for left in (2, 1, 0):
        m = StdioModem(locked_state)
        try:
            m.cmd("AT+CMEE=1")
            assert m.cmd('AT+CPIN="0000"').endswith("+CME ERROR: 16\r\n")
        finally:
            m.close()
        assert read_state(locked_state)["sim"]["pin_attempts"] == left
    m = StdioModem(locked_state)
    try:
        assert "+CPIN: SIM PUK" in m.cmd("AT+CPIN?")
        assert "^CPIN: SIM PUK,10,10,0,10,3" in m.cmd("AT^CPIN?")
        m.cmd("AT+CMEE=1")
        assert m.cmd('AT+CPIN="1234"').endswith("+CME ERROR: 12\r\n")  # PUK needed
        assert m.cmd('AT+CPIN="11111111","4321"').endswith("+CME ERROR: 16\r\n")
        assert read_state(locked_state)["sim"]["puk_attempts"] == 9
        assert m.cmd('AT+CPIN="12345678","4321"').endswith("\r\nOK\r\n")
    finally:
        m.close()
    sim = read_state(locked_state)["sim"]
    assert (sim["lock"], sim["pin"], sim["pin_attempts"], sim["puk_attempts"]) == ("READY", "4321", 3, 10)


def test_puk_exhausted_blocks_the_sim(locked_state):
    ctl_offline(locked_state, "set", pin_attempts=0, puk_attempts=1)
    m = StdioModem(locked_state)
    try:
        m.cmd("AT+CMEE=1")
        assert m.cmd('AT+CPIN="00000000","1111"').endswith("+CME ERROR: 16\r\n")
        assert m.cmd("AT+CPIN?").endswith("+CME ERROR: 262\r\n")
    finally:
        m.close()
    assert read_state(locked_state)["sim"]["lock"] == "SIM BLOCKED"


def test_clck_and_soft_reset_ask_pin_again(modem, state):
    assert "+CLCK: 1" in modem.cmd('AT+CLCK="SC",2')
    assert modem.cmd("AT+CFUN=1,1").endswith("OK\r\n")
    assert "+CPIN: SIM PIN" in modem.cmd("AT+CPIN?")
    assert read_state(state)["modem"]["cmee"] == 0  # settings back to defaults
    modem.cmd('AT+CPIN="1234"')
    modem.cmd('AT+CLCK="SC",0,"1234"')
    modem.cmd("AT+CFUN=1,1")
    assert "+CPIN: READY" in modem.cmd("AT+CPIN?")  # PIN disabled: no PIN asked


# -------------------------------------------------------------- SMS -------

def test_sms_send_prompt_and_sent_log(modem, state):
    modem.cmd("AT+CMEE=1")
    pdu = smspdu.encode_submit("+33612345678", "Hello [world] €", status_report=True)
    tpdu_len = len(pdu) - smspdu.tpdu_offset(pdu)
    assert modem.cmd(f"AT+CMGS={tpdu_len}").endswith("\r\n> ")
    modem.raw(pdu.hex().upper().encode() + b"\x1a")
    r = modem.read_until(atmodem_final()).decode()
    mr = int(re.search(r"\+CMGS: (\d+)", r).group(1))
    sent = read_state(state)["sent"]
    assert sent[-1]["mr"] == mr and sent[-1]["text"] == "Hello [world] €"
    assert sent[-1]["number"] == "+33612345678" and sent[-1]["smsc"] == "+33689004000"
    # Status report stored in SR (delivery reports on by default).
    modem.cmd('AT+CPMS="SR"')
    assert "+CMGL: 0,0," in modem.cmd("AT+CMGL=4")


def atmodem_final():
    from conftest import FINAL_RE
    return FINAL_RE


def test_sms_send_errors(modem, state):
    modem.cmd("AT+CMEE=1")
    pdu = smspdu.encode_submit("+33612345678", "x")
    n = len(pdu) - smspdu.tpdu_offset(pdu)
    modem.cmd(f"AT+CMGS={n + 1}")  # wrong length
    modem.raw(pdu.hex().encode() + b"\x1a")
    assert modem.read_until(atmodem_final()).endswith(b"+CMS ERROR: 304\r\n")
    modem.cmd(f"AT+CMGS={n}")
    modem.raw(b"ZZ\x1a")
    assert modem.read_until(atmodem_final()).endswith(b"+CMS ERROR: 304\r\n")
    modem.cmd(f"AT+CMGS={n}")
    modem.raw(b"0011\x1b")  # ESC cancels
    assert modem.read_until(atmodem_final()).endswith(b"\r\nOK\r\n")
    ctl_offline(state, "set", registration="searching")
    modem.cmd(f"AT+CMGS={n}")
    modem.raw(pdu.hex().encode() + b"\x1a")
    assert modem.read_until(atmodem_final()).endswith(b"+CMS ERROR: 331\r\n")
    ctl_offline(state, "set", registration="home", rssi=1)
    modem.cmd(f"AT+CMGS={n}")
    modem.raw(pdu.hex().encode() + b"\x1a")
    assert modem.read_until(atmodem_final()).endswith(b"+CMS ERROR: 500\r\n")
    assert read_state(state)["sent"] == []
    assert [f["error"] for f in read_state(state)["send_failures"]] == [331, 500]


def test_storage_list_read_delete(modem, state):
    ts = "2026-11-25T10:00:00+01:00"
    r = ctl_offline(state, "deliver", **{"from": "+33612345678", "text": "STATUS", "timestamp": ts})
    assert r["stored"][0]["index"] == 0
    ctl_offline(state, "deliver", **{"from": "0612345678", "text": "Ünï 😀", "storage": "ME"})
    assert '+CPMS: "SM",1,10,"SM",1,10,"SM",1,10' in modem.cmd("AT+CPMS?")
    r = modem.cmd("AT+CMGL=4")
    m = re.search(r"\+CMGL: 0,0,,(\d+)\r\n([0-9A-F]+)", r)
    pdu = bytes.fromhex(m.group(2))
    assert int(m.group(1)) == len(pdu) - smspdu.tpdu_offset(pdu)
    d = smspdu.decode_pdu(pdu)
    assert (d["text"], d["timestamp"]) == ("STATUS", "2026-11-25T10:00:00+01:00")
    assert "+CMGR: 1,," in modem.cmd("AT+CMGR=0")  # now read
    modem.cmd("AT+CMEE=1")
    assert modem.cmd("AT+CMGR=5").endswith("+CMS ERROR: 321\r\n")
    assert modem.cmd("AT+CMGR=99").endswith("+CMS ERROR: 321\r\n")
    modem.cmd('AT+CPMS="ME","ME","ME"')
    pdu_hex = re.search(r"\+CMGR: 0,,\d+\r\n([0-9A-F]+)", modem.cmd("AT+CMGR=0")).group(1)
    assert smspdu.decode_pdu(bytes.fromhex(pdu_hex))["text"] == "Ünï 😀"
    modem.cmd('AT+CPMS="SM"')
    assert modem.cmd("AT+CMGD=0").endswith("OK\r\n")
    assert read_state(state)["storage"]["SM"]["messages"] == {}


def test_full_storage_queues_until_a_slot_frees(modem, state):
    ctl_offline(state, "set", path="storage.SM.capacity", value=1)
    ctl_offline(state, "deliver", **{"from": "+33612345678", "text": "one"})
    r = ctl_offline(state, "deliver", **{"from": "+33612345678", "text": "two"})
    assert r["stored"][0]["queued"]
    modem.cmd("AT+CMGD=0")
    msgs = read_state(state)["storage"]["SM"]["messages"]
    assert [smspdu.decode_pdu(bytes.fromhex(m["pdu"]))["text"] for m in msgs.values()] == ["two"]


def test_cmti_on_control_deliver_and_offline_deliver(state, tmp_path):
    sock = str(tmp_path / "ctl.sock")
    m = StdioModem(state, "--control", sock)
    try:
        m.cmd("AT+CNMI=2,1,0,2,0")
        r = ctl_socket(sock, op="deliver", **{"from": "+33612345678", "text": "PING"})
        assert r["ok"] and r["stored"][0]["index"] == 0
        assert m.read_until(re.compile(rb'\r\n\+CMTI: "SM",0\r\n'), 3)
        # Written to the state file by another process: still notified.
        ctl_offline(state, "deliver", **{"from": "+33612345678", "text": "x" * 200, "order": [2, 1]})
        got = m.read_until(re.compile(rb'\+CMTI: "SM",2\r\n'), 3)
        assert b'+CMTI: "SM",1' in got
        # CNMI mt=2: routed as +CMT, not stored.
        m.cmd("AT+CNMI=2,2,0,0,0")
        ctl_socket(sock, op="deliver", **{"from": "+33612345678", "text": "direct"})
        got = m.read_until(re.compile(rb"\+CMT: ,\d+\r\n[0-9A-F]+\r\n"), 3)
        pdu = bytes.fromhex(got.split(b"\r\n")[-2].decode())
        assert smspdu.decode_pdu(pdu)["text"] == "direct"
        assert len(read_state(state)["storage"]["SM"]["messages"]) == 3
        # No notification when CNMI is off.
        m.cmd("AT+CNMI=0,0,0,0,0")
        ctl_socket(sock, op="deliver", **{"from": "+33612345678", "text": "quiet"})
        assert b"CMTI" not in m.read_for(0.4)
    finally:
        m.close()


def test_huawei_rssi_unsolicited_until_curc_off(state, tmp_path):
    sock = str(tmp_path / "ctl.sock")
    m = StdioModem(state, "--control", sock)
    try:
        m.cmd("AT")
        ctl_socket(sock, op="set", rssi=7)
        assert m.read_until(re.compile(rb"\^RSSI:7\r\n"), 3)
        m.cmd("AT^CURC=0")
        ctl_socket(sock, op="set", rssi=9)
        assert b"RSSI" not in m.read_for(0.4)
        assert "+CSQ: 9,99" in m.cmd("AT+CSQ")
    finally:
        m.close()


# ----------------------------------------------------------- faults ------

def test_hang_until_cleared(state, tmp_path):
    sock = str(tmp_path / "ctl.sock")
    m = StdioModem(state, "--control", sock)
    try:
        m.cmd("AT")
        ctl_socket(sock, op="fault", kind="hang")
        m.raw(b"AT\r")
        assert m.read_for(0.5) == b""  # no echo, no answer
        ctl_socket(sock, op="clear")
        assert m.cmd("AT").endswith("OK\r\n")
        # A hang limited to one command, once.
        ctl_socket(sock, op="fault", kind="hang", match=r"\+CSQ", count=1)
        m.raw(b"AT+CSQ\r")
        assert m.read_for(0.4) == b"AT+CSQ\r"  # echoed, never answered
        assert "+CSQ:" in m.cmd("AT+CSQ")
    finally:
        m.close()


def test_hang_cured_by_reopen(state):
    ctl_offline(state, "fault", kind="hang", clear_on="reopen")
    m = StdioModem(state)
    try:
        assert m.cmd("AT").endswith("OK\r\n")
    finally:
        m.close()


def test_hang_cured_by_soft_reset_only_when_declared(state):
    ctl_offline(state, "fault", kind="hang", clear_on="reset")
    m = StdioModem(state)
    try:
        m.raw(b"AT\r")
        assert m.read_for(0.3) == b""
        assert m.cmd("AT+CFUN=1,1").endswith("OK\r\n")  # gets through, cures it
        assert m.cmd("AT").endswith("OK\r\n")
    finally:
        m.close()
    ctl_offline(state, "fault", kind="hang")
    ctl_offline(state, "reset")
    assert "hang" in read_state(state)["faults"]  # a plain hang survives a reset
    ctl_offline(state, "power_cycle")
    assert read_state(state)["faults"] == {}


def test_garbage_is_seeded(state, tmp_path):
    outs = []
    for _ in range(2):
        ctl_offline(state, "fault", kind="garbage")
        m = StdioModem(state, "--seed", "7")
        try:
            m.raw(b"AT\r")
            # The echo and the garbled "\r\nOK\r\n" (same length).
            outs.append(m.read_at_least(len(b"AT\r\r\nOK\r\n")))
        finally:
            m.close()
    assert outs[0] == outs[1] and b"OK" not in outs[0] and len(outs[0]) > len(b"AT\r")
    ctl_offline(state, "fault", kind="garbage", count=1)
    m = StdioModem(state, "--seed", "7")
    try:
        m.raw(b"AT\r")
        m.read_for(0.3)
        assert m.cmd("AT").endswith("OK\r\n")  # only one answer garbled
    finally:
        m.close()


def test_slow_answers(state):
    ctl_offline(state, "fault", kind="slow", ms=400)
    m = StdioModem(state)
    try:
        t = time.monotonic()
        assert m.cmd("AT").endswith("OK\r\n")
        assert time.monotonic() - t >= 0.38
    finally:
        m.close()


def test_send_error_fault(modem, state):
    ctl_offline(state, "fault", kind="send_error", code=332, count=1)
    modem.cmd("AT+CMEE=1")
    pdu = smspdu.encode_submit("+33612345678", "x")
    n = len(pdu) - smspdu.tpdu_offset(pdu)
    for expect in (b"+CMS ERROR: 332\r\n", b"+CMGS: "):
        modem.cmd(f"AT+CMGS={n}")
        modem.raw(pdu.hex().encode() + b"\x1a")
        assert expect in modem.read_until(atmodem_final())


def test_reset_on_timeout_asks_pin_again(state):
    ctl_offline(state, "fault", kind="reset_on_timeout", ms=300)
    m = StdioModem(state)
    try:
        m.raw(b"AT+CSQ\r")
        assert m.read_for(0.6) == b"AT+CSQ\r"  # echoed, never answered, then reset
        assert "+CPIN: SIM PIN" in m.cmd("AT+CPIN?")
    finally:
        m.close()
    st = read_state(state)
    assert "reset_on_timeout" not in st["faults"] and st["sim"]["lock"] == "SIM PIN"


def test_vanish_in_stdio_mode_exits_and_stays_absent(state, tmp_path):
    sock = str(tmp_path / "ctl.sock")
    m = StdioModem(state, "--control", sock)
    try:
        m.cmd("AT")
        ctl_socket(sock, op="fault", kind="vanish", ms=3000)
        assert m.p.wait(20) == 0
    finally:
        m.close()
    r = subprocess.run([PY, ATMODEM, "--state", state], input=b"AT\r", capture_output=True, timeout=20)
    assert r.returncode == 1 and b"absent" in r.stderr
    _wait_until_present(state)


def _wait_until_present(state: str, timeout: float = 20.0) -> None:
    """The device comes back once its absence is over (polled: the bound
    only catches a hang)."""
    end = time.monotonic() + timeout
    while True:
        m = StdioModem(state)
        try:
            if m.p.poll() is None and m.cmd("AT").endswith("OK\r\n"):
                return
        except Exception:
            pass
        finally:
            m.close()
        assert time.monotonic() < end, "the device did not come back"
        time.sleep(0.3)


def test_vanish_on_a_matching_command(state):
    """vanish_on: the key drops off the bus when a matching command comes
    (unplugged mid-send); other commands are answered until then."""
    ctl_offline(state, "fault", kind="vanish_on", match=r"\+CMGS", ms=3000)
    m = StdioModem(state)
    try:
        assert m.cmd("AT").endswith("OK\r\n")
        assert "vanish_on" in read_state(state)["faults"]
        m.raw(b"AT+CMGS=20\r")
        assert m.p.wait(20) == 0  # gone, nothing answered, nothing sent
    finally:
        m.close()
    st = read_state(state)
    assert "vanish_on" not in st["faults"] and st["sent"] == []
    r = subprocess.run([PY, ATMODEM, "--state", state], input=b"AT\r", capture_output=True, timeout=20)
    assert r.returncode == 1 and b"absent" in r.stderr
    _wait_until_present(state)


def test_cfun_reset_reenumerates_when_configured(state):
    ctl_offline(state, "set", path="config.reenumerate_on_reset", value=True)
    ctl_offline(state, "set", path="config.reenumerate_ms", value=500)
    m = StdioModem(state)
    try:
        assert m.cmd("AT+CFUN=1,1").endswith("OK\r\n")
        assert m.p.wait(3) == 0  # the key fell off the bus
    finally:
        m.close()
    assert read_state(state)["sim"]["lock"] == "SIM PIN"


# -------------------------------------------------------------- pty -------

def _open_tty(path):
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    termios.tcflush(fd, termios.TCIOFLUSH)
    return fd


def _tty_cmd(fd, line, timeout=3.0):
    os.write(fd, line.encode() + b"\r")
    out = b""
    end = time.monotonic() + timeout
    from conftest import FINAL_RE
    import select
    while not FINAL_RE.search(out):
        left = end - time.monotonic()
        assert left > 0, out
        r, _, _ = select.select([fd], [], [], left)
        if r:
            out += os.read(fd, 4096)
    return out.decode()


def test_pty_vanishes_and_reappears_under_another_name(state, tmp_path):
    link0, link1 = str(tmp_path / "ttyUSB0"), str(tmp_path / "ttyUSB3")
    sock = str(tmp_path / "ctl.sock")
    p = subprocess.Popen([PY, ATMODEM, "--state", state, "--pty", link0, "--control", sock])
    try:
        r = ctl_socket(sock, op="session")
        assert r["transport"] == "pty" and os.path.islink(link0)
        fd = _open_tty(link0)
        assert "E1750" in _tty_cmd(fd, "AT+CGMM")
        ctl_socket(sock, op="fault", kind="vanish", ms=300, link=link1)
        assert not os.path.lexists(link0)
        with pytest.raises(OSError):  # the old fd is dead (EIO), like a replug
            os.write(fd, b"AT\r")
            time.sleep(0.05)
            os.read(fd, 10)
        os.close(fd)
        deadline = time.monotonic() + 3
        while not os.path.exists(link1):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        fd = _open_tty(link1)
        assert "OK" in _tty_cmd(fd, "AT")
        os.close(fd)
        assert "vanish" not in read_state(state)["faults"]
    finally:
        p.terminate()
        p.wait(5)
    assert not os.path.lexists(link1)  # cleaned up on exit


def test_pty_soft_reset_reenumerates_under_a_new_name(state, tmp_path):
    """AT+CFUN=1,1 on an E1750 that re-enumerates: answered OK, then the
    device disappears and comes back (here under another name) asking for
    the PIN again."""
    link0, link1 = str(tmp_path / "ttyUSB0"), str(tmp_path / "ttyUSB1")
    ctl_offline(state, "set", path="config.reenumerate_on_reset", value=True)
    ctl_offline(state, "set", path="config.reenumerate_ms", value=300)
    ctl_offline(state, "set", path="config.reenumerate_link", value=link1)
    sock = str(tmp_path / "ctl.sock")
    p = subprocess.Popen([PY, ATMODEM, "--state", state, "--pty", link0, "--control", sock])
    try:
        ctl_socket(sock, op="ping")
        fd = _open_tty(link0)
        assert _tty_cmd(fd, "AT+CFUN=1,1").endswith("OK\r\n")
        deadline = time.monotonic() + 3
        while os.path.lexists(link0):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.close(fd)
        while not os.path.exists(link1):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        fd = _open_tty(link1)
        assert "+CPIN: SIM PIN" in _tty_cmd(fd, "AT+CPIN?")
        os.close(fd)
    finally:
        p.terminate()
        p.wait(5)


# ----------------------------------------------------------- hostile ------

def test_hostile_input_never_kills_the_emulator(modem, state):
    modem.raw(b"hello\r\n\x00\x01\x02garbage\xff\xfe\r")
    modem.raw(b"\x1a\x1b\r\n\r\n")
    assert modem.cmd("AT").endswith("OK\r\n")
    r = modem.cmd("AT" + "A" * 5000)  # overlong: discarded, ERROR
    assert r.endswith("\r\nERROR\r\n")
    for line in ("AT+CMGS=", "AT+CMGS=999", "AT+CMGR=-1", "AT+CMGR=abc", 'AT+CPIN="', "AT+CPMS=\"XX\"",
                 "AT+CNMI=9,9,9,9,9,9", "AT&", "AT+", "AT^", "AT+CSCS=\"\x80\"", "ATS999=1",
                 "AT+COPS=3", "AT+CFUN=1,1,1,1", "AT+CMGD=1,9", "AT+CPINR=\"SIM*\"", "ATI9"):
        out = modem.cmd(line)
        assert out.endswith("OK\r\n") or "ERROR" in out, (line, out)
    rng = random.Random(99)
    for _ in range(200):
        modem.raw(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80))))
    modem.raw(b"\x1b\r")  # leave a PDU prompt if the noise opened one
    modem.read_for(0.5)
    modem.buf = b""
    assert modem.cmd("AT").endswith("OK\r\n")
    assert modem.p.poll() is None
    assert read_state(state)["sim"]["lock"] in modemstate.LOCK_STATES


class FakeLink:
    def __init__(self):
        self.out = bytearray()
        self.timers = []

    def write(self, data, kind):
        self.out += data

    def schedule(self, seconds, fn):
        self.timers.append(fn)

    def reenumerate(self, ms_, new_link=None):
        pass

    def log(self, direction, text):
        pass


def test_engine_fuzz_in_process(tmp_path):
    """Thousands of random and mutated command lines through the engine
    itself: no exception escapes, every line gets a final result."""
    store = modemstate.Store(str(tmp_path / "fuzz.json"))
    with store.edit() as st:
        st["sim"]["lock"] = "READY"
    link = FakeLink()
    eng = atmodem.ATEngine(store, link, random.Random(5))
    rng = random.Random(2024)
    words = sorted(atmodem.HANDLERS) + ["E", "V", "Z", "I", "&F", "S3"]
    suffixes = ["", "?", "=?", "=", "=1", "=0,0", '="SM"', '="SM","ME","SR"', "=1,2,3,4,5,6",
                '="1234"', '="12345678","1111"', "=-1", "=99999999999", '=",,,"', "=\x00\xff"]
    for i in range(2000):
        if rng.random() < 0.8:
            line = "AT" + rng.choice(words) + rng.choice(suffixes)
            if rng.random() < 0.2:
                line += ";" + rng.choice(words) + rng.choice(suffixes)
        else:
            # (no DEL/backspace: they would edit the "AT" away, and then the
            # line is ignored without an answer, as it should)
            line = "AT" + "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(160, 256)]))
                                  for _ in range(rng.randrange(0, 40)))
        if line.upper().startswith("ATD"):
            continue
        link.out.clear()
        eng.feed(line.encode("latin-1") + b"\r")
        if eng.pending is not None:  # a CMGS/CMGW prompt: feed junk PDU
            eng.feed(b"00" + bytes(rng.randrange(48, 58) for _ in range(rng.randrange(0, 30))) + b"\x1a")
        modem = store.read()["modem"]
        assert re.search(rb"(OK|ERROR[^\r]*|ERROR: [^\r]*)\r\n$|(^|\r)[04]\r$", bytes(link.out)) or \
            modem["quiet"], (line, bytes(link.out))
        if store.read()["sim"]["lock"] != "READY" or i % 100 == 0 or modem["quiet"] \
                or not modem["verbose"]:
            with store.edit() as st:
                st["sim"].update(lock="READY", pin_attempts=3, puk_attempts=10, pin="1234")
                st["modem"] = modemstate.default_modem_settings()


def test_ctl_cli_key_value_and_errors(tmp_path):
    path = str(tmp_path / "m.json")
    r = subprocess.run([PY, ATMODEM, "ctl", "--state", path, "deliver", "from=+33612345678",
                        "text=HELP", "order=[1]"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and '"offline": true' in r.stdout
    r = subprocess.run([PY, ATMODEM, "ctl", "--state", path, "set", "registration=nowhere"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "registration must be" in r.stdout
    assert read_state(path)["network"]["registration"] == "home"  # not half-applied
    r = subprocess.run([PY, ATMODEM, "ctl", "--state", path, "messages"], capture_output=True,
                       text=True, timeout=10)
    assert '"text": "HELP"' in r.stdout


def test_deliver_timestamps_and_senders(state):
    r = ctl_offline(state, "deliver", **{"from": "Orange", "text": "x", "timestamp": "2026-11-25T10:00:00-03:30"})
    d = smspdu.decode_pdu(bytes.fromhex(r["pdus"][0]))
    assert d["number"] == "Orange" and d["timestamp"] == "2026-11-25T10:00:00-03:30"
    r = ctl_offline(state, "deliver", **{"from": "0612345678", "text": "é", "encoding": "ucs2"})
    d = smspdu.decode_pdu(bytes.fromhex(r["pdus"][0]))
    assert d["toa"] == 0xA1 and d["encoding"] == "ucs2"
    # A stored deliver keeps the SMSC of the state, like a real network.
    assert d["smsc"] == "+33689004000"
    assert dt.datetime.fromisoformat(d["timestamp"]).tzinfo is not None
