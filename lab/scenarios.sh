# shellcheck shell=bash
# Host-side table of lab scenarios (sourced by lab/run).
#
# scenario_NAME sets, for one VMM invocation inside L1:
#   S_ARGS      extra `lkvm run` arguments (e.g. -c 2)
#   S_PARAMS    extra guest kernel parameters (lab.scenario=NAME is always added)
#   S_EXPECT    extended regexes that must all appear in the scenario's console
#               output (besides "lkvm exit=0") for it to pass
#   S_INTERACTIVE=1 when the user's terminal drives L2's console
# The guest side of a scenario is the function scenario_NAME in lab/l2/init.

scenario_boot() {
    S_EXPECT=('LAB-L2: init reached uptime=' 'LAB-L2: ioapic irqs=[1-9]' 'LAB-L2: serial irqs=[1-9]')
}

scenario_smp() {
    S_ARGS=(-c 2)
    S_EXPECT=('LAB-L2: init reached uptime=' 'LAB-L2: cpus online=0-1$')
}

scenario_shell() {
    S_INTERACTIVE=1
}

# "custom": no scenario given, only user arguments (lab/run -- -k mykernel ...).
# Passes when the VMM exits 0.
scenario_custom() {
    S_INTERACTIVE=1
}
