/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <libvirt/libvirt.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "macro.h"
#include "strv.h"
#include "validate.h"
#include "virt-domain.h"
#include "xml-dlopen.h"

#define AGENT_CHANNEL "org.qemu.guest_agent.0"

void virt_guest_os_done(VirtGuestOs *os) {
        if (!os)
                return;
        free(os->id);
        free(os->name);
        free(os->pretty_name);
        free(os->version_id);
        free(os->kernel_release);
        free(os->kernel_version);
        *os = (VirtGuestOs){};
}

VmPowerState virt_domain_power_state(int state) {
        switch (state) {
        case VIR_DOMAIN_RUNNING:
        case VIR_DOMAIN_BLOCKED:
        case VIR_DOMAIN_SHUTDOWN:
                return VM_POWER_RUNNING;
        case VIR_DOMAIN_PAUSED:
        case VIR_DOMAIN_PMSUSPENDED:
                return VM_POWER_PAUSED;
        default:
                return VM_POWER_OFF;
        }
}

static void xml_doc_freep(xmlDoc **p) {
        if (*p)
                sym_xmlFreeDoc(*p);
}

static void xpath_context_freep(xmlXPathContext **p) {
        if (*p)
                sym_xmlXPathFreeContext(*p);
}

static void xpath_object_freep(xmlXPathObject **p) {
        if (*p)
                sym_xmlXPathFreeObject(*p);
}

/* The string value of an XPath expression relative to node (NULL: the document), or NULL when
 * it is empty. */
static int xpath_string(xmlXPathContext *ctx, xmlNode *node, const char *expr, char **ret) {
        _cleanup_(xpath_object_freep) xmlXPathObject *o = NULL;
        _cleanup_free_ char *wrapped = NULL;

        if (asprintf(&wrapped, "string(%s)", expr) < 0)
                return -ENOMEM;
        ctx->node = node ?: sym_xmlDocGetRootElement(ctx->doc);
        o = sym_xmlXPathEvalExpression((const xmlChar *)wrapped, ctx);
        if (!o)
                return -ENOMEM;
        if (!o->stringval || o->stringval[0] == 0) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup((const char *)o->stringval);
        return *ret ? 0 : -ENOMEM;
}

/* Whether an XPath expression selects at least one node. */
static int xpath_exists(xmlXPathContext *ctx, const char *expr) {
        _cleanup_(xpath_object_freep) xmlXPathObject *o = NULL;

        ctx->node = sym_xmlDocGetRootElement(ctx->doc);
        o = sym_xmlXPathEvalExpression((const xmlChar *)expr, ctx);
        if (!o)
                return -ENOMEM;
        return o->nodesetval && o->nodesetval->nodeNr > 0;
}

static int set_string(Vm *vm, const char *name, const char *value, sd_bus_error *error) {
        return vm_set_field(vm, name, &(VmValue){.type = 's', .s = value}, error);
}

/* A field from the metadata or the agent: a bad value is reported, not fatal. */
static int set_optional(Vm *vm, const char *name, const char *value, const char *source, char ***warnings) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *w = NULL;
        int r;

        if (!value)
                return 0;
        r = set_string(vm, name, value, &e);
        if (r == -ENOMEM)
                return r;
        if (r >= 0 || !warnings)
                return 0;
        if (asprintf(&w, "%s: %s", source, e.message) < 0)
                return -ENOMEM;
        return strv_extend(warnings, w);
}

static bool is_digits(const char *s) {
        if (isempty(s))
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

static size_t count_dots(const char *s) {
        size_t n = 0;

        for (; *s; s++)
                n += *s == '.';
        return n;
}

/* A guest CID: 3 and above (0-2 are the hypervisor, local and host addresses). */
static int parse_cid(const char *s, uint32_t *ret) {
        unsigned long long v;
        char *end;

        if (!is_digits(s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end || v < 3 || v > UINT32_MAX - 1)
                return -ERANGE;
        *ret = (uint32_t)v;
        return 0;
}

/* The OS version the agent reports: Windows gives its version as kernel-version "10.0" and
 * its build as kernel-release "22621"; other systems' version-id counts when it is a dotted
 * number. NULL when there is none. */
static int os_version_from_agent(const VirtGuestOs *os, char **ret) {
        if (streq_ptr(os->id, "mswindows") && os->kernel_version && is_digits(os->kernel_release))
                return asprintf(ret, "%s.%s", os->kernel_version, os->kernel_release) < 0 ? -ENOMEM : 0;
        return free_and_strdup(ret,
                os->version_id && version_is_valid(os->version_id) ? os->version_id : NULL);
}

/* FNV-1a 64 with a final avalanche: the MAC and the tap name of the legacy NIC derive from it,
 * so it is fixed here, apart from the hash index's (whose function may change). */
static uint64_t legacy_nic_hash(const char *prefix, const char *vm_id) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (const char *s = prefix; *s; s++)
                h = (h ^ (uint8_t)*s) * UINT64_C(0x100000001b3);
        for (const char *s = vm_id; *s; s++)
                h = (h ^ (uint8_t)*s) * UINT64_C(0x100000001b3);
        h ^= h >> 33;
        h *= UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 33;
        h *= UINT64_C(0xc4ceb9fe1a85ec53);
        h ^= h >> 33;
        return h;
}

/* The service's legacy NIC: the interface with its alias. An interface an admin put on the
 * legacy bridge is no legacy NIC: the definer of a domain chooses everything in it. */
#define LEGACY_NIC_PATH "/domain/devices/interface[alias/@name='" VIRT_LEGACY_NIC_ALIAS "']"

static int find_legacy_nic(xmlXPathContext *ctx, xmlNode **ret) {
        _cleanup_(xpath_object_freep) xmlXPathObject *o = NULL;

        *ret = NULL;
        ctx->node = sym_xmlDocGetRootElement(ctx->doc);
        o = sym_xmlXPathEvalExpression((const xmlChar *)LEGACY_NIC_PATH, ctx);
        if (!o)
                return -ENOMEM;
        if (!o->nodesetval || o->nodesetval->nodeNr == 0)
                return 0;
        *ret = o->nodesetval->nodeTab[0];
        return 1;
}

/* Whether the XML is the live definition of a domain that runs (libvirt gives a running
 * domain's XML an id): what the guest cannot forge (its tap, its CID) is only read there. The
 * saved definition of a domain that is off holds whatever its definer wrote. */
static int domain_is_live(xmlXPathContext *ctx, VmPowerState power_state) {
        if (power_state == VM_POWER_OFF)
                return 0;
        return xpath_exists(ctx, "/domain[@id]");
}

/* Whether the legacy NIC n has the MAC (ret_mac) and the tap name (ret_dev) the service derives
 * from vm_id. */
static int legacy_nic_matches(xmlXPathContext *ctx, xmlNode *n, const char *vm_id, bool *ret_mac,
        bool *ret_dev) {
        _cleanup_free_ char *mac = NULL, *dev = NULL;
        char want_mac[VIRT_MAC_BUFLEN], want_dev[VIRT_IFNAME_BUFLEN];
        int r;

        r = xpath_string(ctx, n, "mac/@address", &mac);
        if (r < 0)
                return r;
        r = xpath_string(ctx, n, "target/@dev", &dev);
        if (r < 0)
                return r;
        virt_legacy_nic_mac(vm_id, want_mac);
        virt_legacy_nic_ifname(vm_id, want_dev);
        *ret_mac = mac && strcasecmp(mac, want_mac) == 0;
        *ret_dev = streq_ptr(dev, want_dev);
        return 0;
}

/* LegacyMac: the MAC of the service's NIC when it is the one derived from the VM id (another
 * MAC was put there by hand: drift, and no key of another VM's). LegacyInterface: its tap,
 * only from the live XML and only under the name the service gave it. */
static int parse_legacy_nic(xmlXPathContext *ctx, bool live, Vm *vm) {
        char want_mac[VIRT_MAC_BUFLEN], want_dev[VIRT_IFNAME_BUFLEN];
        bool mac_ok, dev_ok;
        xmlNode *n;
        int r;

        r = find_legacy_nic(ctx, &n);
        if (r <= 0)
                return r;
        vm->legacy_nic_ours = true;
        r = legacy_nic_matches(ctx, n, vm->id, &mac_ok, &dev_ok);
        if (r < 0 || !mac_ok)
                return r;
        virt_legacy_nic_mac(vm->id, want_mac);
        r = free_and_strdup(&vm->legacy_mac, want_mac);
        if (r < 0)
                return r;
        if (!live || !dev_ok)
                return 0;
        virt_legacy_nic_ifname(vm->id, want_dev);
        return free_and_strdup(&vm->legacy_interface, want_dev);
}

/* Parses a domain XML; -EINVAL when it is not one. */
static int parse_domain(const char *xml, xmlDoc **ret_doc, xmlXPathContext **ret_ctx) {
        _cleanup_(xml_doc_freep) xmlDoc *doc = NULL;
        xmlXPathContext *ctx;
        int r;

        r = dlopen_libxml2();
        if (r < 0)
                return r;
        doc = sym_xmlReadMemory(xml, strlen(xml), "domain.xml", NULL,
                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc || !sym_xmlDocGetRootElement(doc) ||
                !sym_xmlStrEqual(sym_xmlDocGetRootElement(doc)->name, (const xmlChar *)"domain"))
                return -EINVAL;
        ctx = sym_xmlXPathNewContext(doc);
        if (!ctx)
                return -ENOMEM;
        if (sym_xmlXPathRegisterNs(ctx, (const xmlChar *)"az", (const xmlChar *)VIRT_DOMAIN_METADATA_NS) <
                0) {
                sym_xmlXPathFreeContext(ctx);
                return -ENOMEM;
        }
        *ret_doc = TAKE_PTR(doc);
        *ret_ctx = ctx;
        return 0;
}

#define AGENT_CONNECTED_PATH                                                             \
        "/domain/devices/channel[target/@type='virtio' and target/@name='" AGENT_CHANNEL \
        "' and target/@state='connected']"

static int agent_connected(xmlXPathContext *ctx) {
        return xpath_exists(ctx, AGENT_CONNECTED_PATH);
}

/* Whether an XPath expression selects at least one node of a domain XML. */
static int domain_xml_has(const char *xml, const char *expr) {
        _cleanup_(xml_doc_freep) xmlDoc *doc = NULL;
        _cleanup_(xpath_context_freep) xmlXPathContext *ctx = NULL;
        int r;

        assert(xml);

        r = parse_domain(xml, &doc, &ctx);
        if (r < 0)
                return r;
        return xpath_exists(ctx, expr);
}

bool virt_agent_should_ask(VirtAgentAsk ask, bool known, uint64_t backoff_until, uint64_t now) {
        switch (ask) {
        case VIRT_AGENT_CONNECTED:
                return true;
        case VIRT_AGENT_REFRESH:
                return now >= backoff_until;
        case VIRT_AGENT_IF_UNKNOWN:
                return !known && now >= backoff_until;
        default:
                return false;
        }
}

int virt_domain_agent_connected(const char *xml) {
        return domain_xml_has(xml, AGENT_CONNECTED_PATH);
}

static const struct {
        const char *element; /* in the metadata */
        const char *field;   /* the VM property */
} metadata_fields[] = {
        {"sqlVersion", "SqlVersion"},
        {"arcAgentVersion", "ArcAgentVersion"},
        {"sku", "Sku"},
        {"licenseType", "LicenseType"},
};

/* Id, Name, the power state, the firmware and the devices: the domain itself. What identifies
 * a guest (CID, tap) only from a live XML. */
static int parse_devices(xmlXPathContext *ctx, VmPowerState power_state, Vm *vm, sd_bus_error *error) {
        _cleanup_free_ char *uuid = NULL, *name = NULL, *cid = NULL;
        bool live;
        int r;

        r = xpath_string(ctx, NULL, "/domain/uuid", &uuid);
        if (r < 0)
                return r;
        r = set_string(vm, "Id", strempty(uuid), error);
        if (r < 0)
                return r;
        r = xpath_string(ctx, NULL, "/domain/name", &name);
        if (r < 0)
                return r;
        r = set_string(vm, "Name", strempty(name), error);
        if (r < 0)
                return r;
        vm->power_state = power_state;
        r = domain_is_live(ctx, power_state);
        if (r < 0)
                return r;
        live = r;

        /* UEFI: firmware autoselection says efi, or a loader that is a pflash image (OVMF). */
        r = xpath_exists(ctx, "/domain/os[@firmware='efi'] | /domain/os/loader[@type='pflash']");
        if (r < 0)
                return r;
        vm->generation = r ? 2 : 1;

        r = xpath_exists(ctx, "/domain/devices/vsock[not(@model) or @model='virtio']");
        if (r < 0)
                return r;
        vm->guest_service_interface = r;
        if (vm->guest_service_interface) {
                uint32_t u;

                /* Only from the live XML of a running domain (also when auto-assigned): a
                 * domain that is off has no CID, whatever its definition says, so another VM
                 * that has that CID now is not taken for it. */
                r = xpath_string(ctx, NULL, "/domain/devices/vsock/cid/@address", &cid);
                if (r < 0)
                        return r;
                if (live && cid && parse_cid(cid, &u) >= 0)
                        vm->vsock_cid = u;
        }

        r = agent_connected(ctx);
        if (r < 0)
                return r;
        vm->data_exchange = r;

        return parse_legacy_nic(ctx, live, vm);
}

/* The project's metadata; child elements are matched by local name, so that both <az:sku> and
 * an unqualified <sku> under <az:vm> count. The update revision (a number, or NULL) and the
 * declared OS go to the caller. */
static int parse_metadata(xmlXPathContext *ctx, Vm *vm, char **ret_revision, char **ret_os_name,
        char **ret_os_version, char ***warnings) {
        _cleanup_free_ char *revision = NULL;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(metadata_fields); i++) {
                _cleanup_free_ char *expr = NULL, *v = NULL;

                if (asprintf(&expr, "/domain/metadata/az:vm/*[local-name()='%s']",
                            metadata_fields[i].element) < 0)
                        return -ENOMEM;
                r = xpath_string(ctx, NULL, expr, &v);
                if (r < 0)
                        return r;
                r = set_optional(vm, metadata_fields[i].field, v, "metadata", warnings);
                if (r < 0)
                        return r;
        }
        r = xpath_string(ctx, NULL, "/domain/metadata/az:vm/*[local-name()='updateRevision']", &revision);
        if (r < 0)
                return r;
        if (revision && !is_digits(revision)) {
                r = strv_extend(warnings, "metadata: updateRevision must be a number.");
                if (r < 0)
                        return r;
                revision = mfree(revision);
        }
        r = xpath_string(ctx, NULL, "/domain/metadata/az:vm/*[local-name()='osName']", ret_os_name);
        if (r < 0)
                return r;
        r = xpath_string(ctx, NULL, "/domain/metadata/az:vm/*[local-name()='osVersion']", ret_os_version);
        if (r < 0)
                return r;
        *ret_revision = TAKE_PTR(revision);
        return 0;
}

/* OsName and OsVersion: what the agent observes wins over what the metadata declares. */
static int set_os(Vm *vm, const VirtGuestOs *os, const char *md_os_name, const char *md_os_version,
        const char *revision, char ***warnings) {
        _cleanup_free_ char *os_version = NULL;
        int r;

        if (os && (os->pretty_name || os->name))
                r = set_optional(vm, "OsName", os->pretty_name ?: os->name, "guest agent", warnings);
        else
                r = set_optional(vm, "OsName", md_os_name, "metadata", warnings);
        if (r < 0)
                return r;
        r = os ? os_version_from_agent(os, &os_version) : free_and_strdup(&os_version, md_os_version);
        if (r < 0)
                return r;
        /* No agent reports the update revision (the 4th part, which the benefit rules compare):
         * the metadata's completes a three-part version. */
        if (os_version && revision && version_is_valid(os_version) && count_dots(os_version) == 2) {
                char *full;

                if (asprintf(&full, "%s.%s", os_version, revision) < 0)
                        return -ENOMEM;
                free_and_replace_string(&os_version, full);
        }
        return set_optional(vm, "OsVersion", os_version, os ? "guest agent" : "metadata", warnings);
}

int virt_domain_to_vm(const char *xml, VmPowerState power_state, const VirtGuestOs *os, Vm **ret,
        char ***ret_warnings, sd_bus_error *error) {
        _cleanup_(xml_doc_freep) xmlDoc *doc = NULL;
        _cleanup_(xpath_context_freep) xmlXPathContext *ctx = NULL;
        _cleanup_free_ char *revision = NULL, *md_os_name = NULL, *md_os_version = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_(vm_freep) Vm *vm = NULL;
        int r;

        assert(xml);
        assert(ret);

        r = parse_domain(xml, &doc, &ctx);
        if (r == -EINVAL)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Not a libvirt domain XML.");
        if (r < 0)
                return r;

        vm = vm_new();
        if (!vm)
                return -ENOMEM;
        r = parse_devices(ctx, power_state, vm, error);
        if (r < 0)
                return r;
        r = parse_metadata(ctx, vm, &revision, &md_os_name, &md_os_version, &warnings);
        if (r < 0)
                return r;
        r = set_os(vm, os, md_os_name, md_os_version, revision, &warnings);
        if (r < 0)
                return r;

        if (ret_warnings)
                *ret_warnings = TAKE_PTR(warnings);
        *ret = TAKE_PTR(vm);
        return 0;
}

void virt_legacy_nic_mac(const char *vm_id, char ret[static VIRT_MAC_BUFLEN]) {
        uint8_t mac[6];
        uint64_t h;

        assert(vm_id);

        h = legacy_nic_hash("azshci-legacy-nic\n", vm_id);
        for (size_t i = 0; i < ELEMENTSOF(mac); i++)
                mac[i] = (uint8_t)(h >> (8 * i));
        mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02); /* unicast, locally administered */
        snprintf(ret, VIRT_MAC_BUFLEN, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
}

void virt_legacy_nic_ifname(const char *vm_id, char ret[static VIRT_IFNAME_BUFLEN]) {
        assert(vm_id);

        /* 48 bits of the hash: 12 hex digits after the prefix, 15 characters in all. */
        snprintf(ret, VIRT_IFNAME_BUFLEN, VIRT_LEGACY_TAP_PREFIX "%012" PRIx64,
                legacy_nic_hash("azshci-legacy-tap\n", vm_id) >> 16);
}

int virt_legacy_nic_xml(const char *vm_id, char **ret) {
        char mac[VIRT_MAC_BUFLEN], dev[VIRT_IFNAME_BUFLEN];

        assert(vm_id);
        assert(ret);

        virt_legacy_nic_mac(vm_id, mac);
        virt_legacy_nic_ifname(vm_id, dev);
        return asprintf(ret,
                       "<interface type='ethernet'><mac address='%s'/><target dev='%s'/><model type='virtio'/>"
                       "<alias name='" VIRT_LEGACY_NIC_ALIAS "'/></interface>",
                       mac, dev) < 0
                       ? -ENOMEM
                       : 0;
}

int virt_domain_legacy_nic(const char *xml, const char *vm_id, VirtNicState *ret) {
        _cleanup_(xml_doc_freep) xmlDoc *doc = NULL;
        _cleanup_(xpath_context_freep) xmlXPathContext *ctx = NULL;
        bool mac_ok, dev_ok;
        xmlNode *n;
        int r;

        assert(xml);
        assert(vm_id);
        assert(ret);

        r = parse_domain(xml, &doc, &ctx);
        if (r < 0)
                return r;
        r = find_legacy_nic(ctx, &n);
        if (r < 0)
                return r;
        if (r == 0) {
                *ret = VIRT_NIC_ABSENT;
                return 0;
        }
        r = legacy_nic_matches(ctx, n, vm_id, &mac_ok, &dev_ok);
        if (r < 0)
                return r;
        *ret = mac_ok && dev_ok ? VIRT_NIC_OURS : VIRT_NIC_OURS_CHANGED;
        return 0;
}

int virt_domain_legacy_nic_device(const char *xml, char **ret) {
        _cleanup_(xml_doc_freep) xmlDoc *doc = NULL;
        _cleanup_(xpath_context_freep) xmlXPathContext *ctx = NULL;
        xmlBuffer *buf;
        xmlNode *n;
        int r;

        assert(xml);
        assert(ret);

        r = parse_domain(xml, &doc, &ctx);
        if (r < 0)
                return r;
        r = find_legacy_nic(ctx, &n);
        if (r <= 0) {
                *ret = NULL;
                return r;
        }
        buf = sym_xmlBufferCreate();
        if (!buf)
                return -ENOMEM;
        if (sym_xmlNodeDump(buf, doc, n, 0, 0) < 0) {
                sym_xmlBufferFree(buf);
                return -ENOMEM;
        }
        *ret = strdup((const char *)sym_xmlBufferContent(buf));
        sym_xmlBufferFree(buf);
        return *ret ? 1 : -ENOMEM;
}

int virt_domain_has_device(const char *xml, VirtDevice device) {
        switch (device) {
        case VIRT_DEVICE_VSOCK:
                return domain_xml_has(xml, "/domain/devices/vsock[not(@model) or @model='virtio']");
        case VIRT_DEVICE_AGENT_CHANNEL:
                return domain_xml_has(xml,
                        "/domain/devices/channel[target/@type='virtio' and target/@name='" AGENT_CHANNEL
                        "']");
        default:
                return -EINVAL;
        }
}

const char *virt_device_xml(VirtDevice device) {
        switch (device) {
        case VIRT_DEVICE_VSOCK:
                return "<vsock model='virtio'><cid auto='yes'/></vsock>";
        case VIRT_DEVICE_AGENT_CHANNEL:
                return "<channel type='unix'><target type='virtio' name='" AGENT_CHANNEL "'/></channel>";
        default:
                return NULL;
        }
}
