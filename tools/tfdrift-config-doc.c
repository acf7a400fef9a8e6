/* tfdrift-config-doc — renders the configuration reference or the example
 * file from td_config_directives[]; `make docs` runs it to write
 * docs/configuration.md and config.example.yaml.  The output on stdout is the
 * product, so this tool prints rather than logs. */
#include <stdio.h>
#include <string.h>

#include "tfdrift/config.h"

static const struct {
	const char *name;
	int (*write)(FILE *out);
	const char *help;
} commands[] = {
	{ "reference", td_config_write_reference, "Markdown reference (docs/configuration.md)" },
	{ "example", td_config_write_example, "commented YAML example (config.example.yaml)" },
};

static void
usage(FILE *out)
{
	fputs("usage: tfdrift-config-doc COMMAND\n\nWrites to stdout:\n", out);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
	}
}

int
main(int argc, char **argv)
{
	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0) {
			if (commands[i].write(stdout) != 0 || fflush(stdout) != 0 ||
			    ferror(stdout)) {
				fprintf(stderr, "tfdrift-config-doc: cannot write the %s\n",
				    commands[i].name);
				return 1;
			}
			return 0;
		}
	}
	fprintf(stderr, "tfdrift-config-doc: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
