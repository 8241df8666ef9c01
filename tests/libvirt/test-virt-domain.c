/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The mapping from a libvirt domain's XML, state and guest agent OS info to the VM facts
 * (service/attestd/libvirt/virt-domain.c), on XML fixtures: no libvirt connection. */

#define TEST_PREFIX "/virt-domain"

#include <glib.h>
#include <libvirt/libvirt.h>

#include "fileio.h"
#include "strv.h"
#include "test-util.h"
#include "virt-domain.h"

#define NIC_ID  "5a1e0014-1111-4111-8111-000000000014"
#define NIC_MAC "fa:c1:6f:9f:5e:ba"
#define NIC_TAP "azgeb77f965fcd6"

static char *fixture(const char *name) {
        g_autofree char *path = g_build_filename(g_getenv("AZSHCI_SOURCE_DIR") ?: ".", "tests", "libvirt",
                "fixtures", name, NULL);
        char *data = NULL;

        /* A missing fixture is a failure, not a skip. */
        g_assert_cmpint(read_full_file(path, 1 << 20, &data, NULL), ==, 0);
        return data;
}

static Vm *map(const char *name, VmPowerState state, const VirtGuestOs *os, char ***warnings) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *xml = fixture(name);
        Vm *vm = NULL;

        g_assert_cmpint(virt_domain_to_vm(xml, state, os, &vm, warnings, &error), ==, 0);
        g_assert_false(sd_bus_error_is_set(&error));
        g_assert_nonnull(vm);
        return vm;
}

static const VirtGuestOs windows_11 = {
        .id = (char *)"mswindows",
        .name = (char *)"Microsoft Windows",
        .pretty_name = (char *)"Windows 11 Enterprise multi-session",
        .version_id = (char *)"11",
        .kernel_release = (char *)"22621",
        .kernel_version = (char *)"10.0",
};

/* What the mapping of every fixture says about identity, hardware and the guest's channels;
 * none of these fixtures has the service's legacy NIC. */
typedef struct Facts {
        const char *id;
        VmPowerState power_state;
        unsigned generation;
        bool guest_service_interface;
        uint32_t vsock_cid;
        bool data_exchange;
} Facts;

static void assert_facts(const Vm *vm, const Facts *f) {
        g_assert_cmpstr(vm->id, ==, f->id);
        g_assert_cmpint(vm->power_state, ==, f->power_state);
        g_assert_cmpuint(vm->generation, ==, f->generation);
        g_assert_cmpint(vm->guest_service_interface, ==, f->guest_service_interface);
        g_assert_cmpuint(vm->vsock_cid, ==, f->vsock_cid);
        g_assert_cmpint(vm->data_exchange, ==, f->data_exchange);
        g_assert_null(vm->legacy_mac);
        g_assert_null(vm->legacy_interface);
}

TEST(running_uefi_with_agent) {
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_(vm_freep) Vm *vm = map("running-uefi.xml", VM_POWER_RUNNING, &windows_11, &warnings);

        g_assert_null(warnings);
        g_assert_cmpstr(vm->name, ==, "win11-a");
        /* A NIC an admin put on the legacy bridge is no legacy NIC. */
        assert_facts(vm, &(Facts){
                                 .id = "da38a48e-aacf-4a1e-b472-1fe89f2d95ec",
                                 .power_state = VM_POWER_RUNNING,
                                 .generation = 2,
                                 .guest_service_interface = true,
                                 .vsock_cid = 42,
                                 .data_exchange = true,
                         });
        g_assert_false(vm->legacy_nic_ours);
        /* The agent wins over the metadata's osName/osVersion; the revision comes from the
         * metadata. */
        g_assert_cmpstr(vm->os_name, ==, "Windows 11 Enterprise multi-session");
        g_assert_cmpstr(vm->os_version, ==, "10.0.22621.3447");
        g_assert_cmpstr(vm->sql_version, ==, "12.0.6024");
        g_assert_cmpstr(vm->arc_agent_version, ==, "1.39.2");
        g_assert_cmpstr(vm->sku, ==, "2022-Datacenter");
        g_assert_cmpstr(vm->license_type, ==, "Windows_Server");
        _cleanup_free_ char *xml = fixture("running-uefi.xml");
        g_assert_cmpint(virt_domain_agent_connected(xml), ==, 1);
}

TEST(metadata_without_agent) {
        _cleanup_(vm_freep) Vm *vm = map("running-uefi.xml", VM_POWER_PAUSED, NULL, NULL);

        g_assert_cmpint(vm->power_state, ==, VM_POWER_PAUSED);
        g_assert_cmpstr(vm->os_name, ==, "Windows 10 Pro");
        /* osVersion has three parts: the update revision completes it. */
        g_assert_cmpstr(vm->os_version, ==, "10.0.19045.3447");
}

TEST(linux_agent) {
        const VirtGuestOs debian = {
                .id = (char *)"debian",
                .name = (char *)"Debian GNU/Linux",
                .pretty_name = (char *)"Debian GNU/Linux 12 (bookworm)",
                .version_id = (char *)"12",
                .kernel_release = (char *)"6.1.0-13-amd64",
                .kernel_version = (char *)"#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1",
        };
        const VirtGuestOs bare = {.name = (char *)"Linux", .version_id = (char *)"rolling"};
        _cleanup_(vm_freep) Vm *vm = map("running-uefi.xml", VM_POWER_RUNNING, &debian, NULL);
        _cleanup_(vm_freep) Vm *vm2 = map("running-uefi.xml", VM_POWER_RUNNING, &bare, NULL);

        g_assert_cmpstr(vm->os_name, ==, "Debian GNU/Linux 12 (bookworm)");
        g_assert_cmpstr(vm->os_version, ==, "12");
        /* No pretty name: the name; a version that is not a dotted number: none. */
        g_assert_cmpstr(vm2->os_name, ==, "Linux");
        g_assert_null(vm2->os_version);
}

TEST(inactive_bios) {
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_(vm_freep) Vm *vm = map("inactive-bios.xml", VM_POWER_OFF, NULL, &warnings);

        g_assert_null(warnings);
        /* The vsock device is there; an auto CID is only assigned at start. A channel without a
         * connected agent is no data exchange. */
        assert_facts(vm, &(Facts){
                                 .id = "0e7c2f7a-8a51-4f5e-9d2b-6c1f0a3e4b5d",
                                 .power_state = VM_POWER_OFF,
                                 .generation = 1,
                                 .guest_service_interface = true,
                                 .vsock_cid = 0,
                                 .data_exchange = false,
                         });
        g_assert_null(vm->os_name);
        g_assert_null(vm->os_version);
        g_assert_null(vm->sku);
}

TEST(bad_metadata) {
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_(vm_freep) Vm *vm = map("bad-metadata.xml", VM_POWER_RUNNING, &windows_11, &warnings);

        /* Bad values are skipped and reported; the rest is kept. */
        g_assert_cmpuint(strv_length(warnings), ==, 2);
        g_assert_cmpstr(warnings[0], ==,
                "metadata: VM property 'SqlVersion' must be a dotted numeric version such as "
                "10.0.22621.3447, not 'twelve'.");
        g_assert_cmpstr(warnings[1], ==, "metadata: updateRevision must be a number.");
        g_assert_null(vm->sql_version);
        g_assert_cmpstr(vm->sku, ==, "Standard");
        g_assert_cmpstr(vm->os_version, ==, "10.0.22621");
        /* A ROM loader is BIOS; a static CID; a disconnected agent; no NIC on our bridge. */
        g_assert_cmpuint(vm->generation, ==, 1);
        g_assert_cmpuint(vm->vsock_cid, ==, 1234);
        g_assert_false(vm->data_exchange);
        g_assert_null(vm->legacy_mac);
        g_assert_null(vm->legacy_interface);
}

TEST(not_a_domain) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Vm *vm = NULL;

        g_assert_cmpint(virt_domain_to_vm("<network><name>x</name></network>", VM_POWER_OFF, NULL, &vm, NULL,
                                &error),
                ==, -EINVAL);
        g_assert_cmpstr(error.message, ==, "Not a libvirt domain XML.");
        sd_bus_error_free(&error);
        g_assert_cmpint(virt_domain_to_vm("<domain", VM_POWER_OFF, NULL, &vm, NULL, &error), ==, -EINVAL);
        sd_bus_error_free(&error);
        /* A domain whose UUID is not one cannot be a VM: the error names the field. */
        g_assert_cmpint(virt_domain_to_vm("<domain><name>n</name><uuid>nope</uuid></domain>", VM_POWER_OFF,
                                NULL, &vm, NULL, &error),
                ==, -EINVAL);
        g_assert_cmpstr(error.message, ==,
                "VM property 'Id' must be a UUID (8-4-4-4-12 hex digits), not 'nope'.");
        g_assert_null(vm);
}

/* The legacy NIC's MAC: the same for the same id, another for another, locally administered
 * unicast; the value is what tests/libvirt/test_legacy_nic.py computes independently. */
TEST(legacy_nic_mac) {
        char a[VIRT_MAC_BUFLEN], b[VIRT_MAC_BUFLEN], c[VIRT_MAC_BUFLEN];

        virt_legacy_nic_mac("5a1e0014-1111-4111-8111-000000000014", a);
        virt_legacy_nic_mac("5a1e0014-1111-4111-8111-000000000014", b);
        virt_legacy_nic_mac("5a1e0014-1111-4111-8111-000000000015", c);
        g_assert_cmpstr(a, ==, "fa:c1:6f:9f:5e:ba");
        g_assert_cmpstr(a, ==, b);
        g_assert_cmpstr(c, ==, "82:c8:e3:81:9a:a1");
}

/* The tap name: the prefix and 12 hex digits, 15 characters (IFNAMSIZ - 1); the value is what
 * tests/libvirt/test_legacy_nic.py computes independently. */
TEST(legacy_nic_ifname) {
        char a[VIRT_IFNAME_BUFLEN], b[VIRT_IFNAME_BUFLEN];

        virt_legacy_nic_ifname(NIC_ID, a);
        virt_legacy_nic_ifname("0e7c2f7a-8a51-4f5e-9d2b-6c1f0a3e4b5d", b);
        g_assert_cmpstr(a, ==, NIC_TAP);
        g_assert_cmpstr(b, ==, "azg4e8888beddce");
        g_assert_cmpuint(strlen(a), ==, 15);
}

TEST(legacy_nic_xml) {
        _cleanup_free_ char *xml = NULL;

        g_assert_cmpint(virt_legacy_nic_xml(NIC_ID, &xml), ==, 0);
        g_assert_cmpstr(xml, ==,
                "<interface type='ethernet'><mac address='fa:c1:6f:9f:5e:ba'/><target dev='azgeb77f965fcd6'/>"
                "<model type='virtio'/><alias name='ua-AZSHCI_GUEST-IMDS_DO_NOT_MODIFY'/></interface>");
        g_assert_cmpstr(virt_device_xml(VIRT_DEVICE_VSOCK), ==,
                "<vsock model='virtio'><cid auto='yes'/></vsock>");
        g_assert_cmpstr(virt_device_xml(VIRT_DEVICE_AGENT_CHANNEL), ==,
                "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>");
}

/* The service's NIC (its alias) with the derived MAC and the tap it named, in the live XML of a
 * running domain: LegacyMac and LegacyInterface. An admin's NIC on the bridge is none. */
TEST(legacy_nic_found) {
        _cleanup_free_ char *live = fixture("legacy-nic-live.xml"), *other_tap = fixture("legacy-nic.xml"),
                            *bios = fixture("inactive-bios.xml");
        _cleanup_(vm_freep) Vm *vm = map("legacy-nic-live.xml", VM_POWER_RUNNING, NULL, NULL);
        _cleanup_(vm_freep) Vm *paused = map("legacy-nic-live.xml", VM_POWER_PAUSED, NULL, NULL);
        VirtNicState state;

        g_assert_cmpstr(vm->legacy_mac, ==, NIC_MAC);
        g_assert_cmpstr(vm->legacy_interface, ==, NIC_TAP);
        g_assert_true(vm->legacy_nic_ours);
        /* Paused: still the live XML, the tap is there. */
        g_assert_cmpstr(paused->legacy_interface, ==, NIC_TAP);

        g_assert_cmpint(virt_domain_legacy_nic(live, NIC_ID, &state), ==, 0);
        g_assert_cmpint(state, ==, VIRT_NIC_OURS);
        /* Another VM's id: neither MAC nor tap name are its own. */
        g_assert_cmpint(virt_domain_legacy_nic(live, "5a1e0014-1111-4111-8111-000000000015", &state), ==, 0);
        g_assert_cmpint(state, ==, VIRT_NIC_OURS_CHANGED);
        /* The right MAC, a tap of another name. */
        g_assert_cmpint(virt_domain_legacy_nic(other_tap, NIC_ID, &state), ==, 0);
        g_assert_cmpint(state, ==, VIRT_NIC_OURS_CHANGED);
        /* An admin's NIC on the legacy bridge is no legacy NIC. */
        g_assert_cmpint(virt_domain_legacy_nic(bios, "0e7c2f7a-8a51-4f5e-9d2b-6c1f0a3e4b5d", &state), ==, 0);
        g_assert_cmpint(state, ==, VIRT_NIC_ABSENT);
        g_assert_cmpint(virt_domain_legacy_nic("<network/>", NIC_ID, &state), ==, -EINVAL);
}

/* Whoever defines a domain writes its XML: a target dev naming a host interface in the saved
 * definition of a domain that is off is no LegacyInterface (the service would put that
 * interface on the legacy bridge as the guest), nor is its static CID a VsockCid (another VM
 * may have that CID now); not even when the state read says running but the XML is not live. */
TEST(definer_chosen_identity) {
        _cleanup_(vm_freep) Vm *off = map("inactive-own-target.xml", VM_POWER_OFF, NULL, NULL);
        _cleanup_(vm_freep) Vm *raced = map("inactive-own-target.xml", VM_POWER_RUNNING, NULL, NULL);
        _cleanup_(vm_freep) Vm *live_off = map("legacy-nic-live.xml", VM_POWER_OFF, NULL, NULL);
        _cleanup_(vm_freep) Vm *other_tap = map("legacy-nic.xml", VM_POWER_RUNNING, NULL, NULL);
        _cleanup_(vm_freep) Vm *static_off = map("bad-metadata.xml", VM_POWER_OFF, &windows_11, NULL);

        g_assert_null(off->legacy_interface);
        g_assert_cmpuint(off->vsock_cid, ==, 0);
        g_assert_cmpstr(off->legacy_mac, ==, NIC_MAC);
        g_assert_true(off->legacy_nic_ours);
        g_assert_null(raced->legacy_interface);
        g_assert_cmpuint(raced->vsock_cid, ==, 0);
        g_assert_null(live_off->legacy_interface);
        g_assert_cmpuint(static_off->vsock_cid, ==, 0);
        /* Running, the service's NIC, but its tap is not the name the service gave it. */
        g_assert_null(other_tap->legacy_interface);
        g_assert_cmpstr(other_tap->legacy_mac, ==, NIC_MAC);
}

/* A NIC with the service's alias and a MAC that is not the one derived from the VM's id (the
 * definer may write any MAC, e.g. another VM's): no LegacyMac, so it clashes with nobody. */
TEST(foreign_mac) {
        _cleanup_free_ char *xml = fixture("legacy-nic-live.xml");
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(vm_freep) Vm *vm = NULL;
        char *p = strstr(xml, "5a1e0014-1111-4111-8111-000000000014");

        g_assert_nonnull(p);
        p[35] = '5'; /* another UUID, the same NIC */
        g_assert_cmpint(virt_domain_to_vm(xml, VM_POWER_RUNNING, NULL, &vm, NULL, &error), ==, 0);
        g_assert_cmpstr(vm->id, ==, "5a1e0014-1111-4111-8111-000000000015");
        g_assert_true(vm->legacy_nic_ours);
        g_assert_null(vm->legacy_mac);
        g_assert_null(vm->legacy_interface);
}

TEST(has_device) {
        _cleanup_free_ char *nic = fixture("legacy-nic.xml"), *bios = fixture("inactive-bios.xml");

        g_assert_cmpint(virt_domain_has_device(bios, VIRT_DEVICE_VSOCK), ==, 1);
        g_assert_cmpint(virt_domain_has_device(bios, VIRT_DEVICE_AGENT_CHANNEL), ==, 1);
        g_assert_cmpint(virt_domain_has_device(nic, VIRT_DEVICE_VSOCK), ==, 0);
        g_assert_cmpint(virt_domain_has_device(nic, VIRT_DEVICE_AGENT_CHANNEL), ==, 0);
}

/* When a guest agent is asked (its query can stall the loop for the agent timeout): the drift
 * check never; events and the reconcile only when nothing is cached and no back-off runs; the
 * refresh unless backing off; the agent's reconnection always. */
TEST(agent_should_ask) {
        const uint64_t now = 1000000, later = now + 1, earlier = now - 1;

        for (int known = 0; known <= 1; known++) {
                g_assert_false(virt_agent_should_ask(VIRT_AGENT_NEVER, known, 0, now));
                g_assert_true(virt_agent_should_ask(VIRT_AGENT_CONNECTED, known, later, now));
                g_assert_true(virt_agent_should_ask(VIRT_AGENT_REFRESH, known, 0, now));
                g_assert_true(virt_agent_should_ask(VIRT_AGENT_REFRESH, known, earlier, now));
                g_assert_true(virt_agent_should_ask(VIRT_AGENT_REFRESH, known, now, now));
                g_assert_false(virt_agent_should_ask(VIRT_AGENT_REFRESH, known, later, now));
        }
        g_assert_true(virt_agent_should_ask(VIRT_AGENT_IF_UNKNOWN, false, 0, now));
        g_assert_true(virt_agent_should_ask(VIRT_AGENT_IF_UNKNOWN, false, earlier, now));
        g_assert_false(virt_agent_should_ask(VIRT_AGENT_IF_UNKNOWN, false, later, now));
        g_assert_false(virt_agent_should_ask(VIRT_AGENT_IF_UNKNOWN, true, 0, now));
}

/* A libvirt domain state and the power state it is. */
typedef struct PowerStateCase {
        const char *name;
        int state;
        VmPowerState expected;
} PowerStateCase;

#define POWER_STATE(s, e) \
        { #s, s, e }
static const PowerStateCase power_state_cases[] = {
        POWER_STATE(VIR_DOMAIN_RUNNING, VM_POWER_RUNNING),
        POWER_STATE(VIR_DOMAIN_BLOCKED, VM_POWER_RUNNING),
        POWER_STATE(VIR_DOMAIN_SHUTDOWN, VM_POWER_RUNNING),
        POWER_STATE(VIR_DOMAIN_PAUSED, VM_POWER_PAUSED),
        POWER_STATE(VIR_DOMAIN_PMSUSPENDED, VM_POWER_PAUSED),
        POWER_STATE(VIR_DOMAIN_SHUTOFF, VM_POWER_OFF),
        POWER_STATE(VIR_DOMAIN_CRASHED, VM_POWER_OFF),
        POWER_STATE(VIR_DOMAIN_NOSTATE, VM_POWER_OFF),
};

static void test_power_state_case(const void *data) {
        const PowerStateCase *c = data;

        g_assert_cmpint(virt_domain_power_state(c->state), ==, c->expected);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        test_add_registered();
        test_add_cases("/virt-domain/power-states", power_state_cases, name, test_power_state_case);
        return g_test_run();
}
