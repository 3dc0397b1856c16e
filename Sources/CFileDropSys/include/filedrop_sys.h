// CFileDropSys: the Linux system calls the file drop needs that Swift cannot
// call directly (variadic syscall(), GNU-only declarations).

#ifndef VIGIE_FILEDROP_SYS_H
#define VIGIE_FILEDROP_SYS_H



/// openat2(dirfd, path, {flags, mode, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS}):
/// the kernel refuses (EXDEV) any resolution that leaves dirfd, through "..",
/// an absolute path or a symbolic link. Returns the descriptor, or -1 with
/// errno (ENOSYS when the kernel has no openat2, before Linux 5.6).
int vigie_openat_beneath(int dirfd, const char *path, int flags, unsigned int mode);

/// renameat2(..., RENAME_NOREPLACE): fails with EEXIST instead of replacing.
int vigie_renameat_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

/// The IPv4 source address the kernel picks to reach `destination` (a UDP
/// socket is connected, nothing is sent), written to `out` (at least 16
/// bytes). Returns 0, or -1 with errno.
int vigie_udp_source_address(const char *destination, char *out, unsigned long outlen);

/// The first IPv4 address of an interface that is up and not loopback,
/// written to `out`. Returns 0, or -1 when there is none.
int vigie_first_lan_address(char *out, unsigned long outlen);

/// mallopt(M_MMAP_THRESHOLD, bytes): a fixed threshold (glibc otherwise
/// raises it after large frees). Returns mallopt's result (1 on success).
int vigie_set_mmap_threshold(int bytes);

/// O_PATH, which Swift's Glibc module does not export (it needs _GNU_SOURCE).
int vigie_o_path(void);

#endif
