/*
 * Reference outputs for tools/rng-exhaustive/exhaustive-check.ts (not part of the test suite).
 * For every k in [0, 2^24) -- every uniform float u = k * 2^-24 torch's randn can draw -- writes
 * float32 arrays of the maths randn applies to it:
 *   logf(1 - u), sinf(theta), cosf(theta) with theta = (float)(2*pi * u)   (glibc, this machine's libm)
 *   log256(1 - u), sin256(theta), cos256(theta) with theta = 2pi_f * u     (avx_mathfun lane recipe,
 *   written with explicit hardware fmaf, to check the JavaScript fma emulation).
 * Build: gcc -O2 -mfma -ffp-contract=off -fno-builtin tools/rng-exhaustive/libm-oracle.c -lm -o /tmp/libm-oracle
 * Run:   /tmp/libm-oracle OUT_DIR
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float asf(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t asu(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

static float log256(float x) {
  uint32_t ix = asu(x);
  float m = asf((ix & ~0x7f800000u) | 0x3f000000u);
  float e = (float)((int)(ix >> 23) - 0x7f) + 1.0f;
  int below = m < 0.707106781186547524f;
  float tmp = below ? m : 0.0f;
  m = m - 1.0f;
  if (below) e = e - 1.0f;
  m = m + tmp;
  float z = m * m;
  float y = 7.0376836292E-2f;
  y = fmaf(y, m, -1.1514610310E-1f);
  y = fmaf(y, m, 1.1676998740E-1f);
  y = fmaf(y, m, -1.2420140846E-1f);
  y = fmaf(y, m, +1.4249322787E-1f);
  y = fmaf(y, m, -1.6668057665E-1f);
  y = fmaf(y, m, +2.0000714765E-1f);
  y = fmaf(y, m, -2.4999993993E-1f);
  y = fmaf(y, m, +3.3333331174E-1f);
  y = y * m;
  y = fmaf(y, z, e * -2.12194440e-4f);
  y = y - z * 0.5f;
  return (m + y) + e * 0.693359375f;
}

static void sincos256(float x, float *s, float *c) {
  int j = (int)(x * 1.27323954473516f);
  j = (j + 1) & ~1;
  float y = (float)j;
  int swap = (j & 4) != 0, poly = (j & 2) == 0, negc = ((j - 2) & 4) == 0;
  x = x + y * -0.78515625f;
  x = x + y * -2.4187564849853515625e-4f;
  x = x + y * -3.77489497744594108e-8f;
  float z = x * x;
  float yc = 2.443315711809948E-005f * z;
  yc = yc + -1.388731625493765E-003f;
  yc = yc * z;
  yc = yc + 4.166664568298827E-002f;
  yc = yc * z;
  yc = fmaf(yc, z, -(z * 0.5f));
  yc = yc + 1.0f;
  float ys = fmaf(fmaf(-1.9515295891E-4f, z, 8.3321608736E-3f), z, -1.6666654611E-1f);
  ys = ys * z;
  ys = fmaf(ys, x, x);
  float sv = poly ? ys : yc, cv = poly ? yc : ys;
  *s = swap ? -sv : sv;
  *c = negc ? -cv : cv;
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]); return 2; }
  const size_t n = 1u << 24;
  const char *names[6] = {"logf", "sinf", "cosf", "log256", "sin256", "cos256"};
  float *out[6];
  for (int f = 0; f < 6; f++) out[f] = malloc(n * sizeof(float));
  const float two_pi_f = (float)(2.0 * 3.14159265358979323846);
  for (size_t k = 0; k < n; k++) {
    float u = (float)k * 0x1p-24f;
    float u1 = 1.0f - u;
    float theta = (float)(2.0 * 3.14159265358979323846 * (double)u);
    out[0][k] = logf(u1);
    out[1][k] = sinf(theta);
    out[2][k] = cosf(theta);
    out[3][k] = log256(u1);
    sincos256(two_pi_f * u, &out[4][k], &out[5][k]);
  }
  for (int f = 0; f < 6; f++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.f32", argv[1], names[f]);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(out[f], sizeof(float), n, fp) != n || fclose(fp)) { perror(path); return 1; }
  }
  return 0;
}
