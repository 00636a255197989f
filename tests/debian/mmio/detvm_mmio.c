// SPDX-License-Identifier: GPL-2.0
/*
 * detvm_mmio: registers the virtio-mmio windows detvm announces on the kernel command
 * line (virtio_mmio.device=4K@0xd0000000:10 ...) as "virtio-mmio" platform devices.
 *
 * Why it exists: Debian's kernel is built without CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES, so
 * its virtio_mmio module finds devices only through ACPI or a device tree, and detvm
 * offers neither. This module does what that config option would do (the same
 * SIZE@BASE:IRQ syntax, the same platform device name and resources) and nothing else;
 * virtio_mmio, virtio_blk and virtio_net themselves come from Debian's linux-image.
 *
 *   insmod detvm_mmio.ko device=4K@0xd0000000:10,4K@0xd0001000:11
 */
#include <linux/init.h>
#include <linux/ioport.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/platform_device.h>

#define MAX_DEVICES 8

static char *device[MAX_DEVICES];
static int ndevice;
module_param_array(device, charp, &ndevice, 0444);
MODULE_PARM_DESC(device, "SIZE@BASE:IRQ[,...], as virtio_mmio.device= takes them");

static struct platform_device *pdevs[MAX_DEVICES];

static int parse(const char *s, struct resource res[2])
{
	char *end;
	unsigned long long size, base;
	unsigned long irq;

	size = memparse(s, &end);
	if (!size || *end != '@')
		return -EINVAL;
	base = memparse(end + 1, &end);
	if (*end != ':')
		return -EINVAL;
	if (kstrtoul(end + 1, 0, &irq) || !irq)
		return -EINVAL;
	res[0] = (struct resource)DEFINE_RES_MEM(base, size);
	res[1] = (struct resource)DEFINE_RES_IRQ(irq);
	return 0;
}

static void detvm_mmio_exit(void)
{
	int i;

	for (i = 0; i < MAX_DEVICES; i++)
		if (!IS_ERR_OR_NULL(pdevs[i]))
			platform_device_unregister(pdevs[i]);
}

static int __init detvm_mmio_init(void)
{
	struct resource res[2];
	int i, err;

	for (i = 0; i < ndevice; i++) {
		err = parse(device[i], res);
		if (err) {
			pr_err("detvm_mmio: bad device '%s' (want SIZE@BASE:IRQ)\n", device[i]);
			goto err_out;
		}
		/* ids as virtio_mmio's command-line code gives them: virtio-mmio.0, .1 ... */
		pdevs[i] = platform_device_register_resndata(NULL, "virtio-mmio", i, res, 2,
							     NULL, 0);
		if (IS_ERR(pdevs[i])) {
			err = PTR_ERR(pdevs[i]);
			pr_err("detvm_mmio: cannot register %s: %d\n", device[i], err);
			goto err_out;
		}
		pr_info("detvm_mmio: virtio-mmio.%d at %pR, IRQ %llu\n", i, &res[0],
			(unsigned long long)res[1].start);
	}
	return 0;
err_out:
	detvm_mmio_exit();
	return err;
}

module_init(detvm_mmio_init);
module_exit(detvm_mmio_exit);
MODULE_DESCRIPTION("virtio-mmio devices from SIZE@BASE:IRQ, for kernels without CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES");
MODULE_LICENSE("GPL");
