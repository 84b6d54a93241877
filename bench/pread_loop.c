// The limit a pagemap-based classifier is measured against: the least work that classifies a
// parent/child pair by PFN. Reads both pagemaps over the given ranges in 2 MiB preads and counts pages
// present in both with the same PFN. Prints the best time of REPEAT runs in seconds and the counts.
//
// Usage: pread_loop PARENT CHILD REPEAT START END [START END]...   (addresses in hex)
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 6 || (argc - 4) % 2) {
    fprintf(stderr, "usage: pread_loop PARENT CHILD REPEAT START END...\n");
    return 2;
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/pagemap", argv[1]);
  int fp = open(path, O_RDONLY);
  snprintf(path, sizeof path, "/proc/%s/pagemap", argv[2]);
  int fc = open(path, O_RDONLY);
  if (fp < 0 || fc < 0) {
    perror("open pagemap");
    return 2;
  }
  int repeat = atoi(argv[3]);
  long ps = sysconf(_SC_PAGESIZE);
  uint64_t *a = malloc(CHUNK * 8), *b = malloc(CHUNK * 8);
  double best = 1e9;
  long pages = 0, shared = 0;
  for (int r = 0; r < repeat; r++) {
    double t0 = now();
    pages = shared = 0;
    for (int i = 4; i < argc; i += 2) {
      uint64_t s = strtoull(argv[i], 0, 16) / ps, e = strtoull(argv[i + 1], 0, 16) / ps;
      for (uint64_t p = s; p < e; p += CHUNK) {
        size_t n = (e - p < CHUNK ? e - p : CHUNK);
        if (pread(fp, a, n * 8, p * 8) != (ssize_t)(n * 8) || pread(fc, b, n * 8, p * 8) != (ssize_t)(n * 8)) {
          perror("pread");
          return 2;
        }
        for (size_t k = 0; k < n; k++) {
          const uint64_t pfnMask = (1ULL << 55) - 1, present = 1ULL << 63;
          shared += (a[k] & present) && (b[k] & present) && ((a[k] & pfnMask) == (b[k] & pfnMask));
        }
        pages += n;
      }
    }
    double t = now() - t0;
    if (t < best) best = t;
  }
  printf("%.6f %ld %ld\n", best, pages, shared);
  return 0;
}
