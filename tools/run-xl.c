// SPDX-License-Identifier: GPL-2.0-only
/* xl, run as a child: the tool's commands wrap xl's own. */
#include <sys/wait.h>
#include <unistd.h>

#include "virtio-xenbus.h"

int run_xl(const char *const *args)
{
	const char *xl = getenv("XL") ? getenv("XL") : "xl";
	const char *argv[64] = { xl };
	int i, status;
	pid_t pid;

	for (i = 0; args[i] && i < 62; i++)
		argv[i + 1] = args[i];
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execvp(xl, (char *const *)argv);
		fprintf(stderr, "virtio-xenbus: cannot run %s: %s\n", xl, strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int xl_domain(const char *verb, uint32_t domid)
{
	char id[16];

	snprintf(id, sizeof(id), "%u", domid);
	return run_xl((const char *const []){ verb, id, NULL });
}
