// FP32 fused multiply-add peak of this machine: every core runs independent FMA chains on the widest vectors
// -march=native gives (16 floats with AVX-512, else 8: a 16-float vector on AVX2 would need 24 of its 16 ymm
// registers and spill). Each chain starts from its own value, so the compiler cannot merge them into one (it did
// while they all started equal: the loop then timed one chain's latency, not the FMA ports' throughput).
// Prints GFLOP/s summed over the threads. Built and run by peak.ts.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef __AVX512F__
#define WIDTH 16
#else
#define WIDTH 8
#endif
typedef float vf __attribute__((vector_size(WIDTH * 4)));
#define CHAINS 12
static long iters = 20000000;

static void *run(void *out) {
  vf a, b, x[CHAINS];
  for (int i = 0; i < WIDTH; i++) { a[i] = 0.999999f; b[i] = 1e-7f; }
  for (int c = 0; c < CHAINS; c++) x[c] = b * (float)(c + 3);
  // Twelve independent chains in registers: enough to cover the FMA latency on two ports.
  for (long k = 0; k < iters; k++) {
#pragma GCC unroll 12
    for (int c = 0; c < CHAINS; c++) x[c] = x[c] * a + b;
  }
  vf t = x[0];
  for (int c = 1; c < CHAINS; c++) t += x[c];
  float s = 0;
  for (int i = 0; i < WIDTH; i++) s += t[i];
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
  double flops = 2.0 * WIDTH * CHAINS * (double)iters * threads;
  printf("%.1f %g\n", flops / s / 1e9, (double)sink[0]);
  return 0;
}
