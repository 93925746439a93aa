// SPDX-License-Identifier: GPL-2.0-only
/* list: every virtio device, its states, and its queues' counters (protocol.md 2.8). */
#include <getopt.h>
#include <unistd.h>

#include "virtio-xenbus.h"

static const char *state_name(int state)
{
	static const char *const names[] = {
		"unknown", "initialising", "initwait", "initialised",
		"connected", "closing", "closed",
	};

	return state >= 0 && state <= VX_STATE_CLOSED ? names[state] : "invalid";
}

/* Counters are a look, not a device: list waits this long for them (-w). */
#define STATS_WAIT_S	5

static uint64_t read_u64(const char *dir, const char *key)
{
	char *s = xs_readf("%s/%s", dir, key);
	uint64_t v = 0;

	if (!s || !vx_parse_dec_str(s, UINT64_MAX, &v))
		v = 0;
	free(s);
	return v;
}

static void request_stats(uint32_t guest, uint32_t devid, uint32_t be,
			  const char *be_dir, void *arg)
{
	char path[160], seq[24];

	snprintf(path, sizeof(path), "%s/stats-request", be_dir);
	snprintf(seq, sizeof(seq), "%llu",
		 (unsigned long long)(read_u64(be_dir, "stats-answer") % UINT32_MAX + 1));
	xs_write(xs, XBT_NULL, path, seq, strlen(seq));
	(*(unsigned int *)arg)++;
}

static bool stats_answered(const char *be_dir)
{
	uint64_t req = read_u64(be_dir, "stats-request");

	return req && req == read_u64(be_dir, "stats-answer");
}

static void count_answered(uint32_t guest, uint32_t devid, uint32_t be,
			   const char *be_dir, void *arg)
{
	*(unsigned int *)arg += stats_answered(be_dir);
}

/* Ours, and libxl's virtio disks (protocol.md 1.5), which we serve too. */
static void for_each_listed(long guest,
			    void (*fn)(uint32_t guest, uint32_t devid, uint32_t be,
				       const char *be_dir, void *arg),
			    void *arg)
{
	enum vx_kind kind;

	for (kind = 0; kind < VX_NR_KINDS; kind++)
		for_each_device_of(kind, guest, fn, arg);
}

/* Asks every listed device's backend for its counters, waits up to @wait_ms. */
static void collect_stats(long guest, int wait_ms)
{
	unsigned int asked = 0, answered = 0;
	int ms;

	for_each_listed(guest, request_stats, &asked);
	for (ms = 0; ms < wait_ms; ms += 20) {
		answered = 0;
		for_each_listed(guest, count_answered, &answered);
		if (answered >= asked)
			return;
		usleep(20000);
	}
}

static uint64_t stat_field(const char *line, const char *key)
{
	char pat[24];
	const char *at;

	snprintf(pat, sizeof(pat), " %s=", key);
	at = strstr(line, pat);
	return at ? strtoull(at + strlen(pat), NULL, 10) : 0;
}

/* The counters of each running queue, one line each, under the device. */
static void print_stats(const char *be_dir, bool net)
{
	char *text, *line, *save = NULL;

	if (!stats_answered(be_dir)) {
		printf("       (no counters: the backend did not answer in time; see list -w)\n");
		return;
	}
	text = xs_readf("%s/stats", be_dir);
	for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (net && !strncmp(line, "tap ", 4))
			printf("       TAP: %llu dropped toward the guest (its queue full), %llu from it\n",
			       (unsigned long long)stat_field(line, "dropped-to-guest"),
			       (unsigned long long)stat_field(line, "dropped-from-guest"));
		else if (net)
			printf("       queue %u: %llu frames, %llu bytes, %llu dropped, %llu refused; %llu kicks, %llu interrupts, %llu grant ops\n",
			       atoi(line), (unsigned long long)stat_field(line, "packets"),
			       (unsigned long long)stat_field(line, "bytes"),
			       (unsigned long long)stat_field(line, "drops"),
			       (unsigned long long)stat_field(line, "errors"),
			       (unsigned long long)stat_field(line, "kicks"),
			       (unsigned long long)stat_field(line, "interrupts"),
			       (unsigned long long)stat_field(line, "grant-ops"));
		else
			printf("       queue %u: %llu requests; %llu kicks, %llu interrupts, %llu grant ops\n",
			       atoi(line), (unsigned long long)stat_field(line, "requests"),
			       (unsigned long long)stat_field(line, "kicks"),
			       (unsigned long long)stat_field(line, "interrupts"),
			       (unsigned long long)stat_field(line, "grant-ops"));
	}
	free(text);
}

/* A nic's address as the backend publishes it (virtio_net_config.mac). */
static const char *config_mac(const char *be_dir, char text[18])
{
	char *config = xs_readf("%s/config", be_dir);
	uint8_t mac[VX_MAX_CONFIG_LEN];
	size_t n = 0;

	if (config && vx_parse_hexbytes(config, strlen(config), mac, sizeof(mac), &n) &&
	    n >= 6)
		snprintf(text, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
			 mac[2], mac[3], mac[4], mac[5]);
	else
		snprintf(text, 18, "(generated)");
	free(config);
	return text;
}

static void print_device(uint32_t guest, uint32_t devid, uint32_t be,
			 const char *be_dir, void *arg)
{
	bool xl_disk = strstr(be_dir, "/backend/" VX_XL_DISK_TYPE "/"), xl_nic, net;
	char *type = xs_readf("%s/type", be_dir), *dev = xs_readf("%s/dev", be_dir);
	char *params = xs_readf("%s/params", be_dir), *mode = xs_readf("%s/mode", be_dir);
	char *mac = xs_readf("%s/mac", be_dir), *bridge = xs_readf("%s/bridge", be_dir);
	char target[128], mac_text[18];
	uint32_t virtio_id = 0;
	char *queues = xs_readf("%s/queues", be_dir), *error = xs_readf("%s/error", be_dir);
	char *pool = xs_readf("%s/pool-mapped", be_dir);
	char *fe_state = xs_readf("/local/domain/%u/device/%s/%u/state", guest,
				  xl_disk ? VX_XL_DISK_TYPE : VX_DEVICE_TYPE, devid);
	char *be_state = xs_readf("%s/state", be_dir);
	uint64_t fe = 0, bs = 0;

	if (!fe_state || !vx_parse_dec_str(fe_state, 255, &fe))
		fe = 0;
	if (!be_state || !vx_parse_dec_str(be_state, 255, &bs))
		bs = 0;
	/* xl's virtio = [ "type=virtio,device1" ] (protocol.md 1.6). */
	xl_nic = vx_parse_xl_virtio_type(type, &virtio_id) && virtio_id == 1;
	net = xl_nic || (type && !strcmp(type, "net"));
	/* A disk's target is its file; a nic's, its address and bridge. */
	if (net)
		snprintf(target, sizeof(target), "mac %s%s%s%s",
			 mac ?: config_mac(be_dir, mac_text), bridge ? " bridge " : "",
			 bridge ?: "", xl_nic ? "  (xl's virtio nic)" : "");
	else
		snprintf(target, sizeof(target), "%s%s", params ?: "-",
			 xl_disk ? "  (xl's virtio disk)" : "");
	printf("%-6u %-6u %-5s %-6s %-8u %-13s %-13s %-3s %-6s %s%s%s\n", guest, devid,
	       xl_disk ? "blk" : net ? "net" : type ?: "?", dev ?: "-", be, state_name(bs),
	       state_name(fe), mode ?: "-", queues ?: "1", target,
	       error ? "  error: " : "", error ?: "");
	if (pool)
		printf("       grant pool: %s pages mapped\n", pool);
	print_stats(be_dir, net);
	free(be_state);
	free(pool);
	free(mac);
	free(bridge);
	free(type);
	free(dev);
	free(params);
	free(mode);
	free(queues);
	free(error);
	free(fe_state);
}

int list(int argc, char **argv)
{
	uint64_t wait_s = STATS_WAIT_S;
	long guest = -1;
	int c;

	optind = 1;
	while ((c = getopt(argc, argv, "w:")) != -1) {
		if (c != 'w' || !vx_parse_dec_str(optarg, 3600, &wait_s))
			die("usage: list [-w SECONDS] [DOMAIN]");
	}
	if (argc - optind > 1)
		die("usage: list [-w SECONDS] [DOMAIN]");
	if (argc - optind == 1)
		guest = find_domain(argv[optind]);
	printf("%-6s %-6s %-5s %-6s %-8s %-13s %-13s %-3s %-6s %s\n", "Domain", "Devid",
	       "Type", "Vdev", "Backend", "BackendState", "GuestState", "Md", "Queues",
	       "Target");
	collect_stats(guest, wait_s * 1000);
	for_each_listed(guest, print_device, NULL);
	return 0;
}
