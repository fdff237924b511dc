/* main.c — the luatrade command: run, sim, version. (placeholder until the runtime lands) */
#include <stdio.h>
#include <string.h>

int lt_sim_main(int argc, char **argv);

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "sim") == 0)
		return lt_sim_main(argc - 1, argv + 1);
	fprintf(stderr, "usage: luatrade sim|run ...\n");
	return 2;
}
