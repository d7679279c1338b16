/* How the net lays out its per-batch buffers: output gradients share buffers only
 * between layers that are never live at once (src/net/grad_plan.c), and a flatten's
 * output is its producer's buffer. The gradients themselves are checked against
 * finite differences by the layer and merge suites, which run on these buffers. */
#include <string.h>

#include "sn_test_layers.h"

/* Every two layers sharing a gradient buffer have disjoint live ranges [j, zero_at[j]]. */
static void assert_no_overlap(const sn_net *net) {
  const int *zero_at = net->dact_plan.zero_at;
  for (int i = 0; i < net->n_layers; i++)
    for (int j = i + 1; j < net->n_layers; j++)
      if (net->dacts[i] == net->dacts[j]) {
        if (zero_at[i] >= j) fprintf(stderr, "  layers %d and %d share a live gradient\n", i, j);
        CU_ASSERT(zero_at[i] < j);
      }
}

static void test_chain_needs_two_buffers(void) {
  sn_net *net = sn_test_net(sn_shape_chw(2, 6, 6),
                            "conv2d filters=4 kernel=3 activation=relu; maxpool2d size=2; relu; sigmoid; "
                            "flatten; dense units=8 activation=relu; dropout rate=0.5; dense units=3", 4);
  if (!net) return;
  CU_ASSERT_EQUAL(net->dact_plan.n_pools, 2);
  assert_no_overlap(net);
  /* each layer's gradient is written by the next layer and read by itself */
  for (int j = 0; j < net->n_layers - 1; j++) CU_ASSERT_EQUAL(net->dact_plan.zero_at[j], j + 1);
  sn_net_destroy(net);
}

static void test_skip_connection_stays_live(void) {
  /* a's gradient is written by the add (layer 4) and must survive b, c and d's
   * backward: it cannot share with any of them */
  sn_net *net = sn_test_net(sn_shape_chw(2, 4, 4),
                            "relu name=a; tanh name=b; sigmoid name=c; elu name=d; add inputs=a,d; "
                            "flatten; dense units=2", 2);
  if (!net) return;
  CU_ASSERT_EQUAL(net->dact_plan.zero_at[0], 4);
  for (int j = 1; j <= 3; j++) CU_ASSERT_PTR_NOT_EQUAL(net->dacts[0], net->dacts[j]);
  assert_no_overlap(net);
  CU_ASSERT(sn_test_gradcheck(net, 2, 1, 1e-2, 1e-2, 300) <= 1e-2);
  sn_net_destroy(net);
}

static void test_flatten_shares_its_input(void) {
  sn_net *net = sn_test_net(sn_shape_chw(2, 3, 3), "relu name=r; flatten name=f; dense units=2", 2);
  if (!net) return;
  CU_ASSERT_PTR_EQUAL(sn_net_layer_output(net, 1), sn_net_layer_output(net, 0));
  sn_net_destroy(net);
  /* the network input is the caller's buffer: a flatten of it gets its own */
  net = sn_test_net(sn_shape_chw(2, 3, 3), "flatten name=f; dense units=2", 2);
  if (!net) return;
  float x[2 * 18];
  sn_test_fill(x, 36, 3, -1.0f, 1.0f);
  sn_test_pass(net, x, 2, NULL, NULL);
  CU_ASSERT_EQUAL(memcmp(sn_net_layer_output(net, 0), x, sizeof x), 0);
  CU_ASSERT_PTR_NOT_EQUAL(sn_net_layer_output(net, 0), x);
  sn_net_destroy(net);
}

/* The first layer to add into a gradient buffer writes it instead (sn_bwd.din_fresh),
 * and the net no longer clears it: a layer that added anyway would add a stale
 * gradient of whichever layer used the shared buffer before. Checked against finite
 * differences through every layer that writes (conv, transposed conv, batch norm in
 * training, activations, pooling, flatten, add with an input named twice, which
 * still adds), on both
 * kernel sets. The activations are smooth ones: a relu's kink next to batch norm's
 * moving statistics defeats float finite differences. */
static void check_fresh_gradients(sn_kernel_set set) {
  sn_net *net = sn_test_net_kernels(
      sn_shape_chw(3, 6, 5),
      "conv2d name=c1 filters=4 kernel=3 padding=same bias=false; batchnorm2d name=b1; tanh name=r1; "
      "conv2d name=c2 filters=4 kernel=3 padding=same; elu name=r2; add name=a inputs=r1,r2,r1; "
      "conv2d_transpose name=t filters=2 kernel=2 stride=2; sigmoid name=s; add inputs=s,t; "
      "avgpool2d size=2; flatten; dense units=3",
      3, set, SN_PRECISION_FP32);
  if (!net) return;
  CU_ASSERT(sn_test_gradcheck(net, 3, 1, 1e-2, 2e-2, 200) <= 2e-2);
  sn_net_destroy(net);
}

static void test_fresh_gradients(void) {
  check_fresh_gradients(SN_KERNELS_NATIVE);
  if (sn_kernels_have_onednn()) check_fresh_gradients(SN_KERNELS_ONEDNN);
}

int main(void) {
  const sn_test_case cases[] = {{"a chain of layers needs two gradient buffers", test_chain_needs_two_buffers},
                                {"a skip connection keeps its gradient live", test_skip_connection_stays_live},
                                {"flatten shares its producer's buffer", test_flatten_shares_its_input},
                                {"layers writing their input gradients pass a gradient check", test_fresh_gradients},
                                {NULL, NULL}};
  return sn_test_main("net_buffers", cases);
}
