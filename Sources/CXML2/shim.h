// CXML2: libxml2 (push parser, SAX2, tree) for Swift.
//
// libxml2 is built with threads, so several "globals" are macros over
// per-thread accessors (xmlParserVersion is (*(__xmlParserVersion()))), and
// xmlFree is a mutable global function pointer, which Swift 6 rejects as
// shared mutable state. LIBXML_TEST_VERSION is a statement macro. The
// `vigie_` wrappers below give Swift plain functions for all three.

#ifndef VIGIE_CXML2_SHIM_H
#define VIGIE_CXML2_SHIM_H

#include <libxml/xmlversion.h>
// Debian builds libxml2 with ICU, so libxml/encoding.h would include the
// system's <unicode/*.h>, whose types clash with Foundation's own copy of ICU
// in every Swift module that sees both ("UErrorCode has different
// definitions"). Vigie never uses libxml2's encoding handlers (the only
// struct whose layout depends on this), so the ICU part is left out.
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

_Static_assert(LIBXML_VERSION >= 20900, "CXML2 is written against libxml2 >= 2.9");

/// LIBXML_TEST_VERSION: checks that the runtime library is compatible with
/// these headers (xmlCheckVersion prints a warning if not) and initialises it.
static inline void vigie_xml_check_version(void) { LIBXML_TEST_VERSION }

/// xmlParserVersion: the runtime version as a string of digits, e.g. "20914".
static inline const char *vigie_xml_parser_version(void) { return xmlParserVersion; }

/// xmlFree(ptr): frees memory that libxml2 returned (xmlNodeGetContent, ...).
static inline void vigie_xml_free(void *ptr) { xmlFree(ptr); }

#endif /* VIGIE_CXML2_SHIM_H */
