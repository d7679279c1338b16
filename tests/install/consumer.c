/* A program outside the tree, built against an installed shardnet (pkg-config or
 * find_package): loads a checkpoint and runs one forward pass on a constant image,
 * printing the output's size and its sum. */
#include <shardnet/checkpoint.h>
#include <shardnet/config.h>
#include <shardnet/net.h>
#include <shardnet/version.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: consumer CHECKPOINT\n");
    return 2;
  }
  sn_config *cfg;
  sn_net *net;
  char resolved[SN_PATH_CAP];
  if (sn_checkpoint_open_model(argv[1], &cfg, &net, resolved) != SN_OK ||
      sn_net_reserve(net, 1, 0) != SN_OK) {
    fprintf(stderr, "consumer: %s\n", sn_last_error());
    return 1;
  }
  const size_t in = sn_shape_size(net->input_shape), out = sn_shape_size(sn_net_output_shape(net));
  float *x = malloc(in * sizeof *x);
  for (size_t i = 0; i < in; i++) x[i] = 0.5f;
  const sn_pass pass = {0};
  sn_net_forward(net, x, 1, &pass);
  double sum = 0;
  for (size_t i = 0; i < out; i++) sum += sn_net_output(net)[i];
  printf("shardnet %s: %zu outputs, sum %.6f\n", SHARDNET_VERSION, out, sum);
  free(x);
  sn_net_destroy(net);
  sn_config_free(cfg);
  return 0;
}
