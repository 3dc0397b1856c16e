// CPcap: libpcap (packet capture and BPF filter compilation) for Swift.
//
// libpcap's pkg-config file adds the dbus include directories; harmless.
// Swift imports the integer macros (PCAP_ERRBUF_SIZE, DLT_EN10MB,
// PCAP_NETMASK_UNKNOWN, PCAP_ERROR_*) directly; the BPF_STMT/BPF_JUMP
// function-like macros are wrapped below.

#ifndef VIGIE_CPCAP_SHIM_H
#define VIGIE_CPCAP_SHIM_H

#include <pcap/pcap.h>

// Swift code sizes error buffers with PCAP_ERRBUF_SIZE; keep it what the
// documentation promises.
_Static_assert(PCAP_ERRBUF_SIZE == 256, "unexpected PCAP_ERRBUF_SIZE");
// vigie_bpf_stmt/vigie_bpf_jump build struct bpf_insn by value.
_Static_assert(sizeof(struct bpf_insn) == 8, "unexpected struct bpf_insn layout");

/// BPF_STMT(code, k): a BPF statement instruction.
static inline struct bpf_insn vigie_bpf_stmt(unsigned short code, bpf_u_int32 k) {
  struct bpf_insn insn = BPF_STMT(code, k);
  return insn;
}

/// BPF_JUMP(code, k, jt, jf): a BPF jump instruction.
static inline struct bpf_insn vigie_bpf_jump(unsigned short code, bpf_u_int32 k,
                                             unsigned char jt, unsigned char jf) {
  struct bpf_insn insn = BPF_JUMP(code, k, jt, jf);
  return insn;
}

#endif /* VIGIE_CPCAP_SHIM_H */
