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

#include <stdlib.h>
#include <string.h>

/// Sets configuration section 0 of a fresh state machine, as a gammurc
/// [gammu] section would, without reading any file.
/// (SwiftPM does not track this header: after editing it, touch a Swift file
/// of VigieModem or clean the build.) GSM_FreeStateMachine
/// frees Device, Connection and DebugFile, so they are strdup'ed here.
static inline void vigie_gammu_configure(GSM_StateMachine *sm, const char *device, const char *connection,
                                         const char *model, const char *logfile, const char *loglevel) {
  GSM_Config *cfg = GSM_GetConfig(sm, 0);
  free(cfg->Device);
  cfg->Device = strdup(device);
  free(cfg->Connection);
  cfg->Connection = strdup(connection);
  free(cfg->DebugFile);
  cfg->DebugFile = strdup(logfile);
  snprintf(cfg->Model, sizeof cfg->Model, "%s", model);
  snprintf(cfg->DebugLevel, sizeof cfg->DebugLevel, "%s", loglevel);
  cfg->SyncTime = FALSE;
  cfg->LockDevice = FALSE;
  cfg->StartInfo = FALSE;
  cfg->UseGlobalDebugFile = FALSE;
  snprintf(cfg->TextReminder, sizeof cfg->TextReminder, "Reminder");
  snprintf(cfg->TextMeeting, sizeof cfg->TextMeeting, "Meeting");
  snprintf(cfg->TextCall, sizeof cfg->TextCall, "Call");
  snprintf(cfg->TextBirthday, sizeof cfg->TextBirthday, "Birthday");
  snprintf(cfg->TextMemo, sizeof cfg->TextMemo, "Memo");
  cfg->PhoneFeatures[0] = 0;
  // "Choose yourself" for every AT+CNMI parameter, as GSM_ReadConfig does
  // when gammurc says nothing: zeros would disable new-message notifications.
  for (int i = 0; i < 5; i++) cfg->CNMIParams[i] = -1;
  GSM_SetConfigNum(sm, 1);
}

/// &multi->SMS[index]: Swift sees the fixed array as a 50-tuple.
static inline GSM_SMSMessage *vigie_gammu_multisms_part(GSM_MultiSMSMessage *multi, int index) {
  return (index >= 0 && index < GSM_MAX_MULTI_SMS) ? &multi->SMS[index] : NULL;
}

/// Encodes a gammu-Unicode (UCS-2 big endian, NUL-terminated) text into SMS
/// parts: one plain part, or concatenated parts with UDH when `multipart`.
static inline GSM_Error vigie_gammu_encode_text(GSM_Debug_Info *di, unsigned char *text, gboolean unicode,
                                                gboolean multipart, GSM_MultiSMSMessage *out) {
  GSM_MultiPartSMSInfo info;
  GSM_ClearMultiPartSMSInfo(&info);
  info.EntriesNum = 1;
  info.UnicodeCoding = unicode;
  info.Class = -1;
  info.Entries[0].ID = multipart ? SMS_ConcatenatedTextLong : SMS_Text;
  info.Entries[0].Buffer = text;
  memset(out, 0, sizeof *out);
  return GSM_EncodeMultiPartSMS(di, &info, out);
}

/// Makes `sms` an SMS-SUBMIT to `number` (gammu Unicode) through the SMSC of
/// the SIM's first profile.
static inline void vigie_gammu_prepare_submit(GSM_SMSMessage *sms, const unsigned char *number) {
  CopyUnicodeString(sms->Number, number);
  sms->SMSC.Location = 1;
  sms->PDU = SMS_Submit;
}

/// A security code value (PIN) to enter.
static inline void vigie_gammu_set_code(GSM_SecurityCode *code, GSM_SecurityCodeType type, const char *value) {
  memset(code, 0, sizeof *code);
  code->Type = type;
  snprintf(code->Code, sizeof code->Code, "%s", value);
}

#endif /* VIGIE_CGAMMU_SHIM_H */
