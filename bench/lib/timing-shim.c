/*
 * Timing shim for bench/iso-build.ts: runs the real program (the symlink real/<name> beside this
 * binary) with the same arguments and environment, and appends
 * "<name> <start µs> <end µs> <argv…>" to $BENCH_TOOL_LOG, the interval taken from the fork to
 * the reaping of the program. Linked statically, so a preloaded libfaketime (the FAT tools run
 * under a frozen clock) reaches the program but not this clock, and it starts in a fraction of a
 * millisecond: a bash shim's own start-up (2-3 ms per tool) fell on Bootforge's side of the
 * measurement.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long micros(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (long long)t.tv_sec * 1000000LL + t.tv_nsec / 1000;
}

int main(int argc, char **argv) {
  (void)argc;
  char self[PATH_MAX], link[PATH_MAX + 64], real[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n < 0) return 127;
  self[n] = 0;
  char name[PATH_MAX];
  snprintf(name, sizeof name, "%s", argv[0]);
  const char *tool = basename(name);
  snprintf(link, sizeof link, "%s/real/%s", dirname(self), tool);
  n = readlink(link, real, sizeof real - 1);
  if (n < 0) {
    fprintf(stderr, "timing shim: no real program for %s\n", tool);
    return 127;
  }
  real[n] = 0;

  long long start = micros();
  pid_t pid = fork();
  if (pid == 0) {
    char *shim0 = argv[0];
    argv[0] = real;
    execv(real, argv);
    argv[0] = shim0;
    _exit(127);
  }
  int status = 0;
  while (pid > 0 && waitpid(pid, &status, 0) < 0) {
  }
  long long end = micros();

  const char *path = getenv("BENCH_TOOL_LOG");
  if (path != NULL && *path != 0) {
    static char line[65536];
    int len = snprintf(line, sizeof line, "%s %lld %lld %s", tool, start, end, argv[0]);
    for (int i = 1; argv[i] != NULL && i < 200 && len < (int)sizeof line - 2; i++)
      len += snprintf(line + len, sizeof line - len, " %s", argv[i]);
    if (len > (int)sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0) {
      ssize_t w = write(fd, line, len);
      (void)w;
      close(fd);
    }
  }
  if (pid < 0) return 127;
  if (WIFSIGNALED(status)) {
    signal(WTERMSIG(status), SIG_DFL);
    raise(WTERMSIG(status));
    return 128 + WTERMSIG(status);
  }
  return WEXITSTATUS(status);
}
