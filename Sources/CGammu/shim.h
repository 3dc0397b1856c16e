// CGammu: libGammu (mobile phone / modem access) for Swift.
//
// gammu.h includes every gammu-*.h header. Its function-like macros
// (GSM_MemoryTypeToString, MIN/MAX, ...) are invisible to Swift; the ones
// useful from Swift are wrapped below as `vigie_` functions.
//
// <gammu-smsd.h> is deliberately not included: it declares libgsmsd, a
// separate library (pkg-config gammu-smsd) that this target does not link.

#ifndef VIGIE_CGAMMU_SHIM_H
#define VIGIE_CGAMMU_SHIM_H

#include <stdio.h>
#include <gammu.h>

_Static_assert(GAMMU_VERSION_NUM >= 14200, "CGammu is written against gammu >= 1.42");

/// GSM_MemoryTypeToString(x): "ME", "SM", ... or "XX" for an unknown type.
static inline const char *vigie_GSM_MemoryTypeToString(GSM_MemoryType type) {
  return GSM_MemoryTypeToString(type);
}

/// The headers' version, GAMMU_VERSION_NUM (e.g. 14200 for 1.42.0).
static inline int vigie_gammu_header_version_num(void) { return GAMMU_VERSION_NUM; }

#endif /* VIGIE_CGAMMU_SHIM_H */
