// SPDX-License-Identifier: GPL-2.0-only
/* Disk specs as xl-disk-configuration(5) writes them, and their errors. */
#include <check.h>
#include <string.h>

#include "diskspec.h"
#include "../check-run.h"

static struct vx_diskspec parse_ok(const char *spec)
{
	struct vx_diskspec d;
	char err[160] = "";

	ck_assert_msg(vx_parse_diskspec(spec, &d, err, sizeof(err)),
		      "'%s' refused: %s", spec, err);
	return d;
}

START_TEST(xl_equivalent_forms_give_the_same_disk)
{
	static const char *const forms[] = {
		"/srv/g.img,,vda",
		"/srv/g.img,raw,vda,rw",
		"/srv/g.img,raw,vda,w",
		"format=raw, vdev=vda, access=rw, target=/srv/g.img",
		"vdev=vda,/srv/g.img",
		" /srv/g.img , raw , vda ",
	};
	size_t i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct vx_diskspec d = parse_ok(forms[i]);

		ck_assert_str_eq(d.target, "/srv/g.img");
		ck_assert_str_eq(d.vdev, "vda");
		ck_assert(!d.readonly);
		ck_assert_uint_eq(d.queues, 0);
		ck_assert_str_eq(d.backend, "");
	}
}
END_TEST

START_TEST(readonly_queues_and_backend)
{
	struct vx_diskspec d = parse_ok("/srv/g.img,raw,vdb,ro,queues=4,backend=storage");

	ck_assert(d.readonly);
	ck_assert_uint_eq(d.queues, 4);
	ck_assert_str_eq(d.backend, "storage");
	d = parse_ok("access=r,vdev=vdc,target=/srv/a,b.img");
	ck_assert(d.readonly);
	/* target= takes the rest of the spec, commas included. */
	ck_assert_str_eq(d.target, "/srv/a,b.img");
}
END_TEST

START_TEST(bad_specs_are_refused_with_the_reason)
{
	static const struct {
		const char *spec, *reason;
	} cases[] = {
		{ "", "no target" },
		{ "/srv/g.img", "no vdev" },
		{ "/srv/g.img,qcow2,vda", "format 'qcow2' is not supported" },
		{ "/srv/g.img,raw,vda,rx", "access 'rx' is neither ro nor rw" },
		{ "/srv/g.img,raw,Vda", "vdev 'Vda' is not a disk name" },
		{ "/srv/g.img,raw,vda,rw,extra", "too many positional parameters" },
		{ "/srv/g.img,raw,vda,colour=red", "unknown key 'colour'" },
		{ "/srv/g.img,vdev=vda,vdev=vdb", "'vdev' given twice" },
		{ "/srv/g.img,,vda,queues=0", "queues '0' is not a number from 1 to 16" },
		{ "/srv/g.img,,vda,queues=17", "queues '17'" },
		{ "/srv/g.img,,vda,queues=2x", "queues '2x'" },
		{ "/srv/g.img,,vda,backend=", "the backend is empty" },
		{ "/srv/g.img,,vdc,cdrom", "cdrom is not supported" },
		{ "vdev=vda,target=", "the target is empty" },
	};
	struct vx_diskspec d;
	char err[160];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(!vx_parse_diskspec(cases[i].spec, &d, err, sizeof(err)),
			      "'%s' accepted", cases[i].spec);
		ck_assert_msg(strstr(err, cases[i].reason),
			      "'%s': reason '%s', expected '%s'", cases[i].spec, err,
			      cases[i].reason);
	}
}
END_TEST

START_TEST(overlong_values_are_refused_not_cut)
{
	char spec[400], err[160];
	struct vx_diskspec d;

	memset(spec, 'a', 300);
	strcpy(spec + 300, ",,vda");
	spec[0] = '/';
	ck_assert(!vx_parse_diskspec(spec, &d, err, sizeof(err)));
	ck_assert(strstr(err, "target is too long"));
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		xl_equivalent_forms_give_the_same_disk,
		readonly_queues_and_backend,
		bad_specs_are_refused_with_the_reason,
		overlong_values_are_refused_not_cut,
	};

	return RUN_TESTS("diskspec", tests, NULL, NULL, 0);
}
