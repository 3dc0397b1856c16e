// CArchive: libarchive (reading and writing tar, zip, ...) for Swift.
//
// archive.h and archive_entry.h are plain functions; the AE_IF* file type
// constants are cast macros ((__LA_MODE_T)0100000) that Swift does not
// import, so they are re-exported below as functions.

#ifndef VIGIE_CARCHIVE_SHIM_H
#define VIGIE_CARCHIVE_SHIM_H

#include <sys/types.h>
#include <archive.h>
#include <archive_entry.h>

_Static_assert(ARCHIVE_VERSION_NUMBER >= 3000000, "CArchive needs libarchive 3");
// Swift sees la_int64_t as Int64 and la_ssize_t as Int.
_Static_assert(sizeof(la_int64_t) == 8, "unexpected la_int64_t");
_Static_assert(sizeof(la_ssize_t) == sizeof(size_t), "unexpected la_ssize_t");

/// AE_IFMT: the file type mask of archive_entry_filetype().
static inline mode_t vigie_AE_IFMT(void) { return AE_IFMT; }
/// AE_IFREG: regular file.
static inline mode_t vigie_AE_IFREG(void) { return AE_IFREG; }
/// AE_IFLNK: symbolic link.
static inline mode_t vigie_AE_IFLNK(void) { return AE_IFLNK; }
/// AE_IFSOCK: socket.
static inline mode_t vigie_AE_IFSOCK(void) { return AE_IFSOCK; }
/// AE_IFCHR: character device.
static inline mode_t vigie_AE_IFCHR(void) { return AE_IFCHR; }
/// AE_IFBLK: block device.
static inline mode_t vigie_AE_IFBLK(void) { return AE_IFBLK; }
/// AE_IFDIR: directory.
static inline mode_t vigie_AE_IFDIR(void) { return AE_IFDIR; }
/// AE_IFIFO: named pipe.
static inline mode_t vigie_AE_IFIFO(void) { return AE_IFIFO; }

#endif /* VIGIE_CARCHIVE_SHIM_H */
