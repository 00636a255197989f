// SPDX-License-Identifier: GPL-2.0
/*
 * detvm test init: the first user-space program of the detvm test initramfs.
 *
 * Built static against the kernel tree's tools/include/nolibc (no libc):
 *   gcc -nostdlib -nostdinc -static -include nolibc.h ... init.c -lgcc
 *
 * It prints "detvm-init:" lines on the console, each with one write(2):
 *   start, the uptime, a checksum of the first block of /dev/vda, one
 *   broadcast Ethernet frame sent on eth0, then "done" (all checks passed)
 *   or "failed N".  With detvm.shell=1 on the kernel command line it then
 *   execs /bin/sh; otherwise it reboots with LINUX_REBOOT_CMD_RESTART
 *   (POWER_OFF needs ACPI, which this kernel lacks: without it the kernel
 *   turns POWER_OFF into HALT and spins in cli;hlt).  Boot with reboot=t so
 *   the restart is a triple fault, i.e. KVM_EXIT_SHUTDOWN for the VMM.
 *
 * A missing disk or network device is reported ("absent") but is not a
 * failure, so the same initramfs serves guests without them.
 */

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/reboot.h>
#include <linux/sockios.h>

#define LINE_MAX_LEN	256
#define SECTOR_LEN	512
#define FRAME_MIN_LEN	60
#define DETVM_ETHERTYPE	0x88b5	/* IEEE 802 local experimental */

#define AF_PACKET	17
#define SOCK_RAW	3
#define IFF_UP		0x1
#define IFNAMSIZ	16

/* struct ifreq without <linux/if.h>, which pulls in libc's <sys/socket.h>. */
struct ifreq_min {
	char name[IFNAMSIZ];
	union {
		short flags;
		int ifindex;
		struct {
			unsigned short family;
			unsigned char data[14];
		} hwaddr;
		char pad[24];
	};
};

struct line {
	char buf[LINE_MAX_LEN];
	size_t len;
};

static int failures;

static void line_str(struct line *l, const char *s)
{
	while (*s && l->len < LINE_MAX_LEN - 1)
		l->buf[l->len++] = *s++;
}

static void line_hex(struct line *l, unsigned long v, int digits)
{
	static const char hex[] = "0123456789abcdef";

	while (digits-- > 0 && l->len < LINE_MAX_LEN - 1)
		l->buf[l->len++] = hex[(v >> (4 * digits)) & 0xf];
}

static void line_int(struct line *l, long v)
{
	char tmp[24];

	itoa_r(v, tmp);
	line_str(l, tmp);
}

static void line_emit(struct line *l)
{
	l->buf[l->len++] = '\n';
	write(1, l->buf, l->len);
	l->len = 0;
}

static void say(const char *a, const char *b)
{
	struct line l = { .len = 0 };

	line_str(&l, "detvm-init: ");
	line_str(&l, a);
	line_str(&l, b);
	line_emit(&l);
}

/* Report a failed step: "detvm-init: FAIL <what>: errno N". */
static void fail(const char *what, int err)
{
	struct line l = { .len = 0 };

	line_str(&l, "detvm-init: FAIL ");
	line_str(&l, what);
	line_str(&l, ": errno ");
	line_int(&l, err);
	line_emit(&l);
	failures++;
}

/* Read up to size-1 bytes of a small file; strips one trailing newline. */
static int read_text(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY, 0);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	return 0;
}

static void mount_fs(const char *type, const char *dir)
{
	mkdir(dir, 0755);
	if (mount(type, dir, type, 0, 0) < 0 && errno != EBUSY)
		fail(dir, errno);
}

static int cmdline_has(const char *cmdline, const char *word)
{
	size_t n = strlen(word);
	const char *p = cmdline;

	while (*p) {
		if (!strncmp(p, word, n) && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		while (*p && *p != ' ')
			p++;
		while (*p == ' ')
			p++;
	}
	return 0;
}

static void show_uptime(void)
{
	char buf[64];
	int ret;

	ret = read_text("/proc/uptime", buf, sizeof(buf));
	if (ret)
		fail("/proc/uptime", -ret);
	else
		say("uptime ", buf);
}

/* Create /dev/vda from /sys/block/vda/dev ("major:minor") if devtmpfs lacks it. */
static int make_vda_node(void)
{
	char buf[32], *colon;
	int ret;

	ret = read_text("/sys/block/vda/dev", buf, sizeof(buf));
	if (ret)
		return ret;
	colon = strchr(buf, ':');
	if (!colon)
		return -EINVAL;
	*colon = '\0';
	if (mknod("/dev/vda", S_IFBLK | 0600, makedev(atoi(buf), atoi(colon + 1))) < 0)
		return -errno;
	return 0;
}

static void check_disk(void)
{
	unsigned char block[SECTOR_LEN];
	unsigned int hash = 2166136261u;	/* FNV-1a, 32 bit */
	struct line l = { .len = 0 };
	ssize_t n;
	int fd, i;

	fd = open("/dev/vda", O_RDONLY, 0);
	if (fd < 0 && errno == ENOENT) {
		int ret = make_vda_node();

		if (ret == -ENOENT) {
			say("vda absent", "");
			return;
		}
		if (ret) {
			fail("mknod /dev/vda", -ret);
			return;
		}
		fd = open("/dev/vda", O_RDONLY, 0);
	}
	if (fd < 0) {
		fail("open /dev/vda", errno);
		return;
	}
	n = read(fd, block, sizeof(block));
	if (n != sizeof(block)) {
		fail("read /dev/vda", n < 0 ? errno : EIO);
		close(fd);
		return;
	}
	close(fd);

	for (i = 0; i < SECTOR_LEN; i++) {
		hash ^= block[i];
		hash *= 16777619u;
	}
	line_str(&l, "detvm-init: vda block0 fnv1a=");
	line_hex(&l, hash, 8);
	line_str(&l, " head=");
	for (i = 0; i < 8; i++)
		line_hex(&l, block[i], 2);
	line_emit(&l);
}

static long sys_socket3(int domain, int type, int protocol)
{
	return my_syscall3(__NR_socket, domain, type, protocol);
}

static long sys_sendto6(int fd, const void *buf, size_t len, int flags,
			const void *addr, int addrlen)
{
	return my_syscall6(__NR_sendto, fd, buf, len, flags, addr, addrlen);
}

/* Bring eth0 up and send one broadcast frame of ethertype 0x88b5. */
static void send_frame(void)
{
	static const char payload[] = "detvm-init: hello";
	unsigned char frame[FRAME_MIN_LEN] = { 0 };
	struct sockaddr_ll sll = { 0 };
	struct ifreq_min ifr = { 0 };
	struct line l = { .len = 0 };
	long fd, ret;
	int i;

	fd = sys_socket3(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		fail("socket AF_PACKET", -fd);
		return;
	}
	strcpy(ifr.name, "eth0");
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
		if (errno == ENODEV)
			say("eth0 absent", "");
		else
			fail("SIOCGIFINDEX eth0", errno);
		goto out;
	}
	sll.sll_ifindex = ifr.ifindex;

	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		fail("SIOCGIFHWADDR eth0", errno);
		goto out;
	}
	memset(frame, 0xff, ETH_ALEN);
	memcpy(frame + ETH_ALEN, ifr.hwaddr.data, ETH_ALEN);
	frame[12] = DETVM_ETHERTYPE >> 8;
	frame[13] = DETVM_ETHERTYPE & 0xff;
	memcpy(frame + ETH_HLEN, payload, sizeof(payload) - 1);

	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		fail("SIOCGIFFLAGS eth0", errno);
		goto out;
	}
	ifr.flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
		fail("SIOCSIFFLAGS eth0", errno);
		goto out;
	}

	sll.sll_family = AF_PACKET;
	sll.sll_protocol = __builtin_bswap16(DETVM_ETHERTYPE);
	sll.sll_halen = ETH_ALEN;
	memset(sll.sll_addr, 0xff, ETH_ALEN);
	ret = sys_sendto6(fd, frame, sizeof(frame), 0, &sll, sizeof(sll));
	if (ret != sizeof(frame)) {
		fail("sendto eth0", ret < 0 ? -ret : EIO);
		goto out;
	}
	line_str(&l, "detvm-init: eth0 sent ");
	line_int(&l, ret);
	line_str(&l, " bytes from ");
	for (i = 0; i < ETH_ALEN; i++) {
		line_hex(&l, frame[ETH_ALEN + i], 2);
		if (i < ETH_ALEN - 1)
			line_str(&l, ":");
	}
	line_emit(&l);
out:
	close(fd);
}

int main(int argc, char **argv, char **envp)
{
	static char *const sh_argv[] = { "/bin/sh", 0 };
	char cmdline[1024];
	int shell = 0;

	say("start", "");
	mount_fs("proc", "/proc");
	mount_fs("sysfs", "/sys");
	mount_fs("devtmpfs", "/dev");

	show_uptime();
	if (read_text("/proc/cmdline", cmdline, sizeof(cmdline)) == 0)
		shell = cmdline_has(cmdline, "detvm.shell=1");
	check_disk();
	send_frame();

	if (failures) {
		struct line l = { .len = 0 };

		line_str(&l, "detvm-init: failed ");
		line_int(&l, failures);
		line_emit(&l);
	} else {
		say("done", "");
	}

	if (shell) {
		say("exec /bin/sh", "");
		execve(sh_argv[0], sh_argv, envp);
		fail("execve /bin/sh", errno);
	}

	reboot(LINUX_REBOOT_CMD_RESTART);
	fail("reboot", errno);
	for (;;)
		sleep(3600);
	return 0;
}
