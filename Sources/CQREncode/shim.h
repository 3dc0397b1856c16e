// CQREncode: libqrencode (QR code generation) for Swift.

#ifndef VIGIE_CQRENCODE_SHIM_H
#define VIGIE_CQRENCODE_SHIM_H

#include <qrencode.h>

/// Whether the module at column `x`, row `y` of `code` is dark: bit 0 of
/// data[y * width + x], as documented in qrencode.h. No bounds check.
static inline int vigie_qrcode_is_dark(const QRcode *code, int x, int y) {
  return code->data[y * code->width + x] & 1;
}

#endif /* VIGIE_CQRENCODE_SHIM_H */
