/* The subcommands of the shardnet CLI; each returns the process exit code. */
#ifndef SN_CLI_COMMANDS_H
#define SN_CLI_COMMANDS_H

int sn_cmd_summary(int argc, char **argv);

/* Prints "shardnet: error: <message>" to stderr. */
void sn_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
