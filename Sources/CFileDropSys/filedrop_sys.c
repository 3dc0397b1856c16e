#define _GNU_SOURCE
#include "filedrop_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <malloc.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

int vigie_openat_beneath(int dirfd, const char *path, int flags, unsigned int mode) {
#ifdef SYS_openat2
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (unsigned long long)flags;
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
#else
  errno = ENOSYS;
  return -1;
#endif
}

int vigie_renameat_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
  return renameat2(olddirfd, oldpath, newdirfd, newpath, RENAME_NOREPLACE);
}

int vigie_o_path(void) { return O_PATH; }

int vigie_udp_source_address(const char *destination, char *out, unsigned long outlen) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in target;
  memset(&target, 0, sizeof target);
  target.sin_family = AF_INET;
  target.sin_port = htons(80);
  if (inet_pton(AF_INET, destination, &target.sin_addr) != 1 ||
      connect(fd, (struct sockaddr *)&target, sizeof target) != 0) {
    close(fd);
    return -1;
  }
  struct sockaddr_in local;
  socklen_t length = sizeof local;
  int named = getsockname(fd, (struct sockaddr *)&local, &length);
  close(fd);
  if (named != 0 || inet_ntop(AF_INET, &local.sin_addr, out, (socklen_t)outlen) == NULL) return -1;
  return 0;
}

int vigie_first_lan_address(char *out, unsigned long outlen) {
  struct ifaddrs *list = NULL;
  if (getifaddrs(&list) != 0) return -1;
  int found = -1;
  for (struct ifaddrs *entry = list; entry != NULL; entry = entry->ifa_next) {
    if (entry->ifa_addr == NULL || entry->ifa_addr->sa_family != AF_INET) continue;
    if (!(entry->ifa_flags & IFF_UP) || (entry->ifa_flags & IFF_LOOPBACK)) continue;
    struct sockaddr_in *address = (struct sockaddr_in *)entry->ifa_addr;
    if ((ntohl(address->sin_addr.s_addr) >> 24) == 127) continue;
    if (inet_ntop(AF_INET, &address->sin_addr, out, (socklen_t)outlen) != NULL) {
      found = 0;
      break;
    }
  }
  freeifaddrs(list);
  return found;
}

int vigie_set_mmap_threshold(int bytes) { return mallopt(M_MMAP_THRESHOLD, bytes); }
