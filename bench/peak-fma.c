// FP32 fused multiply-add peak of this machine: every core runs independent FMA chains on the widest vectors
// -march=native gives (AVX-512, else AVX2). Prints GFLOP/s summed over the threads. Built and run by peak.ts.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef float v16 __attribute__((vector_size(64)));
#define CHAINS 12
static long iters = 20000000;

static void *run(void *out) {
  v16 a, b, x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11;
  for (int i = 0; i < 16; i++) { a[i] = 0.999999f; b[i] = 1e-7f; }
  x0 = x1 = x2 = x3 = x4 = x5 = x6 = x7 = x8 = x9 = x10 = x11 = b * 3.0f;
  // Twelve independent chains in registers: enough to cover the FMA latency on two ports.
  for (long k = 0; k < iters; k++) {
    x0 = x0 * a + b; x1 = x1 * a + b; x2 = x2 * a + b; x3 = x3 * a + b;
    x4 = x4 * a + b; x5 = x5 * a + b; x6 = x6 * a + b; x7 = x7 * a + b;
    x8 = x8 * a + b; x9 = x9 * a + b; x10 = x10 * a + b; x11 = x11 * a + b;
  }
  v16 t = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11;
  float s = 0;
  for (int i = 0; i < 16; i++) s += t[i];
  *(float *)out = s;
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  if (argc > 2) iters = atol(argv[2]);
  pthread_t t[256];
  float sink[256];
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, run, &sink[i]);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
  double flops = 2.0 * 16 * CHAINS * (double)iters * threads;
  printf("%.1f %g\n", flops / s / 1e9, (double)sink[0]);
  return 0;
}
