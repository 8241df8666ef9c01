/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The "Azure verification for VMs" page: the host and VM dashboards of azshci-attestd.
 *
 * Everything goes through cockpit.dbus on the system bus, to org.azshci.Attestation1 only:
 * GetManagedObjects on its ObjectManager once (and again when the service restarts), then
 * PropertiesChanged / InterfacesAdded / InterfacesRemoved keep the page current; no polling.
 * Actions are the service's methods, which are polkit actions: the page never decides who
 * may do what, it shows what the service answered. No helper process, no shell command.
 * The API is dbus/org.azshci.Attestation1.xml; docs/cockpit.md describes the page.
 */
(function () {
    "use strict";

    const _ = cockpit.gettext;

    const BUS_NAME = "org.azshci.Attestation1";
    const BUS_PATH = "/org/azshci/Attestation1";
    const IFACE = "org.azshci.Attestation1";
    const IFACE_SERVER = "org.azshci.Attestation1.Server";
    const IFACE_VM = "org.azshci.Attestation1.VM";
    const IFACE_PROPS = "org.freedesktop.DBus.Properties";
    const IFACE_OM = "org.freedesktop.DBus.ObjectManager";

    /* The errors that mean "polkit (or the bus policy) said no", as azshcictl counts them. */
    const REFUSALS = [
        "org.freedesktop.DBus.Error.AccessDenied",
        "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired",
        "org.freedesktop.DBus.Error.AuthFailed",
        "org.freedesktop.PolicyKit1.Error.NotAuthorized",
    ];

    const STATUS_LABELS = {
        ActiveBenefits: _("Active benefits"),
        InactiveBenefits: _("Inactive benefits"),
        Unknown: _("Unknown"),
        NoApplicableBenefits: _("No applicable benefits"),
    };
    const STATUS_ORDER = ["ActiveBenefits", "InactiveBenefits", "Unknown", "NoApplicableBenefits"];

    const BENEFIT_LABELS = {
        ExtendedSecurityUpdates: _("Extended Security Updates"),
        AzureVirtualDesktop: _("Azure Virtual Desktop"),
        WindowsServerAzureEdition: _("Windows Server Azure Edition"),
        AzurePolicyGuestConfiguration: _("Azure Policy guest configuration"),
    };

    /* Recommended actions. A button where this host can carry the action out (FixVM); the
     * others are done in the guest or elsewhere and show as text. */
    const ACTION_LABELS = {
        InstallUpdates: _("Install updates"),
        EnableGuestServiceInterface: _("Enable the guest service interface"),
        EnableLegacyOsSupport: _("Turn on legacy OS support"),
        EnableVMLegacyAccess: _("Grant legacy access"),
        EnableDataExchange: _("Turn on data exchange"),
        SyncServer: _("Sync the server"),
    };
    const SOURCE_LABELS = {
        manual: _("manual"),
        libvirt: _("libvirt"),
    };
    /* What FixVM carries out, and for which VMs: a device goes into a libvirt domain only (a
     * VM registered by hand has no domain to change: NotSupported). */
    const FIXABLE = {
        EnableVMLegacyAccess: () => true,
        EnableGuestServiceInterface: vm => vm.Source === "libvirt",
        EnableDataExchange: vm => vm.Source === "libvirt",
    };
    /* The results of EnableLegacyEx / SetVMAccessEx, as the service names them. */
    const RESULT_LABELS = {
        granted: _("granted"),
        revoked: _("revoked"),
        repaired: _("repaired"),
        refused: _("refused"),
        failed: _("failed"),
        recorded: _("recorded"), /* cluster: a VM of another server, its grant in etcd */
    };
    const RESULT_BADGES = {
        granted: "on",
        revoked: "off",
        repaired: "on",
        refused: "inactive",
        failed: "error",
        recorded: "none",
    };
    /* EnableLegacyEx flags: also revoke every VM's access and remove the NICs (-RemoveVM). */
    const LEGACY_REMOVE_VMS = 0x1;

    const client = cockpit.dbus(BUS_NAME, { bus: "system", superuser: "try" });

    const model = {
        loaded: false,
        cluster: {},
        servers: {}, /* path -> properties */
        vms: {}, /* path -> properties */
    };
    const ui = {
        statusFilter: null,
        search: "",
        /* Keyed by VM names, which may be "constructor" or "__proto__": Maps, never plain
         * objects, so a name cannot hit an inherited property. */
        vmErrors: new Map(), /* VM name -> error text shown in its row */
        vmNotes: new Map(), /* VM name -> [{label, result, message}] the last action did, in its row */
        busy: new Set(), /* VM names with a call running */
    };

    const $ = id => document.getElementById(id);

    /* ------------------------------------------------------------------ formatting */

    function pad(n) {
        return String(n).padStart(2, "0");
    }

    /* Microseconds since the epoch as azshcictl prints them; 0 = never. */
    function formatTime(usec) {
        if (!usec)
            return _("n/a");
        const d = new Date(Math.floor(usec / 1000));
        return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
               pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + " UTC";
    }

    function benefitList(ids) {
        return (ids || []).map(b => BENEFIT_LABELS[b] || b).join(", ") || "-";
    }

    /* A D-Bus error as "message (org.example.Error.Name)"; anything else by its message. */
    function errorText(err) {
        if (err && typeof err.name === "string" && err.name.indexOf(".") > 0)
            return err.message + " (" + err.name + ")";
        return (err && err.message) || cockpit.message(err);
    }

    function isRefusal(err) {
        return !!(err && REFUSALS.indexOf(err.name) >= 0);
    }

    function unwrap(props) {
        const out = {};
        for (const k in props)
            out[k] = props[k].v;
        return out;
    }

    function byName(a, b) {
        /* azshcictl sorts by byte order; names are ASCII in practice. */
        return a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0;
    }

    /* ------------------------------------------------------------------ errors next to things */

    function showError(el, err) {
        el.textContent = "";
        if (!err) {
            el.hidden = true;
            return;
        }
        const msg = document.createElement("span");
        msg.className = "error-text";
        msg.textContent = typeof err === "string" ? err : errorText(err);
        el.appendChild(msg);
        if (isRefusal(err)) {
            const hint = document.createElement("span");
            hint.className = "error-hint";
            hint.textContent = " " + _("You do not have administrative access: turn it on in Cockpit's top bar, or ask for a polkit rule granting org.azshci.attestation.*.");
            el.appendChild(hint);
            $("access-alert").hidden = false;
        }
        el.hidden = false;
    }

    /* ------------------------------------------------------------------ the model */

    function applyInterfaces(path, ifaces) {
        if (path === BUS_PATH && ifaces[IFACE])
            Object.assign(model.cluster, unwrap(ifaces[IFACE]));
        if (ifaces[IFACE_SERVER])
            model.servers[path] = Object.assign(model.servers[path] || {}, unwrap(ifaces[IFACE_SERVER]));
        if (ifaces[IFACE_VM])
            model.vms[path] = Object.assign(model.vms[path] || {}, unwrap(ifaces[IFACE_VM]));
    }

    function onSignal(path, iface, signal, args) {
        if (iface === IFACE_PROPS && signal === "PropertiesChanged") {
            const changed = {};
            changed[args[0]] = args[1];
            applyInterfaces(path, changed);
        } else if (iface === IFACE_OM && signal === "InterfacesAdded") {
            applyInterfaces(args[0], args[1]);
        } else if (iface === IFACE_OM && signal === "InterfacesRemoved") {
            if (args[1].indexOf(IFACE_VM) >= 0)
                delete model.vms[args[0]];
            if (args[1].indexOf(IFACE_SERVER) >= 0)
                delete model.servers[args[0]];
        } else {
            return;
        }
        scheduleRender();
    }

    /* The whole state, from the ObjectManager and GetAll: the start, and after the service
     * restarted. Signals that came earlier are older than this answer (the bus keeps order). */
    function load() {
        const read = (path, iface, method, args) => new Promise((resolve, reject) => {
            client.call(path, iface, method, args).then(resolve, reject);
        });
        return Promise.all([
            read(BUS_PATH, IFACE_OM, "GetManagedObjects", []),
            read(BUS_PATH, IFACE_PROPS, "GetAll", [IFACE]),
        ]).then(([objects, all]) => {
            model.cluster = {};
            model.servers = {};
            model.vms = {};
            const tree = objects[0];
            for (const path in tree)
                applyInterfaces(path, tree[path]);
            applyInterfaces(BUS_PATH, { [IFACE]: all[0] });
            model.loaded = true;
            showError($("connection-error"), null);
            render();
        })
                .catch(err => {
                    showError($("connection-error"), _("Cannot read the attestation service: ") + errorText(err));
                    $("loading").hidden = true;
                    $("app").setAttribute("aria-busy", "false");
                });
    }

    /* ------------------------------------------------------------------ actions */

    /* A method of the service, as a native promise of the reply's values (cockpit's own
     * promises report every rejection on the console, handled or not). */
    function call(method, signature, args) {
        return new Promise((resolve, reject) => {
            client.call(BUS_PATH, IFACE, method, args, { type: signature }).then(resolve, reject);
        });
    }

    function withButton(button, errorEl, promise) {
        button.disabled = true;
        showError(errorEl, null);
        return promise
                .catch(err => {
                    showError(errorEl, err);
                    throw err;
                })
                .finally(() => {
                    button.disabled = false;
                });
    }

    function sync() {
        withButton($("sync-button"), $("sync-error"), call("Sync", "", [])).catch(() => {});
    }

    function downloadTrustAnchor() {
        withButton($("ca-button"), $("ca-error"), call("GetTrustAnchor", "", []).then(([pem]) => {
            if (!pem)
                throw new Error(_("The service has no trust anchor yet."));
            const url = URL.createObjectURL(new Blob([pem], { type: "application/x-pem-file" }));
            const a = document.createElement("a");
            a.href = url;
            a.download = "ca.pem";
            a.hidden = true;
            document.body.appendChild(a);
            a.click();
            a.remove();
            window.setTimeout(() => URL.revokeObjectURL(url), 60000);
        })).catch(() => {});
    }

    /* A call for one VM: its buttons are disabled meanwhile, then the row shows what the
     * service answered (notes from the reply) or its error. */
    function vmCall(name, promise) {
        ui.busy.add(name);
        ui.vmErrors.delete(name);
        ui.vmNotes.delete(name);
        render();
        return promise
                .then(notes => {
                    ui.vmNotes.set(name, notes);
                })
                .catch(err => {
                    ui.vmErrors.set(name, err);
                })
                .finally(() => {
                    ui.busy.delete(name);
                    render();
                });
    }

    function resultNotes(vms) {
        return vms.map(v => ({ result: v[2], message: v[3] }));
    }

    function setVmAccess(name, enable) {
        return vmCall(name, call("SetVMAccessEx", "sb", [name, enable]).then(([vms]) => {
            const notes = resultNotes(vms);
            if (!notes.length)
                notes.push({ message: enable ? _("had access already") : _("had no access") });
            return notes;
        }));
    }

    function fixVm(vm, action) {
        return vmCall(vm.Name, call("FixVM", "ss", [vm.Name, action]).then(([message]) => [
            { label: ACTION_LABELS[action] || action, result: "done", message },
        ]));
    }

    /* Legacy OS support: the switch asks first, then shows what happened to each VM. */
    let legacyTarget = null;

    function askLegacy(enable) {
        legacyTarget = enable;
        const n = Object.keys(model.vms).length;
        $("legacy-confirm-text").textContent = enable
            ? cockpit.format(cockpit.ngettext(
                "Turning legacy OS support on builds the legacy network and grants legacy access to every VM registered now ($0 VM). A VM that cannot be granted now (a Generation 1 VM that is not Off, a VM without a legacy NIC) is listed with the reason.",
                "Turning legacy OS support on builds the legacy network and grants legacy access to every VM registered now ($0 VMs). A VM that cannot be granted now (a Generation 1 VM that is not Off, a VM without a legacy NIC) is listed with the reason.",
                n), n)
            : _("Turning legacy OS support off removes the legacy network: no VM reaches the service over HTTP until it is turned on again. Each VM keeps its access setting unless you choose below to remove it.");
        $("legacy-remove-vms").checked = false;
        $("legacy-remove-vms-option").hidden = enable;
        $("legacy-confirm-yes").textContent = enable ? _("Turn on and grant every VM") : _("Turn off");
        $("legacy-confirm").hidden = false;
        $("legacy-confirm-yes").focus();
    }

    /* The reply's per-VM entries (id, name, result, message): what changed, was refused or
     * failed; a VM that is not listed needed nothing. */
    function showLegacyResults(title, vms) {
        const list = $("legacy-results-list");
        list.textContent = "";
        for (const [id, name, result, message] of vms) {
            const li = document.createElement("li");
            li.dataset.vm = name;
            li.dataset.id = id;
            li.dataset.result = result;
            const strong = document.createElement("strong");
            strong.textContent = name;
            const badge = document.createElement("span");
            badge.className = "badge badge-" + (RESULT_BADGES[result] || "none");
            badge.textContent = RESULT_LABELS[result] || result;
            const text = document.createElement("span");
            text.className = "result-message";
            text.textContent = message;
            li.append(strong, " ", badge, " ", text);
            list.appendChild(li);
        }
        const counts = Object.create(null);
        for (const v of vms)
            counts[v[2]] = (counts[v[2]] || 0) + 1;
        const parts = Object.keys(RESULT_LABELS).filter(r => counts[r])
                .map(r => cockpit.format("$0 $1", counts[r], RESULT_LABELS[r]));
        $("legacy-results-title").textContent = title + ": " + (parts.length ? parts.join(", ") : _("no VM needed a change"));
        $("legacy-results").hidden = false;
    }

    function legacyChange(button, method, signature, args, title) {
        $("legacy-results").hidden = true;
        return withButton(button, $("legacy-error"), call(method, signature, args))
                .then(([vms]) => showLegacyResults(title, vms))
                .catch(() => {})
                .finally(render); /* the switch was disabled: a signal meanwhile did not move it */
    }

    function confirmLegacy() {
        $("legacy-confirm").hidden = true;
        const enable = legacyTarget;
        const flags = !enable && $("legacy-remove-vms").checked ? LEGACY_REMOVE_VMS : 0;
        legacyChange($("legacy-switch"), "EnableLegacyEx", "bt", [enable, flags],
                     enable ? _("Legacy OS support turned on") : _("Legacy OS support turned off"));
    }

    function allAccess(enable) {
        legacyChange(enable ? $("grant-all") : $("revoke-all"), "SetVMAccessEx", "sb", ["*", enable],
                     enable ? _("Grant all") : _("Revoke all"));
    }

    /* ------------------------------------------------------------------ rendering */

    let renderPending = false;

    function scheduleRender() {
        if (renderPending)
            return;
        renderPending = true;
        window.setTimeout(() => {
            renderPending = false;
            render();
        }, 0);
    }

    function cell(row, text, className) {
        const td = document.createElement("td");
        td.textContent = text;
        if (className)
            td.className = className;
        row.appendChild(td);
        return td;
    }

    function stateBadge(td, text) {
        td.textContent = "";
        const span = document.createElement("span");
        span.className = "badge badge-" + String(text).toLowerCase();
        span.textContent = text;
        td.appendChild(span);
    }

    function renderHost() {
        const c = model.cluster;
        stateBadge($("host-state"), c.HostState || "-");
        stateBadge($("host-legacy"), c.LegacyOsSupport || "-");
        $("host-last-sync").textContent = formatTime(c.LastSync);
        $("host-expiry").textContent = formatTime(c.CertificateExpiry);
        $("host-subscription").textContent = c.SubscriptionId || "-";
        $("host-version").textContent = c.Version || "-";
        $("inventory-stale").hidden = !c.InventoryStale;
        /* A standalone server (or an older service without the property) has no store to show. */
        const store = c.ClusterStore && c.ClusterStore !== "Standalone" ? c.ClusterStore : null;
        $("host-cluster-store-label").hidden = !store;
        $("host-cluster-store").hidden = !store;
        if (store)
            stateBadge($("host-cluster-store"), store);
        $("cluster-store-warning").hidden = store !== "Unreachable";

        const tbody = $("servers-table").tBodies[0];
        tbody.textContent = "";
        for (const s of Object.values(model.servers).sort(byName)) {
            const tr = document.createElement("tr");
            tr.dataset.server = s.Name;
            cell(tr, s.Name, "name");
            stateBadge(cell(tr, "", "state"), s.State);
            cell(tr, formatTime(s.LastSync), "last-sync");
            cell(tr, formatTime(s.CertificateExpiry), "expiry");
            cell(tr, s.LegacyOsSupport, "legacy");
            cell(tr, s.Error || "-", "error");
            tbody.appendChild(tr);
        }
    }

    function renderLegacy() {
        const on = model.cluster.LegacyOsSupport === "On";
        const sw = $("legacy-switch");
        if (!sw.disabled)
            sw.checked = on;
        $("legacy-switch-label").textContent = on ? _("On") : _("Off");
    }

    function renderCounts(vms) {
        const counts = Object.create(null);
        for (const s of STATUS_ORDER)
            counts[s] = 0;
        for (const vm of vms)
            counts[vm.Status] = (counts[vm.Status] || 0) + 1;
        for (const b of document.querySelectorAll("#counts .count")) {
            b.querySelector(".count-value").textContent = String(counts[b.dataset.status] || 0);
            b.setAttribute("aria-pressed", String(ui.statusFilter === b.dataset.status));
        }
    }

    /* Under "Install updates": what the guest must install, as the service names it. */
    function requiredUpdates(updates) {
        const ul = document.createElement("ul");
        ul.className = "required-updates";
        for (const u of updates || []) {
            const li = document.createElement("li");
            li.textContent = u;
            ul.appendChild(li);
        }
        ul.hidden = !ul.childElementCount;
        return ul;
    }

    function renderVmRow(vm) {
        const tr = document.createElement("tr");
        tr.dataset.vm = vm.Name;
        tr.dataset.status = vm.Status;
        cell(tr, vm.Name, "name");
        const source = cell(tr, "", "source");
        const sourceBadge = document.createElement("span");
        sourceBadge.className = "badge badge-source-" + String(vm.Source || "manual");
        sourceBadge.textContent = SOURCE_LABELS[vm.Source] || vm.Source || SOURCE_LABELS.manual;
        source.appendChild(sourceBadge);
        cell(tr, STATUS_LABELS[vm.Status] || vm.Status, "status");
        cell(tr, benefitList(vm.EligibleBenefits), "eligible");
        cell(tr, benefitList(vm.ActiveBenefits), "active");

        const actions = cell(tr, "", "actions");
        const list = vm.RecommendedActions || [];
        for (const a of list) {
            const label = ACTION_LABELS[a] || a;
            if (FIXABLE[a] && FIXABLE[a](vm)) {
                const b = document.createElement("button");
                b.type = "button";
                b.className = "btn btn-secondary btn-small";
                b.dataset.action = a;
                b.textContent = label;
                b.disabled = ui.busy.has(vm.Name);
                b.addEventListener("click", () => fixVm(vm, a));
                actions.appendChild(b);
            } else {
                const s = document.createElement("span");
                s.className = "action-text";
                s.dataset.action = a;
                s.textContent = label;
                actions.appendChild(s);
                if (a === "InstallUpdates")
                    actions.appendChild(requiredUpdates(vm.RequiredUpdates));
            }
        }
        if (!list.length)
            actions.textContent = "-";

        const access = cell(tr, "", "access");
        const label = document.createElement("label");
        label.className = "switch";
        const input = document.createElement("input");
        input.type = "checkbox";
        input.setAttribute("role", "switch");
        input.checked = !!vm.LegacyAccess;
        input.disabled = ui.busy.has(vm.Name);
        input.setAttribute("aria-label", cockpit.format(_("Legacy access of $0"), vm.Name));
        input.addEventListener("change", () => {
            const want = input.checked;
            input.checked = !want; /* the service decides; the signal moves the switch */
            setVmAccess(vm.Name, want);
        });
        const track = document.createElement("span");
        track.className = "switch-track";
        const text = document.createElement("span");
        text.className = "switch-text";
        text.textContent = vm.LegacyAccess ? _("Yes") : _("No");
        label.append(input, track, text);
        access.appendChild(label);
        if (vm.LegacyError) {
            /* What keeps the VM from its legacy access (refused grant, drifted NIC). */
            const warn = document.createElement("div");
            warn.className = "vm-warning legacy-error";
            warn.textContent = vm.LegacyError;
            access.appendChild(warn);
        }

        for (const n of ui.vmNotes.get(vm.Name) || []) {
            const div = document.createElement("div");
            div.className = "vm-note";
            div.dataset.result = n.result || "";
            const prefix = [n.label, RESULT_LABELS[n.result] || (n.result === "done" ? _("done") : n.result)]
                    .filter(x => x).join(": ");
            div.textContent = (prefix ? prefix + ": " : "") + n.message;
            actions.appendChild(div);
        }

        const err = ui.vmErrors.get(vm.Name);
        if (err) {
            const div = document.createElement("div");
            div.className = "inline-error";
            div.setAttribute("role", "alert");
            showError(div, err);
            actions.appendChild(div);
        }
        return tr;
    }

    function renderVms() {
        const vms = Object.values(model.vms).sort(byName);
        renderCounts(vms);
        const needle = ui.search.trim().toLowerCase();
        const shown = vms.filter(vm => (!ui.statusFilter || vm.Status === ui.statusFilter) &&
                                       (!needle || vm.Name.toLowerCase().indexOf(needle) >= 0));
        const tbody = $("vms-table").tBodies[0];
        tbody.textContent = "";
        for (const vm of shown)
            tbody.appendChild(renderVmRow(vm));

        const note = [];
        if (ui.statusFilter)
            note.push(cockpit.format(_("Status: $0"), STATUS_LABELS[ui.statusFilter]));
        if (needle)
            note.push(cockpit.format(_("Name contains \"$0\""), ui.search.trim()));
        $("vm-filter-note").textContent = note.length
            ? cockpit.format(_("Showing $0 of $1 VMs ($2)"), shown.length, vms.length, note.join(", "))
            : "";
        const empty = $("vms-empty");
        empty.hidden = shown.length > 0;
        empty.textContent = vms.length ? _("No VM matches the filter.") : _("No VMs registered.");
    }

    function render() {
        if (!model.loaded)
            return;
        renderHost();
        renderLegacy();
        renderVms();
        $("loading").hidden = true;
        for (const card of document.querySelectorAll("section.card"))
            card.hidden = false;
        $("app").setAttribute("aria-busy", "false");
    }

    /* ------------------------------------------------------------------ start */

    function init() {
        cockpit.translate();
        $("sync-button").addEventListener("click", sync);
        $("ca-button").addEventListener("click", downloadTrustAnchor);
        $("legacy-switch").addEventListener("change", ev => {
            const want = ev.target.checked;
            ev.target.checked = !want; /* unchanged until confirmed and done */
            askLegacy(want);
        });
        $("legacy-confirm-yes").addEventListener("click", confirmLegacy);
        $("legacy-confirm-no").addEventListener("click", () => {
            $("legacy-confirm").hidden = true;
        });
        $("grant-all").addEventListener("click", () => allAccess(true));
        $("revoke-all").addEventListener("click", () => allAccess(false));
        for (const b of document.querySelectorAll("#counts .count")) {
            b.addEventListener("click", () => {
                ui.statusFilter = ui.statusFilter === b.dataset.status ? null : b.dataset.status;
                render();
            });
        }
        $("vm-search").addEventListener("input", ev => {
            ui.search = ev.target.value;
            render();
        });

        /* Subscribe first, then read: every change after the answer arrives as a signal. */
        client.subscribe({ path_namespace: BUS_PATH }, onSignal);
        let owner; /* undefined until the bridge tells the first owner (null = none) */
        client.addEventListener("owner", (ev, newOwner) => {
            if (!newOwner)
                showError($("connection-error"), _("The attestation service is not running."));
            else if (owner !== undefined && newOwner !== owner)
                load(); /* the service (re)started: read everything again */
            owner = newOwner;
        });
        client.addEventListener("close", (ev, options) => {
            showError($("connection-error"), _("Lost the connection to the system bus: ") + cockpit.message(options));
        });
        load();
    }

    init();
}());
