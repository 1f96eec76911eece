import LKVMCore

/// The arm64 platform. Booting needs an arm64 host with KVM (see the ARM64
/// issue); on other hosts lkvm says so and names the lab command.
public enum ARM64Platform {
    public static let name = "arm64"
}
