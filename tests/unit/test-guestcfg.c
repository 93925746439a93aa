// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest configs as xl reads them (xl.cfg(5)) with virtio_disk and
 * virtio_nic lists, and the refusals `virtio-xenbus create` gives before it
 * makes anything: each with its line and reason.
 */
#include <check.h>
#include <string.h>

#include "guestcfg.h"
#include "xlcfg.h"
#include "../check-run.h"

START_TEST(a_full_config_is_read)
{
	static const char text[] =
		"# web server\n"
		"name = \"web\"\n"
		"type = 'pv'; memory = 512 ; vcpus = 0x2\n"
		"kernel = \"/boot/vmlinuz\"\n"
		"extra = \"console=hvc0 \\\"quoted\\\"\\tx\"\n"
		"disk = [ 'phy:/dev/vg/web,xvda,w' ]\n"
		"vnuma = [ [ \"pnode=0\", \"size=512\" ], ]\n"
		"virtio_disk = [\n"
		"    '/srv/web.img,raw,vda,rw,queues=2',   # the root\n"
		"\n"
		"    \"vdev=vdb, access=ro, target=/srv/data,with,commas.img\",\n"
		"]\n"
		"virtio_nic = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0', ]\n"
		"virtio_nic += [ 'bridge=xenbr1,queues=4' ]\n";
	struct vx_guestcfg gc;
	char err[200] = "";

	ck_assert_msg(vx_guestcfg_read(&gc, text, err, sizeof(err)), "refused: %s", err);
	ck_assert_str_eq(gc.name, "web");
	ck_assert_uint_eq(gc.nr_disks, 2);
	ck_assert_str_eq(gc.disks[0].target, "/srv/web.img");
	ck_assert_str_eq(gc.disks[0].vdev, "vda");
	ck_assert_uint_eq(gc.disks[0].queues, 2);
	ck_assert(!gc.disks[0].readonly);
	ck_assert_uint_eq(gc.disk_line[0], 9);
	ck_assert_str_eq(gc.disks[1].target, "/srv/data,with,commas.img");
	ck_assert(gc.disks[1].readonly);
	ck_assert_uint_eq(gc.disk_line[1], 11);
	ck_assert_uint_eq(gc.nr_nics, 2);
	ck_assert_str_eq(gc.nics[0].mac, "00:16:3e:00:00:01");
	ck_assert_str_eq(gc.nics[1].bridge, "xenbr1");
	ck_assert_uint_eq(gc.nics[1].queues, 4);

	/* No virtio devices at all is a plain guest. */
	ck_assert(vx_guestcfg_read(&gc, "name='plain'", err, sizeof(err)));
	ck_assert_uint_eq(gc.nr_disks + gc.nr_nics, 0);
}
END_TEST

START_TEST(xl_syntax_details)
{
	struct vx_xlcfg cfg;
	const struct vx_xlcfg_value *v;
	char err[200] = "";

	ck_assert_msg(vx_xlcfg_parse(&cfg, "a='x\\x41\\101\\n'\nb=[]\nc = 'one'\nc = 'two'\n"
				      "d = 'ab'\nd += 'cd'\ne=[1,[2,3],'x']\nf = ['y']\nf += []\nb += []\n",
				      err, sizeof(err)),
		      "%s", err);
	ck_assert_str_eq(vx_xlcfg_get(&cfg, "a")->string, "xAA\n");
	v = vx_xlcfg_get(&cfg, "b");
	ck_assert(v->is_list);
	ck_assert_uint_eq(v->n, 0);
	ck_assert_str_eq(vx_xlcfg_get(&cfg, "c")->string, "two");	/* the last wins */
	ck_assert_str_eq(vx_xlcfg_get(&cfg, "d")->string, "abcd");
	/* Appending an empty list (found by fuzz-guestcfg: memcpy from NULL). */
	v = vx_xlcfg_get(&cfg, "f");
	ck_assert_uint_eq(v->n, 1);
	ck_assert_str_eq(v->items[0].string, "y");
	v = vx_xlcfg_get(&cfg, "e");
	ck_assert_uint_eq(v->n, 3);
	ck_assert_str_eq(v->items[0].string, "1");
	ck_assert(v->items[1].is_list);
	ck_assert_str_eq(v->items[1].items[1].string, "3");
	ck_assert_ptr_null(vx_xlcfg_get(&cfg, "g"));
	vx_xlcfg_free(&cfg);
}
END_TEST

START_TEST(bad_configs_are_refused_with_line_and_reason)
{
	static const struct {
		const char *text, *reason;
	} cases[] = {
		{ "memory = 512\n", "no name" },
		{ "name = [ 'a' ]\n", "line 1: name must be a string" },
		{ "name = 'g'\nmemory 512\n", "line 2: expected '=' after memory" },
		{ "name = 'g'\nkernel = \"/boot/x\n", "line 2: string not closed" },
		{ "name = 'g'\nextra = 'a\\q'\n", "line 2: unknown escape '\\q'" },
		{ "name = 'g'\nextra = 'a' 'b'\n", "line 2: expected the end of the setting" },
		{ "name = 'g'\nx = \n", "line 2: a setting without a value" },
		{ "name = 'g'\nx = yes\n", "line 2: a value must be" },
		{ "name = 'g'\ndisk = [ 'a'\n 'b' ]\n", "line 3: expected ',' or ']'" },
		{ "name = 'g'\ndisk = [ 'a',\n", "line 3: list not closed" },
		{ "name = 'g'\n= 3\n", "line 2: expected a setting name" },
		{ "name = 'g'\nx = [[[[[[[[[1]]]]]]]]]\n", "nested too deep" },
		{ "name = 'g'\nx = 'a'\nx += [ 'b' ]\n", "line 3: += of a list to a string" },
		{ "name = 'g'\nvirtio_disk = '/a,raw,vda'\n",
		  "line 2: virtio_disk must be a list" },
		{ "name = 'g'\nvirtio_disk = [\n '/a,raw,vda',\n '/b,raw,vdb,rx' ]\n",
		  "line 4: virtio_disk entry 2 ('/b,raw,vdb,rx'): access 'rx' is neither ro nor rw" },
		{ "name = 'g'\nvirtio_disk = [ '/a,qcow2,vda' ]\n", "format 'qcow2' is not supported" },
		{ "name = 'g'\nvirtio_disk = [ '/a' ]\n", "line 2: virtio_disk entry 1 ('/a'): no vdev" },
		{ "name = 'g'\nvirtio_disk = [ [ '/a,raw,vda' ] ]\n", "entry 1 is a list" },
		{ "name = 'g'\nvirtio_disk = [ '/a,raw,vda',\n'/b,raw,vda' ]\n",
		  "line 3: vdev vda is given twice" },
		{ "name = 'g'\nvirtio_disk = [ '/a,raw,vda',\n'/a,raw,vdb' ]\n",
		  "line 3: /a is already disk vda; only read-only disks are shared" },
		{ "name = 'g'\nvirtio_nic = [ 'colour=red' ]\n",
		  "line 2: virtio_nic entry 1 ('colour=red'): unknown key 'colour'" },
		{ "name = 'g'\nvirtio_nic = [ 'mac=00:16:3e:00:00:01',\n 'mac=00:16:3E:00:00:01' ]\n",
		  "line 3: mac 00:16:3E:00:00:01 is given twice" },
	};
	struct vx_guestcfg gc;
	char err[200];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(!vx_guestcfg_read(&gc, cases[i].text, err, sizeof(err)),
			      "accepted: %s", cases[i].text);
		ck_assert_msg(strstr(err, cases[i].reason), "case %zu: '%s' does not say '%s'",
			      i, err, cases[i].reason);
	}
	/* Two read-only uses of one file are fine. */
	ck_assert(vx_guestcfg_read(&gc, "name='g'\nvirtio_disk=['/a,raw,vda,ro','/a,raw,vdb,ro']",
				   err, sizeof(err)));
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		a_full_config_is_read,
		xl_syntax_details,
		bad_configs_are_refused_with_line_and_reason,
	};

	return RUN_TESTS("guestcfg", tests, NULL, NULL, 0);
}
