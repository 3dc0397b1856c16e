// CCurl: libcurl for Swift.
//
// curl_easy_setopt, curl_easy_getinfo, curl_multi_setopt and
// curl_share_setopt are variadic, which Swift cannot call. The `vigie_`
// wrappers below give each argument type its own non-variadic function. The
// callback setters fix the option, so a callback can only be installed under
// an option that expects its exact type.

#ifndef VIGIE_CCURL_SHIM_H
#define VIGIE_CCURL_SHIM_H

#include <stddef.h>
#include <curl/curl.h>

// Swift sees curl_off_t as Int64; the wrappers pass it through varargs.
_Static_assert(sizeof(curl_off_t) == 8, "curl_off_t must be 64-bit");

// MARK: curl_easy_setopt

/// curl_easy_setopt for CURLOPTTYPE_LONG / CURLOPTTYPE_VALUES options.
static inline CURLcode vigie_curl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
  return curl_easy_setopt(handle, option, value);
}

/// curl_easy_setopt for CURLOPTTYPE_OBJECTPOINT / CURLOPTTYPE_CBPOINT options
/// (e.g. CURLOPT_WRITEDATA, CURLOPT_PRIVATE).
static inline CURLcode vigie_curl_easy_setopt_ptr(CURL *handle, CURLoption option, void *value) {
  return curl_easy_setopt(handle, option, value);
}

/// curl_easy_setopt for CURLOPTTYPE_STRINGPOINT options (curl copies the string).
static inline CURLcode vigie_curl_easy_setopt_string(CURL *handle, CURLoption option,
                                                     const char *value) {
  return curl_easy_setopt(handle, option, value);
}

/// curl_easy_setopt for CURLOPTTYPE_SLISTPOINT options (e.g. CURLOPT_HTTPHEADER).
static inline CURLcode vigie_curl_easy_setopt_slist(CURL *handle, CURLoption option,
                                                    struct curl_slist *value) {
  return curl_easy_setopt(handle, option, value);
}

/// curl_easy_setopt for CURLOPTTYPE_OFF_T options (e.g. CURLOPT_MAXFILESIZE_LARGE).
static inline CURLcode vigie_curl_easy_setopt_off_t(CURL *handle, CURLoption option,
                                                    curl_off_t value) {
  return curl_easy_setopt(handle, option, value);
}

/// CURLOPT_WRITEFUNCTION.
static inline CURLcode vigie_curl_easy_setopt_func_write(CURL *handle,
                                                         curl_write_callback callback) {
  return curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, callback);
}

/// CURLOPT_HEADERFUNCTION (same prototype as the write callback).
static inline CURLcode vigie_curl_easy_setopt_func_header(CURL *handle,
                                                          curl_write_callback callback) {
  return curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, callback);
}

/// CURLOPT_READFUNCTION.
static inline CURLcode vigie_curl_easy_setopt_func_read(CURL *handle,
                                                        curl_read_callback callback) {
  return curl_easy_setopt(handle, CURLOPT_READFUNCTION, callback);
}

/// CURLOPT_XFERINFOFUNCTION (remember CURLOPT_NOPROGRESS = 0 to enable it).
static inline CURLcode vigie_curl_easy_setopt_func_xferinfo(CURL *handle,
                                                            curl_xferinfo_callback callback) {
  return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
}

/// CURLOPT_SEEKFUNCTION.
static inline CURLcode vigie_curl_easy_setopt_func_seek(CURL *handle,
                                                        curl_seek_callback callback) {
  return curl_easy_setopt(handle, CURLOPT_SEEKFUNCTION, callback);
}

/// CURLOPT_DEBUGFUNCTION (with CURLOPT_VERBOSE = 1).
static inline CURLcode vigie_curl_easy_setopt_func_debug(CURL *handle,
                                                         curl_debug_callback callback) {
  return curl_easy_setopt(handle, CURLOPT_DEBUGFUNCTION, callback);
}

// MARK: curl_easy_getinfo

/// curl_easy_getinfo for CURLINFO_LONG infos (e.g. CURLINFO_RESPONSE_CODE).
static inline CURLcode vigie_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *out) {
  return curl_easy_getinfo(handle, info, out);
}

/// curl_easy_getinfo for CURLINFO_DOUBLE infos.
static inline CURLcode vigie_curl_easy_getinfo_double(CURL *handle, CURLINFO info, double *out) {
  return curl_easy_getinfo(handle, info, out);
}

/// curl_easy_getinfo for CURLINFO_STRING infos. The string belongs to the
/// handle; copy it before curl_easy_cleanup. *out may be NULL.
static inline CURLcode vigie_curl_easy_getinfo_string(CURL *handle, CURLINFO info,
                                                      const char **out) {
  char *value = NULL;
  CURLcode code = curl_easy_getinfo(handle, info, &value);
  *out = value;
  return code;
}

/// curl_easy_getinfo for CURLINFO_OFF_T infos (e.g. CURLINFO_SIZE_DOWNLOAD_T).
static inline CURLcode vigie_curl_easy_getinfo_off_t(CURL *handle, CURLINFO info,
                                                     curl_off_t *out) {
  return curl_easy_getinfo(handle, info, out);
}

/// curl_easy_getinfo for CURLINFO_PTR infos (CURLINFO_PRIVATE, CURLINFO_CERTINFO, ...).
static inline CURLcode vigie_curl_easy_getinfo_ptr(CURL *handle, CURLINFO info, void **out) {
  return curl_easy_getinfo(handle, info, out);
}

/// curl_easy_getinfo for CURLINFO_SLIST infos; free with curl_slist_free_all.
static inline CURLcode vigie_curl_easy_getinfo_slist(CURL *handle, CURLINFO info,
                                                     struct curl_slist **out) {
  return curl_easy_getinfo(handle, info, out);
}

/// curl_easy_getinfo for CURLINFO_SOCKET infos (e.g. CURLINFO_ACTIVESOCKET).
static inline CURLcode vigie_curl_easy_getinfo_socket(CURL *handle, CURLINFO info,
                                                      curl_socket_t *out) {
  return curl_easy_getinfo(handle, info, out);
}

// MARK: curl_multi_setopt

/// curl_multi_setopt for long options (e.g. CURLMOPT_MAXCONNECTS).
static inline CURLMcode vigie_curl_multi_setopt_long(CURLM *multi, CURLMoption option,
                                                     long value) {
  return curl_multi_setopt(multi, option, value);
}

/// curl_multi_setopt for pointer options (e.g. CURLMOPT_SOCKETDATA).
static inline CURLMcode vigie_curl_multi_setopt_ptr(CURLM *multi, CURLMoption option,
                                                    void *value) {
  return curl_multi_setopt(multi, option, value);
}

/// curl_multi_setopt for curl_off_t options.
static inline CURLMcode vigie_curl_multi_setopt_off_t(CURLM *multi, CURLMoption option,
                                                      curl_off_t value) {
  return curl_multi_setopt(multi, option, value);
}

/// CURLMOPT_SOCKETFUNCTION.
static inline CURLMcode vigie_curl_multi_setopt_func_socket(CURLM *multi,
                                                            curl_socket_callback callback) {
  return curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, callback);
}

/// CURLMOPT_TIMERFUNCTION.
static inline CURLMcode vigie_curl_multi_setopt_func_timer(CURLM *multi,
                                                           curl_multi_timer_callback callback) {
  return curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, callback);
}

// MARK: curl_share_setopt

/// curl_share_setopt for long options (CURLSHOPT_SHARE / CURLSHOPT_UNSHARE).
static inline CURLSHcode vigie_curl_share_setopt_long(CURLSH *share, CURLSHoption option,
                                                      long value) {
  return curl_share_setopt(share, option, value);
}

// MARK: Version

/// curl_version_info(CURLVERSION_NOW).
static inline curl_version_info_data *vigie_curl_version_info(void) {
  return curl_version_info(CURLVERSION_NOW);
}

#endif /* VIGIE_CCURL_SHIM_H */
