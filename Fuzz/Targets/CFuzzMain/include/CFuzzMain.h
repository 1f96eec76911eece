// SwiftPM links each executable with `main` defined as `<Module>_main`, which a
// -parse-as-library fuzz target does not have: each target defines it and
// calls this, which hands over to libFuzzer's own driver.
int lkvm_fuzz_main(int argc, char **argv);
