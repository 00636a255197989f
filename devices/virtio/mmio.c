#include "devices/virtio/mmio.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/log.h"

int virtio_mmio_init(struct virtio_mmio *t, const struct virtio_device_ops *ops, void *dev,
		     struct guest_mem *mem, const struct irq_sink *irq, unsigned irq_line)
{
	if (!ops || !ops->num_queues || ops->num_queues > VIRTIO_MMIO_MAX_QUEUES ||
	    !ops->queue_max || ops->queue_max > VIRTQ_MAX_SIZE ||
	    (ops->queue_max & (ops->queue_max - 1)) || ops->config_size > VIRTIO_MMIO_SIZE - VIRTIO_MMIO_CONFIG)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	t->ops = ops;
	t->dev = dev;
	t->mem = mem;
	t->irq = irq;
	t->irq_line = irq_line;
	t->device_features = ops->features | 1ULL << VIRTIO_F_VERSION_1 |
			     1ULL << VIRTIO_F_INDIRECT_DESC;
	for (unsigned i = 0; i < ops->num_queues; i++) {
		snprintf(t->qnames[i], sizeof(t->qnames[i]), "%.10s.q%u",
			 ops->name ? ops->name : "virtio", i);
		t->queues[i].name = t->qnames[i];
	}
	return 0;
}

static void update_irq(struct virtio_mmio *t)
{
	int level = t->interrupt_status != 0;

	/* level on the wire; the 8259A latches the rising edge */
	if (level != t->irq_level) {
		t->irq_level = level;
		irq_set(t->irq, t->irq_line, level);
	}
}

static void reset(struct virtio_mmio *t)
{
	for (unsigned i = 0; i < t->ops->num_queues; i++)
		virtq_reset(&t->queues[i]);
	t->driver_features = 0;
	t->device_features_sel = 0;
	t->driver_features_sel = 0;
	t->queue_sel = 0;
	t->status = 0;
	t->interrupt_status = 0;
	update_irq(t);
	if (t->ops->reset)
		t->ops->reset(t->dev);
}

static struct virtq *selected(struct virtio_mmio *t)
{
	return t->queue_sel < t->ops->num_queues ? &t->queues[t->queue_sel] : NULL;
}

static int guest_bug(struct virtio_mmio *t, const char *what, uint64_t off, uint32_t v)
{
	log_guest_error(&t->bad_accesses, "virtio-%s: %s (offset 0x%03llx, value 0x%x)",
			t->ops->name ? t->ops->name : "mmio", what, (unsigned long long)off, v);
	return 0;
}

static uint32_t reg_read(struct virtio_mmio *t, uint64_t off)
{
	struct virtq *q = selected(t);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return t->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (t->device_features_sel > 1)
			return 0;
		return (uint32_t)(t->device_features >> (32 * t->device_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? t->ops->queue_max : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return q ? q->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return t->interrupt_status;
	case VIRTIO_MMIO_STATUS:
		return t->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return t->config_generation;
	/* write-only registers read as 0, without complaint: some drivers probe them */
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
	case VIRTIO_MMIO_DRIVER_FEATURES:
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
	case VIRTIO_MMIO_QUEUE_SEL:
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_NOTIFY:
	case VIRTIO_MMIO_INTERRUPT_ACK:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		return 0;
	default:
		return guest_bug(t, "read of an unknown register", off, 0);
	}
}

static int is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static void set_half(uint64_t *v, int high, uint32_t val)
{
	if (high)
		*v = (*v & 0xffffffffULL) | (uint64_t)val << 32;
	else
		*v = (*v & ~0xffffffffULL) | val;
}

static void queue_ready(struct virtio_mmio *t, struct virtq *q, uint32_t v)
{
	uint64_t n = q->num;

	if (!v) {
		q->ready = 0;
		return;
	}
	if (q->ready)
		return;
	if (!n) {
		guest_bug(t, "QueueReady with no valid QueueNum", VIRTIO_MMIO_QUEUE_READY, v);
		return;
	}
	/* reject rings that are not in RAM now, so a running queue only meets bad chains */
	if (!guest_mem_ptr(t->mem, q->desc_gpa, 16 * n) || !guest_mem_ptr(t->mem, q->avail_gpa, 6 + 2 * n) ||
	    !guest_mem_ptr(t->mem, q->used_gpa, 6 + 8 * n) || q->desc_gpa % 16 || q->avail_gpa % 2 ||
	    q->used_gpa % 4) {
		guest_bug(t, "QueueReady with rings outside RAM or misaligned", VIRTIO_MMIO_QUEUE_READY, v);
		return;
	}
	q->indirect = !!(t->driver_features & 1ULL << VIRTIO_F_INDIRECT_DESC);
	q->last_avail = 0;
	q->used_idx = 0;
	q->pushed = 0;
	q->ready = 1;
}

static void status_write(struct virtio_mmio *t, uint32_t v)
{
	uint32_t old = t->status;

	if (!v) {
		reset(t);
		return;
	}
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		/* refusing FEATURES_OK is how the device says no (3.1.1 step 6) */
		if ((t->driver_features & ~t->device_features) ||
		    !(t->driver_features & 1ULL << VIRTIO_F_VERSION_1)) {
			guest_bug(t, "driver features not acceptable", VIRTIO_MMIO_STATUS, v);
			v &= ~VIRTIO_STATUS_FEATURES_OK;
		}
	}
	t->status = v;
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
		/* kicks that came before DRIVER_OK were held back; serve them now */
		for (unsigned i = 0; i < t->ops->num_queues; i++)
			if (t->queues[i].ready && t->ops->queue_notify)
				t->ops->queue_notify(t->dev, i);
	}
}

static void reg_write(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct virtq *q = selected(t);

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->device_features_sel = v;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (t->status & VIRTIO_STATUS_FEATURES_OK) {
			guest_bug(t, "DriverFeatures after FEATURES_OK", off, v);
		} else if (t->driver_features_sel <= 1) {
			set_half(&t->driver_features, t->driver_features_sel, v);
		}
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->driver_features_sel = v;
		return;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel = v;
		return;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		t->interrupt_status &= ~v;
		update_irq(t);
		return;
	case VIRTIO_MMIO_STATUS:
		status_write(t, v);
		return;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		if (v >= t->ops->num_queues || !t->queues[v].ready) {
			guest_bug(t, "notify of a queue that is not ready", off, v);
			return;
		}
		if ((t->status & VIRTIO_STATUS_DRIVER_OK) && t->ops->queue_notify)
			t->ops->queue_notify(t->dev, v);
		return;
	}

	/* the rest configure the selected queue, which must exist and not be running */
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
	case VIRTIO_MMIO_QUEUE_READY:
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		break;
	default:
		guest_bug(t, "write to a read-only or unknown register", off, v);
		return;
	}
	if (!q) {
		guest_bug(t, "queue register with QueueSel out of range", off, v);
		return;
	}
	if (off == VIRTIO_MMIO_QUEUE_READY) {
		queue_ready(t, q, v);
		return;
	}
	if (q->ready) {
		guest_bug(t, "queue register written while the queue is ready", off, v);
		return;
	}
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		if (!is_pow2(v) || v > t->ops->queue_max) {
			guest_bug(t, "QueueNum not a power of two <= QueueNumMax", off, v);
			v = 0;
		}
		q->num = (uint16_t)v;
		return;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_half(&q->desc_gpa, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
		return;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		set_half(&q->avail_gpa, off == VIRTIO_MMIO_QUEUE_DRIVER_HIGH, v);
		return;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		set_half(&q->used_gpa, off == VIRTIO_MMIO_QUEUE_DEVICE_HIGH, v);
		return;
	}
}

static int config_access_ok(struct virtio_mmio *t, uint64_t off, unsigned size)
{
	uint64_t c = off - VIRTIO_MMIO_CONFIG;

	if ((size == 1 || size == 2 || size == 4 || size == 8) && c + size <= t->ops->config_size)
		return 1;
	guest_bug(t, "config access out of range or of odd size", off, size);
	return 0;
}

static void mmio_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
	struct virtio_mmio *t = opaque;
	uint32_t v;

	memset(data, 0, size);
	if (off >= VIRTIO_MMIO_CONFIG) {
		if (config_access_ok(t, off, size) && t->ops->config_read)
			t->ops->config_read(t->dev, (uint32_t)(off - VIRTIO_MMIO_CONFIG), data, size);
		return;
	}
	if (size != 4 || off % 4) {
		guest_bug(t, "register read not 32-bit aligned", off, size);
		return;
	}
	v = htole32(reg_read(t, off));
	memcpy(data, &v, 4);
}

static void mmio_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
	struct virtio_mmio *t = opaque;
	uint32_t v;

	if (off >= VIRTIO_MMIO_CONFIG) {
		if (!config_access_ok(t, off, size))
			return;
		if (t->ops->config_write)
			t->ops->config_write(t->dev, (uint32_t)(off - VIRTIO_MMIO_CONFIG), data, size);
		else
			guest_bug(t, "write to read-only config space", off, size);
		return;
	}
	if (size != 4 || off % 4) {
		guest_bug(t, "register write not 32-bit aligned", off, size);
		return;
	}
	memcpy(&v, data, 4);
	reg_write(t, off, le32toh(v));
}

const struct io_handler virtio_mmio_handler = {
	.read = mmio_read,
	.write = mmio_write,
};

int virtio_mmio_attach(struct virtio_mmio *t, struct bus *mmio, uint64_t base)
{
	return bus_register(mmio, base, VIRTIO_MMIO_SIZE, &virtio_mmio_handler, t,
			    t->ops->name ? t->ops->name : "virtio-mmio");
}

struct virtq *virtio_mmio_queue(struct virtio_mmio *t, unsigned q)
{
	if (q >= t->ops->num_queues || !t->queues[q].ready || !virtio_mmio_driver_ok(t))
		return NULL;
	return &t->queues[q];
}

int virtio_mmio_driver_ok(const struct virtio_mmio *t)
{
	return !!(t->status & VIRTIO_STATUS_DRIVER_OK);
}

void virtio_mmio_notify_used(struct virtio_mmio *t, unsigned q)
{
	if (q >= t->ops->num_queues || !virtq_need_notify(&t->queues[q], t->mem))
		return;
	t->interrupt_status |= VIRTIO_MMIO_INT_VRING;
	update_irq(t);
}

void virtio_mmio_config_changed(struct virtio_mmio *t)
{
	t->config_generation++;
	if (!virtio_mmio_driver_ok(t))
		return;
	t->interrupt_status |= VIRTIO_MMIO_INT_CONFIG;
	update_irq(t);
}

/* The transport's fields after the wiring (ops, dev, mem, irq, irq_line). */
#define MMIO_STATE_FIELDS(X) X(device_features) X(driver_features) X(device_features_sel) \
	X(driver_features_sel) X(queue_sel) X(status) X(interrupt_status) X(config_generation) \
	X(irq_level) X(bad_accesses)
/* A queue's registers and device state; its name is wiring. */
#define VIRTQ_STATE_FIELDS(X) X(num) X(ready) X(indirect) X(desc_gpa) X(avail_gpa) X(used_gpa) \
	X(last_avail) X(used_idx) X(pushed) X(bad_chains) X(bad_rings)

void virtio_mmio_save(const struct virtio_mmio *t, struct state_out *o)
{
#define MMIO_PUT(f) state_put(o, &t->f, sizeof(t->f));
	MMIO_STATE_FIELDS(MMIO_PUT)
	for (unsigned i = 0; i < t->ops->num_queues; i++) {
		const struct virtq *q = &t->queues[i];
#define VIRTQ_PUT(f) state_put(o, &q->f, sizeof(q->f));
		VIRTQ_STATE_FIELDS(VIRTQ_PUT)
	}
}

void virtio_mmio_load(struct virtio_mmio *t, struct state_in *in)
{
	struct virtio_mmio n = *t;
#define MMIO_GET(f) state_get(in, &n.f, sizeof(n.f));
	MMIO_STATE_FIELDS(MMIO_GET)
	state_check(in, n.irq_level == 0 || n.irq_level == 1, "a virtio interrupt level");
	for (unsigned i = 0; i < t->ops->num_queues; i++) {
		struct virtq *q = &n.queues[i];
#define VIRTQ_GET(f) state_get(in, &q->f, sizeof(q->f));
		VIRTQ_STATE_FIELDS(VIRTQ_GET)
		state_check(in, q->num <= t->ops->queue_max && !(q->num & (q->num - 1)), "a virtqueue size");
	}
	if (!in->err)
		*t = n;
}
