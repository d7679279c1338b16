/* STUB: `shardnet summary CONFIG` (to be implemented with the config loader). */
#include "cli/commands.h"

int sn_cmd_summary(int argc, char **argv) {
  sn_cli_error("summary is not implemented yet");
  return 1;
}
