/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Names on the bus: the contract in dbus/org.azshci.Attestation1.xml. */

#define BUS_NAME               "org.azshci.Attestation1"
#define BUS_PATH               "/org/azshci/Attestation1"
#define BUS_INTERFACE          "org.azshci.Attestation1"
#define BUS_INTERFACE_SERVER   "org.azshci.Attestation1.Server"
#define BUS_INTERFACE_VM       "org.azshci.Attestation1.VM"
#define BUS_PATH_VM_PREFIX     BUS_PATH "/vm"
#define BUS_PATH_SERVER_PREFIX BUS_PATH "/server"

#define BUS_ERROR_NOT_CONFIGURED     "org.azshci.Attestation1.Error.NotConfigured"
#define BUS_ERROR_POWER_OFF_REQUIRED "org.azshci.Attestation1.Error.PowerOffRequired"
#define BUS_ERROR_NO_SUCH_VM         "org.azshci.Attestation1.Error.NoSuchVM"
#define BUS_ERROR_UNKNOWN_VM         "org.azshci.Attestation1.Error.UnknownVM"
#define BUS_ERROR_ACCESS_DENIED      "org.azshci.Attestation1.Error.AccessDenied"
#define BUS_ERROR_EXPIRED            "org.azshci.Attestation1.Error.Expired"
#define BUS_ERROR_INVALID_NONCE      "org.azshci.Attestation1.Error.InvalidNonce"
#define BUS_ERROR_OWNED_BY_LIBVIRT   "org.azshci.Attestation1.Error.OwnedByLibvirt"
#define BUS_ERROR_SYNC_FAILED        "org.azshci.Attestation1.Error.SyncFailed"
#define BUS_ERROR_NO_CLUSTER         "org.azshci.Attestation1.Error.ClusterUnavailable"
#define BUS_ERROR_NO_SUCH_SERVER     "org.azshci.Attestation1.Error.NoSuchServer"
#define BUS_ERROR_NOT_CLUSTERED      "org.azshci.Attestation1.Error.NotClustered"
#define BUS_ERROR_LIBVIRT_FAILED     "org.azshci.Attestation1.Error.LibvirtFailed"
#define BUS_ERROR_GUEST_ACTION       "org.azshci.Attestation1.Error.GuestActionRequired"

#define POLKIT_ACTION_SYNC              "org.azshci.attestation.sync"
#define POLKIT_ACTION_MANAGE_LEGACY     "org.azshci.attestation.manage-legacy"
#define POLKIT_ACTION_MANAGE_VM_ACCESS  "org.azshci.attestation.manage-vm-access"
#define POLKIT_ACTION_MANAGE_INVENTORY  "org.azshci.attestation.manage-inventory"
#define POLKIT_ACTION_MANAGE_VM_DEVICES "org.azshci.attestation.manage-vm-devices"

/* Most requests in one AttestBatch call (docs/frontends.md): the service refuses more, the
 * frontends send no more. */
#define ATTEST_BATCH_MAX 64U
/* Most documents waiting to be signed at once, from all frontends' calls together: a call that
 * would queue more is refused with LimitsExceeded (the frontend answers 503 + Retry-After).
 * Bounds the memory the queued requests take. */
#define SIGN_QUEUE_MAX 4096U

/* The most VMs one ImportVMs call takes (the call is refused with LimitsExceeded beyond). */
#define IMPORT_VMS_MAX 10000U
