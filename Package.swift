// swift-tools-version: 6.0
import PackageDescription

// Release builds put every function of lkvm's modules in its own section, so
// that the linker can place the ones a start-up runs (scripts/startup-symbols.txt,
// made by scripts/startup-order) next to each other: the kernel maps a binary's
// text in 64 KiB blocks around each fault, and scattered start-up code made 84
// such blocks (5.3 MiB resident) for 0.7 MiB of code (docs/performance.md).
let functionSections: [SwiftSetting] = [.unsafeFlags(["-Xfrontend", "-function-sections"],
                                                     .when(platforms: [.linux], configuration: .release))]

// Module boundaries: LKVMCore imports none of ours; LKVMDevices never imports an
// Arch module; ArchX86 and ArchARM64 never import each other.
let package = Package(
    name: "lkvm",
    products: [
        .executable(name: "lkvm", targets: ["lkvm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .target(name: "CKVM", path: "Sources/CKVM"),
        // Copies out of file mappings that turn SIGBUS into a short count.
        .target(name: "CGuardedCopy", path: "Sources/CGuardedCopy"),
        // libslirp for `-n mode=user`: Debian's libslirp-dev (`make unit-test` installs it).
        .systemLibrary(name: "CSlirp", path: "Sources/CSlirp", providers: [.apt(["libslirp-dev"])]),
        // libfdt for the arm64 device tree: Debian's libfdt-dev (`make deps` installs it).
        .systemLibrary(name: "CFDT", path: "Sources/CFDT", providers: [.apt(["libfdt-dev"])]),
        // libelf for kernel symbols (`lkvm debug` on a vmlinux): Debian's libelf-dev.
        .systemLibrary(name: "CElf", path: "Sources/CElf", providers: [.apt(["libelf-dev"])]),
        .target(
            name: "LKVMCore",
            dependencies: [
                "CElf",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Core",
            swiftSettings: functionSections),
        .target(
            name: "LKVMKVM",
            dependencies: ["LKVMCore", "CKVM",
                           .product(name: "SystemPackage", package: "swift-system"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Sources/KVM",
            swiftSettings: functionSections),
        .target(
            name: "LKVMDevices",
            dependencies: ["LKVMCore", "CSlirp", "CGuardedCopy", .product(name: "Logging", package: "swift-log")],
            path: "Sources/Devices",
            swiftSettings: functionSections),
        .target(
            name: "ArchX86",
            dependencies: ["LKVMCore", "LKVMKVM", "LKVMDevices", "CKVM",
                           .product(name: "SystemPackage", package: "swift-system"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Sources/Arch/X86",
            swiftSettings: functionSections),
        .target(
            name: "ArchARM64",
            dependencies: ["LKVMCore", "LKVMKVM", "LKVMDevices", "CKVM", "CFDT"],
            path: "Sources/Arch/ARM64",
            swiftSettings: functionSections),
        .target(
            name: "LKVMTestSupport",
            dependencies: ["LKVMCore"],
            path: "Sources/TestSupport"),
        .executableTarget(
            name: "lkvm",
            dependencies: ["LKVMCore", "LKVMKVM", "LKVMDevices", "ArchX86", "ArchARM64",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "SystemPackage", package: "swift-system"),
                           .product(name: "Logging", package: "swift-log")],
            path: "Sources/CLI",
            // Every start, the loader reads all relocations of this PIE: ~80,000
            // relative ones for the static Swift runtime and libraries, 1.9 MiB as
            // RELA (gold's only form). lld packs them as DT_RELR (glibc >= 2.36)
            // into a few KiB: 2 MiB less resident (docs/performance.md, memory).
            // scripts/link/ld.lld (clang's -B) links libstdc++ and libgcc from their
            // static archives: loading the shared ones cost 1 MiB resident.
            // --no-export-dynamic undoes the static stdlib's -export-dynamic: nothing
            // looks lkvm's symbols up at run time, and their 0.6 MiB table was read.
            swiftSettings: functionSections,
            linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xclang-linker", "-B\(Context.packageDirectory)/scripts/link",
                                           "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                                           "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/scripts/startup-symbols.txt",
                                           "-Xlinker", "--no-warn-symbol-ordering", "-Xlinker", "--no-export-dynamic"],
                                          .when(platforms: [.linux], configuration: .release))]),
        .testTarget(name: "CoreTests", dependencies: ["LKVMCore", "LKVMTestSupport"], path: "Tests/CoreTests"),
        .testTarget(name: "X86Tests", dependencies: ["ArchX86", "LKVMCore", "LKVMTestSupport"], path: "Tests/X86Tests",
                    exclude: ["Fixtures"]),
        .testTarget(name: "ARM64Tests", dependencies: ["ArchARM64", "LKVMCore", "LKVMDevices", "LKVMTestSupport", "CKVM"],
                    path: "Tests/ARM64Tests", exclude: ["Fixtures"]),
        .testTarget(name: "DevicesTests", dependencies: ["LKVMDevices", "LKVMCore", "LKVMTestSupport"], path: "Tests/DevicesTests"),
        .testTarget(name: "CLITests", dependencies: ["lkvm", "LKVMTestSupport"], path: "Tests/CLITests"),
        .testTarget(name: "KVMSmokeTests", dependencies: ["LKVMKVM", "LKVMCore", "ArchX86", "LKVMDevices", "LKVMTestSupport"], path: "Tests/KVMSmokeTests"),
    ]
)
