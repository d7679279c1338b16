/* The setup the inference commands share: model from a checkpoint, data opened in
 * the placement asked for and validated against the model. */
#include <string.h>

#include "shardnet/checkpoint.h"
#include "shardnet/trainer.h"

static sn_status parse_placement(const char *text, sn_placement *out) {
  *out = SN_PLACEMENT_AUTO;
  for (int p = 0; text && p < SN_PLACEMENT_COUNT; p++)
    if (!strcmp(text, sn_placement_names[p])) {
      *out = (sn_placement)p;
      return SN_OK;
    }
  return text ? sn_fail(SN_ERR_INVALID, "--placement '%s' is not one of auto, replicate, node, shard, stream", text)
              : SN_OK;
}

sn_status sn_inference_open(sn_dist *d, const char *checkpoint, const char *data, const char *placement,
                            sn_inference *in) {
  memset(in, 0, sizeof *in);
  sn_dataset_options o = {.role = "data"};
  SN_TRY(sn_dist_agree(d, parse_placement(placement, &o.placement)));
  SN_TRY(sn_dist_agree(d, sn_checkpoint_open_model(checkpoint, &in->cfg, &in->net, in->resolved)));
  SN_TRY(sn_dataset_open(d, data, &o, &in->ds));
  const sn_sample_format f = sn_dataset_format(in->ds);
  SN_TRY(sn_dist_agree(d, sn_transform_init(&in->tf, &in->cfg->data, &f, 0, in->cfg->seed, data)));
  return sn_dataset_validate(d, in->ds, in->net, &in->tf);
}

void sn_inference_close(sn_inference *in) {
  sn_dataset_free(in->ds);
  sn_net_destroy(in->net);
  sn_config_free(in->cfg);
}
