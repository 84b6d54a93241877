// The floor under `cowscope inspect`: the kernel reads it cannot do without, and nothing else. Every
// listed process's smaps_rollup (its RSS, PSS, USS and swap) and its whole pagemap (the ranges of its
// maps but [vsyscall]), read as jobs taken in turn by one thread per online CPU, into buffers that are
// reused; no decoding, no classification, no output. A tool with an interpreter to start can at best
// add its start-up to this.
//
// Usage: family_reads PID...   (prints nothing; exits 1 when a file cannot be read)
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define WINDOW 4096 /* pagemap entries per pread, as the probe reads them */

static int npids;
static int *pids;
static atomic_int next_job;
static atomic_int failed;

static void read_rollup(int pid) {
  char path[64], buf[8192];
  snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    failed = 1;
    return;
  }
  while (read(fd, buf, sizeof buf) > 0) {
  }
  close(fd);
}

static void read_pagemap(int pid) {
  char path[64], line[4096];
  static _Thread_local uint64_t entries[WINDOW];
  snprintf(path, sizeof path, "/proc/%d/maps", pid);
  FILE *maps = fopen(path, "r");
  snprintf(path, sizeof path, "/proc/%d/pagemap", pid);
  int fd = open(path, O_RDONLY);
  if (!maps || fd < 0) {
    failed = 1;
    if (maps) fclose(maps);
    if (fd >= 0) close(fd);
    return;
  }
  const uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE);
  unsigned long long start, end;
  while (fgets(line, sizeof line, maps)) {
    if (sscanf(line, "%llx-%llx", &start, &end) != 2 || start >= 0xffffffffff600000ULL) continue;
    for (uint64_t at = start; at < end;) {
      uint64_t n = (end - at) / ps;
      if (n > WINDOW) n = WINDOW;
      ssize_t got = pread(fd, entries, n * 8, (off_t)(at / ps * 8));
      if (got <= 0) break;
      at += (uint64_t)got / 8 * ps;
    }
  }
  fclose(maps);
  close(fd);
}

/* Jobs 0..npids-1 are the pagemaps (the long ones, taken first), then the rollups. */
static void *worker(void *unused) {
  (void)unused;
  for (;;) {
    int job = atomic_fetch_add(&next_job, 1);
    if (job >= 2 * npids) return NULL;
    if (job < npids) read_pagemap(pids[job]);
    else read_rollup(pids[job - npids]);
  }
}

int main(int argc, char **argv) {
  npids = argc - 1;
  pids = calloc((size_t)npids + 1, sizeof *pids);
  for (int i = 0; i < npids; i++) pids[i] = atoi(argv[i + 1]);
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus < 1) cpus = 1;
  if (cpus > 64) cpus = 64;
  pthread_t threads[64];
  for (long i = 0; i < cpus; i++) pthread_create(&threads[i], NULL, worker, NULL);
  for (long i = 0; i < cpus; i++) pthread_join(threads[i], NULL);
  return failed ? 1 : 0;
}
