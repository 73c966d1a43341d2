/*
 * LD_PRELOAD shim for disk tools that learn a disk's sector size only by ioctl (sgdisk assumes
 * 512-byte sectors on regular files): while BLOCKDEV_SECTOR_SIZE is set, the block-device size
 * ioctls on a regular file answer as a drive with that logical and physical sector size would.
 * Everything else goes to the kernel unchanged. Built by blockdev-view.ts; tests only.
 */
#define _GNU_SOURCE
#include <linux/fs.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  const char *env = getenv("BLOCKDEV_SECTOR_SIZE");
  int size = env ? atoi(env) : 0;
  struct stat st;
  if (size > 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    switch (request) {
    case BLKSSZGET:
      *(int *)arg = size;
      return 0;
    case BLKPBSZGET:
    case BLKIOMIN:
    case BLKIOOPT:
      *(unsigned int *)arg = (unsigned int)size;
      return 0;
    case BLKGETSIZE: /* in 512-byte units whatever the sector size, as the kernel reports it */
      *(unsigned long *)arg = (unsigned long)(st.st_size / 512);
      return 0;
    case BLKGETSIZE64:
      *(uint64_t *)arg = (uint64_t)st.st_size;
      return 0;
    }
  }
  return (int)syscall(SYS_ioctl, fd, request, arg);
}
