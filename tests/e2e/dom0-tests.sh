#!/bin/sh
# The end-to-end tests, run in dom0 by dom0-init.  Each test prints
# "E2E-RESULT: PASS|FAIL name"; its output goes to /var/log/e2e/NAME.log.
# A test is a function test_NAME in the file of its topic:
#   lib.sh           what the tests share: the guest's agent, waits, the
#                    daemon, and the set-ups a test asks for (ensure_*)
#   blk.sh net.sh    virtio-blk and virtio-net in guest1
#   lifecycle.sh     module reload, reboot, destruction, the daemon's
#                    restart, save and restore, plain xl's virtio disks
#                    and nics, xendomains, xl migrate
#   slow-backend.sh  the daemon stopped at each step of a guest's life
#   domains.sh       other domains: grant exhaustion, a driver domain,
#                    other guest kernels
#   bench.sh         ratios against blkback and netback
# The guest runs guest-init, whose agent executes what guest_run sends.
set -u
E2E=$(dirname "$0")
LOG=/var/log/e2e
GUEST=guest1
DAEMON_LOG=$LOG/virtio-xenbusd.log
MiB=1048576

say() { echo "e2e: $*"; }

for topic in lib blk net lifecycle slow-backend domains bench; do
	. "$E2E/$topic.sh"
done

# The usual order (CI runs them all).
TESTS="daemon_starts guest_boots_with_virtio_disk blk_filesystem_round_trip
	blk_random_writes_read_back blk_flush_and_discard blk_readonly_hot_attach
	blk_hot_detach blk_two_queues blk_grant_pool_on_and_off net_hot_attach_ping_and_tcp
	daemon_killed_mid_io_resumes slow_backend_at_hot_attach
	slow_backend_at_module_reload slow_backend_at_guest_boot
	slow_backend_at_checkpoint slow_backend_at_restore slow_backend_at_guest_reboot
	reboot_loop_with_writers guest_save_and_restore plain_xl_virtio_disk plain_xl_virtio_nic
	xendomains_restores_guests_with_their_devices grant_exhaustion
	driver_domain_backend second_kernel_guest custom_kernel_guest net_hot_detach
	module_unload_and_reload guest_reboot_reconnects
	guest_destroyed_mid_io_leaves_nothing daemon_stops_cleanly"
# Run only when E2E_ONLY names them: the benchmarks, which print figures
# for people rather than check (about 7 minutes of the rig), and the live
# migrations of PVH guests, which need HAP (E2E_CPU=qemu64,+svm,+npt) and,
# under QEMU's emulated SVM, a pCPU of their own (lib.sh's pvh_cfg).
BY_NAME="bench_vda_vs_xvda bench_nic_vs_vif xl_migrate_pvh_guest_keeps_virtio_devices virtio_xenbus_migrate_pvh_guest virtio_xenbus_migrate_with_driver_domain bench_pvh_migration_downtime bench_tool_migration_downtime"
# NAME:BEFORE: NAME works on what BEFORE made, so it follows it; E2E_ONLY
# with NAME runs BEFORE too, once.  Everything else a test needs it sets up
# itself (lib.sh's ensure_*).
NEEDS="blk_hot_detach:blk_readonly_hot_attach"

needs_of() {
	for n in $NEEDS; do
		[ "${n%%:*}" != "$1" ] || echo "${n#*:}"
	done
}

# The tests to run, in the usual order: /payload/only's (E2E_ONLY; all when
# empty) with what they need, less /payload/skip's (E2E_SKIP).
selected() {
	# One space between names: the matches below look for " NAME ".
	want=$(echo $(cat /payload/only 2>/dev/null))
	if [ -z "$want" ]; then
		want=$(echo $TESTS)
		all=$want
	else
		all=$(echo $TESTS $BY_NAME)
		for t in $want; do
			case " $all " in *" $t "*) ;; *) echo "E2E-RESULT: FAIL $t (no such test)" >&2 ;; esac
		done
	fi
	grown=1
	while [ $grown = 1 ]; do
		grown=0
		for t in $want; do
			for d in $(needs_of "$t"); do
				case " $want " in *" $d "*) ;; *) want="$want $d"; grown=1 ;; esac
			done
		done
	done
	for t in $all; do
		case " $want " in *" $t "*) ;; *) continue ;; esac
		grep -qw "$t" /payload/skip 2>/dev/null && continue
		echo "$t"
	done
}

# run_test NAME: runs test_NAME with its output in NAME.log.
run_test() {
	say "--- $1"
	if ("test_$1") >"$LOG/$1.log" 2>&1; then
		echo "E2E-RESULT: PASS $1"
	else
		echo "E2E-RESULT: FAIL $1"
		tail -n 40 "$LOG/$1.log" | sed 's/^/    /'
		echo "    dom0's disk: $(df -m / | awk 'NR == 2 { print $4 }') MiB free"
	fi
}

mkdir -p /srv
for t in $(selected); do
	# The custom kernel comes only with E2E_GUEST_KERNEL (run.sh).
	[ "$t" != custom_kernel_guest ] || [ -d /payload/guest-custom ] || continue
	# Live migration of a PVH guest needs HAP (run.sh's CPU gives it).
	if { [ "$t" = xl_migrate_pvh_guest_keeps_virtio_devices ] || [ "$t" = bench_pvh_migration_downtime ]; } &&
	   ! xl info | grep virt_caps | grep -qw hap; then
		say "$t: this CPU gives Xen no HAP (E2E_CPU)"
		continue
	fi
	# xl's virtio key came with Xen 4.18.
	if [ "$t" = plain_xl_virtio_nic ] && [ "$(xl info | awk '$1 == "xen_minor" { print $3 }')" -lt 18 ]; then
		say "$t: not on Xen 4.$(xl info | awk '$1 == "xen_minor" { print $3 }') (xl has no virtio key)"
		continue
	fi
	run_test "$t"
done
cp /var/log/xen/console/guest-*.log "$LOG/" 2>/dev/null
