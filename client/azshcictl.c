/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* azshcictl: the administrator's command line for org.azshci.Attestation1. Reads state with
 * ObjectManager.GetManagedObjects and Properties.GetAll, changes it with the service's admin
 * methods (polkit-checked; a text agent is started when run from a terminal). Exit codes and
 * the --json shapes are documented in docs/azshcictl.md and in --help; keep them stable. */

#include <getopt.h>

#include "azshcictl-cert.h"
#include "azshcictl-import.h"
#include "azshcictl-legacy.h"
#include "azshcictl-show.h"
#include "azshcictl-util.h"
#include "azshcictl-vm.h"
#include "build-config.h"
#include "log.h"
#include "polkit-agent.h"
#include "strv.h"
#include "validate.h"

static void help(void) {
        printf("azshcictl %s: manage the host attestation service (org.azshci.Attestation1).\n"
               "\n"
               "SYNOPSIS\n"
               "  azshcictl [OPTIONS...] COMMAND [ARGS...]\n"
               "\n"
               "COMMANDS\n"
               "  status                     Cluster state (host state, legacy OS support, last sync,\n"
               "                             certificate expiry, subscription, version) and the servers.\n"
               "                             The default when no command is given.\n"
               "  servers                    The servers of the cluster: state, last sync, expiry, error.\n"
               "  vms                        VM dashboard: how many VMs have active benefits, inactive\n"
               "                             benefits, unknown status, no applicable benefits; then one\n"
               "                             line per VM (name, status, eligible and active benefits,\n"
               "                             recommended actions, legacy access).\n"
               "  vm show NAME|ID            Every property of one VM.\n"
               "  vm add --name N --id UUID [--KEY VALUE...] [KEY=VALUE...]\n"
               "                             Register a VM (RegisterVM). Prints its object path.\n"
               "  vm update NAME|ID [--KEY VALUE...] [KEY=VALUE...]\n"
               "                             Change registration properties of a VM (UpdateVM).\n"
               "  vm remove NAME|ID          Forget a VM (UnregisterVM).\n"
               "  vm import FILE.json|-      Register the VMs of a JSON array of objects keyed by D-Bus\n"
               "                             property name (or the output of 'vms --json'); VMs whose\n"
               "                             Id is already registered are updated. One line per VM.\n"
               "  legacy on|off [--remove-vms]\n"
               "                             Turn cluster-wide legacy OS support (the REST path) on or\n"
               "                             off. Turning it on grants legacy access to every VM\n"
               "                             registered now (libvirt domains get the legacy NIC;\n"
               "                             Generation 1 VMs only when Off); --remove-vms with off\n"
               "                             also revokes every VM's access and removes the NICs.\n"
               "                             One line per VM changed or refused, then the state.\n"
               "  legacy status              The legacy network (bridge, address, firewall, each VM's\n"
               "                             port) against the configuration; names what drifted.\n"
               "                             Exit 1 on drift (repair: legacy off, then legacy on).\n"
               "                             --json: {\"ok\":BOOL,\"report\":\"TEXT\"}.\n"
               "  legacy reapply SERVER      In a cluster: make SERVER re-apply the cluster's legacy OS\n"
               "                             support (rebuild or remove its bridge and firewall).\n"
               "  vm-access NAME|ID on|off   Grant or revoke one VM's legacy access (a libvirt\n"
               "                             domain gets or loses the legacy NIC).\n"
               "  vm-access --all on|off     ... for every registered VM, each as it can: one line\n"
               "                             per VM changed or refused; exit 1 only if one failed.\n"
               "  vm fix NAME|ID [ACTION]    Carry out a recommended action (all of the VM's when no\n"
               "                             ACTION): EnableGuestServiceInterface (virtio-vsock),\n"
               "                             EnableDataExchange (guest agent channel),\n"
               "                             EnableVMLegacyAccess; InstallUpdates names the updates\n"
               "                             the guest must install.\n"
               "  sync                       Renew the signing certificate now.\n"
               "  ca export                  Print the trust anchor (PEM) guests verify documents with.\n"
               "  help                       This text.\n"
               "\n"
               "VM PROPERTIES (vm add, vm update; KEY is the D-Bus name or its --option spelling)\n"
               "  --id UUID                       Id=UUID                required for add\n"
               "  --name NAME                     Name=NAME              required for add\n"
               "  --generation 1|2                Generation=2           default 2\n"
               "  --power-state Running|Off|Paused                       default Running\n"
               "  --guest-service-interface yes|no                       virtio-vsock present\n"
               "  --data-exchange yes|no                                 guest reports OS facts\n"
               "  --os-name TEXT                  e.g. \"Windows Server 2022 Datacenter: Azure Edition\"\n"
               "  --os-version VERSION            e.g. 10.0.20348.2402\n"
               "  --sql-version VERSION           e.g. 11.0.7001\n"
               "  --arc-agent-version VERSION     e.g. 1.39.0\n"
               "  --vsock-cid N                   guest CID, 0 = none\n"
               "  --legacy-mac MAC                the legacy NIC's MAC, \"\" = none\n"
               "  --legacy-interface IFNAME       host side of the legacy NIC (tap/veth), \"\" = none\n"
               "  --sku TEXT, --license-type TEXT\n"
               "  Booleans accept yes/no, true/false, on/off, 1/0.\n"
               "\n"
               "OPTIONS\n"
               "  -h --help                  Show this help and exit.\n"
               "     --version               Show the version and exit.\n"
               "     --json[=short|pretty]   Machine-readable output (see docs/azshcictl.md for the\n"
               "                             exact shapes); 'short' (the default) is one line.\n"
               "     --no-legend             Leave out table headers and the dashboard counts.\n"
               "     --no-ask-password       Do not ask for authentication: no text agent, and calls\n"
               "                             are sent without allowing interactive authorization.\n"
               "  -a --all                   With vm-access: every VM.\n"
               "     --replace               With vm import: afterwards remove registered VMs that the\n"
               "                             file does not list (only if every entry succeeded).\n"
               "\n"
               "AUTHORIZATION\n"
               "  Reading is open to everyone. Changes are polkit actions\n"
               "  (org.azshci.attestation.{sync,manage-legacy,manage-vm-access,manage-inventory,\n"
               "  manage-vm-devices}).\n"
               "  Root is authorized without asking. Otherwise, when standard input is a terminal,\n"
               "  azshcictl starts 'pkttyagent' so that polkit can ask for a password there.\n"
               "\n"
               "EXIT STATUS\n"
               "  0  success\n"
               "  1  the service refused or failed the request (invalid argument, no such VM,\n"
               "     power-off required, not configured, sync failed, ...), an import entry failed,\n"
               "     or 'legacy status' found drift\n"
               "  2  usage error (unknown command or option, wrong number of arguments)\n"
               "  3  not authorized (polkit said no, or the bus policy refused the call)\n"
               "  4  the system bus or the service is not reachable\n"
               "\n"
               "ENVIRONMENT\n"
               "  DBUS_SYSTEM_BUS_ADDRESS    The system bus to use (default\n"
               "                             unix:path=/run/dbus/system_bus_socket).\n"
               "  NO_COLOR                   If set, never use colour. Colour is used only when\n"
               "                             standard output is a terminal and TERM is not 'dumb'.\n"
               "\n"
               "EXAMPLES\n"
               "  azshcictl status\n"
               "  azshcictl vm add --name sql2012 --id 5f0e5ab4-59f5-4a3c-9d6c-3c1a0f6a2b11 \\\n"
               "          --generation 1 --power-state Off --os-name \"Windows Server 2012 R2 Datacenter\" "
               "\\\n"
               "          --os-version 6.3.9600.21620 --data-exchange yes --legacy-mac 52:54:00:12:34:56\n"
               "  azshcictl vm update sql2012 PowerState=Running\n"
               "  azshcictl vm import " PKGDATADIR "/demo/vms.json\n"
               "  azshcictl legacy on && azshcictl vm-access --all on\n"
               "  azshcictl vms --json | jq '.vms[] | select(.Status == \"InactiveBenefits\") | .Name'\n"
               "\n"
               "See docs/azshcictl.md for the full manual.\n",
                PACKAGE_VERSION);
}

typedef int (*VerbFunction)(Context *c, char **args);

typedef struct Verb {
        const char *word1, *word2; /* "vm" "show"; word2 NULL for one-word commands */
        size_t min_args, max_args;
        bool field_options; /* accepts --name, --id, ... */
        VerbFunction run;
} Verb;

#define ARGS_MAX SIZE_MAX

static const Verb verbs[] = {
        {"status", NULL, 0, 0, false, verb_status},
        {"servers", NULL, 0, 0, false, verb_servers},
        {"vms", NULL, 0, 0, false, verb_vms},
        {"vm", "show", 1, 1, false, verb_vm_show},
        {"vm", "add", 0, ARGS_MAX, true, verb_vm_add},
        {"vm", "update", 1, ARGS_MAX, true, verb_vm_update},
        {"vm", "remove", 1, 1, false, verb_vm_remove},
        {"vm", "import", 1, 1, false, verb_vm_import},
        {"vm", "fix", 1, 2, false, verb_vm_fix},
        {"legacy", "status", 0, 0, false, verb_legacy_status}, /* before "legacy on|off" */
        {"legacy", "reapply", 1, 1, false, verb_legacy_reapply},
        {"legacy", NULL, 1, 1, false, verb_legacy},
        {"vm-access", NULL, 1, 2, false, verb_vm_access},
        {"sync", NULL, 0, 0, false, verb_sync},
        {"ca", "export", 0, 0, false, verb_ca_export},
};

enum {
        ARG_VERSION = 0x100,
        ARG_JSON,
        ARG_NO_LEGEND,
        ARG_NO_ASK_PASSWORD,
        ARG_REPLACE,
        ARG_REMOVE_VMS,
        ARG_FIELD_BASE = 0x200,
};

/* "GuestServiceInterface" → "guest-service-interface". */
static char *option_name(const char *field) {
        char *s = malloc(strlen(field) * 2 + 1), *p = s;

        if (!s)
                return NULL;
        for (const char *f = field; *f; f++) {
                if (*f >= 'A' && *f <= 'Z') {
                        if (f != field)
                                *p++ = '-';
                        *p++ = (char)(*f - 'A' + 'a');
                } else
                        *p++ = *f;
        }
        *p = 0;
        return s;
}

static void options_free(struct option *options) {
        for (struct option *o = options; o && o->name; o++)
                if (o->val >= ARG_FIELD_BASE)
                        free((char *)o->name);
        free(options);
}

static void options_freep(struct option **o) {
        options_free(*o);
}

static int parse_argv(Context *c, int argc, char *argv[], bool *ret_help, bool *ret_field_options) {
        static const struct option fixed[] = {
                {"help", no_argument, NULL, 'h'},
                {"version", no_argument, NULL, ARG_VERSION},
                {"json", optional_argument, NULL, ARG_JSON},
                {"no-legend", no_argument, NULL, ARG_NO_LEGEND},
                {"no-ask-password", no_argument, NULL, ARG_NO_ASK_PASSWORD},
                {"all", no_argument, NULL, 'a'},
                {"replace", no_argument, NULL, ARG_REPLACE},
                {"remove-vms", no_argument, NULL, ARG_REMOVE_VMS},
        };
        _cleanup_(options_freep) struct option *options = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        size_t n_fields = 0, k = 0;
        int opt, r;

        while (vm_fields[n_fields].name)
                n_fields++;
        options = calloc(ELEMENTSOF(fixed) + n_fields + 1, sizeof(struct option));
        if (!options)
                return log_oom();
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                options[k++] = fixed[i];
        for (size_t i = 0; i < n_fields; i++) {
                char *name = option_name(vm_fields[i].name);
                if (!name)
                        return log_oom();
                options[k++] = (struct option){name, required_argument, NULL, ARG_FIELD_BASE + (int)i};
        }

        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":ha", options, NULL)) >= 0) {
                switch (opt) {
                case 'h':
                        *ret_help = true;
                        break;
                case ARG_VERSION:
                        printf("azshcictl %s\n", PACKAGE_VERSION);
                        c->exit_status = EXIT_OK;
                        return 0;
                case ARG_JSON:
                        if (!optarg || streq(optarg, "short"))
                                c->json = JSON_SHORT;
                        else if (streq(optarg, "pretty"))
                                c->json = JSON_PRETTY;
                        else
                                return usage_error(c, "--json= expects 'short' or 'pretty', not '%s'.",
                                        optarg);
                        break;
                case ARG_NO_LEGEND:
                        c->legend = false;
                        break;
                case ARG_NO_ASK_PASSWORD:
                        c->ask_password = false;
                        break;
                case 'a':
                        c->all = true;
                        break;
                case ARG_REPLACE:
                        c->replace = true;
                        break;
                case ARG_REMOVE_VMS:
                        c->remove_vms = true;
                        break;
                case ':':
                        return usage_error(c, "Option '%s' needs an argument.", argv[optind - 1]);
                case '?':
                        if (optopt)
                                return usage_error(c, "Unknown option '-%c'.", optopt);
                        return usage_error(c, "Unknown option '%s'.", argv[optind - 1]);
                default:
                        if (opt < ARG_FIELD_BASE || (size_t)(opt - ARG_FIELD_BASE) >= n_fields)
                                return usage_error(c, "Unexpected option.");
                        r = vm_property_list_add_string(&c->options, vm_fields[opt - ARG_FIELD_BASE].name,
                                optarg, &error);
                        if (r < 0)
                                return log_bus_error(c, &error, r, "parse the command line");
                        *ret_field_options = true;
                }
        }
        return 1;
}

static int run(Context *c, int argc, char *argv[]) {
        bool show_help = false, field_options = false;
        char **args;
        size_t n_args;
        const Verb *verb = NULL;
        int r;

        r = parse_argv(c, argc, argv, &show_help, &field_options);
        if (r <= 0)
                return r;

        args = argv + optind;
        n_args = (size_t)(argc - optind);
        if (show_help || (n_args > 0 && streq(args[0], "help"))) {
                help();
                return 0;
        }

        if (n_args == 0)
                verb = &verbs[0]; /* status */
        else {
                for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                        if (!streq(verbs[i].word1, args[0]))
                                continue;
                        if (verbs[i].word2 && (n_args < 2 || !streq(verbs[i].word2, args[1])))
                                continue;
                        verb = &verbs[i];
                        break;
                }
                if (!verb) {
                        if (streq(args[0], "vm") || streq(args[0], "ca"))
                                return usage_error(c, "Unknown or missing '%s' subcommand%s%s.", args[0],
                                        n_args > 1 ? ": " : "", n_args > 1 ? args[1] : "");
                        return usage_error(c, "Unknown command '%s'.", args[0]);
                }
                args += verb->word2 ? 2 : 1;
                n_args -= verb->word2 ? 2 : 1;
        }

        if (n_args < verb->min_args || n_args > verb->max_args)
                return usage_error(c, "%s%s%s: wrong number of arguments.", verb->word1,
                        verb->word2 ? " " : "", strempty(verb->word2));
        if (field_options && !verb->field_options)
                return usage_error(c,
                        "VM property options (--name, --id, ...) only go with 'vm add' and 'vm update'.");
        if (c->all && verb->run != verb_vm_access)
                return usage_error(c, "--all only goes with 'vm-access'.");
        if (c->replace && verb->run != verb_vm_import)
                return usage_error(c, "--replace only goes with 'vm import'.");
        if (c->remove_vms && verb->run != verb_legacy)
                return usage_error(c, "--remove-vms only goes with 'legacy off'.");

        return verb->run(c, args);
}

int main(int argc, char *argv[]) {
        Context c = {
                .ask_password = true,
                .legend = true,
                .exit_status = -1,
                .agent_pid = 0,
        };
        const char *term = getenv("TERM");
        int r;

        log_set_program_name("azshcictl");
        c.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !streq_ptr(term, "dumb");

        r = run(&c, argc, argv);

        polkit_agent_close(&c.agent_pid);
        c.bus = sd_bus_flush_close_unref(c.bus);
        vm_property_list_done(&c.options);

        if (r < 0)
                return c.exit_status >= 0 && c.exit_status != EXIT_OK ? c.exit_status : EXIT_SERVICE;
        return EXIT_OK;
}
