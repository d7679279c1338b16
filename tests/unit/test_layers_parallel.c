/* Tests that 1 and 2 OpenMP threads give bitwise equal layer results. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "sn_test_layers.h"

static void test_threads_do_not_change_results(void) {
  enum { BATCH = 2, C = 4, H = 64, W = 64, IN = BATCH * C * H * W };
  const char *layers =
      "batchnorm2d name=bn; maxpool2d size=3 stride=1 padding=same name=mp; avgpool2d size=2; "
      "upsample2d mode=bilinear name=up; add inputs=up,mp; dropout rate=0.2 name=dr; "
      "concat inputs=dr,bn; softmax; sigmoid; minpool2d size=2; upsample2d; elu; "
      "global_avgpool2d";
  sn_net *net = sn_test_net(sn_shape_chw(C, H, W), layers, BATCH);
  if (!net) return;
  const size_t n_out = BATCH * sn_shape_size(sn_net_output_shape(net));
  float *x = malloc(IN * sizeof *x), *dout = malloc(n_out * sizeof *dout);
  float *ref[3] = {malloc(n_out * sizeof(float)), malloc(IN * sizeof(float)),
                   malloc(net->n_params * sizeof(float))};
  sn_test_fill(x, IN, 70, -2, 2);
  sn_test_fill(dout, n_out, 71, -1, 1);
  sn_pass pass = {.training = 1, .seed = 5, .epoch = 1, .first_sample = 40};
  const int saved = omp_get_max_threads();
  for (int threads = 1; threads <= 2; threads++) {
    omp_set_num_threads(threads);
    const float *y = sn_test_pass(net, x, BATCH, &pass, dout);
    if (threads == 1) {
      memcpy(ref[0], y, n_out * sizeof(float));
      memcpy(ref[1], net->dinput, IN * sizeof(float));
      memcpy(ref[2], net->grads, net->n_params * sizeof(float));
    } else {
      CU_ASSERT(memcmp(ref[0], y, n_out * sizeof(float)) == 0);
      CU_ASSERT(memcmp(ref[1], net->dinput, IN * sizeof(float)) == 0);
      CU_ASSERT(memcmp(ref[2], net->grads, net->n_params * sizeof(float)) == 0);
    }
  }
  omp_set_num_threads(saved);
  for (int i = 0; i < 3; i++) free(ref[i]);
  free(x);
  free(dout);
  sn_net_destroy(net);
}

int main(void) {
  const sn_test_case cases[] = {
      {"1 and 2 threads give bitwise equal results", test_threads_do_not_change_results},
      {NULL, NULL}};
  return sn_test_main("layers_parallel", cases);
}
