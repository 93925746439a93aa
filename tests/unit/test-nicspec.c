// SPDX-License-Identifier: GPL-2.0-only
/* Nic specs as xl-network-configuration(5) writes them, and their errors. */
#include <check.h>
#include <string.h>

#include "nicspec.h"
#include "../check-run.h"

START_TEST(xl_keys_are_read)
{
	struct vx_nicspec n;
	char err[160] = "";

	ck_assert_msg(vx_parse_nicspec(" mac=00:16:3e:01:02:03, bridge=xenbr1,model=virtio,"
				       "type=vif, queues=4,mtu=9000,vifname=web0,,"
				       "script=vif-route,ip=10.0.0.2 10.0.0.3,backend=netdom",
				       &n, err, sizeof(err)), "refused: %s", err);
	ck_assert_str_eq(n.mac, "00:16:3e:01:02:03");
	ck_assert_str_eq(n.bridge, "xenbr1");
	ck_assert_str_eq(n.script, "vif-route");
	ck_assert_str_eq(n.ip, "10.0.0.2 10.0.0.3");
	ck_assert_str_eq(n.vifname, "web0");
	ck_assert_str_eq(n.backend, "netdom");
	ck_assert_uint_eq(n.queues, 4);
	ck_assert_uint_eq(n.mtu, 9000);

	/* Nothing at all: every default. */
	ck_assert(vx_parse_nicspec("", &n, err, sizeof(err)));
	ck_assert_str_eq(n.mac, "");
	ck_assert_uint_eq(n.queues, 0);
}
END_TEST

START_TEST(bad_specs_are_refused_with_the_reason)
{
	static const struct {
		const char *spec, *reason;
	} cases[] = {
		{ "mac=01:16:3e:01:02:03", "not a unicast" },
		{ "mac=00:16:3e:01:02", "not a unicast" },
		{ "mac=00-16-3e-01-02-03", "not a unicast" },
		{ "mac=00:16:3e:01:02:03,mac=00:16:3e:01:02:04", "given twice" },
		{ "bridge=br 0", "not an interface name" },
		{ "bridge=averyveryverylongbridgename", "too long" },
		{ "queues=0", "from 1 to 16" },
		{ "queues=17", "from 1 to 16" },
		{ "mtu=67", "from 68 to 65535" },
		{ "model=e1000", "model=virtio" },
		{ "type=ioemu", "type=vif" },
		{ "colour=blue", "unknown key 'colour'" },
		{ "xenbr0", "not key=value" },
		{ "script=", "script is empty" },
	};
	struct vx_nicspec n;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[160] = "";

		ck_assert_msg(!vx_parse_nicspec(cases[i].spec, &n, err, sizeof(err)),
			      "'%s' accepted", cases[i].spec);
		ck_assert_msg(strstr(err, cases[i].reason), "'%s': '%s' lacks '%s'",
			      cases[i].spec, err, cases[i].reason);
	}
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		xl_keys_are_read,
		bad_specs_are_refused_with_the_reason,
	};

	return RUN_TESTS("nicspec", tests, NULL, NULL, 0);
}
