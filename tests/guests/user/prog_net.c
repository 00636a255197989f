// SPDX-License-Identifier: MIT
/*
 * net: echo n (default 16) frames from the test peer (net_peer.py).
 *
 * Protocol: the guest first sends a READY frame (broadcast, ethertype 0x88b5,
 * payload "DETVM-READY") so the peer learns where to send: under detvm the
 * guest's end is an autobound unix socket the peer cannot know in advance.
 * READY is repeated every second until the first frame arrives.  Then, for
 * each frame received with ethertype 0x88b5, the guest sends it back with
 * source and destination MAC swapped.  The digest covers the received frames.
 */
#include "ulib.h"

#define ETHERTYPE_TEST	0x88b5
#define MAXFRAME	1514
#define READY_EVERY	100	/* ticks */
#define GIVE_UP		6000	/* ticks without traffic: 60 s at 100 Hz */

static u8 frame[MAXFRAME] __attribute__((aligned(64)));
static u8 ready[64] __attribute__((aligned(64)));

static int send_ready(void)
{
	static const char msg[] = "DETVM-READY";

	memset(ready, 0xff, 6);
	memcpy(ready + 6, "\x02\x00\x00\x00\x00\x02", 6);
	ready[12] = ETHERTYPE_TEST >> 8;
	ready[13] = ETHERTYPE_TEST & 0xff;
	memset(ready + 14, 0, sizeof(ready) - 14);
	memcpy(ready + 14, msg, sizeof(msg) - 1);
	return sys2(SYS_NET_SEND, ready, sizeof(ready)) ? -1 : 0;
}

int prog_net(u64 n)
{
	u64 d = fnv_str(FNV_INIT, "net"), got = 0, bytes = 0, other = 0;
	u64 last = uticks(), last_ready;

	if (!n)
		n = 16;
	if (sys0(SYS_NET_INFO))
		return fail("net", "no-virtio-net");
	if (send_ready())
		return fail("net", "send-ready");
	last_ready = last;
	while (got < n) {
		s64 len = sys2(SYS_NET_RECV, frame, sizeof(frame));
		u64 now = uticks();

		if (len < 0)
			return fail("net", "recv-error");
		if (len == 0) {
			if (now - last > GIVE_UP)
				return fail("net", "timeout");
			if (!got && now - last_ready >= READY_EVERY) {
				if (send_ready())
					return fail("net", "send-ready");
				last_ready = now;
			}
			usleep_ticks(0);	/* until the next tick or device IRQ */
			continue;
		}
		last = now;
		if (len < 14 || frame[12] != (ETHERTYPE_TEST >> 8) ||
		    frame[13] != (ETHERTYPE_TEST & 0xff)) {
			other++;	/* not the peer's: ignore, do not count */
			continue;
		}
		d = fnv(fnv_u64(d, (u64)len), frame, (u64)len);
		got++;
		bytes += (u64)len;
		for (int i = 0; i < 6; i++) {
			u8 t = frame[i];

			frame[i] = frame[6 + i];
			frame[6 + i] = t;
		}
		if (sys2(SYS_NET_SEND, frame, len))
			return fail("net", "send-echo");
	}
	put_str("net echoed ");
	put_dec(got);
	put_str(" frames, ");
	put_dec(bytes);
	put_str(" bytes\n");
	if (other) {
		put_str("INFO net ignored ");
		put_dec(other);
		put_str(" foreign frames\n");
	}
	return pass("net", d);
}
