# SPDX-License-Identifier: LGPL-2.1-or-later
"""Registration data for test VMs."""

import uuid


def vm_id(n):
    return str(uuid.UUID(int=(0x6A1B2C3D << 96) | (0x4E5F << 80) | (0x4000 << 64) | (0x8000 << 48) | n))


def vm_mac(n):
    return f"52:54:00:00:{(n >> 8) & 0xff:02x}:{n & 0xff:02x}"


def vm_port(n):
    """The host side of VM n's legacy NIC (a name only: no such link exists unless a test makes
    it); bench-bus registers its VMs with it."""
    return f"azv{n}"


def vm_props(n, **overrides):
    """VM number n: a Generation 2 Windows Server 2022 Azure Edition VM with unique id,
    name, vsock CID and legacy MAC; keyword arguments override keys (None removes one)."""
    p = {
        "Id": vm_id(n),
        "Name": f"vm{n}",
        "Generation": 2,
        "PowerState": "Running",
        "GuestServiceInterface": True,
        "DataExchange": True,
        "OsName": "Windows Server 2022 Datacenter: Azure Edition",
        "OsVersion": "10.0.20348.2402",
        "VsockCid": 100 + n,
        "LegacyMac": vm_mac(n),
    }
    p.update(overrides)
    return {k: v for k, v in p.items() if v is not None}
