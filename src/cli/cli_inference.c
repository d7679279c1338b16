/* The setup the inference commands share: model from a checkpoint, data validated. */
#include <string.h>

#include "cli/commands.h"
#include "shardnet/checkpoint.h"

sn_status sn_cli_open_inference(sn_dist *d, const char *checkpoint, const char *data, sn_cli_inference *in) {
  memset(in, 0, sizeof *in);
  SN_TRY(sn_dist_agree(d, sn_checkpoint_open_model(checkpoint, &in->cfg, &in->net, in->resolved)));
  SN_TRY(sn_dataset_load(d, data, &in->ds));
  return sn_dist_agree(d, sn_dataset_validate(in->ds, in->net));
}

void sn_cli_close_inference(sn_cli_inference *in) {
  sn_dataset_free(in->ds);
  sn_net_destroy(in->net);
  sn_config_free(in->cfg);
}
